"""What ``redisguard report`` shows, computed once from snapshots (and a keyspace scan) into typed data.

Everything the HTML renderer needs is decided here: ordering, totals, shares, the safe trim point of each
stream, the memory series and its forecast, which fix is a command to copy and which is advice. The renderer
(:mod:`redisguard.render.html`) only formats. Names from Redis stay in their lossless text form: escaping
is the renderer's job, at the last moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from redisguard.breakdown import memory_breakdown
from redisguard.forecast import MIN_SAMPLES, counted_memory, forecast
from redisguard.keyspace import KeyspaceReport
from redisguard.remedy import ServerVersion, audit, recommend
from redisguard.remedy.infer import infer_workload
from redisguard.rules.commands import CommandContext, shell_line
from redisguard.rules.finding import Finding, Fix, FixKind
from redisguard.rules.report import DoctorReport
from redisguard.snapshot import NodeSnapshot, Snapshot
from redisguard.streams import safe_point_of_groups
from redisguard.streams._ids import format_id

__all__ = [
    "BigKeyView",
    "ClientGroupView",
    "ClientsView",
    "CommandView",
    "ConfigAuditView",
    "ConfigDiffView",
    "FindingView",
    "ForecastView",
    "GroupView",
    "KeyspaceView",
    "LatencyView",
    "NodeView",
    "PatternView",
    "Report",
    "SlowView",
    "StreamView",
    "Timeline",
    "TrimCount",
    "build_report",
]

CommandKind = Literal["redis-cli", "redisguard", "advice"]
Verdict = Literal["healthy", "warning", "critical"]


@dataclass(frozen=True)
class CommandView:
    """A fix as shown: the POSIX shell line to paste (``shell_line``), or, for advice, its text."""

    text: str
    kind: CommandKind
    risk: str
    placeholders: tuple[str, ...] = ()  # to fill in before running it


@dataclass(frozen=True)
class FindingView:
    id: str
    severity: Verdict | Literal["info"]
    title: str
    node: str
    evidence: tuple[tuple[str, str | int | float], ...]
    bytes_at_stake: int | None
    detail: str
    commands: tuple[CommandView, ...]  # kind "redis-cli" or "redisguard": each gets a copy button
    advice: tuple[CommandView, ...]  # kind "advice": shown as text


@dataclass(frozen=True)
class NodeView:
    address: str
    role: str
    version: str
    used: int
    rss: int
    maxmemory: int
    fragmentation: int  # RSS beyond used: not part of used, so not in ``breakdown``
    policy: str
    keys: int
    streams: int
    clients: int | None
    used_share: float | None  # of maxmemory; None when no limit
    breakdown: tuple[tuple[str, int], ...]  # the parts of ``used`` (zero parts left out)
    memory_visible: bool = True  # False: neither INFO memory nor MEMORY STATS was readable (used, RSS are 0)
    keys_visible: bool = True


@dataclass(frozen=True)
class ForecastView:
    rate_bytes_per_second: float
    seconds_to_limit: float
    seconds_lower: float
    seconds_upper: float
    consequence: str
    samples_used: int


@dataclass(frozen=True)
class Timeline:
    """Counted memory (used minus what eviction does not count) over the snapshots given, and the limit."""

    points: tuple[tuple[float, int], ...]  # (unix seconds, bytes), oldest first
    limit: int | None
    forecast: ForecastView | None
    forecast_note: str  # why there is no forecast, when there is none


@dataclass(frozen=True)
class PatternView:
    pattern: str
    keys: int
    bytes: int
    share: float  # of the analysed keys' bytes
    no_ttl_share: float
    avg_bytes: float
    avg_length: float | None


@dataclass(frozen=True)
class BigKeyView:
    key: str
    type: str
    bytes: int
    length: int | None
    ttl_ms: int | None
    node: str


@dataclass(frozen=True)
class KeyspaceView:
    source: str  # what was analysed, in words
    exact: bool
    patterns: tuple[PatternView, ...]
    big_keys: tuple[BigKeyView, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class GroupView:
    name: str
    consumers: int
    lag: int | None  # None: unknown, never 0
    pending: int
    oldest_pending_age_ms: int | None


@dataclass(frozen=True)
class TrimCount:
    """Entries before the safe trim point, counted on the server by the caller (``stream_health``)."""

    entries: int
    estimated: bool  # interpolated between bounded walks, not counted


@dataclass(frozen=True)
class StreamView:
    key: str
    node: str
    length: int
    memory_bytes: int | None
    first_entry_age_ms: int | None
    groups: tuple[GroupView, ...]
    safe_point: str | None  # None: no groups, nothing can be trimmed safely
    pinned_by: str | None
    entries_safe: int | None  # None: not counted (offline report)
    entries_safe_estimated: bool
    bytes_safe: int | None
    dry_run: CommandView  # what counts (and shows) the trim on the server


@dataclass(frozen=True)
class ClientGroupView:
    group: str
    count: int
    tot_mem: int
    omem: int
    max_idle_s: int


@dataclass(frozen=True)
class ClientsView:
    node: str
    count: int
    total_mem: int
    output_buffer_total: int
    idle_over_300s: int
    blocked: int
    pubsub: int
    groups: tuple[ClientGroupView, ...]


@dataclass(frozen=True)
class SlowView:
    node: str
    started_at: int
    duration_us: int
    command: str
    key: str | None
    client: str


@dataclass(frozen=True)
class LatencyView:
    node: str
    event: str
    latest_ms: int
    max_ms: int


@dataclass(frozen=True)
class ConfigDiffView:
    name: str
    current: str | None  # None: not visible (CONFIG GET denied or the version lacks it)
    recommended: str
    reason: str
    command: CommandView  # the CONFIG SET that closes the difference


@dataclass(frozen=True)
class ConfigAuditView:
    """One primary's configuration against the recommendation for its workload (``redisguard.remedy``)."""

    node: str
    workload: str
    why: str  # what the workload was inferred from
    version: str
    memory_bytes: int  # the host's memory the recommendation is for (INFO total_system_memory); 0: not visible
    differences: tuple[ConfigDiffView, ...]
    note: str


