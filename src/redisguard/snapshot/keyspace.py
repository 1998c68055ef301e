"""The one keyspace result model: what ``redisguard keys`` prints and what the doctor's rules read.

Built by :func:`redisguard.keyspace.build_report` (pure code over the scan's aggregation); the doctor's
key sample is the same report cut to what the rules need (:meth:`KeyspaceReport.for_doctor`) and is
stored in the snapshot. Key names and patterns are in the lossless text form of
:mod:`redisguard.keynames` (non-UTF-8 bytes as lone surrogates, which ``json.dumps`` writes as
``\\udcXX``). No formatting here: renderers live in :mod:`redisguard.render.keys`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SORT_KEYS", "BigKeyRow", "Coverage", "KeyspaceReport", "NodeSummary", "PatternRow", "sort_rows"]

SORT_KEYS: tuple[str, ...] = ("bytes", "count", "no-ttl")


@dataclass
class PatternRow:
    pattern: str
    keys: int  # exact on a full scan, else the estimate
    bytes: int
    avg_bytes: float
    share_of_memory: float | None  # of used_memory (INFO memory), None when INFO was not visible
    no_ttl: int
    no_ttl_share: float
    ttl_histogram: dict[str, int]  # none, <1h, <1d, <1w, >=1w
    types: dict[str, int]
    encodings: dict[str, int]
    seen: int  # keys (or draws) actually looked at in this pattern
    # Sum and mean of the keys' lengths (STRLEN bytes for strings, elements for the other types), over the
    # keys whose type has a length command; None when none has. Scaled like ``keys`` when sampled.
    total_length: int | None = None
    avg_length: float | None = None
    keys_low: float | None = None  # 95 % confidence interval (sampling only)
    keys_high: float | None = None
    bytes_low: float | None = None
    bytes_high: float | None = None
    exact_keys: int = 0  # of ``keys``, found exactly by the big-key pass (sampled runs)


@dataclass
class BigKeyRow:
    key: str
    type: str
    bytes: int
    length: int | None
    encoding: str | None
    ttl_ms: int | None  # None: no TTL (or TTL not visible)
    node: str
    exact: bool = True  # found by a full scan or the big-key pass (False: only among the sampled keys)


@dataclass
class NodeSummary:
    address: str
    role: str
    mode: Literal["full", "sample"]
    dbsize: int
    seen: int
    vanished: int
    elapsed_s: float
    used_memory: int | None
    max_added_latency_ms: float | None = None  # worst added latency the probe PINGs saw
    median_added_latency_ms: float | None = None
    # --max-impact, from INFO stats once a second: the highest instantaneous_ops_per_sec, the highest rate
    # of other clients' commands, and the smallest share of the server's time the scan allowed itself.
    server_ops_per_s: int | None = None
    others_ops_per_s: float | None = None
    min_duty: float | None = None
    used_memory_dataset: int | None = None
    hidden: int = 0  # keys SCAN listed but the ACL's key patterns hid from MEMORY USAGE
    retried: int = 0  # keys asked again because their expected type was wrong
    # keys counted without a TTL because INFO keyspace, read behind each of their batches, said no key of the
    # database had one (PTTL was not sent for them)
    ttl_from_info: int = 0
    server: str | None = None  # "Redis 8.2.3", "Valkey 8.1.8" (None: INFO server not visible)


@dataclass
class Coverage:
    """How much of the server's data a sampled report accounts for, and how."""

    dataset_bytes: int | None  # INFO memory used_memory_dataset (summed over nodes), None if not visible
    estimated_bytes: int  # the sample's estimate for the keys the big-key pass did not measure
    big_keys_bytes: int  # measured exactly by the big-key pass
    big_keys: int
    pass_complete: bool  # the pass walked the whole keyspace (False: its time budget ran out)
    pass_keys_walked: int
    min_elements: int  # aggregates with fewer elements, and strings under min_string_bytes, are not measured
    min_string_bytes: int
    unaccounted_bytes: int | None  # dataset - (estimated + big keys); negative when the sum overshoots
    unaccounted_share: float | None
    keysizes: dict[str, dict[str, int]] | None = None  # Redis 8 INFO keysizes: type -> {">=bound": keys}


@dataclass
class KeyspaceReport:
    target: str
    topology: Literal["standalone", "cluster"]
    exact: bool  # every node scanned in full: all numbers are exact
    keyspace_size: int
    seen: int
    vanished: int
    used_memory: int | None
    total_bytes: int
    elapsed_s: float
    keys_per_s: float
    pattern_cap: int
    pattern_depth: int | None  # None: no folding was needed
    patterns: list[PatternRow]
    big_keys: dict[str, list[BigKeyRow]]
    nodes: list[NodeSummary]
    sort: str = "bytes"
    notes: list[str] = field(default_factory=list)
    version: int = field(default=2)
    db: int = 0
    coverage: Coverage | None = None
    # Columns the server did not let the scan see ("ttl: denied by ACL (NOPERM)", ...).
    not_visible: list[str] = field(default_factory=list)

    @property
    def scanned(self) -> int:
        """Keys (or draws) looked at: the doctor's word for :attr:`seen`."""
        return self.seen

    @property
    def ttl_visible(self) -> bool:
        return not any(item.startswith("ttl:") for item in self.not_visible)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def biggest(self) -> list[BigKeyRow]:
        """Every big key of every type, biggest first."""
        rows = [row for rows in self.big_keys.values() for row in rows]
        return sorted(rows, key=lambda row: (-row.bytes, row.key))

    def sorted_by(self, how: str) -> KeyspaceReport:
        return dataclasses.replace(self, patterns=sort_rows(self.patterns, how), sort=how)

    def for_doctor(self, patterns: int = 100) -> KeyspaceReport:
        """The report cut to what the doctor's rules and a snapshot need: the biggest patterns only."""
        return dataclasses.replace(self, patterns=sort_rows(self.patterns, "bytes")[:patterns])


def sort_rows(rows: list[PatternRow], how: str) -> list[PatternRow]:
    if how == "count":
        return sorted(rows, key=lambda r: (-r.keys, -r.bytes, r.pattern))
    if how == "no-ttl":
        return sorted(rows, key=lambda r: (-r.no_ttl_share, -r.bytes, r.pattern))
    if how == "bytes":
        return sorted(rows, key=lambda r: (-r.bytes, -r.keys, r.pattern))
    raise ValueError(f"unknown sort {how!r}: one of {', '.join(SORT_KEYS)}")
