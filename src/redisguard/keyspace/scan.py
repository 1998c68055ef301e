"""The scan engine: SCAN (or RANDOMKEY draws) with pipelined per-key commands, on one node.

For every key: ``MEMORY USAGE`` (``SAMPLES n`` if asked), ``TYPE``, ``PTTL`` and ``OBJECT ENCODING``,
written as raw RESP and parsed by hiredis (:mod:`redisguard.keyspace.resp`). The element count (the
type's length command: ``STRLEN``, ``LLEN``, ``HLEN``, ...) is fetched at the end for the top keys
only, which are the only keys whose length the report shows.

Overlap: each write carries the *next* SCAN first and this batch's per-key commands after it, so the
next keys are known as soon as the server reaches them and the server works on one batch while the
client aggregates the previous one. With ``--max-impact`` the engine instead keeps one small batch in
flight at a time and lets :class:`~redisguard.keyspace.throttle.Throttle` size it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import hiredis
import redis
import redis.exceptions as rex

from redisguard.keyspace.aggregate import Aggregator
from redisguard.keyspace.patterns import DEFAULT_CAP
from redisguard.keyspace.resp import RawPipe, bulk, command
from redisguard.keyspace.throttle import Throttle

__all__ = ["LENGTH_COMMANDS", "NodeScan", "ScanSettings", "scan_client"]

Progress = Callable[[int], None]
# With only --budget: a keyspace this small per second of budget is scanned in full (exact, and done in
# time even on a slow link); larger ones are sampled until the budget is spent.
_SAFE_KEYS_PER_S = 50_000

LENGTH_COMMANDS: dict[bytes, bytes] = {
    b"string": b"STRLEN", b"list": b"LLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"hash": b"HLEN",
    b"stream": b"XLEN",
}


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
    lengths: dict[bytes, int | None] = field(default_factory=dict)
    added_latency_ms: list[float] = field(default_factory=list)


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


def _run_overlapped(pipe: RawPipe, source: _ScanSource | _RandomSource, agg: Aggregator, throttle: Throttle,
                    build: Callable[[list[bytes]], bytes], progress: Progress | None) -> None:
    request, replies = source.request(throttle.batch)
    pipe.send(request, replies)
    keys = source.parse(pipe.read_many(replies))
    previous: list[bytes] = []
    while True:
        more = not source.done
        request, replies = source.request(throttle.batch) if more else (b"", 0)
        if keys:
            throttle.before_send(len(keys))
        if replies or keys:
            pipe.send(request + build(keys), replies + 4 * len(keys))
        if previous:
            agg.add_batch(previous, pipe.read_many(4 * len(previous)))
            if progress is not None:
                progress(len(previous))
        if not more:
            if keys:
                agg.add_batch(keys, pipe.read_many(4 * len(keys)))
                if progress is not None:
                    progress(len(keys))
            return
        previous, keys = keys, source.parse(pipe.read_many(replies))


def _run_serial(pipe: RawPipe, source: _ScanSource | _RandomSource, agg: Aggregator, throttle: Throttle,
                build: Callable[[list[bytes]], bytes], progress: Progress | None) -> None:
    while not source.done:
        # SCAN (or RANDOMKEY) itself is cheap per key; its keys are then sent in small measured batches.
        request, replies = source.request(throttle.batch * 4)
        pipe.send(request, replies)
        keys = source.parse(pipe.read_many(replies))
        start = 0
        while start < len(keys):
            chunk = keys[start:start + throttle.batch]
            start += len(chunk)
            throttle.before_send(len(chunk))
            payload = build(chunk)
            began = time.perf_counter()
            pipe.send(payload, 4 * len(chunk))
            probe_ms = throttle.probe_in_flight()
            answers = pipe.read_many(4 * len(chunk))
            took = time.perf_counter() - began
            throttle.observe(took, probe_ms)
            agg.add_batch(chunk, answers)
            if progress is not None:
                progress(len(chunk))
            throttle.after_batch(took)


def _lengths(pipe: RawPipe, agg: Aggregator) -> dict[bytes, int | None]:
    wanted = [(key, LENGTH_COMMANDS[typ]) for typ, heap in agg.heaps.items() if typ in LENGTH_COMMANDS
              for _, key, _, _ in heap]
    if not wanted:
        return {}
    pipe.send(b"".join(command(name, key) for key, name in wanted), len(wanted))
    replies = pipe.read_many(len(wanted))
    return {key: reply if reply.__class__ is int else None for (key, _), reply in zip(wanted, replies, strict=True)}


def _info_used_memory(client: redis.Redis) -> int | None:
    try:
        value = client.info("memory").get("used_memory")
    except rex.ResponseError:
        return None
    return int(value) if value is not None else None


def scan_client(client: redis.Redis, settings: ScanSettings, *, address: str = "", role: str = "primary",
                progress: Progress | None = None, draws: int | None = None) -> NodeScan:
    """Scan (or sample) the keyspace behind ``client`` and return its aggregation.

    ``draws`` overrides ``settings.sample`` for this node (the cluster planner splits a sample across
    shards). When the draws would be as many as the keys, the node is scanned in full instead: exact,
    and no slower.
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
            if throttle.serial:
                probe = RawPipe(client)
                throttle.attach_probe(probe)
                _run_serial(pipe, source, agg, throttle, _builder(settings.samples), progress)
            else:
                _run_overlapped(pipe, source, agg, throttle, _builder(settings.samples), progress)
            lengths = _lengths(pipe, agg)
        finally:
            if probe is not None:
                probe.close()
    return NodeScan(address=address, role=role, mode=mode, aggregator=agg, dbsize=dbsize,
                    used_memory=used_memory, elapsed_s=time.monotonic() - began, lengths=lengths,
                    added_latency_ms=list(throttle.probes))
