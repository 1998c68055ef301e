"""The scan engine: SCAN (or RANDOMKEY draws) with pipelined per-key commands, on one node.

For every key: ``MEMORY USAGE`` (``SAMPLES n`` if asked), ``TYPE``, ``PTTL`` and ``OBJECT ENCODING``,
then the type's length command (``STRLEN``, ``LLEN``, ``HLEN``, ``SCARD``, ``ZCARD``, ``XLEN``), all
written as raw RESP and parsed by hiredis (:mod:`redisguard.keyspace.resp`). The length needs the type,
so it is a second round per batch; it rides along with the next batch's write (see :class:`_Flow`).

Overlap: each write carries the *next* SCAN first and the per-key commands after it, so the next keys
are known as soon as the server reaches them and the server works on one write while the client
aggregates the previous one. With ``--max-impact`` the engine instead keeps one small batch in flight
at a time and lets :class:`~redisguard.keyspace.throttle.Throttle` size it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import hiredis
import redis
import redis.exceptions as rex

from redisguard.keyspace.aggregate import Aggregator
from redisguard.keyspace.patterns import DEFAULT_CAP
from redisguard.keyspace.resp import RawPipe
from redisguard.keyspace.throttle import ServerLoad, Throttle
from redisguard.respwire import bulk, command

__all__ = ["LENGTH_COMMANDS", "NodeScan", "ScanCancelled", "ScanSettings", "scan_client"]

Progress = Callable[[int], None]
# With only --budget: a keyspace this small per second of budget is scanned in full (exact, and done in
# time even on a slow link); larger ones are sampled until the budget is spent.
_SAFE_KEYS_PER_S = 50_000

LENGTH_COMMANDS: dict[bytes, bytes] = {
    b"string": b"STRLEN", b"list": b"LLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"hash": b"HLEN",
    b"stream": b"XLEN",
}


class ScanCancelled(Exception):
    """The scan was stopped from outside (``cancel`` was set) between two batches."""


@dataclass(frozen=True)
class ScanSettings:
    """What to scan and how hard. ``sample`` draws keys with RANDOMKEY instead of a full SCAN."""

    # SCAN COUNT, and so the keys per pipelined batch. Measured on Redis 7.0 (bench/keys.py): 150 is as
    # fast as 1000 (3.2 s per 1M keys) while another client's p99 stays ~0.5 ms over idle, against
    # +2.3 ms at 1000, because Redis runs a client's whole pipelined batch before serving the next.
    count: int = 150
    match: bytes | None = None
    samples: int | None = None  # MEMORY USAGE ... SAMPLES n (None: the server's default, 5)
    cap: int = DEFAULT_CAP
    top_k: int = 10
    rate: float | None = None
    max_impact_ms: float | None = None
    sample: int | None = None  # draws (with replacement); None: full scan
    budget_s: float | None = None  # stop drawing after this long (sampling only)
    db: int | None = None  # None: the connection's database


@dataclass
class NodeScan:
    """One node's result: its aggregation plus what the report needs to scale and label it."""

    address: str
    role: str
    mode: Literal["full", "sample"]
    aggregator: Aggregator
    dbsize: int
    used_memory: int | None
    elapsed_s: float
    added_latency_ms: list[float] = field(default_factory=list)
    load: ServerLoad | None = None  # --max-impact: the server's load as INFO stats showed it


class _ScanSource:
    def __init__(self, count: int, match: bytes | None) -> None:
        self.cursor = b"0"
        self.count = count
        self.match = match
        self.done = False

    def request(self, batch: int) -> tuple[bytes, int]:
        args = [b"SCAN", self.cursor, b"COUNT", str(max(1, min(self.count, batch))).encode()]
        if self.match is not None:
            args += [b"MATCH", self.match]
        return command(*args), 1

    def parse(self, replies: list[Any]) -> list[bytes]:
        reply = replies[0]
        if isinstance(reply, hiredis.ReplyError):
            raise _as_redis_error(reply)
        self.cursor = reply[0]
        self.done = self.cursor == b"0"
        keys: list[bytes] = reply[1]
        return keys


class _RandomSource:
    """Independent uniform draws with replacement: see :mod:`redisguard.keyspace.sampling` for why."""

    def __init__(self, draws: int, deadline: float | None) -> None:
        self.left = draws
        self.deadline = deadline
        self.done = draws <= 0

    def request(self, batch: int) -> tuple[bytes, int]:
        count = max(1, min(batch, self.left))
        return b"*1\r\n$9\r\nRANDOMKEY\r\n" * count, count

    def parse(self, replies: list[Any]) -> list[bytes]:
        keys = [reply for reply in replies if reply.__class__ is bytes]
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                raise _as_redis_error(reply)
        self.left -= len(replies)
        if (self.left <= 0 or not keys
                or (self.deadline is not None and time.monotonic() >= self.deadline)):
            self.done = True
        return keys


