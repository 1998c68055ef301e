"""Bulk key work (EXPIRE, UNLINK, measuring a pattern) in throttled batches over raw pipelined RESP.

SCAN MATCH finds the keys; each batch of per-key commands is one write on a raw connection, paced by
the keys engine's :class:`~redisguard.keyspace.Throttle` (``--max-impact``): one batch in flight,
a PING behind it on a second connection measures what other clients wait, the batch shrinks when that
nears the budget. Never KEYS; no server-side Lua over many keys (it blocks other clients for
milliseconds per call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import hiredis
import redis

from redisguard._wire.pipe import RawPipe
from redisguard._wire.resp import command
from redisguard.keyspace import Throttle
from redisguard.remedy.stop import StopFlag

__all__ = ["BatchRunner", "as_error"]


def as_error(reply: Any) -> str | None:
    return str(reply) if isinstance(reply, hiredis.ReplyError) else None


class BatchRunner:
    """One node's throttled batches: :meth:`keys` yields SCAN MATCH batches, :meth:`run` sends one batch."""

    def __init__(self, client: redis.Redis, *, max_impact_ms: float | None, stop: StopFlag | None = None,
                 max_batch: int = 1000) -> None:
        self.throttle = Throttle(max_impact_ms=max_impact_ms, max_batch=max_batch)
        if max_impact_ms is None:
            self.throttle.batch = max_batch
        self.pipe = RawPipe(client)
        self.probe: RawPipe | None = None
        if max_impact_ms is not None:
            self.probe = RawPipe(client)
            self.throttle.attach_probe(self.probe)
        self.stop = stop
        self.commands = 0

    def close(self) -> None:
        self.pipe.close()
        if self.probe is not None:
            self.probe.close()

    def __enter__(self) -> BatchRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keys(self, pattern: bytes) -> Iterator[list[bytes]]:
        """Batches of keys matching ``pattern`` (each key at least once, SCAN's guarantee), sized by the throttle."""
        cursor = b"0"
        pending: list[bytes] = []
        while True:
            if self.stop is not None:
                self.stop.check()
            reply = self.pipe.call(b"SCAN", cursor, b"MATCH", pattern, b"COUNT",
                                   str(max(10, self.throttle.batch * 4)).encode())
            cursor, found = reply[0], reply[1]
            pending += found
            while len(pending) >= self.throttle.batch or (cursor == b"0" and pending):
                size = self.throttle.batch
                chunk, pending = pending[:size], pending[size:]
                yield chunk
            if cursor == b"0":
                return

    def run(self, commands: list[bytes]) -> list[Any]:
        """Send the batch's commands as one write, read every reply, and let the throttle pace the next."""
        payload = b"".join(commands)
        self.throttle.before_send(len(commands))
        began = time.perf_counter()
        self.pipe.send(payload, len(commands))
        probe_ms = self.throttle.probe_in_flight()
        replies = self.pipe.read_many(len(commands))
        took = time.perf_counter() - began
        self.commands += len(commands)
        self.throttle.observe(took, probe_ms, len(commands))
        self.throttle.watch_load(self.commands)
        self.throttle.after_batch(took)
        return replies


def per_key(name: bytes, *extra: bytes) -> Callable[[bytes], bytes]:
    """A builder of ``NAME key extra...`` in RESP."""
    return lambda key: command(name, key, *extra)
