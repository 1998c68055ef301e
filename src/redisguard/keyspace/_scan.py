"""The scan engine: SCAN (or RANDOMKEY draws) with pipelined per-key commands, on one node.

Per key, in one round: ``MEMORY USAGE`` (``SAMPLES n`` if asked), the length command of the type the
key is expected to have (``STRLEN``, ``LLEN``, ``HLEN``, ``SCARD``, ``ZCARD``, ``XLEN``), ``OBJECT
ENCODING`` and ``PTTL``, written as raw RESP and parsed by hiredis. There is no ``TYPE``: each length
command succeeds only on its own type, so its answer is the type. The expected type is the one last
seen for the key's pattern (names are grouped before the commands are sent), so nearly every key is
right the first time; a key whose guess was wrong gets ``WRONGTYPE`` and is asked again (``TYPE`` and
the length commands its encoding allows) in a small second round that rides with the next write.

Why, measured on Redis 7.0 (``INFO commandstats``, µs per call, 300k-key production-like keyspace):
``MEMORY USAGE`` 2.6 (it is the first touch of the key since SCAN), ``TYPE`` 0.8, ``PTTL`` and
``OBJECT ENCODING`` 0.4 each, and a length command 3.6-4.6 when it came in a later round (the key is
cold again) against about 0.4 right behind the other three. Dropping TYPE and the separate length round
takes about 40 % of the server's work per key away.

Answers already known are not asked: where ``INFO keyspace`` shows no key of the database with a TTL
(``expires=0``: Redis as a store or a queue), PTTL is left out and an ``INFO keyspace`` rides right behind
each batch instead (2.4 µs per batch against ~1.1 µs per key for PTTL, measured on Redis 7.0). With still
no TTL in the database, no key of the batch had one at that moment; when one appears, PTTL is asked from
then on and the batch is asked again in full (:meth:`_Flow._guard`).

Overlap: each write carries the next SCAN first, then the per-key commands of the keys the SCAN before
last returned, already named and built. The SCAN's reply is the first of the write's replies, so the
client reads it and sends the next write at once, then names and builds the newest keys while the server
works, and only then reads and aggregates the replies of the write before: the server has the next write
queued whenever it finishes one and waits neither on the client's naming, aggregation nor a round trip.
Measured with 1M production-like keys against one write ahead (where the client built each write after
its SCAN reply, and the server idled meanwhile): Redis 7.0, three alternating rounds, 7.91-8.17 s against
9.71-10.27 s, another client's p99 +1.33-1.60 ms over idle against +1.62-2.45; Redis 8.2, 6.6-6.7 s
against 7.8-7.9 s (the server had idled 1.8 s). On Redis 7.0 (200k keys) one write ahead had already cut
2.13-2.39 s to 1.63-1.74 s against the SCAN last.
With ``--max-impact`` the engine instead keeps one small batch in flight and lets
:class:`~redisguard.keyspace._throttle.Throttle` size and pace it. A full scan also times a PING on a
second connection behind a batch about once a second, so its report says how long other clients waited
behind it.

Degrading: a per-key command the user may not run (``NOPERM ... to run``) or that is renamed is
dropped for the rest of the scan and its column reported as not visible; only SCAN (or RANDOMKEY) and
MEMORY USAGE are required.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import Any, Literal

import hiredis
import redis
import redis.exceptions as rex

from redisguard._wire.errors import as_redis_error, refused_command
from redisguard._wire.info import parse_info_text
from redisguard._wire.pipe import RawPipe
from redisguard._wire.resp import bulk, command
from redisguard.keyspace._aggregate import Aggregator
from redisguard.keyspace._bigkeys import MIN_ELEMENTS, MIN_STRING_BYTES, BigKeyPass, find_big_keys, keysizes_counts
from redisguard.keyspace._patterns import DEFAULT_CAP
from redisguard.keyspace._throttle import ServerLoad, Throttle

__all__ = ["LENGTH_COMMANDS", "NodeScan", "ScanCancelled", "ScanSettings", "Visibility", "scan_client"]

Progress = Callable[[int], None]
# With only --budget: a keyspace this small per second of budget is scanned in full (exact, and done in
# time even on a slow link); larger ones are sampled until the budget is spent.
_SAFE_KEYS_PER_S = 50_000
_IMPACT_PROBE_S = 1.0  # a full scan times a PING behind one of its batches this often

LENGTH_COMMANDS: dict[bytes, bytes] = {
    b"string": b"STRLEN", b"list": b"LLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"hash": b"HLEN",
    b"stream": b"XLEN",
}
# The types an encoding can belong to (Redis 6.2-8.x, Valkey): the length commands worth asking again.
_CANDIDATES: dict[bytes, tuple[bytes, ...]] = {
    b"embstr": (b"string",), b"int": (b"string",), b"raw": (b"string",),
    b"quicklist": (b"list",), b"linkedlist": (b"list",), b"intset": (b"set",), b"skiplist": (b"zset",),
    b"stream": (b"stream",), b"hashtable": (b"hash", b"set"),
    b"listpack": (b"hash", b"zset", b"set", b"list"), b"ziplist": (b"hash", b"zset", b"list"),
}
_ALL_TYPES = tuple(LENGTH_COMMANDS)


class ScanCancelled(Exception):
    """The scan was stopped from outside (``cancel`` was set) between two batches."""


@dataclass(frozen=True)
class ScanSettings:
    """What to scan and how hard. ``sample`` draws keys with RANDOMKEY instead of a full SCAN."""

    # SCAN COUNT, and so the keys per pipelined batch. Measured on Redis 7.0 (bench/keys.py): 150 is as
    # fast as 1000 while another client's p99 stays ~0.5 ms over idle, against +2.3 ms at 1000, because
    # Redis runs a client's whole pipelined batch before serving the next.
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
    big_pass: bool = True  # sampled runs: find every big key exactly in a separate cheap pass first
    min_elements: int = MIN_ELEMENTS  # what the pass measures: aggregates of at least this many elements...
    min_string_bytes: int = MIN_STRING_BYTES  # ...and strings of at least this many bytes


@dataclass
class Visibility:
    """Which per-key commands the server answered (a denied or renamed one is dropped for the scan)."""

    ttl: bool = True  # PTTL
    encoding: bool = True  # OBJECT ENCODING
    length: bool = True  # the length commands
    type: bool = True  # TYPE (only asked for keys whose expected type was wrong)
    dbsize: bool = True  # DBSIZE (a progress total and the sampling population)
    reasons: dict[str, str] = field(default_factory=dict)  # column -> why it is missing

    def missing(self) -> list[str]:
        return [f"{name}: {why}" for name, why in self.reasons.items()]


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
    visibility: Visibility = field(default_factory=Visibility)
    used_memory_dataset: int | None = None
    commands: int = 0  # per-key and SCAN commands sent
    retried: int = 0  # keys whose expected type was wrong (asked again)
    big_pass: BigKeyPass | None = None  # sampled runs: every big key, measured exactly
    keysizes: dict[str, dict[int, int]] | None = None  # Redis 8: INFO keysizes of the scanned database
    ttl_from_info: int = 0  # keys counted without a TTL because INFO keyspace said none had one (no PTTL sent)


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
            raise as_redis_error(reply)
        self.cursor = reply[0]
        self.done = self.cursor == b"0"
        keys: list[bytes] = reply[1]
        return keys


class _RandomSource:
    """Independent uniform draws with replacement: see :mod:`redisguard.keyspace._sampling` for why."""

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
                raise as_redis_error(reply)
        self.left -= len(replies)
        if (self.left <= 0 or not keys
                or (self.deadline is not None and time.monotonic() >= self.deadline)):
            self.done = True
        return keys


_LENGTH_HEADS: dict[bytes, bytes] = {typ: b"*2\r\n" + bulk(name) for typ, name in LENGTH_COMMANDS.items()}
_TYPE_HEAD = b"*2\r\n$4\r\nTYPE\r\n"


_PIECES_PER_TYPE = 512  # key lengths whose template pieces are kept, per type: bounded whatever the names


class _ByLength(dict[int, tuple[bytes, ...]]):
    r"""A template's pieces with the bulk-string framing of a key of each length built in (``$<length>\r\n``
    before the key, ``\r\n`` after it), so a key's commands are ``key.join(pieces[len(key)])``: one join,
    no formatting and no bulk string per key (0.43 against 0.59 µs per key, best of 5). At most
    :data:`_PIECES_PER_TYPE` lengths are kept; the rest are built each time."""

    def __init__(self, pieces: tuple[bytes, ...]) -> None:
        super().__init__()
        self.pieces = pieces

    def __missing__(self, length: int) -> tuple[bytes, ...]:
        head = b"$%d\r\n" % length
        first, *middle, last = self.pieces
        framed = (first + head, *(b"\r\n" + piece + head for piece in middle), b"\r\n" + last)
        if len(self) < _PIECES_PER_TYPE:
            self[length] = framed
        return framed


class _Builder:
    """Per-key commands as RESP, one join per key (the key between its template's pieces, framed for its
    length); ``width`` replies per key."""

    def __init__(self, samples: int | None, seen: Visibility, *, ttl_known: bool = False) -> None:
        if samples is None:
            usage = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n%b"
        else:
            usage = b"*5\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n%b$7\r\nSAMPLES\r\n" + bulk(str(samples).encode())
        tail = b""
        slots = 1
        if seen.encoding:
            tail += b"*3\r\n$6\r\nOBJECT\r\n$8\r\nENCODING\r\n%b"
            slots += 1
        # ttl_known: no key of the database has a TTL (INFO keyspace), checked again behind every batch.
        self.ttl_known = ttl_known
        self.asks_ttl = seen.ttl and not ttl_known
        if self.asks_ttl:
            tail += b"*2\r\n$4\r\nPTTL\r\n%b"
            slots += 1
        self.seen = replace(seen)  # what this builder's batches hold, whatever is dropped later
        self.width = slots + (1 if seen.length or seen.type else 0)
        # By the expected type: MEMORY USAGE, its length command (or TYPE when lengths are not visible), the rest.
        templates: dict[bytes, bytes]
        if seen.length:
            templates = {typ: usage + head + b"%b" + tail for typ, head in _LENGTH_HEADS.items()}
        elif seen.type:
            templates = dict.fromkeys(_ALL_TYPES, usage + _TYPE_HEAD + b"%b" + tail)
        else:
            templates = dict.fromkeys(_ALL_TYPES, usage + tail)
        # Each template cut where the key goes (%b), then framed per key length (see _ByLength).
        self.pieces = {typ: _ByLength(tuple(template.split(b"%b"))) for typ, template in templates.items()}

    def build(self, keys: list[bytes], types: list[bytes]) -> bytes:
        pieces = self.pieces
        return b"".join([key.join(pieces[typ][len(key)]) for key, typ in zip(keys, types, strict=True)])


def _retry_commands(key: bytes, encoding: Any, seen: Visibility) -> tuple[bytes, tuple[bytes, ...]]:
    """The second round for a key whose expected type was wrong: TYPE, then the candidates' lengths."""
    kb = bulk(key)
    candidates = _CANDIDATES.get(encoding, _ALL_TYPES) if encoding.__class__ is bytes else _ALL_TYPES
    out = [_TYPE_HEAD + kb] if seen.type else []
    if seen.length:
        out += [_LENGTH_HEADS[typ] + kb for typ in candidates]
    else:
        candidates = ()
    return b"".join(out), candidates


