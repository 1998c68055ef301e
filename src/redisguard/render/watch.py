"""``redisguard watch``: a :class:`WatchView` as a rich screen, or as one plain line. Formats only."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from redisguard.exporter.watchview import NodeView, WatchView
from redisguard.forecast import Forecast
from redisguard.keynames import for_terminal, visible
from redisguard.units import fmt_bytes

__all__ = ["plain_line", "render_watch", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(_BARS[0 if not span else min(len(_BARS) - 1, int((v - low) / span * (len(_BARS) - 1)))]
                   for v in values)


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 172800:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{seconds / 86400:.1f} d"


def _forecast(fc: Forecast | None, node: NodeView) -> str:
    if not node.maxmemory:
        return "no maxmemory"
    if fc is None:
        return "not growing"
    return (f"full in {_duration(fc.seconds_to_limit)} ({_duration(fc.seconds_lower)}–"
            f"{_duration(fc.seconds_upper)}), then {fc.consequence}")


def _growth(fc: Forecast | None) -> str:
    return "–" if fc is None else f"{fmt_bytes(fc.rate_bytes_per_second)}/s"


def _bar(share: float | None, width: int = 10) -> Text:
    if share is None:
        return Text("no limit".ljust(width), style="dim")
    filled = min(width, round(share * width))
    style = "red" if share >= 0.9 else "yellow" if share >= 0.8 else "green"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _rows(view: WatchView) -> list[NodeView]:
    return [*view.nodes, view.total] if len(view.nodes) > 1 else view.nodes


def _memory_table(view: WatchView) -> Table:
    table = Table(title="memory (as Redis counts it against maxmemory)", title_justify="left", pad_edge=False)
    for column in ("node", "used / max", "share", "RSS", "frag", "growth"):
        table.add_column(column, no_wrap=True)
    table.add_column("forecast", overflow="fold")
    for node in _rows(view):
        name = for_terminal(node.node)
        if not node.up and node.node != "total":
            table.add_row(name, Text(f"down: {visible(node.error or '')}", style="red"))
            continue
        table.add_row(
            Text(name, style="bold") if node.node == "total" else name,
            f"{fmt_bytes(node.counted)} / {fmt_bytes(node.maxmemory) if node.maxmemory else 'no limit'}",
            _bar(node.share) + Text(f" {_pct(node.share)}"), fmt_bytes(node.rss),
            "–" if node.fragmentation is None else f"{node.fragmentation:.2f}",
            _growth(node.forecast), _forecast(node.forecast, node),
        )
    return table


def _traffic_table(view: WatchView) -> Table:
    table = Table(title="traffic (sparklines: the last minutes)", title_justify="left", pad_edge=False)
    for column in ("node", "ops/s", "hit", "evicted", "clients", "used memory", "ops/s "):
        table.add_column(column, no_wrap=True)
    for node in _rows(view):
        if not node.up and node.node != "total":
            continue
        table.add_row(Text(for_terminal(node.node), style="bold" if node.node == "total" else ""),
                      f"{node.ops_per_sec:,}", _pct(node.hit_rate), f"{node.evicted:,}", f"{node.clients:,}",
                      sparkline(node.spark_used[-30:]), sparkline(node.spark_ops[-30:]))
    return table


def _breakdown(view: WatchView) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for node in view.nodes:
        if node.up and node.breakdown:
            parts = " · ".join(f"{label.split(' (')[0]} {fmt_bytes(value)}" for label, value in node.breakdown if value)
            lines.append(Text(f"{visible(node.node)}: {parts}"))
    return lines


def _streams_table(view: WatchView, cluster: bool) -> Table:
    table = Table(title="top streams by backlog", title_justify="left", pad_edge=False)
    columns = ["stream", *(["node"] if cluster else []), "length", "memory", "groups: lag / pending"]
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in view.streams:
        groups = ", ".join(f"{for_terminal(g)} {'?' if lag is None else f'{lag:,}'} / {pending:,}"
                           for g, lag, pending in row.groups) or "no groups"
        cells = [for_terminal(row.stream), *([for_terminal(row.node)] if cluster else []), f"{row.length:,}",
                 fmt_bytes(row.memory), groups]
        table.add_row(*cells)
    return table


def render_watch(view: WatchView, interval: float) -> RenderableType:
    clock = time.strftime("%H:%M:%S", time.localtime(view.taken_at))
    header = Text.assemble(("redisguard watch ", "bold"), for_terminal(view.target), f" · {view.mode} · {clock} · "
                           f"every {interval:g} s · q to quit")
    if view.partial:
        header.append("  (partial: part of the sample did not arrive in time)", style="yellow")
    parts: list[RenderableType] = [header]
    if view.error:
        parts.append(Text(f"cannot reach {visible(view.target)}: {visible(view.error)}", style="red"))
        return Group(*parts)
    parts.append(_memory_table(view))
    parts.extend(_breakdown(view))
    parts.append(_traffic_table(view))
    if view.streams:
        parts.append(_streams_table(view, cluster=view.mode == "cluster"))
    if view.findings:
        findings = Table(title="findings", title_justify="left", pad_edge=False)
        for column in ("severity", "node", "rule", "finding"):
            findings.add_column(column)
        for row in view.findings:
            style = "red" if row.severity == "critical" else "yellow" if row.severity == "warning" else ""
            findings.add_row(Text(row.severity, style=style), for_terminal(row.node), row.rule, for_terminal(row.title))
        parts.append(findings)
    return Group(*parts)


def plain_line(view: WatchView) -> str:
    """One line per sample for a pipe or a log: the total (one node, or every primary's sum)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(view.taken_at))
    lone_down = len(view.nodes) == 1 and not view.nodes[0].up  # no reply this time: no figures, not zeros
    if view.error or lone_down:
        reason = view.error or view.nodes[0].error or "no reply"
        for named in (view.target, view.nodes[0].node if view.nodes else None):  # the line names it already
            if named and reason.startswith(f"{named}: "):
                reason = reason[len(named) + 2:]
        return f"{stamp} {visible(view.target)} down: {visible(reason)}"
    node = view.total if len(view.nodes) > 1 else view.nodes[0]
    fc = node.forecast
    fields = [
        stamp, visible(view.target), f"nodes={len(view.nodes)}" if len(view.nodes) > 1 else None,
        f"used={node.counted}", f"max={node.maxmemory}", f"share={_pct(node.share)}", f"rss={node.rss}",
        f"frag={'-' if node.fragmentation is None else f'{node.fragmentation:.2f}'}",
        f"ops={node.ops_per_sec}", f"hit={_pct(node.hit_rate)}", f"evicted={node.evicted}",
        f"clients={node.clients}", f"growth={'-' if fc is None else f'{fc.rate_bytes_per_second:.0f}B/s'}",
        f"full_in={'-' if fc is None else f'{fc.seconds_to_limit:.0f}s'}",
        "partial" if view.partial else None,
        *(f"down={visible(n.node)}" for n in view.nodes if not n.up),
    ]
    return " ".join(field for field in fields if field)