@dataclass(frozen=True)
class Report:
    target: str
    mode: str
    taken_at: float
    redisguard_version: str
    verdict: Verdict
    exit_code: int
    counts: tuple[tuple[str, int], ...]  # (severity, findings), most severe first, zero counts left out
    bytes_at_stake: int  # the largest finding's: findings overlap (a stream's backlog, its pending entries
    #                     and its big-key finding are the same bytes), so a sum would exceed used memory
    nodes: tuple[NodeView, ...]
    total: NodeView | None  # the cluster's total (more than one node)
    findings: tuple[FindingView, ...]
    timeline: Timeline
    keyspace: KeyspaceView | None
    streams: tuple[StreamView, ...]
    clients: tuple[ClientsView, ...]
    slowlog: tuple[SlowView, ...]
    latency: tuple[LatencyView, ...]
    config: tuple[ConfigAuditView, ...]
    not_visible: tuple[tuple[str, str, str], ...]  # (what, node, reason)
    notes: tuple[str, ...]


def _command(fix: Fix, context: CommandContext) -> CommandView:
    line = shell_line(fix, context)
    if line is None:
        return CommandView(fix.text, "advice", fix.risk)
    kind: CommandKind = "redis-cli" if fix.kind is FixKind.REDIS else "redisguard"
    return CommandView(line, kind, fix.risk, fix.placeholders)


def _finding(finding: Finding, context: CommandContext) -> FindingView:
    views = [_command(fix, context) for fix in finding.fixes]
    severity = finding.severity.label
    assert severity in ("info", "warning", "critical")
    return FindingView(
        id=finding.id, severity=severity, title=finding.title, node=finding.node,  # type: ignore[arg-type]
        evidence=tuple((name, value) for name, value in finding.evidence.items() if value is not None),
        bytes_at_stake=finding.bytes_at_stake, detail=finding.detail,
        commands=tuple(view for view in views if view.kind != "advice"),
        advice=tuple(view for view in views if view.kind == "advice"),
    )


