"""Build the keyspace report (:class:`redisguard.snapshot.keyspace.KeyspaceReport`) from per-node scans.

Pure code over the scans' aggregations: sampled nodes are scaled and given intervals, the big keys a
sampled node's big-key pass measured are added as an exact stratum, and the coverage (the estimate and
the exact part beside the server's ``used_memory_dataset``) is stated.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from redisguard._wire.decode import text
from redisguard.keynames import to_text
from redisguard.keyspace._aggregate import TTL_BUCKETS, Aggregator
from redisguard.keyspace._sampling import Stratum, estimate
from redisguard.keyspace._scan import NodeScan
from redisguard.snapshot.keyspace import (
    SORT_KEYS,
    BigKeyRow,
    Coverage,
    KeyspaceReport,
    NodeSummary,
    PatternRow,
    sort_rows,
)

__all__ = ["SORT_KEYS", "BigKeyRow", "KeyspaceReport", "NodeSummary", "PatternRow", "build_report"]


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
    return "unknown" if value is None else text(value)


@dataclass
class _Part:
    """One stratum of one node: its sampled keys, or the big keys its pass measured exactly."""

    scan: NodeScan
    agg: Aggregator
    population: int
    draws: int
    exact: bool


def _parts(scan: NodeScan) -> list[_Part]:
    agg = scan.aggregator
    if scan.mode == "full":
        return [_Part(scan, agg, scan.dbsize, agg.seen, True)]
    big = scan.big_pass
    if big is None:
        return [_Part(scan, agg, scan.dbsize, agg.seen, False)]
    found = big.aggregator
    # Draws that landed on a key the pass measured were set aside: the rest are a uniform sample of the
    # other keys, whose number is the database's less the measured ones.
    return [_Part(scan, agg, max(0, scan.dbsize - found.seen), agg.seen - agg.excluded, False),
            _Part(scan, found, found.seen, found.seen, True)]


def _load_fields(scan: NodeScan) -> dict[str, Any]:
    load = scan.load
    if load is None or not load.readings:
        return {}
    return {"server_ops_per_s": load.server_ops_per_s, "others_ops_per_s": round(load.others_ops_per_s, 1),
            "min_duty": round(load.min_duty, 3)}


def build_report(scans: list[NodeScan], *, target: str, topology: Literal["standalone", "cluster"],
                 cap: int, sort: str = "bytes", elapsed_s: float | None = None, db: int = 0) -> KeyspaceReport:
    """Merge per-node scans into one report; sampled nodes are scaled and given intervals."""
    parts = [part for scan in scans for part in _parts(scan)]
    merged = Aggregator(cap=cap, top_k=scans[0].aggregator.top_k if scans else 10)
    for part in parts:
        merged.merge(part.agg)
    depth = merged.depth
    tallies: dict[str, list[tuple[_Part, _Tally]]] = {}
    for part in parts:
        agg = part.agg
        scale = 1.0 if part.exact or not part.draws else part.population / part.draws
        per: dict[str, _Tally] = {}
        for (pattern, typ, enc, bucket), (count, size, squares, lengths, measured) in agg.combos.items():
            tally = per.setdefault(merged.fold_pattern(pattern), _Tally())
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
            tallies.setdefault(pattern, []).append((part, tally))

    used = [scan.used_memory for scan in scans]
    used_memory = sum(u for u in used if u is not None) if used and all(u is not None for u in used) else None
    exact = all(scan.mode == "full" for scan in scans)
    rows: list[PatternRow] = []
    sampled_parts = [part for part in parts if not part.exact]
    for pattern, found in tallies.items():
        present = {id(part) for part, _ in found}
        strata = [Stratum(population=part.population, draws=part.draws, hits=t.hits, bytes_sum=t.bytes,
                          bytes_sq_sum=t.squares, exact=part.exact) for part, t in found]
        # Sampled strata that never drew this pattern still count (as zero hits) in its estimate.
        strata += [Stratum(population=part.population, draws=part.draws, hits=0, bytes_sum=0, bytes_sq_sum=0)
                   for part in sampled_parts if id(part) not in present]
        est = estimate(strata)
        keys = round(est.keys)
        size = round(est.bytes)
        no_ttl = round(sum(t.no_ttl for _, t in found))
        length_sum = sum(t.length_sum for _, t in found)
        length_keys = sum(t.length_keys for _, t in found)
        types: dict[str, float] = {}
        encodings: dict[str, float] = {}
        histogram = [0.0] * len(TTL_BUCKETS)
        for _, tally in found:
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
            seen=sum(t.hits for _, t in found),
            total_length=round(length_sum) if length_keys else None,
            avg_length=length_sum / length_keys if length_keys else None,
            keys_low=None if exact else est.keys_low, keys_high=None if exact else est.keys_high,
            bytes_low=None if exact else est.bytes_low, bytes_high=None if exact else est.bytes_high,
            exact_keys=0 if exact else sum(t.hits for part, t in found if part.exact),
        ))

    owner: dict[bytes, tuple[str, bool]] = {}
    for part in parts:
        for heap in part.agg.heaps.values():
            for entry in heap:
                owner.setdefault(entry[1], (part.scan.address, part.exact))
    big: dict[str, list[BigKeyRow]] = {}
    for typ in sorted(merged.heaps):
        for size, key, enc, pttl, length in merged.biggest(typ):
            node, measured = owner[key]
            big.setdefault(_text(typ), []).append(BigKeyRow(
                key=to_text(key), type=_text(typ), bytes=size, length=length,
                encoding=None if enc is None else _text(enc), ttl_ms=None if pttl < 0 else pttl,
                node=node, exact=measured))

    seen = sum(scan.aggregator.seen for scan in scans)
    took = elapsed_s if elapsed_s is not None else max((scan.elapsed_s for scan in scans), default=0.0)
    nodes = [_summary(scan) for scan in scans]
    not_visible = sorted({f"{column}: {why}" for scan in scans for column, why in scan.visibility.reasons.items()})
    report = KeyspaceReport(
        target=target, topology=topology, exact=exact, keyspace_size=sum(scan.dbsize for scan in scans),
        seen=seen, vanished=sum(scan.aggregator.vanished for scan in scans), used_memory=used_memory,
        total_bytes=sum(row.bytes for row in rows), elapsed_s=round(took, 3),
        keys_per_s=round(seen / took, 1) if took > 0 else 0.0, pattern_cap=cap,
        pattern_depth=None if depth >= 1 << 30 else depth, patterns=sort_rows(rows, sort), big_keys=big,
        nodes=nodes, sort=sort, db=db, not_visible=not_visible,
    )
    for scan in scans:
        if scan.ttl_from_info:
            report.notes.append(
                f"{scan.address or 'the node'}: no key had a TTL (INFO keyspace, read behind each batch, showed "
                f"expires=0), so PTTL was not sent for {scan.ttl_from_info:,} key(s)")
    if not exact:
        report.coverage = _coverage(scans, report)
    return report


def _summary(scan: NodeScan) -> NodeSummary:
    added = scan.added_latency_ms
    return NodeSummary(
        address=scan.address, role=scan.role, mode=scan.mode, dbsize=scan.dbsize, seen=scan.aggregator.seen,
        vanished=scan.aggregator.vanished, elapsed_s=round(scan.elapsed_s, 3), used_memory=scan.used_memory,
        max_added_latency_ms=round(max(added), 3) if added else None,
        median_added_latency_ms=round(statistics.median(added), 3) if added else None,
        used_memory_dataset=scan.used_memory_dataset, hidden=scan.aggregator.hidden, retried=scan.retried,
        ttl_from_info=scan.ttl_from_info, **_load_fields(scan))


def _coverage(scans: list[NodeScan], report: KeyspaceReport) -> Coverage:
    datasets = [scan.used_memory_dataset for scan in scans]
    dataset = sum(d for d in datasets if d is not None) if all(d is not None for d in datasets) else None
    passes = [scan.big_pass for scan in scans if scan.big_pass is not None]
    big_bytes = sum(acc[1] for found in passes for acc in found.aggregator.combos.values())
    big_keys = sum(found.aggregator.seen for found in passes)
    estimated = report.total_bytes - big_bytes
    unaccounted = None if dataset is None else dataset - report.total_bytes
    keysizes: dict[str, dict[str, int]] | None = None
    for scan in scans:
        if scan.keysizes is not None:
            keysizes = keysizes or {}
            for typ, buckets in scan.keysizes.items():
                into = keysizes.setdefault(typ, {})
                for bound, count in buckets.items():
                    into[f">={bound}"] = into.get(f">={bound}", 0) + count
    return Coverage(
        dataset_bytes=dataset, estimated_bytes=estimated, big_keys_bytes=big_bytes, big_keys=big_keys,
        pass_complete=bool(passes) and all(found.complete for found in passes),
        pass_keys_walked=sum(found.keys_walked for found in passes),
        min_elements=min((found.min_elements for found in passes), default=0),
        min_string_bytes=min((found.min_string_bytes for found in passes), default=0),
        unaccounted_bytes=unaccounted,
        unaccounted_share=None if unaccounted is None or not dataset else round(unaccounted / dataset, 4),
        keysizes=keysizes,
    )
