"""Build a :class:`WatchView` from one exporter :class:`Collection` and the recent history (sparklines).
Pure: no I/O."""

from __future__ import annotations

from collections import deque

from redisguard.breakdown import memory_breakdown
from redisguard.collect.sets import sample_snapshot
from redisguard.exporter.model import Collection, NodeResult
from redisguard.exporter.watchview import FindingRow, NodeView, StreamRow, WatchView

__all__ = ["SPARK_POINTS", "Sparks", "build_view"]

SPARK_POINTS = 60


class Sparks:
    """The last :data:`SPARK_POINTS` values of used memory and ops/s per node."""

    def __init__(self, points: int = SPARK_POINTS) -> None:
        self._points = points
        self._used: dict[str, deque[int]] = {}
        self._ops: dict[str, deque[int]] = {}

    def add(self, node: str, used: int, ops: int) -> tuple[list[int], list[int]]:
        used_ring = self._used.setdefault(node, deque(maxlen=self._points))
        ops_ring = self._ops.setdefault(node, deque(maxlen=self._points))
        used_ring.append(used)
        ops_ring.append(ops)
        return list(used_ring), list(ops_ring)


def info_refused(result: NodeResult) -> str | None:
    """Why the node answered but gave no INFO (denied by ACL, renamed), or None."""
    sample = result.sample
    if sample is None or sample.info is not None:
        return None
    return next((f"INFO {gap.reason}" for gap in sample.not_visible if gap.what == "INFO"), None)


def _node_view(result: NodeResult, sparks: Sparks | None) -> NodeView:
    if not result.up or result.sample is None:
        return NodeView(node=result.node, up=False, error=result.error or info_refused(result) or "no reply")
    node = sample_snapshot(result.sample)
    hits, misses = node.info_int("keyspace_hits"), node.info_int("keyspace_misses")
    used = node.used_memory
    counted = max(0, used - node.info_int("mem_not_counted_for_evict"))
    limit = node.info_int("maxmemory")
    breakdown = memory_breakdown(node)
    view = NodeView(
        node=result.node, up=True, error=result.error, used=used, maxmemory=limit, counted=counted,
        share=counted / limit if limit else None, rss=node.info_int("used_memory_rss"),
        fragmentation=node.info_float("mem_fragmentation_ratio") or None,
        breakdown=list(breakdown.parts), forecast=result.forecast,
        ops_per_sec=node.info_int("instantaneous_ops_per_sec"),
        hit_rate=hits / (hits + misses) if hits + misses else None, evicted=node.info_int("evicted_keys"),
        clients=node.info_int("connected_clients"), policy=node.info_value("maxmemory_policy") or "",
    )
    if sparks is not None:
        view.spark_used, view.spark_ops = sparks.add(result.node, used, view.ops_per_sec)
    return view


def _total(nodes: list[NodeView], sparks: Sparks | None) -> NodeView:
    up = [node for node in nodes if node.up]
    total = NodeView(node="total", up=bool(up) and len(up) == len(nodes))
    total.used = sum(n.used for n in up)
    total.counted = sum(n.counted for n in up)
    total.maxmemory = sum(n.maxmemory for n in up)
    total.share = total.counted / total.maxmemory if total.maxmemory else None
    total.rss = sum(n.rss for n in up)
    total.fragmentation = total.rss / total.used if total.used else None
    total.ops_per_sec = sum(n.ops_per_sec for n in up)
    total.evicted = sum(n.evicted for n in up)
    total.clients = sum(n.clients for n in up)
    rates = [n.hit_rate for n in up if n.hit_rate is not None]
    total.hit_rate = sum(rates) / len(rates) if rates else None
    soonest = [n.forecast for n in up if n.forecast is not None]
    total.forecast = min(soonest, key=lambda f: f.seconds_to_limit) if soonest else None  # the first node full
    if sparks is not None:
        total.spark_used, total.spark_ops = sparks.add("\0total", total.used, total.ops_per_sec)
    return total


def _streams(collection: Collection, top: int) -> list[StreamRow]:
    rows: list[StreamRow] = []
    for result in collection.nodes:
        for stream in result.sample.streams if result.sample else []:
            groups = [(g.name, g.lag, g.pending) for g in stream.groups]
            backlog = max((lag if lag is not None else pending for _, lag, pending in groups), default=stream.length)
            rows.append(StreamRow(result.node, stream.key, stream.length, stream.memory_bytes, backlog, groups))
    rows.sort(key=lambda row: (-row.backlog, -row.length, row.stream))
    return rows[:top]


def build_view(collection: Collection, sparks: Sparks | None = None, *, top_streams: int = 5,
               top_findings: int = 5) -> WatchView:
    nodes = [_node_view(result, sparks) for result in sorted(collection.nodes, key=lambda r: r.node)]
    findings = sorted(((result.node, finding) for result in collection.nodes for finding in result.findings),
                      key=lambda pair: pair[1].sort_key)
    return WatchView(
        target=collection.target, mode=collection.mode, taken_at=collection.taken_at,
        partial=collection.partial, error=collection.error, nodes=nodes, total=_total(nodes, sparks),
        streams=_streams(collection, top_streams),
        findings=[FindingRow(node, f.severity.label, f.id, f.title, f.bytes_at_stake)
                  for node, f in findings[:top_findings]],
    )
