"""The doctor's report as a typed model, built by pure code: every face (terminal, Markdown, JSON, HTML) formats it.

Renderers never compute: the findings are ordered, the memory breakdown and the verdict (exit code)
are decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redisguard.breakdown import memory_breakdown
from redisguard.rules.commands import CommandContext
from redisguard.rules.finding import Finding, Severity
from redisguard.snapshot import NodeSnapshot, NotVisible, Snapshot

__all__ = ["DoctorReport", "KeySampleSummary", "MemoryPart", "NodeSummary", "build_report", "exit_code"]


@dataclass(frozen=True)
class MemoryPart:
    part: str
    bytes: int


@dataclass(frozen=True)
class KeySampleSummary:
    db: int
    scanned: int
    keyspace_size: int
    exact: bool
    other_dbs: dict[str, int] = field(default_factory=dict)  # databases holding keys the sample did not look at


@dataclass(frozen=True)
class NodeSummary:
    address: str
    role: str
    version: str
    used_memory: int
    used_memory_rss: int
    maxmemory: int
    maxmemory_policy: str
    keys: int
    streams: int
    streams_truncated: bool
    clients: int | None
    key_sample: KeySampleSummary | None
    breakdown: tuple[MemoryPart, ...]
    collected_in_ms: int
    server: str = "redis"  # "redis", "valkey" or "unknown" (INFO server not visible)
    server_title: str = ""  # "Redis 8.2.3", "Valkey 8.1.8": version is the server's own, not Valkey's 7.2.4
    memory_visible: bool = True  # False: neither INFO memory nor MEMORY STATS could be read (the figures are 0)
    keys_visible: bool = True  # False: neither INFO keyspace nor MEMORY STATS could be read

    @property
    def used_share(self) -> float | None:
        return self.used_memory / self.maxmemory if self.maxmemory else None


@dataclass(frozen=True)
class DoctorReport:
    target: str
    mode: str
    taken_at: float
    redisguard_version: str
    exit_code: int
    nodes: tuple[NodeSummary, ...]
    findings: tuple[Finding, ...]
    not_visible: tuple[NotVisible, ...]
    commands: CommandContext = field(default_factory=CommandContext)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def exit_code(findings: list[Finding] | tuple[Finding, ...]) -> int:
    """0 healthy (info only), 1 warnings, 2 critical."""
    worst = max((finding.severity for finding in findings), default=Severity.INFO)
    return {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}[worst]


def _db_keys(node: NodeSnapshot) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, value in node.info.get("keyspace", {}).items():
        parts = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
        if parts.get("keys", "0").isdigit():
            counts[name] = int(parts["keys"])
    return counts


def _sample(node: NodeSnapshot) -> KeySampleSummary | None:
    sample = node.key_sample
    if sample is None:
        return None
    others = {db: keys for db, keys in _db_keys(node).items() if db != f"db{sample.db}" and keys}
    return KeySampleSummary(db=sample.db, scanned=sample.scanned, keyspace_size=sample.keyspace_size,
                            exact=sample.exact, other_dbs=others)


def _node(node: NodeSnapshot) -> NodeSummary:
    breakdown = memory_breakdown(node)
    return NodeSummary(
        address=node.address, role=node.role, version=node.server.text, server=node.server.flavour,
        server_title=node.server.title, used_memory=breakdown.used,
        used_memory_rss=breakdown.rss, maxmemory=breakdown.maxmemory, maxmemory_policy=node.policy,
        keys=node.total_keys, streams=len(node.streams), streams_truncated=node.streams_truncated,
        clients=node.clients.count if node.clients else None, key_sample=_sample(node),
        breakdown=tuple(MemoryPart(label, value) for label, value in breakdown.parts),
        collected_in_ms=node.collected_in_ms, memory_visible=node.memory_visible,
        keys_visible=node.keys_visible,
    )


def build_report(snapshot: Snapshot, findings: list[Finding], commands: CommandContext | None = None) -> DoctorReport:
    """The report for ``snapshot`` and the findings :func:`redisguard.rules.analyse` gave for it."""
    ordered = tuple(sorted(findings, key=lambda finding: finding.sort_key))
    return DoctorReport(
        target=snapshot.target, mode=snapshot.mode, taken_at=snapshot.taken_at,
        redisguard_version=snapshot.redisguard_version, exit_code=exit_code(ordered),
        nodes=tuple(_node(node) for node in snapshot.nodes), findings=ordered,
        not_visible=tuple(snapshot.not_visible), commands=commands or CommandContext(),
    )
