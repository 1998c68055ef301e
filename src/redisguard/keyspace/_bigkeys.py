"""The big-key pass: a cheap separate walk over the whole keyspace that finds every big key exactly.

A sample (``--sample``, ``--budget``, the doctor's key sample) draws a few keys out of millions, so a
1M-element list or a 200k-member zset is almost never drawn, while it may hold a fifth of the bytes.
This pass finds them: SCAN (COUNT 1000) with one command per key, the length command of the type the
key's pattern last had (its answer is the type and the length; a wrong guess is asked again with TYPE
and the candidates' lengths), then MEMORY USAGE, OBJECT ENCODING and PTTL only for the keys that are
big: aggregates of at least ``min_elements`` elements and strings of at least ``min_string_bytes``.
That costs the server about one cheap command per key beside SCAN itself, against four for a full scan.

What it cannot see: an aggregate with fewer than ``min_elements`` elements is not measured, so a key of
more than 10 MB is found only if its elements average under 10 MB / ``min_elements`` each (10 KB at the
default); the report says so.

Redis 8.x also has ``INFO keysizes`` (power-of-two histograms of string sizes and element counts per
type, no streams): :func:`keysizes_counts` reads it, and the report sets it beside what the pass found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import hiredis

from redisguard._wire.errors import as_redis_error
from redisguard._wire.pipe import RawPipe
from redisguard._wire.resp import bulk, command
from redisguard.keyspace._aggregate import Aggregator

__all__ = ["MIN_ELEMENTS", "MIN_STRING_BYTES", "BigKeyPass", "find_big_keys", "keysizes_counts"]

MIN_ELEMENTS = 1_000
MIN_STRING_BYTES = 1 << 20
_COUNT = 1000
_LENGTH = {b"string": b"STRLEN", b"list": b"LLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"hash": b"HLEN",
           b"stream": b"XLEN"}
_HEADS = {typ: b"*2\r\n" + bulk(name) for typ, name in _LENGTH.items()}
_TYPE = b"*2\r\n$4\r\nTYPE\r\n"
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_KEYSIZES_TYPES = {"strings": "string", "lists": "list", "sets": "set", "zsets": "zset", "hashes": "hash"}


@dataclass
class BigKeyPass:
    """What the pass found (an exact aggregation of the big keys only) and how far it got."""

    aggregator: Aggregator
    keys_walked: int = 0
    complete: bool = True  # False: the time budget ran out before SCAN came back to cursor 0
    elapsed_s: float = 0.0
    min_elements: int = MIN_ELEMENTS
    min_string_bytes: int = MIN_STRING_BYTES
    commands: int = 0
    names: set[bytes] = field(default_factory=set)


def _bound(label: str) -> int:
    """``2K`` → 2048: the lower bound of an ``INFO keysizes`` bucket."""
    unit = label[-1:].upper()
    if unit in _UNITS:
        return int(label[:-1]) * _UNITS[unit]
    return int(label)


def keysizes_counts(section: dict[str, str], db: int) -> dict[str, dict[int, int]] | None:
    """``INFO keysizes`` of one database as ``{type: {bucket lower bound: keys}}`` (element counts for
    aggregates, bytes for strings); ``None`` when the server has no such section (before Redis 8)."""
    if not section:
        return None
    out: dict[str, dict[int, int]] = {}
    prefix = f"db{db}_distrib_"
    for name, value in section.items():
        if not name.startswith(prefix):
            continue
        kind = name[len(prefix):].rsplit("_", 1)[0]
        typ = _KEYSIZES_TYPES.get(kind)
        if typ is None:
            continue
        buckets = out.setdefault(typ, {})
        for item in value.split(","):
            label, _, count = item.partition("=")
            if count.isdigit():
                try:
                    buckets[_bound(label)] = buckets.get(_bound(label), 0) + int(count)
                except ValueError:
                    continue
    return out


def _retype(pipe: RawPipe, keys: list[bytes]) -> list[tuple[bytes, int | None]]:
    """TYPE and every length command, for keys whose expected type was wrong: (type, length)."""
    per = 1 + len(_HEADS)
    pipe.send(b"".join([_TYPE + (kb := bulk(key)) + b"".join([head + kb for head in _HEADS.values()])
                        for key in keys]), per * len(keys))
    answers = pipe.read_many(per * len(keys))
    out: list[tuple[bytes, int | None]] = []
    for at in range(0, len(answers), per):
        typ = answers[at]
        if typ.__class__ is not bytes:
            typ = b"unknown"
        length = None
        for offset, name in enumerate(_HEADS, start=1):
            if name == typ and answers[at + offset].__class__ is int:
                length = answers[at + offset]
        out.append((typ, length))
    return out


def find_big_keys(pipe: RawPipe, *, min_elements: int = MIN_ELEMENTS, min_string_bytes: int = MIN_STRING_BYTES,
                  budget_s: float | None = None, samples: int | None = None, top_k: int = 10,
                  cancel: threading.Event | None = None, count: int | None = None) -> BigKeyPass:
    """Walk the keyspace behind ``pipe`` once and measure every big key exactly (see the module doc).

    Each write carries the length commands for the keys the last SCAN returned and the next SCAN;
    ``count`` (SCAN COUNT, 1000 by default) bounds how long one write holds the server.
    """
    began = time.monotonic()
    deadline = None if budget_s is None else began + budget_s
    agg = Aggregator(top_k=top_k)
    name = agg.grouper.raw
    expected: dict[str, bytes] = {}
    found = BigKeyPass(aggregator=agg, min_elements=min_elements, min_string_bytes=min_string_bytes)
    scan_count = str(count or _COUNT).encode()
    pipe.send(command(b"SCAN", b"0", b"COUNT", scan_count), 1)
    cursor, keys = _scan_reply(pipe.read())
    found.commands += 1
    while True:
        more = cursor != b"0"
        if more and ((cancel is not None and cancel.is_set())
                     or (deadline is not None and time.monotonic() >= deadline)):
            found.complete = more = False
        patterns = [name(key) for key in keys]
        types = [expected.get(pattern, b"string") for pattern in patterns]
        payload = b"".join([_HEADS[typ] + bulk(key) for key, typ in zip(keys, types, strict=True)])
        if more:
            payload += command(b"SCAN", cursor, b"COUNT", scan_count)
        if payload:
            pipe.send(payload, len(keys) + more)
        lengths = pipe.read_many(len(keys)) if keys else []
        next_cursor, next_keys = _scan_reply(pipe.read()) if more else (b"0", [])
        found.commands += len(keys) + more
        wrong = [at for at, reply in enumerate(lengths) if reply.__class__ is not int]
        if wrong:
            for at, (typ, length) in zip(wrong, _retype(pipe, [keys[at] for at in wrong]), strict=True):
                types[at], lengths[at] = typ, length
                if typ in _HEADS:
                    expected[patterns[at]] = typ
            found.commands += len(wrong) * (1 + len(_HEADS))
        big = [at for at, (typ, length) in enumerate(zip(types, lengths, strict=True))
               if length.__class__ is int and length >= (min_string_bytes if typ == b"string" else min_elements)]
        if big:
            _measure(pipe, agg, [keys[at] for at in big], [patterns[at] for at in big],
                     [types[at] for at in big], [lengths[at] for at in big], samples)
            found.names.update(keys[at] for at in big)
            found.commands += 3 * len(big)
        found.keys_walked += len(keys)
        if not more:
            break
        cursor, keys = next_cursor, next_keys
    found.elapsed_s = time.monotonic() - began
    return found


def _scan_reply(reply: Any) -> tuple[bytes, list[bytes]]:
    if isinstance(reply, hiredis.ReplyError):
        raise as_redis_error(reply)
    return reply[0], reply[1]


def _measure(pipe: RawPipe, agg: Aggregator, keys: list[bytes], patterns: list[str], types: list[bytes],
             lengths: Iterable[Any], samples: int | None) -> None:
    extra = [b"SAMPLES", str(samples).encode()] if samples is not None else []
    pipe.send(b"".join([command(b"MEMORY", b"USAGE", key, *extra) + command(b"OBJECT", b"ENCODING", key)
                        + command(b"PTTL", key) for key in keys]), 3 * len(keys))
    answers = pipe.read_many(3 * len(keys))
    agg.add(keys, patterns, types, answers[0::3], lengths, answers[1::3],
            [p if p.__class__ is int else -1 for p in answers[2::3]], retried=True)
