"""The typed, JSON-serialisable result of a keyspace scan: per-pattern rows, big keys, per-node notes.

Key names and patterns are in the lossless text form of :mod:`redisguard.keynames` (non-UTF-8 bytes as
lone surrogates, which ``json.dumps`` writes as ``\\udcXX``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any, Literal

from redisguard.keynames import to_text
from redisguard.keyspace.aggregate import TTL_BUCKETS, Aggregator
from redisguard.keyspace.patterns import cut
from redisguard.keyspace.sampling import Stratum, estimate
from redisguard.keyspace.scan import NodeScan

__all__ = ["SORT_KEYS", "BigKeyRow", "KeyspaceReport", "NodeSummary", "PatternRow", "build_report"]

SortKey = Literal["bytes", "count", "no-ttl"]
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


@dataclass
class BigKeyRow:
    key: str
    type: str
    bytes: int
    length: int | None
    encoding: str | None
    ttl_ms: int | None  # None: no TTL
    node: str


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
    max_added_latency_ms: float | None = None  # --max-impact: worst added latency its probes saw
    # --max-impact, from INFO stats once a second: the highest instantaneous_ops_per_sec, the highest rate
    # of other clients' commands, and the smallest share of the server's time the scan allowed itself.
    server_ops_per_s: int | None = None
    others_ops_per_s: float | None = None
    min_duty: float | None = None
    server: str | None = None  # "Redis 8.2.3", "Valkey 8.1.8" (None: INFO server not visible)


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
    version: int = field(default=1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_csv(self) -> str:
        """One row per pattern."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["pattern", "keys", "bytes", "avg_bytes", "share_of_memory", "no_ttl", "no_ttl_share",
                         *(f"ttl_{name}" for name in TTL_BUCKETS), "types", "encodings",
                         "keys_low", "keys_high", "bytes_low", "bytes_high", "total_length", "avg_length"])
        for row in self.patterns:
            writer.writerow([
                row.pattern, row.keys, row.bytes, f"{row.avg_bytes:.1f}",
                "" if row.share_of_memory is None else f"{row.share_of_memory:.6f}",
                row.no_ttl, f"{row.no_ttl_share:.4f}", *(row.ttl_histogram[name] for name in TTL_BUCKETS),
                ";".join(f"{k}={v}" for k, v in sorted(row.types.items())),
                ";".join(f"{k}={v}" for k, v in sorted(row.encodings.items())),
                *("" if value is None else f"{value:.0f}"
                  for value in (row.keys_low, row.keys_high, row.bytes_low, row.bytes_high)),
                "" if row.total_length is None else row.total_length,
                "" if row.avg_length is None else f"{row.avg_length:.1f}",
            ])
        return out.getvalue()

    def sorted_by(self, how: str) -> KeyspaceReport:
        return dataclasses.replace(self, patterns=sort_rows(self.patterns, how), sort=how)


def sort_rows(rows: list[PatternRow], how: str) -> list[PatternRow]:
    if how == "count":
        return sorted(rows, key=lambda r: (-r.keys, -r.bytes, r.pattern))
    if how == "no-ttl":
        return sorted(rows, key=lambda r: (-r.no_ttl_share, -r.bytes, r.pattern))
    if how == "bytes":
        return sorted(rows, key=lambda r: (-r.bytes, -r.keys, r.pattern))
    raise ValueError(f"unknown sort {how!r}: one of {', '.join(SORT_KEYS)}")


@dataclass
class _Tally:
    hits: int = 0
    bytes: int = 0
    squares: int = 0
    no_ttl: float = 0.0
    histogram: list[float] = field(default_factory=lambda: [0.0] * len(TTL_BUCKETS))
    types: dict[str, float] = field(default_factory=dict)
    encodings: dict[str, float] = field(default_factory=dict)
    length_sum: float = 0.0
    length_keys: float = 0.0


def _text(value: bytes | None) -> str:
    return "unknown" if value is None else value.decode("utf-8", "replace")


def _load_fields(scan: NodeScan) -> dict[str, Any]:
    load = scan.load
    if load is None or not load.readings:
        return {}
    return {"server_ops_per_s": load.server_ops_per_s, "others_ops_per_s": round(load.others_ops_per_s, 1),
            "min_duty": round(load.min_duty, 3)}


