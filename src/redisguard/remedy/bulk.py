"""Bulk key work (EXPIRE, UNLINK, measuring a pattern) in throttled batches over raw pipelined RESP.

SCAN MATCH finds the keys; each batch of per-key commands is one write on a raw connection, paced by
the keys engine's :class:`~redisguard.keyspace.Throttle` (``--max-impact``): one batch in flight,
a PING behind it on a second connection measures what other clients wait, the batch shrinks when that
nears the budget. On top of it, :class:`~redisguard.remedy.bulkpace.BulkPace` caps every SCAN's COUNT and
every batch's keys by the server's own time on them (INFO commandstats, read once a second), since one
SCAN or one many-key UNLINK is a single call other clients wait behind whole; the pause after each
(the throttle's share of the server's time) counts the SCAN too; and while the server reports
``lazyfree_pending_objects`` (big values UNLINK left to its background thread), the next batch waits for
them. Never KEYS; no server-side Lua over many keys (it blocks other clients for milliseconds per call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import hiredis
import redis

from redisguard._wire.info import parse_info_text
from redisguard._wire.pipe import RawPipe
from redisguard._wire.resp import command, keyed
from redisguard.keyspace import Throttle
from redisguard.remedy.bulkpace import BulkPace
from redisguard.remedy.stop import StopFlag

__all__ = ["KEY_PTTL", "KEY_TYPE", "KEY_UNLINK", "KEY_USAGE", "BatchRunner", "as_error"]

# The per-key commands of the bulk batches, each framed once (resp.keyed).
KEY_PTTL, KEY_TYPE, KEY_UNLINK, KEY_USAGE = keyed(b"PTTL"), keyed(b"TYPE"), keyed(b"UNLINK"), keyed(b"MEMORY", b"USAGE")
_INFO_COSTS = command(b"INFO", b"commandstats") + command(b"INFO", b"memory")
_INFO_MEMORY = command(b"INFO", b"memory")
_READ_INTERVAL_S = 1.0
_FIRST_READ_S = 0.2  # the first costs are learnt early: until then SCAN COUNT stays small
_LAZYFREE_POLL_S = 0.005
_LAZYFREE_MAX_WAIT_S = 2.0  # per wait: a server whose background thread never catches up still gets work done
_MAX_PAUSE_S = 0.25


def as_error(reply: Any) -> str | None:
    return str(reply) if isinstance(reply, hiredis.ReplyError) else None


def _section(reply: Any, name: str) -> dict[str, str]:
    if reply.__class__ is not bytes:  # INFO denied or renamed: the throttle's latency measures alone pace
        return {}
    return parse_info_text(reply.decode("ascii", "replace")).get(name, {})


def _number(fields: dict[str, str], name: str) -> int:
    value = fields.get(name, "0")
    return int(value) if value.isdigit() else 0


class BatchRunner:
    """One node's throttled batches: :meth:`keys` yields SCAN MATCH batches, :meth:`run` sends one batch."""

    def __init__(self, client: redis.Redis, *, max_impact_ms: float | None, stop: StopFlag | None = None,
                 max_batch: int = 1000, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.throttle = Throttle(max_impact_ms=max_impact_ms, max_batch=max_batch)
        if max_impact_ms is None:
            self.throttle.batch = max_batch
        self.pace = BulkPace(budget_ms=max_impact_ms or 0.0)
        self.clock, self.sleep = clock, sleep
        self.pipe = RawPipe(client)
        self.probe: RawPipe | None = None
        self.stop = stop
        self.commands = 0
        self.lazyfree_waits = 0  # batches held back until the server's lazyfree thread caught up
        self.lazyfree_wait_s = 0.0
        self.largest_scan = 0  # the largest SCAN COUNT sent
        self._costs_visible = True
        self._lazyfree_pending = 0
        self._lazyfreed: int | None = None  # lazyfreed_objects at the last reading (7.0+)
        self._lazy_active = False  # the server's lazyfree thread has been busy: check it after every UNLINK
        self._last_unlinked = False
        self._next_read = 0.0
        if max_impact_ms is not None:
            self.probe = RawPipe(client)
            self.throttle.attach_probe(self.probe)
            self._read_costs()
            self._next_read = self.clock() + _FIRST_READ_S

    def close(self) -> None:
        self.pipe.close()
        if self.probe is not None:
            self.probe.close()

    def __enter__(self) -> BatchRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def paced(self) -> bool:
        return self.probe is not None

    def keys(self, pattern: bytes) -> Iterator[list[bytes]]:
        """Batches of keys matching ``pattern`` (each key at least once, SCAN's guarantee), sized by the throttle."""
        cursor = b"0"
        pending: list[bytes] = []
        while True:
            if self.stop is not None:
                self.stop.check()
            count = max(10, self.throttle.batch * 4)
            if self.paced:
                count = self.pace.scan_count(count)
            self.largest_scan = max(self.largest_scan, count)
            began = time.perf_counter()
            reply = self.pipe.call(b"SCAN", cursor, b"MATCH", pattern, b"COUNT", str(count).encode())
            if self.paced:
                self._after_scan(count, time.perf_counter() - began)
            cursor, found = reply[0], reply[1]
            pending += found
            while len(pending) >= self.throttle.batch or (cursor == b"0" and pending):
                size = self.throttle.batch
                chunk, pending = pending[:size], pending[size:]
                yield chunk
            if cursor == b"0":
                return

    def run(self, commands: list[bytes], units: Mapping[str, int] | None = None) -> list[Any]:
        """Send the batch's commands as one write, read every reply, and let the throttle pace the next.

        ``units``: the batch's units of work per lowercase command name, as :meth:`BulkPace.sent_batch`
        would count them, where the caller knows them (it saves reading every command's name back)."""
        payload = b"".join(commands)
        if not self.paced:
            units = {}
        elif units is None:
            units = self.pace.sent_batch(commands)
        else:
            units = self.pace.sent_units(units)
        if self._lazy_active and self._last_unlinked:
            self._lazyfree_pending = self._read_pending()
        self._last_unlinked = "unlink" in units
        if self._lazyfree_pending > 0:
            self._wait_lazyfree()
        self.throttle.before_send(len(commands))
        began = time.perf_counter()
        self.pipe.send(payload, len(commands))
        probe_ms = self.throttle.probe_in_flight()
        replies = self.pipe.read_many(len(commands))
        took = time.perf_counter() - began
        self.commands += len(commands)
        self.throttle.observe(took, probe_ms, len(commands))
        self.throttle.watch_load(self.commands)
        paused = time.perf_counter()
        self.throttle.after_batch(took)
        if self.paced:
            self._pace_batch(units, took, time.perf_counter() - paused)
        return replies

    def _pause(self, server_s: float, round_trip_s: float, already_s: float = 0.0) -> None:
        """Leave the server to the others for as long as the throttle's share of its time requires."""
        pause = server_s * (1.0 / self.throttle.duty - 1.0) - max(0.0, round_trip_s - server_s) - already_s
        if pause > 0:
            self.sleep(min(_MAX_PAUSE_S, pause))

    def _after_scan(self, count: int, round_trip_s: float) -> None:
        self.pace.sent("scan", count)
        self.commands += 1
        cost = self.pace.cost_us.get("scan")
        if cost is not None:
            server_s = cost * count / 1e6
        else:
            server_s = max(0.0, round_trip_s - self.throttle.baseline_ms / 1000.0)
        self._pause(server_s, round_trip_s)
        self._maybe_read()

    def _pace_batch(self, units: dict[str, int], took: float, paused: float) -> None:
        """Cap the next batch by the server's time on this one; pause the rest of the share it used."""
        self._maybe_read()
        keys = max(units.values(), default=0)
        self.throttle.batch = max(1, min(self.throttle.batch, self.pace.batch_cap(units, keys)))
        spent = self.pace.estimate_ms(units)
        if spent is not None:
            self._pause(spent / 1000.0, took, paused)

    def _maybe_read(self) -> None:
        if self._costs_visible and self.clock() >= self._next_read:
            self._read_costs()
            self._next_read = self.clock() + _READ_INTERVAL_S

    def _read_costs(self) -> None:
        assert self.probe is not None
        self.probe.send(_INFO_COSTS, 2)
        stats, memory = self.probe.read(), self.probe.read()
        section = _section(stats, "commandstats")
        if not section:
            self._costs_visible = False
            return
        self.pace.read(section)
        fields = _section(memory, "memory")
        self._lazyfree_pending = _number(fields, "lazyfree_pending_objects")
        freed = _number(fields, "lazyfreed_objects") if "lazyfreed_objects" in fields else None
        grew = freed is not None and self._lazyfreed is not None and freed > self._lazyfreed
        self._lazy_active = self._lazyfree_pending > 0 or grew
        self._lazyfreed = freed

    def _read_pending(self) -> int:
        assert self.probe is not None
        self.probe.send(_INFO_MEMORY, 1)
        return _number(_section(self.probe.read(), "memory"), "lazyfree_pending_objects")

    def _wait_lazyfree(self) -> None:
        """Hold the next batch while the server's background thread still frees what UNLINK gave it."""
        began = self.clock()
        self.lazyfree_waits += 1
        while self._lazyfree_pending > 0 and self.clock() - began < _LAZYFREE_MAX_WAIT_S:
            self.sleep(_LAZYFREE_POLL_S)
            self._lazyfree_pending = self._read_pending()
        self.lazyfree_wait_s += self.clock() - began