def _node(node: NodeSnapshot) -> NodeView:
    breakdown = memory_breakdown(node)
    return NodeView(
        address=node.address, role=node.role, version=node.version, used=breakdown.used, rss=breakdown.rss,
        maxmemory=breakdown.maxmemory, fragmentation=max(0, breakdown.rss - breakdown.used), policy=node.policy,
        keys=node.total_keys, streams=len(node.streams),
        clients=node.clients.count if node.clients else None,
        used_share=breakdown.used / breakdown.maxmemory if breakdown.maxmemory else None,
        breakdown=tuple(part for part in breakdown.parts if part[1] > 0 and not part[0].startswith("fragmentation")),
        memory_visible=node.memory_visible,
        keys_visible=node.keys_visible,
    )


def _total(nodes: Sequence[NodeView]) -> NodeView | None:
    if len(nodes) < 2:
        return None
    parts: dict[str, int] = {}
    for node in nodes:
        for label, value in node.breakdown:
            parts[label] = parts.get(label, 0) + value
    used, limit = sum(n.used for n in nodes), sum(n.maxmemory for n in nodes)
    policies = sorted({n.policy for n in nodes})
    clients = [n.clients for n in nodes]
    return NodeView(
        address=f"total of {len(nodes)} nodes", role="cluster", version=", ".join(sorted({n.version for n in nodes})),
        used=used, rss=sum(n.rss for n in nodes), maxmemory=limit, fragmentation=sum(n.fragmentation for n in nodes),
        policy=", ".join(policies),
        keys=sum(n.keys for n in nodes), streams=sum(n.streams for n in nodes),
        clients=None if None in clients else sum(c or 0 for c in clients),
        used_share=used / limit if limit else None, breakdown=tuple(parts.items()),
        memory_visible=all(n.memory_visible for n in nodes), keys_visible=all(n.keys_visible for n in nodes),
    )


def _counted(snapshot: Snapshot) -> int:
    return sum(counted_memory(node.used_memory, node.info_int("mem_not_counted_for_evict")) for node in snapshot.nodes)


def _timeline(history: Sequence[Snapshot], current: Snapshot, extra: Sequence[tuple[float, int]]) -> Timeline:
    points = tuple(sorted({*((snap.taken_at, _counted(snap)) for snap in history), *extra}))
    limit = current.maxmemory or None
    if len(points) < MIN_SAMPLES:
        return Timeline(points, limit, None, f"{len(points)} sample(s): a forecast needs {MIN_SAMPLES} or more "
                        "(give --from several times, a series of snapshots)")
    policy = current.nodes[0].policy if current.nodes else None
    result = forecast(list(points), limit, policy)
    if result is None:
        reason = "no maxmemory limit" if not limit else "memory is flat or shrinking, or too little history"
        return Timeline(points, limit, None, f"no forecast: {reason}")
    view = ForecastView(
        rate_bytes_per_second=result.rate_bytes_per_second, seconds_to_limit=result.seconds_to_limit,
        seconds_lower=result.seconds_lower, seconds_upper=result.seconds_upper,
        consequence=result.consequence, samples_used=result.samples_used,
    )
    return Timeline(points, limit, view, "")


def _keyspace_from_scan(report: KeyspaceReport, top_patterns: int, top_keys: int) -> KeyspaceView:
    total = sum(row.bytes for row in report.patterns) or 1
    patterns = tuple(
        PatternView(row.pattern, row.keys, row.bytes, row.bytes / total, row.no_ttl_share, row.avg_bytes,
                    row.avg_length)
        for row in sorted(report.patterns, key=lambda r: -r.bytes)[:top_patterns]
    )
    big = sorted((row for rows in report.big_keys.values() for row in rows), key=lambda r: -r.bytes)[:top_keys]
    kind = "full scan" if report.exact else f"sample of {report.seen:,} draws (estimates)"
    return KeyspaceView(
        source=f"keyspace scan: {kind} of {report.keyspace_size:,} keys",
        exact=report.exact, patterns=patterns,
        big_keys=tuple(BigKeyView(r.key, r.type, r.bytes, r.length, r.ttl_ms, r.node) for r in big),
        notes=tuple(report.notes),
    )