def _as_redis_error(reply: Any) -> rex.RedisError:
    text = str(reply)
    return rex.NoPermissionError(text) if text.startswith("NOPERM") else rex.ResponseError(text)


def _builder(samples: int | None) -> Callable[[list[bytes]], bytes]:
    if samples is None:
        head = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"
        after_usage = b""
    else:
        head = b"*5\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"
        after_usage = b"$7\r\nSAMPLES\r\n" + bulk(str(samples).encode())
    template = (head + b"%b" + after_usage + b"*2\r\n$4\r\nTYPE\r\n%b*2\r\n$4\r\nPTTL\r\n%b"
                b"*3\r\n$6\r\nOBJECT\r\n$8\r\nENCODING\r\n%b")

    def build(keys: list[bytes]) -> bytes:
        out = []
        for key in keys:
            kb = b"$%d\r\n%b\r\n" % (len(key), key)
            out.append(template % (kb, kb, kb, kb))
        return b"".join(out)

    return build


_LENGTH_HEADS: dict[bytes, bytes] = {typ: b"*2\r\n" + bulk(name) for typ, name in LENGTH_COMMANDS.items()}
_SCAN, _META, _LENGTHS = 0, 1, 2


class _Flow:
    """The reply groups in flight on one connection, in the order the server answers them.

    Per batch of keys there are two rounds: the *meta* round (MEMORY USAGE, TYPE, PTTL, OBJECT ENCODING
    per key) and, once the types are known, the *lengths* round (the type's length command per key).
    A write carries whatever is ready: the next SCAN, the newest keys' meta round, and the lengths round
    of every batch whose types arrived, so the second round costs no extra round trip. A batch is
    aggregated when its lengths arrive. At most a few batches are held at any time.
    """

    def __init__(self, pipe: RawPipe, source: _ScanSource | _RandomSource, agg: Aggregator,
                 build: Callable[[list[bytes]], bytes], progress: Progress | None,
                 cancel: threading.Event | None = None) -> None:
        self.pipe, self.source, self.agg, self.build, self.progress = pipe, source, agg, build, progress
        self.cancel = cancel
        self.groups: deque[tuple[int, int, int, Any]] = deque()  # (write number, kind, replies, batch)
        self.writes = 0
        self.keys: list[bytes] = []  # from the last SCAN (or RANDOMKEY) reply, not asked about yet
        self._typed: list[tuple[list[bytes], list[Any], list[int | None], list[int]]] = []
        self._parts: list[bytes] = []
        self._replies = 0
        self.commands = 0  # sent in all

    def queue_scan(self, batch: int) -> None:
        request, replies = self.source.request(batch)
        self._queue(_SCAN, request, replies, None)

    def queue_meta(self, keys: list[bytes]) -> None:
        self._queue(_META, self.build(keys), 4 * len(keys), keys)

    def queue_lengths(self) -> None:
        for batch in self._typed:
            keys, asked = batch[0], batch[3]
            payload = b"".join(_LENGTH_HEADS[batch[1][4 * at + 1]] + bulk(keys[at]) for at in asked)
            self._queue(_LENGTHS, payload, len(asked), batch)
        self._typed = []

    def _queue(self, kind: int, payload: bytes, replies: int, batch: Any) -> None:
        if replies:
            self._parts.append(payload)
            self._replies += replies
            self.groups.append((self.writes, kind, replies, batch))

    def flush(self) -> int:
        """Send what was queued as one write; the number of commands in it (0: nothing was queued)."""
        sent = self._replies
        if sent:
            self.pipe.send(b"".join(self._parts), sent)
            self._parts, self._replies = [], 0
            self.writes += 1
            self.commands += sent
        return sent

    @property
    def idle(self) -> bool:
        return not self.groups and not self._typed and not self.keys

    def read_through_scan(self) -> None:
        """Handle every group of earlier writes, then the newest write's SCAN reply (if it has one)."""
        newest = self.writes - 1
        groups = self.groups
        while groups and (groups[0][0] < newest or groups[0][1] == _SCAN):
            self._handle(*groups.popleft())

    def read_all(self) -> None:
        while self.groups:
            self._handle(*self.groups.popleft())

    def _handle(self, _write: int, kind: int, replies: int, batch: Any) -> None:
        answers = self.pipe.read_many(replies)
        if kind == _SCAN:
            self.keys = self.source.parse(answers)
        elif kind == _META:
            self._typed_batch(batch, answers)
        else:
            keys, meta, lengths, asked = batch
            for at, reply in zip(asked, answers, strict=True):
                lengths[at] = reply if reply.__class__ is int else None  # WRONGTYPE (replaced), NOPERM
            self._aggregate(keys, meta, lengths)

    def _typed_batch(self, keys: list[bytes], meta: list[Any]) -> None:
        heads = _LENGTH_HEADS
        asked = [at for at in range(len(keys)) if meta[4 * at].__class__ is int and meta[4 * at + 1] in heads]
        lengths: list[int | None] = [None] * len(keys)
        if asked:
            self._typed.append((keys, meta, lengths, asked))
        else:
            self._aggregate(keys, meta, lengths)

    def _aggregate(self, keys: list[bytes], meta: list[Any], lengths: list[int | None]) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ScanCancelled  # the pipe is closed with replies unread: its connection is dropped
        self.agg.add_batch(keys, meta, lengths)
        if self.progress is not None:
            self.progress(len(keys))