_denial = refused_command  # why a per-key command was refused as a command, or None


_SCAN, _META, _RETRY, _GUARD = 0, 1, 2, 3
_INFO_KEYSPACE = b"*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n"
# A batch's per-key commands built ahead: (payload, replies, (keys, patterns, expected types, builder)).
_Prepared = tuple[bytes, int, tuple[list[bytes], list[str], list[bytes], "_Builder"]]


def no_ttl_in_db(reply: Any, db: int) -> bool:
    """Whether an ``INFO keyspace`` reply says no key of database ``db`` has a TTL (``expires=0``, or no
    line for the database: it holds no key)."""
    if reply.__class__ is not bytes:
        return False  # an error (INFO denied or renamed): nothing is known
    found = re.search(rb"^db%d:keys=\d+,expires=(\d+)" % db, reply, re.MULTILINE)
    return found is None or found.group(1) == b"0"


class _Flow:
    """The reply groups in flight on one connection, in the order the server answers them.

    A write carries whatever is ready: the next SCAN, the newest keys' per-key commands, and the
    second round of any earlier batch's keys whose expected type was wrong.
    """

    def __init__(self, pipe: RawPipe, source: _ScanSource | _RandomSource, agg: Aggregator,
                 samples: int | None, seen: Visibility, progress: Progress | None,
                 cancel: threading.Event | None = None, *, ttl_known: bool = False, db: int = 0) -> None:
        self.pipe, self.source, self.agg, self.progress = pipe, source, agg, progress
        self.samples, self.seen = samples, seen
        self.db = db
        self.builder = _Builder(samples, seen, ttl_known=ttl_known)  # builder.ttl_known: PTTL still left out
        self.ttl_from_info = 0  # keys whose TTL was INFO keyspace's "none in this database", not a PTTL
        self._held: tuple[Any, list[Any]] | None = None  # a batch whose INFO keyspace check is still to come
        self.cancel = cancel
        self.groups: deque[tuple[int, int, int, Any]] = deque()  # (write number, kind, replies, batch)
        self.writes = 0
        self.keys: list[bytes] = []  # from the last SCAN (or RANDOMKEY) reply, not asked about yet
        self._retries: list[tuple[list[bytes], list[str], list[Any], list[Any], list[Any]]] = []
        self._parts: list[bytes] = []
        self._parsed: list[tuple[int, Any, list[Any]]] = []
        self._replies = 0
        self.commands = 0  # sent in all
        self.retried = 0
        self.expected: dict[str, bytes] = {}  # pattern -> the type its keys were last seen to have
        self.name = agg.grouper.raw

    def queue_scan(self, batch: int) -> None:
        request, replies = self.source.request(batch)
        self._queue(_SCAN, request, replies, None)

    def prepare(self, keys: list[bytes]) -> _Prepared:
        """Name ``keys`` and build their per-key commands (sent later by :meth:`queue_prepared`)."""
        name = self.name
        expected = self.expected
        patterns = [name(key) for key in keys]
        types = [expected.get(pattern, b"string") for pattern in patterns]
        builder = self.builder
        return builder.build(keys, types), builder.width * len(keys), (keys, patterns, types, builder)

    def queue_prepared(self, prepared: _Prepared) -> None:
        self._queue(_META, *prepared)
        if prepared[2][3].ttl_known:  # right behind the batch: does the database still hold no TTL?
            self._queue(_GUARD, _INFO_KEYSPACE, 1, None)

    def queue_retries(self) -> None:
        for keys, patterns, mems, encs, pttls in self._retries:
            payload = []
            asked: list[tuple[bytes, ...]] = []
            for key, enc in zip(keys, encs, strict=True):
                part, candidates = _retry_commands(key, enc, self.seen)
                payload.append(part)
                asked.append(candidates)
            replies = sum(len(c) for c in asked) + (len(keys) if self.seen.type else 0)
            if replies:
                self._queue(_RETRY, b"".join(payload), replies, (keys, patterns, mems, encs, pttls, asked))
            else:  # neither TYPE nor any length command is visible: the type stays unknown
                self.agg.add(keys, patterns, [b"unknown"] * len(keys), mems, repeat(None), encs, pttls)
        self._retries = []

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
    def busy(self) -> bool:
        """Replies still to read or to aggregate."""
        return bool(self.groups or self._parsed)

    @property
    def idle(self) -> bool:
        return not self.groups and not self._parsed and not self._retries and not self.keys

    def read_to_next_keys(self) -> None:
        """Read (and aggregate) every group of the earlier writes, then the newest write's SCAN reply. The
        full scan puts the SCAN first in a write, so the newest write's per-key replies are still in flight
        when this returns; any queued before its SCAN are parsed and kept for :meth:`process_parsed`."""
        newest = self.writes - 1
        groups = self.groups
        has_scan = any(group[0] == newest and group[1] == _SCAN for group in groups)
        while groups:
            write, kind, replies, batch = groups[0]
            if write == newest and not has_scan:
                return
            groups.popleft()
            if write == newest and kind != _SCAN:
                self._parsed.append((kind, batch, self.pipe.read_many(replies)))
                continue
            self._handle(write, kind, replies, batch)
            if write == newest and kind == _SCAN:
                return

    def read_deferred(self) -> None:
        """Read every reply in flight: SCAN replies give the next keys now, the per-key replies are kept
        for :meth:`process_parsed`."""
        groups = self.groups
        while groups:
            write, kind, replies, batch = groups.popleft()
            if kind == _SCAN:
                self._handle(write, kind, replies, batch)
            else:
                self._parsed.append((kind, batch, self.pipe.read_many(replies)))

    def process_parsed(self) -> None:
        parsed, self._parsed = self._parsed, []
        for kind, batch, answers in parsed:
            self._process(kind, batch, answers)

    def read_all(self) -> None:
        self.process_parsed()
        while self.groups:
            self._handle(*self.groups.popleft())

    def _handle(self, _write: int, kind: int, replies: int, batch: Any) -> None:
        answers = self.pipe.read_many(replies)
        if kind == _SCAN:
            keys = self.source.parse(answers)
            self.keys = self.keys + keys if self.keys else keys
            return
        self._process(kind, batch, answers)

    def _process(self, kind: int, batch: Any, answers: list[Any]) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ScanCancelled  # the pipe is closed with replies unread: its connection is dropped
        if kind == _META:
            if batch[3].ttl_known:
                self._held = (batch, answers)  # its TTLs are known once the INFO behind it says so
            else:
                self._meta(batch, answers)
        elif kind == _GUARD:
            self._guard(answers[0])
        else:
            self._retried(batch, answers)

    def _guard(self, reply: Any) -> None:
        """The INFO keyspace read right behind a batch sent without PTTL: with still no TTL in the database,
        every key of the batch had none at that moment; otherwise PTTL is asked from now on, and the
        batch's keys are asked again in full."""
        assert self._held is not None
        held = self._held
        keys: list[bytes] = held[0][0]
        self._held = None
        if no_ttl_in_db(reply, self.db):
            self.ttl_from_info += len(keys)
            self._meta(*held)
            return
        if self.builder.ttl_known:
            self.builder = _Builder(self.samples, self.seen)
        self.keys = keys + self.keys

    def denied(self, column: str, reply: Any) -> bool:
        """Drop a per-key command for the rest of the scan when ``reply`` refuses it as a command."""
        reason = _denial(reply)
        if reason is None:
            return False
        if getattr(self.seen, column):
            setattr(self.seen, column, False)
            self.seen.reasons.setdefault(column, reason)
            self.builder = _Builder(self.samples, self.seen, ttl_known=self.builder.ttl_known)
        return True

    def _meta(self, batch: tuple[list[bytes], list[str], list[bytes], _Builder], answers: list[Any]) -> None:
        keys, patterns, types, built = batch
        width = built.width
        seen = built.seen
        mems = answers[0::width]
        at = 1
        lengths: Iterable[Any] = repeat(None)
        if seen.length or seen.type:
            column = answers[at::width]
            at += 1
            if seen.length:
                lengths = column
            else:
                types = [t if t.__class__ is bytes else b"unknown" for t in column]
                for reply in column:
                    if reply.__class__ is not bytes:
                        self.denied("type", reply)
        encs: list[Any] | Iterable[Any] = repeat(None)
        if seen.encoding:
            encs = answers[at::width]
            at += 1
        pttls: list[Any] | Iterable[Any] = repeat(-1)
        if built.asks_ttl:
            pttls = answers[at::width]
        retry = self.agg.add(keys, patterns, types, mems, lengths, encs, pttls, denied=self.denied)
        if retry:
            self.retried += len(retry)
            enc_of = encs if isinstance(encs, list) else None
            ttl_of = pttls if isinstance(pttls, list) else None
            self._retries.append(([keys[i] for i in retry], [patterns[i] for i in retry],
                                  [mems[i] for i in retry],
                                  [None if enc_of is None else enc_of[i] for i in retry],
                                  [-1 if ttl_of is None else ttl_of[i] for i in retry]))
        if self.progress is not None:
            self.progress(len(keys) - len(retry))

    def _retried(self, batch: tuple[Any, ...], answers: list[Any]) -> None:
        keys, patterns, mems, encs, pttls, asked = batch
        types: list[bytes] = []
        lengths: list[int | None] = []
        at = 0
        for candidates in asked:
            typ: Any = b"unknown"
            if self.seen.type:
                typ = answers[at]
                at += 1
                if typ.__class__ is not bytes:
                    self.denied("type", typ)
                    typ = b"unknown"
            length = None
            for candidate in candidates:
                reply = answers[at]
                at += 1
                if reply.__class__ is int:
                    if typ == b"unknown" and not self.seen.type:
                        typ = candidate
                    if candidate == typ:
                        length = reply
            types.append(typ)
            lengths.append(length)
        expected = self.expected
        for pattern, typ in zip(patterns, types, strict=True):
            if typ in _LENGTH_HEADS:
                expected[pattern] = typ
        self.agg.add(keys, patterns, types, mems, lengths, encs, pttls, retried=True)
        if self.progress is not None:
            self.progress(len(keys))


