"""What one collection of a target produced: plain data that the families and /status only format."""

from __future__ import annotations

from dataclasses import dataclass, field

from redisguard.collect.sets import NodeSample
from redisguard.forecast import Forecast
from redisguard.keyspace import KeyspaceReport
from redisguard.rules import Finding
from redisguard.snapshot import NotVisible

__all__ = ["Collection", "KeyspaceResult", "NodeResult", "node_label"]


def node_label(address: str) -> str:
    """``host:port`` for a node address (a standalone node is known by its redacted URL)."""
    if "://" not in address:
        return address
    rest = address.split("://", 1)[1]
    rest = rest.rsplit("@", 1)[-1]
    return rest.split("/", 1)[0] or address


@dataclass
class NodeResult:
    node: str  # host:port, the ``node`` label
    sample: NodeSample | None
    error: str | None = None
    streams_found: int = 0  # stream keys SCAN found (exported or not)
    streams_complete: bool = True  # the stream summary arrived in full
    forecast: Forecast | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.sample is not None and self.sample.info is not None


@dataclass
class KeyspaceResult:
    report: KeyspaceReport | None
    finished_at: float | None
    error: str | None = None


@dataclass
class Collection:
    target: str  # redacted
    mode: str
    started_at: float
    duration_s: float
    partial: bool
    nodes: list[NodeResult]
    not_visible: list[NotVisible] = field(default_factory=list)
    error: str | None = None  # the target could not be reached at all
    keyspace: KeyspaceResult | None = None
    max_streams: int = 0
    consumer_metrics: bool = False
    taken_at: float = 0.0  # wall clock (``started_at`` is monotonic)