def _run_overlapped(flow: _Flow, throttle: Throttle) -> None:
    flow.queue_scan(throttle.batch)
    flow.flush()
    flow.read_through_scan()
    while True:
        if not flow.source.done:
            flow.queue_scan(throttle.batch)
        if flow.keys:
            throttle.before_send(len(flow.keys))
            flow.queue_meta(flow.keys)
            flow.keys = []
        flow.queue_lengths()
        if flow.flush():
            flow.read_through_scan()  # the server works on this write while the client handles the last
        elif flow.groups:
            flow.read_all()
        else:
            return


def _run_serial(flow: _Flow, throttle: Throttle) -> None:
    while not flow.idle or not flow.source.done:
        if not flow.source.done:
            # SCAN (or RANDOMKEY) itself is cheap per key; its keys are then sent in small measured batches.
            flow.queue_scan(throttle.batch * 4)
        flow.queue_lengths()
        flow.flush()
        flow.read_all()
        keys, flow.keys = flow.keys, []
        start = 0
        while start < len(keys):
            chunk = keys[start:start + throttle.batch]
            start += len(chunk)
            throttle.before_send(len(chunk))
            flow.queue_meta(chunk)
            flow.queue_lengths()  # the previous chunk's second round rides along with this one
            began = time.perf_counter()
            sent = flow.flush()
            probe_ms = throttle.probe_in_flight()
            flow.read_all()
            took = time.perf_counter() - began
            throttle.observe(took, probe_ms, sent)
            throttle.watch_load(flow.commands)
            throttle.after_batch(took)


def _info_used_memory(client: redis.Redis) -> int | None:
    try:
        value = client.info("memory").get("used_memory")
    except rex.ResponseError:
        return None
    return int(value) if value is not None else None


def scan_client(client: redis.Redis, settings: ScanSettings, *, address: str = "", role: str = "primary",
                progress: Progress | None = None, draws: int | None = None,
                cancel: threading.Event | None = None) -> NodeScan:
    """Scan (or sample) the keyspace behind ``client`` and return its aggregation.

    ``draws`` overrides ``settings.sample`` for this node (the cluster planner splits a sample across
    shards). Setting ``cancel`` stops the scan with :class:`ScanCancelled` at the next batch.
    When the draws would be as many as the keys, the node is scanned in full instead: exact, and no
    slower.
    """
    began = time.monotonic()
    wanted = settings.sample if draws is None else draws
    agg = Aggregator(cap=settings.cap, top_k=settings.top_k)
    throttle = Throttle(rate=settings.rate, max_impact_ms=settings.max_impact_ms, max_batch=settings.count)
    probe: RawPipe | None = None
    with RawPipe(client) as pipe:
        if settings.db is not None:
            pipe.call(b"SELECT", str(settings.db).encode())
            pipe.discard = True  # a different database than the pool's: never hand this one back
        dbsize = int(pipe.call(b"DBSIZE"))
        used_memory = _info_used_memory(client)
        if wanted is None and settings.budget_s is not None and dbsize > settings.budget_s * _SAFE_KEYS_PER_S:
            wanted = dbsize - 1  # draw until the budget is spent
        mode: Literal["full", "sample"] = "full"
        source: _ScanSource | _RandomSource
        if wanted is not None and wanted < dbsize:
            mode = "sample"
            deadline = began + settings.budget_s if settings.budget_s is not None else None
            source = _RandomSource(wanted, deadline)
        else:
            source = _ScanSource(settings.count, settings.match)
        try:
            flow = _Flow(pipe, source, agg, _builder(settings.samples), progress, cancel)
            if throttle.serial:
                probe = RawPipe(client)
                throttle.attach_probe(probe)
                _run_serial(flow, throttle)
            else:
                _run_overlapped(flow, throttle)
        finally:
            if probe is not None:
                probe.close()
    return NodeScan(address=address, role=role, mode=mode, aggregator=agg, dbsize=dbsize,
                    used_memory=used_memory, elapsed_s=time.monotonic() - began,
                    added_latency_ms=list(throttle.probes), load=throttle.load if throttle.serial else None)