def _run_overlapped(flow: _Flow, throttle: Throttle, impact: _ImpactProbe | None) -> None:
    """Two writes ahead: each write carries the next SCAN and the per-key commands of the keys the SCAN
    before last returned, named and built while the server ran the earlier writes. The client sends a
    write as soon as a SCAN reply is in, with nothing to compute first, so the server has the next
    write queued when it finishes one; only then does the client build the newest keys' commands and
    read and aggregate the replies of the write before."""
    flow.queue_scan(throttle.batch)
    flow.flush()
    flow.read_to_next_keys()
    ready: _Prepared | None = None
    while True:
        keys, flow.keys = flow.keys, []
        if not flow.source.done:
            flow.queue_scan(throttle.batch)
        if ready is not None:
            throttle.before_send(len(ready[2][0]))
            flow.queue_prepared(ready)
            ready = None
        flow.queue_retries()
        sent = flow.flush()
        if keys:
            ready = flow.prepare(keys)  # while the server runs what was just sent
        if sent:
            if impact is not None:
                impact.maybe_probe()
            flow.process_parsed()
            flow.read_to_next_keys()
        elif ready is None:
            if not flow.busy:
                return
            flow.read_all()


def _run_serial(flow: _Flow, throttle: Throttle) -> None:
    """One write in flight: a batch of keys (and, while fewer than two batches of keys are in hand, the
    next SCAN), sized and paced by the throttle.

    While the server runs a write, the client aggregates the previous write's replies (read and parsed
    but not yet processed) and names and builds the next batch from the keys in hand, so the server
    waits for the client only as long as the throttle's pause. A write timed by a probe PING (see
    :meth:`Throttle.probe_due`) is waited for instead, so its round trip is the server's time on it.
    """
    ready: _Prepared | None = None
    while True:
        batch = throttle.batch
        if ready is None and flow.keys:
            ready = flow.prepare(flow.keys[:batch])
            del flow.keys[:batch]
        if not flow.source.done and len(flow.keys) < batch:
            # SCAN COUNT is bounded by the batch too: the SCAN runs at once, like the batch.
            flow.queue_scan(batch)
        if ready is not None:
            throttle.before_send(len(ready[2][0]))
            flow.queue_prepared(ready)
            ready = None
        flow.queue_retries()  # an earlier batch's second round rides along
        timed = throttle.probe_due()
        began = time.perf_counter()
        sent = flow.flush()
        if not sent:
            if not flow.busy:
                return
            flow.process_parsed()  # may queue a second round for the next write
            continue
        if timed:
            probe_ms = throttle.probe_in_flight()
            flow.read_deferred()
            took = time.perf_counter() - began
            throttle.observe(took, probe_ms, sent)
            flow.process_parsed()
        else:
            flow.process_parsed()  # the last write's replies, while the server runs this one
            if flow.keys:
                ready = flow.prepare(flow.keys[:throttle.batch])
                del flow.keys[:throttle.batch]
            flow.read_deferred()
            took = time.perf_counter() - began
            throttle.observe_untimed(sent)
        throttle.watch_load(flow.commands)
        throttle.after_batch(took)