def _keyspace_from_snapshot(snapshot: Snapshot, top_patterns: int, top_keys: int) -> KeyspaceView | None:
    samples = [(node.address, node.key_sample) for node in snapshot.nodes if node.key_sample is not None]
    if not samples:
        return None
    merged: dict[str, tuple[int, int, int]] = {}
    big: list[BigKeyView] = []
    scanned = size = 0
    exact = True
    for address, sample in samples:
        assert sample is not None
        scanned += sample.scanned
        size += sample.keyspace_size
        exact = exact and sample.exact
        for row in sample.patterns:
            keys, size_b, no_ttl = merged.get(row.pattern, (0, 0, 0))
            merged[row.pattern] = (keys + row.keys, size_b + row.bytes, no_ttl + row.no_ttl)
        big += [BigKeyView(k.key, k.type, k.bytes, k.length, k.ttl_ms, address) for k in sample.biggest()]
    total = sum(value[1] for value in merged.values()) or 1
    patterns = tuple(
        PatternView(name, keys, size_b, size_b / total, no_ttl / keys if keys else 0.0,
                    size_b / keys if keys else 0.0, None)
        for name, (keys, size_b, no_ttl) in sorted(merged.items(), key=lambda item: -item[1][1])[:top_patterns]
    )
    kind = "all" if exact else "a sample of"
    return KeyspaceView(
        source=f"the snapshot's key sample: {kind} {scanned:,} of {size:,} keys (no lengths; --keys for a scan)",
        exact=exact, patterns=patterns, big_keys=tuple(sorted(big, key=lambda b: -b.bytes)[:top_keys]), notes=(),
    )


def _streams(snapshot: Snapshot, trims: Mapping[tuple[str, str], TrimCount],
             context: CommandContext) -> tuple[StreamView, ...]:
    views = []
    for node in snapshot.nodes:
        for stream in node.streams:
            point = safe_point_of_groups(stream.groups)
            count = trims.get((node.address, stream.key))
            per_entry = (stream.memory_bytes or 0) / stream.length if stream.length else 0.0
            views.append(StreamView(
                key=stream.key, node=node.address, length=stream.length, memory_bytes=stream.memory_bytes,
                first_entry_age_ms=stream.first_entry_age_ms,
                groups=tuple(GroupView(g.name, g.consumers, g.lag, g.pending, g.oldest_pending_age_ms)
                             for g in stream.groups),
                safe_point=None if point is None else format_id(point.id),
                pinned_by=None if point is None else point.pinned_by,
                entries_safe=None if count is None else count.entries,
                entries_safe_estimated=False if count is None else count.estimated,
                bytes_safe=None if count is None or stream.memory_bytes is None else int(per_entry * count.entries),
                dry_run=_command(Fix.redisguard("trim", "--dry-run", "--", stream.key, node=node.address,
                                                risk="read-only: counts what a safe trim frees"), context),
            ))
    return tuple(sorted(views, key=lambda v: -(v.memory_bytes or 0)))


def _clients(snapshot: Snapshot, top: int) -> tuple[ClientsView, ...]:
    views = []
    for node in snapshot.nodes:
        summary = node.clients
        if summary is None:
            continue
        groups = sorted(summary.groups, key=lambda g: (-g.tot_mem, -g.count))[:top]
        views.append(ClientsView(
            node=node.address, count=summary.count, total_mem=summary.total_mem,
            output_buffer_total=summary.output_buffer_total, idle_over_300s=summary.idle_for_at_least(300),
            blocked=summary.blocked, pubsub=summary.pubsub,
            groups=tuple(ClientGroupView(g.group, g.count, g.tot_mem, g.omem, g.max_idle_s) for g in groups),
        ))
    return tuple(views)