def build_report(scans: list[NodeScan], *, target: str, topology: Literal["standalone", "cluster"],
                 cap: int, sort: str = "bytes", elapsed_s: float | None = None) -> KeyspaceReport:
    """Merge per-node scans into one report; sampled nodes are scaled and given intervals."""
    merged = Aggregator(cap=cap, top_k=scans[0].aggregator.top_k if scans else 10)
    for scan in scans:
        merged.merge(scan.aggregator)
    depth = merged.depth
    tallies: dict[str, list[tuple[NodeScan, _Tally]]] = {}
    for scan in scans:
        agg = scan.aggregator
        scale = 1.0 if scan.mode == "full" or not agg.seen else scan.dbsize / agg.seen
        per: dict[str, _Tally] = {}
        for (pattern, typ, enc, bucket), (count, size, squares, lengths, measured) in agg.combos.items():
            tally = per.setdefault(cut(pattern, depth), _Tally())
            tally.length_sum += lengths * scale
            tally.length_keys += measured * scale
            tally.hits += count
            tally.bytes += size
            tally.squares += squares
            weighted = count * scale
            if bucket == 0:
                tally.no_ttl += weighted
            tally.histogram[bucket] += weighted
            tally.types[_text(typ)] = tally.types.get(_text(typ), 0.0) + weighted
            tally.encodings[_text(enc)] = tally.encodings.get(_text(enc), 0.0) + weighted
        for pattern, tally in per.items():
            tallies.setdefault(pattern, []).append((scan, tally))

    used = [scan.used_memory for scan in scans]
    used_memory = sum(u for u in used if u is not None) if used and all(u is not None for u in used) else None
    exact = all(scan.mode == "full" for scan in scans)
    rows: list[PatternRow] = []
    for pattern, parts in tallies.items():
        present = {id(scan) for scan, _ in parts}
        strata = [Stratum(population=scan.dbsize, draws=scan.aggregator.seen, hits=t.hits, bytes_sum=t.bytes,
                          bytes_sq_sum=t.squares, exact=scan.mode == "full") for scan, t in parts]
        # Sampled nodes that never drew this pattern still count (as zero hits) in its estimate.
        strata += [Stratum(population=scan.dbsize, draws=scan.aggregator.seen, hits=0, bytes_sum=0, bytes_sq_sum=0)
                   for scan in scans if scan.mode == "sample" and id(scan) not in present]
        est = estimate(strata)
        keys = round(est.keys)
        size = round(est.bytes)
        no_ttl = round(sum(t.no_ttl for _, t in parts))
        length_sum = sum(t.length_sum for _, t in parts)
        length_keys = sum(t.length_keys for _, t in parts)
        types: dict[str, float] = {}
        encodings: dict[str, float] = {}
        histogram = [0.0] * len(TTL_BUCKETS)
        for _, tally in parts:
            for name, value in tally.types.items():
                types[name] = types.get(name, 0.0) + value
            for name, value in tally.encodings.items():
                encodings[name] = encodings.get(name, 0.0) + value
            histogram = [a + b for a, b in zip(histogram, tally.histogram, strict=True)]
        rows.append(PatternRow(
            pattern=pattern, keys=keys, bytes=size, avg_bytes=size / keys if keys else 0.0,
            share_of_memory=size / used_memory if used_memory else None,
            no_ttl=no_ttl, no_ttl_share=no_ttl / keys if keys else 0.0,
            ttl_histogram={name: round(value) for name, value in zip(TTL_BUCKETS, histogram, strict=True)},
            types={name: round(value) for name, value in types.items()},
            encodings={name: round(value) for name, value in encodings.items()},
            seen=sum(t.hits for _, t in parts),
            total_length=round(length_sum) if length_keys else None,
            avg_length=length_sum / length_keys if length_keys else None,
            keys_low=None if exact else est.keys_low, keys_high=None if exact else est.keys_high,
            bytes_low=None if exact else est.bytes_low, bytes_high=None if exact else est.bytes_high,
        ))

    owner: dict[bytes, str] = {}
    for scan in scans:
        for heap in scan.aggregator.heaps.values():
            for entry in heap:
                owner.setdefault(entry[1], scan.address)
    big: dict[str, list[BigKeyRow]] = {}
    for typ in sorted(merged.heaps):
        for size, key, enc, pttl, length in merged.biggest(typ):
            big.setdefault(_text(typ), []).append(BigKeyRow(
                key=to_text(key), type=_text(typ), bytes=size, length=length,
                encoding=None if enc is None else _text(enc), ttl_ms=None if pttl < 0 else pttl,
                node=owner[key]))

    seen = sum(scan.aggregator.seen for scan in scans)
    took = elapsed_s if elapsed_s is not None else max((scan.elapsed_s for scan in scans), default=0.0)
    nodes = [NodeSummary(address=scan.address, role=scan.role, mode=scan.mode, dbsize=scan.dbsize,
                         seen=scan.aggregator.seen, vanished=scan.aggregator.vanished,
                         elapsed_s=round(scan.elapsed_s, 3), used_memory=scan.used_memory,
                         max_added_latency_ms=round(max(scan.added_latency_ms), 3)
                         if scan.added_latency_ms else None,
                         **_load_fields(scan))
             for scan in scans]
    return KeyspaceReport(
        target=target, topology=topology, exact=exact, keyspace_size=sum(scan.dbsize for scan in scans),
        seen=seen, vanished=sum(scan.aggregator.vanished for scan in scans), used_memory=used_memory,
        total_bytes=sum(row.bytes for row in rows), elapsed_s=round(took, 3),
        keys_per_s=round(seen / took, 1) if took > 0 else 0.0, pattern_cap=cap,
        pattern_depth=None if depth >= 1 << 30 else depth, patterns=sort_rows(rows, sort), big_keys=big,
        nodes=nodes, sort=sort,
    )
