"""What ``redisguard watch`` shows: plain data (built by :mod:`redisguard.exporter.watchbuild`, formatted by
:mod:`redisguard.render.watch`). Imports nothing that talks to Redis, so renderers may depend on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from redisguard.forecast import Forecast

__all__ = ["FindingRow", "NodeView", "StreamRow", "WatchView", "view_to_dict"]


@dataclass
class NodeView:
    node: str
    up: bool
    error: str | None = None
    used: int = 0
    maxmemory: int = 0
    counted: int = 0
    share: float | None = None  # counted / maxmemory
    rss: int = 0
    fragmentation: float | None = None
    breakdown: list[tuple[str, int]] = field(default_factory=list)
    forecast: Forecast | None = None
    ops_per_sec: int = 0
    hit_rate: float | None = None
    evicted: int = 0
    clients: int = 0
    policy: str = ""
    spark_used: list[int] = field(default_factory=list)
    spark_ops: list[int] = field(default_factory=list)


@dataclass
class StreamRow:
    node: str
    stream: str
    length: int
    memory: int | None
    backlog: int  # the largest group lag (or pending, when the lag is unknown), else the length
    groups: list[tuple[str, int | None, int]]  # (group, lag or None when Redis does not know, pending)


@dataclass
class FindingRow:
    node: str
    severity: str
    rule: str
    title: str
    bytes_at_stake: int | None


@dataclass
class WatchView:
    target: str
    mode: str
    taken_at: float
    partial: bool
    error: str | None
    nodes: list[NodeView]
    total: NodeView
    streams: list[StreamRow]
    findings: list[FindingRow]


# What a node that did not answer has no value for: null in JSON, not a 0 a graph would plot.
_FIGURES = ("used", "maxmemory", "counted", "share", "rss", "fragmentation", "forecast", "ops_per_sec", "hit_rate",
            "evicted", "clients")


def view_to_dict(view: WatchView) -> dict[str, Any]:
    """The sample as JSON-ready data (``watch --json``). A node that did not answer (and the total, when
    none did) has ``null`` figures."""
    data = asdict(view)
    none_up = not any(node.up for node in view.nodes)
    for node in [*data["nodes"], data["total"]]:
        node["breakdown"] = [{"part": label, "bytes": value} for label, value in node["breakdown"]]
        node.pop("spark_used")
        node.pop("spark_ops")
        if not node["up"] and (node is not data["total"] or none_up):
            node.update(dict.fromkeys(_FIGURES))
    for row in data["streams"]:
        row["groups"] = [{"group": g, "lag": lag, "pending": pending} for g, lag, pending in row["groups"]]
    return data