class _ImpactProbe:
    """About once a second, a PING on a second connection right behind a write: how long another client
    waited behind the scan (less the PING's idle round trip)."""

    def __init__(self, client: redis.Redis) -> None:
        self.pipe = RawPipe(client)
        self.samples: list[float] = []
        self._next = time.monotonic() + _IMPACT_PROBE_S / 2
        idle = []
        for _ in range(5):
            idle.append(self._ping())
        self.baseline = sorted(idle)[len(idle) // 2]

    def _ping(self) -> float:
        start = time.perf_counter()
        self.pipe.send(b"*1\r\n$4\r\nPING\r\n", 1)
        self.pipe.read()
        return (time.perf_counter() - start) * 1000.0

    def maybe_probe(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _IMPACT_PROBE_S
        self.samples.append(max(0.0, self._ping() - self.baseline))

    def close(self) -> None:
        self.pipe.close()


def _info_memory(client: redis.Redis) -> tuple[int | None, int | None]:
    try:
        info = client.info("memory")
    except rex.ResponseError:
        return None, None
    used, dataset = info.get("used_memory"), info.get("used_memory_dataset")
    return (int(used) if used is not None else None, int(dataset) if dataset is not None else None)


def _pool_db(client: redis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


def _keysizes(pipe: RawPipe, db: int) -> dict[str, dict[int, int]] | None:
    """Redis 8's INFO keysizes for ``db``; None before 8 (an empty section) or when INFO is refused."""
    try:
        reply = pipe.call(b"INFO", b"keysizes")
    except rex.ResponseError:
        return None
    if reply.__class__ is not bytes:
        return None
    return keysizes_counts(parse_info_text(reply.decode("utf-8", "replace")).get("keysizes", {}), db)


def _no_ttl_yet(pipe: RawPipe, db: int) -> bool:
    """Whether INFO keyspace says no key of ``db`` has a TTL: then PTTL is not sent (it is a fifth of the
    server's time per key: measured on Redis 7.0, 0.36 µs in the command plus ~0.7 µs reading and replying
    to it, against 2.4 µs for one INFO keyspace behind each batch of up to 150 keys)."""
    try:
        return no_ttl_in_db(pipe.call(b"INFO", b"keyspace"), db)
    except rex.ResponseError:
        return False


def _dbsize(pipe: RawPipe, seen: Visibility) -> int:
    try:
        return int(pipe.call(b"DBSIZE"))
    except rex.ResponseError as exc:  # NoPermissionError included
        reason = _denial(hiredis.ReplyError(str(exc)))
        if reason is None:
            raise
        seen.dbsize = False
        seen.reasons["dbsize"] = reason
        return 0


def scan_client(client: redis.Redis, settings: ScanSettings, *, address: str = "", role: str = "primary",
                progress: Progress | None = None, draws: int | None = None,
                cancel: threading.Event | None = None, impact: bool = True,
                pass_budget_s: float | None = None) -> NodeScan:
    """Scan (or sample) the keyspace behind ``client`` and return its aggregation.

    ``draws`` overrides ``settings.sample`` for this node (the cluster planner splits a sample across
    shards). Setting ``cancel`` stops the scan with :class:`ScanCancelled` at the next batch.
    When the draws would be as many as the keys, the node is scanned in full instead: exact, and no
    slower. ``impact`` times a PING behind the full scan's batches about once a second. The big-key pass
    of a sampled run gets half of ``settings.budget_s``, or ``pass_budget_s`` when there is no budget.
    """
    began = time.monotonic()
    wanted = settings.sample if draws is None else draws
    agg = Aggregator(cap=settings.cap, top_k=settings.top_k)
    throttle = Throttle(rate=settings.rate, max_impact_ms=settings.max_impact_ms, max_batch=settings.count)
    seen = Visibility()
    probe: RawPipe | None = None
    impact_probe: _ImpactProbe | None = None
    with RawPipe(client) as pipe:
        if settings.db is not None:
            pipe.call(b"SELECT", str(settings.db).encode())
            pipe.discard = True  # a different database than the pool's: never hand this one back
        db = settings.db if settings.db is not None else _pool_db(client)
        dbsize = _dbsize(pipe, seen)
        used_memory, dataset = _info_memory(client)
        if (wanted is None and settings.budget_s is not None and seen.dbsize
                and dbsize > settings.budget_s * _SAFE_KEYS_PER_S):
            wanted = dbsize - 1  # draw until the budget is spent
        mode: Literal["full", "sample"] = "full"
        source: _ScanSource | _RandomSource
        big: BigKeyPass | None = None
        keysizes = None
        if wanted is not None and seen.dbsize and wanted < dbsize:
            mode = "sample"
            deadline = began + settings.budget_s if settings.budget_s is not None else None
            keysizes = _keysizes(pipe, db)
            if settings.big_pass:
                big = find_big_keys(pipe, min_elements=settings.min_elements,
                                    min_string_bytes=settings.min_string_bytes,
                                    budget_s=pass_budget_s if settings.budget_s is None else settings.budget_s / 2,
                                    samples=settings.samples, top_k=settings.top_k, cancel=cancel,
                                    count=settings.count if throttle.active else None)
                agg.exclude = big.names
            source = _RandomSource(wanted, deadline)
        else:
            source = _ScanSource(settings.count, settings.match)
        flow = _Flow(pipe, source, agg, settings.samples, seen, progress, cancel,
                     ttl_known=_no_ttl_yet(pipe, db), db=db)
        try:
            if throttle.serial:
                probe = RawPipe(client)
                throttle.attach_probe(probe)
                _run_serial(flow, throttle)
            else:
                if impact and mode == "full" and not throttle.active:
                    impact_probe = _ImpactProbe(client)
                _run_overlapped(flow, throttle, impact_probe)
        finally:
            if probe is not None:
                probe.close()
            if impact_probe is not None:
                impact_probe.close()
    added = list(throttle.probes) if throttle.serial else (impact_probe.samples if impact_probe else [])
    return NodeScan(address=address, role=role, mode=mode, aggregator=agg, dbsize=dbsize,
                    used_memory=used_memory, elapsed_s=time.monotonic() - began,
                    added_latency_ms=added, load=throttle.load if throttle.serial else None,
                    visibility=replace(seen), used_memory_dataset=dataset, commands=flow.commands,
                    retried=flow.retried, big_pass=big, keysizes=keysizes, ttl_from_info=flow.ttl_from_info)
