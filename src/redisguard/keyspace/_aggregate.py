"""Streaming per-pattern aggregation with bounded memory: counters per (pattern, type, encoding, TTL
bucket) and a top-K heap of the biggest keys per type. No list of keys is ever kept.

A key's *length* is what its type's length command says (STRLEN, LLEN, HLEN, SCARD, ZCARD, XLEN): bytes
for a string, elements for the others; ``None`` for types without one (modules) or when it was not
visible.

Memory: at most ``cap`` patterns times the few (type, encoding, TTL bucket) combinations each, ``top_k``
keys per type, and the grouper's bounded token cache, whatever the keyspace size.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import hiredis
import redis.exceptions as rex

from redisguard._wire.errors import as_redis_error
from redisguard.keyspace._patterns import (
    DEFAULT_CAP,
    UNLIMITED_DEPTH,
    PatternGrouper,
    cut,
    depth_of,
    note_segments,
    spread_prefixes,
    wildcard,
)

__all__ = ["TTL_BUCKETS", "Aggregator", "HeapEntry", "ttl_bucket"]

TTL_BUCKETS = ("none", "<1h", "<1d", "<1w", ">=1w")
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_WEEK_MS = 7 * _DAY_MS
_CUT_CACHE_LIMIT = 100_000

# (bytes, key, encoding, pttl, length): ordered by bytes then key name, so ties break the same way every run.
HeapEntry = tuple[int, bytes, bytes | None, int, int | None]
Combo = tuple[str, bytes, bytes | None, int]  # (pattern, type, encoding, ttl bucket)


def ttl_bucket(pttl: int) -> int:
    """Index into :data:`TTL_BUCKETS` for a PTTL reply (-1: no TTL)."""
    if pttl < 0:
        return 0
    if pttl < _HOUR_MS:
        return 1
    if pttl < _DAY_MS:
        return 2
    if pttl < _WEEK_MS:
        return 3
    return 4


@dataclass
class Aggregator:
    """Everything one scan (or sample) of one node learned, in bounded memory.

    ``combos`` maps (pattern, type, encoding, TTL bucket) to ``[keys, bytes, sum of bytes², sum of lengths,
    keys with a length]``; the squares are what sampling needs for its confidence intervals.
    """

    cap: int = DEFAULT_CAP
    top_k: int = 10
    depth: int = UNLIMITED_DEPTH
    wild: frozenset[str] = frozenset()  # prefixes after which a segment is a variable part (the spread rule)
    combos: dict[Combo, list[int]] = field(default_factory=dict)
    patterns: set[str] = field(default_factory=set)
    heaps: dict[bytes, list[HeapEntry]] = field(default_factory=dict)
    seen: int = 0  # keys looked at (sample draws in sampling mode), vanished ones included
    vanished: int = 0  # gone between SCAN/RANDOMKEY and the per-key commands (expired, deleted)
    hidden: int = 0  # outside the ACL user's key patterns: SCAN listed them, MEMORY USAGE was refused
    # Keys measured elsewhere (the big-key pass of a sampled run): draws that land on them are set aside.
    exclude: set[bytes] = field(default_factory=set)
    excluded: int = 0
    _grouper: PatternGrouper | None = None
    _cut_cache: dict[str, str] = field(default_factory=dict)  # raw pattern -> folded (spread, then the cap)
    _children: dict[str, set[str]] = field(default_factory=dict)  # prefix -> the segments seen after it
    _floors: dict[bytes, int] = field(default_factory=dict)  # type -> smallest bytes in its full top-K heap

    @property
    def grouper(self) -> PatternGrouper:
        if self._grouper is None:
            self._grouper = PatternGrouper(self.cap)
        return self._grouper

    def add_batch(self, keys: list[bytes], replies: list[Any], lengths: list[int | None] | None = None) -> None:
        """Fold in one batch given as MEMORY USAGE, TYPE, PTTL, OBJECT ENCODING per key (and ``lengths``):
        the layout of a classic pipeline, for tests and small callers. The scanner calls :meth:`add`."""
        raw = self.grouper.raw
        self.add(keys, [raw(key) for key in keys], replies[1::4], replies[0::4],
                 repeat(None) if lengths is None else lengths, replies[3::4], replies[2::4], retried=True)

    def add(self, keys: list[bytes], patterns: list[str], types: Iterable[Any], mems: Iterable[Any],
            lengths: Iterable[Any], encodings: Iterable[Any], pttls: Iterable[Any], *,
            retried: bool = False, denied: Callable[[str, Any], bool] | None = None) -> list[int]:
        """Fold in one batch, given column by column (pattern, type, MEMORY USAGE, length, OBJECT ENCODING
        and PTTL per key; a length of ``None`` means not known).

        Returns the positions of the keys whose length command failed (``WRONGTYPE``: the expected type
        was wrong; or refused): they are not counted yet, and the caller asks again. With ``retried``
        nothing is deferred (a failed length is unknown). ``denied(column, reply)`` is told of replies
        that may be a command-level refusal (and says whether it was one).
        """
        combos = self.combos
        patterns_seen = self.patterns
        heaps = self.heaps
        top_k = self.top_k
        floors = self._floors
        floors_get = floors.get
        cut_cache = self._cut_cache
        limited = self.depth < UNLIMITED_DEPTH or bool(self.wild)
        vanished = 0
        deferred: list[int] = []
        exclude = self.exclude
        position = -1
        # zip without strict: ``repeat()`` stands for a column that was not asked for.
        for key, name, typ, mem, length_in, enc_in, pttl_in in zip(  # noqa: B905
                keys, patterns, types, mems, lengths, encodings, pttls):
            position += 1
            length, enc, pttl, pattern = length_in, enc_in, pttl_in, name
            if exclude and key in exclude:
                self.excluded += 1
                continue
            if (mem.__class__ is not int or pttl.__class__ is not int or pttl < -1 or typ == b"none"
                    or (length.__class__ is not int and length is not None)):
                verdict = _odd(mem, typ, length, pttl, retried, denied)
                if verdict == _VANISHED:
                    vanished += 1
                    continue
                if verdict == _DEFER:
                    deferred.append(position)
                    continue
                if verdict == _HIDDEN:
                    self.hidden += 1
                    continue
                if pttl.__class__ is not int:
                    pttl = -1
                if length.__class__ is not int:
                    length = None
            if enc.__class__ is not bytes:
                if enc is not None and denied is not None:
                    denied("encoding", enc)
                enc = None  # vanished between commands, or OBJECT denied: the size is still right
            if limited:
                found = cut_cache.get(pattern)
                if found is None:
                    found = self.fold_pattern(pattern)
                    if len(cut_cache) < _CUT_CACHE_LIMIT:
                        cut_cache[pattern] = found
                pattern = found
            if pttl < 0:
                bucket = 0
            elif pttl < _HOUR_MS:
                bucket = 1
            elif pttl < _DAY_MS:
                bucket = 2
            elif pttl < _WEEK_MS:
                bucket = 3
            else:
                bucket = 4
            combo = (pattern, typ, enc, bucket)
            acc = combos.get(combo)
            if acc is None:
                combos[combo] = [1, mem, mem * mem, length or 0, 0 if length is None else 1]
                if pattern not in patterns_seen:
                    patterns_seen.add(pattern)
                    if note_segments(pattern, self._children) or len(patterns_seen) > self.cap:
                        self._fold()
                        limited = True
            else:
                acc[0] += 1
                acc[1] += mem
                acc[2] += mem * mem
                if length is not None:
                    acc[3] += length
                    acc[4] += 1
            if mem < floors_get(typ, -1):
                continue  # smaller than every key in its type's full top-K heap: the common case
            heap = heaps.get(typ)
            if heap is None:
                heaps[typ] = [(mem, key, enc, pttl, length)]
            elif len(heap) < top_k:
                if not _holds(heap, key):  # sampling draws with replacement: a key may come twice
                    heapq.heappush(heap, (mem, key, enc, pttl, length))
            elif (mem > heap[0][0] or (mem == heap[0][0] and key > heap[0][1])) and not _holds(heap, key):
                heapq.heapreplace(heap, (mem, key, enc, pttl, length))
            else:
                continue
            if len(heaps[typ]) >= top_k:
                floors[typ] = heaps[typ][0][0]
        self.seen += position + 1 - len(deferred)
        self.vanished += vanished
        return deferred

    def fold_pattern(self, pattern: str) -> str:
        """A pattern as this aggregation now reports it: spread segments as ``*``, then cut to the depth."""
        return cut(wildcard(pattern, self.wild), self.depth)

    def _fold(self, depth: int | None = None) -> None:
        """Find the spread prefixes, lower the depth until the patterns fit the cap, re-key the counters."""
        target = self.depth if depth is None else depth
        self.wild = spread_prefixes(self.patterns, self.wild, target)
        spread = {wildcard(pattern, self.wild) for pattern in self.patterns}
        if len(spread) > self.cap or target < UNLIMITED_DEPTH:
            self.depth = self.grouper.fold_depth(spread, target)
            self.wild = frozenset(prefix for prefix in self.wild if depth_of(prefix) <= self.depth)
        merged: dict[Combo, list[int]] = {}
        for (pattern, typ, enc, bucket), acc in self.combos.items():
            combo = (self.fold_pattern(pattern), typ, enc, bucket)
            into = merged.get(combo)
            if into is None:
                merged[combo] = list(acc)
            else:
                for slot in range(len(acc)):
                    into[slot] += acc[slot]
        # In place: add_batch holds references to both while it folds mid-batch.
        self.combos.clear()
        self.combos.update(merged)
        self.patterns.clear()
        self.patterns.update(combo[0] for combo in merged)
        self._children.clear()
        for pattern in self.patterns:
            note_segments(pattern, self._children)
        self._cut_cache.clear()

    def merge(self, other: Aggregator) -> None:
        """Add another node's (or batch's) aggregation into this one; same result as one big scan."""
        self.wild = self.wild | other.wild
        for (pattern, typ, enc, bucket), acc in other.combos.items():
            combo = (pattern, typ, enc, bucket)
            into = self.combos.get(combo)
            if into is None:
                self.combos[combo] = list(acc)
                self.patterns.add(pattern)
            else:
                for slot in range(len(acc)):
                    into[slot] += acc[slot]
        self._fold(min(self.depth, other.depth))
        for typ, heap in other.heaps.items():
            mine = self.heaps.setdefault(typ, [])
            for entry in heap:
                if _holds(mine, entry[1]):
                    continue
                if len(mine) < self.top_k:
                    heapq.heappush(mine, entry)
                elif entry[:2] > mine[0][:2]:
                    heapq.heapreplace(mine, entry)
            if len(mine) >= self.top_k:
                self._floors[typ] = mine[0][0]
        self.seen += other.seen
        self.vanished += other.vanished
        self.hidden += other.hidden
        self.excluded += other.excluded

    def biggest(self, typ: bytes | None = None) -> list[HeapEntry]:
        """Top keys (of one type, or of all types), biggest first."""
        if typ is not None:
            return sorted(self.heaps.get(typ, []), reverse=True)
        every = [entry for heap in self.heaps.values() for entry in heap]
        return sorted(every, reverse=True)[: self.top_k]


_COUNT, _VANISHED, _DEFER, _HIDDEN = 0, 1, 2, 3


def _odd(mem: Any, typ: Any, length: Any, pttl: Any, retried: bool,
         denied: Callable[[str, Any], bool] | None) -> int:
    """What to do with a key whose replies are not the plain ints: count it (with what is known),
    count it as vanished, defer it to a second round, or skip it as hidden by the ACL's key patterns."""
    if mem is None or typ == b"none" or pttl == -2:
        return _VANISHED
    if _moved(mem, typ, length, pttl):
        return _VANISHED
    if isinstance(mem, hiredis.ReplyError):
        text = str(mem)
        if text.startswith("NOPERM") and "to run" not in text:
            return _HIDDEN  # a key outside the user's key patterns: SCAN shows it, MEMORY USAGE may not
        _raise_reply_error(mem)
    if mem.__class__ is not int:
        _raise_reply_error(mem, typ, length, pttl)
    if isinstance(pttl, hiredis.ReplyError) and denied is not None:
        denied("ttl", pttl)
    if isinstance(length, hiredis.ReplyError):
        if denied is not None:
            denied("length", length)
        if not retried:
            return _DEFER
    return _COUNT


def _holds(heap: list[HeapEntry], key: bytes) -> bool:
    return any(entry[1] == key for entry in heap)


def _moved(*replies: Any) -> bool:
    """A cluster slot moved between SCAN and the per-key commands: the key now lives elsewhere."""
    return any(isinstance(reply, hiredis.ReplyError) and str(reply).startswith(("MOVED", "ASK"))
               for reply in replies)


def _raise_reply_error(*replies: Any) -> None:
    for reply in replies:
        if isinstance(reply, hiredis.ReplyError):
            raise as_redis_error(reply)
    raise rex.ResponseError(f"unexpected replies to the per-key commands: {replies!r}"[:300])
