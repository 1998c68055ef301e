"""The streams of one node, found by ``SCAN ... TYPE stream`` (no list to maintain), kept between scrapes.

Discovery walks the whole keyspace, so it is not repeated on every scrape: the list is rediscovered every
``interval`` seconds, incrementally (the SCAN cursor is kept between scrapes and each scrape spends only
a small time budget on it), and the new list replaces the old one when a pass completes. The first pass
may use the scrape's time up to its deadline. At most ``limit`` streams are kept; ``total`` counts all.
"""

from __future__ import annotations

import time

import redis
import redis.exceptions as rex

from redisguard.collect.gaps import reason_for
from redisguard.collect.sets import NodeSample

__all__ = ["StreamList"]

SCAN_COUNT = 1000
LATER_BUDGET_S = 0.05  # per scrape, once a first list exists


class StreamList:
    def __init__(self, limit: int, interval: float) -> None:
        self.limit = limit
        self.interval = interval
        self.keys: list[bytes] = []
        self.total = 0
        self.complete = False  # a first pass has finished
        self._cursor: int | None = None  # None: no pass under way
        self._found: list[bytes] = []
        self._seen: set[bytes] = set()
        self._found_total = 0
        self._finished_at = float("-inf")

    def refresh(self, client: redis.Redis, sample: NodeSample, *, budget_until: float) -> None:
        """Advance discovery within the time allowed (a denied SCAN is noted; the list stays as it was)."""
        now = time.monotonic()
        if self._cursor is None:
            if now - self._finished_at < self.interval:
                return
            self._cursor, self._found, self._seen, self._found_total = 0, [], set(), 0
        until = budget_until if not self.complete else min(budget_until, now + LATER_BUDGET_S)
        try:
            while True:
                cursor, keys = client.scan(cursor=self._cursor, count=SCAN_COUNT, _type="stream")
                for raw in keys:  # SCAN may return a key twice: count each once
                    key = raw if isinstance(raw, bytes) else str(raw).encode()
                    if key in self._seen:
                        continue
                    self._found_total += 1
                    if len(self._found) < self.limit:
                        self._found.append(key)
                        self._seen.add(key)
                if int(cursor) == 0:
                    self.keys, self.total = sorted(self._found), self._found_total
                    self.complete = True
                    self._cursor = None
                    self._finished_at = time.monotonic()
                    return
                self._cursor = int(cursor)
                if time.monotonic() >= until:
                    return
        except rex.ResponseError as exc:
            sample.note("SCAN TYPE stream", reason_for(exc))
            self._cursor = None
            self._finished_at = time.monotonic()
            self.complete = True