_CONFIG_RISK = ("takes effect at once and is lost at restart unless persisted (CONFIG REWRITE, or redis.conf); "
                "redisguard fix applies it with an audit log and --undo")


def _config_audit(node: NodeSnapshot, context: CommandContext) -> ConfigAuditView:
    workload, why = infer_workload(node)
    version = ServerVersion.from_info(node.info.get("server", {}))
    memory = node.info_int("total_system_memory")
    if not memory:
        return ConfigAuditView(node.address, workload, why, version.text, 0, (),
                               "INFO total_system_memory is not visible: no recommendation "
                               "(redisguard config --workload ... --memory SIZE gives one)")
    differences = audit(node.config, recommend(workload, memory, version))
    note = ("" if node.config else "CONFIG GET was not visible to this report (see redisguard acl --with-config): "
            "every setting is shown as unknown")
    views = tuple(ConfigDiffView(d.name, d.current, d.recommended, d.reason,
                                 _command(Fix.redis(*d.argv, risk=_CONFIG_RISK, node=node.address), context))
                  for d in differences)
    return ConfigAuditView(node.address, workload, why, version.text, memory, views, note)


def build_report(history: Sequence[Snapshot], doctor: DoctorReport, *, keyspace: KeyspaceReport | None = None,
                 trims: Mapping[tuple[str, str], TrimCount] | None = None, samples: Sequence[tuple[float, int]] = (),
                 top_patterns: int = 25, top_keys: int = 20, top_slow: int = 20) -> Report:
    """The report for the newest snapshot of ``history`` (the others make the memory series).

    ``doctor`` is the doctor's report for that newest snapshot (:func:`redisguard.rules.diagnose`: its
    ordered findings, verdict and the connection context for the lines to paste); ``keyspace`` a scan to
    use instead of the snapshot's key sample; ``trims`` the entries before each stream's safe point, by
    ``(node address, stream key)``, when a server was there to count them; ``samples`` more (unix time,
    counted bytes) points for the memory series (a watch history, the demo's own measurements).
    """
    if not history:
        raise ValueError("a report needs at least one snapshot")
    current = max(history, key=lambda snap: snap.taken_at)
    context = doctor.commands
    findings = tuple(_finding(f, context) for f in doctor.findings)
    code = doctor.exit_code
    verdict: Verdict = ("healthy", "warning", "critical")[code]
    counts = tuple((level, n) for level in ("critical", "warning", "info")
                   if (n := sum(1 for f in findings if f.severity == level)))
    nodes = tuple(_node(node) for node in current.nodes)
    slow = sorted(((node.address, entry) for node in current.nodes for entry in node.slowlog),
                  key=lambda pair: -pair[1].duration_us)[:top_slow]
    notes = []
    if any(node.streams_truncated for node in current.nodes):
        notes.append("more streams than the collector reads: the streams table is not complete")
    return Report(
        target=current.target, mode=current.mode, taken_at=current.taken_at,
        redisguard_version=current.redisguard_version, verdict=verdict, exit_code=code, counts=counts,
        bytes_at_stake=max((f.bytes_at_stake or 0 for f in findings if f.severity != "info"), default=0),
        nodes=nodes, total=_total(nodes), findings=findings, timeline=_timeline(history, current, samples),
        keyspace=(_keyspace_from_scan(keyspace, top_patterns, top_keys) if keyspace is not None
                  else _keyspace_from_snapshot(current, top_patterns, top_keys)),
        streams=_streams(current, trims or {}, context), clients=_clients(current, 15),
        slowlog=tuple(SlowView(addr, e.started_at, e.duration_us, e.command, e.key,
                               e.client_name or e.client_addr) for addr, e in slow),
        latency=tuple(LatencyView(node.address, ev.event, ev.latest_ms, ev.max_ms)
                      for node in current.nodes for ev in node.latency),
        config=tuple(_config_audit(node, context) for node in current.nodes if node.role == "primary"),
        not_visible=tuple((gap.what, gap.node, gap.reason) for gap in current.not_visible),
        notes=tuple(notes),
    )
