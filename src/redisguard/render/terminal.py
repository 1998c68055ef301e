"""The doctor report for a person at a terminal: summary, memory breakdown, findings, fixes to copy."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from redisguard.keynames import for_terminal
from redisguard.render.evidence import format_evidence
from redisguard.units import fmt_bytes

__all__ = ["render_doctor_terminal"]

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _node_table(node: dict[str, Any]) -> Table:
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("memory", no_wrap=True)
    table.add_column("bytes", justify="right")
    table.add_column("share of used", justify="right")
    used = node["used_memory"] or 1
    for part in node["breakdown"]:
        table.add_row(part["part"], fmt_bytes(part["bytes"]), f"{part['bytes'] / used:.1%}")
    return table


def _summary_line(node: dict[str, Any]) -> str:
    limit = node["maxmemory"]
    used = node["used_memory"]
    share = f" ({used / limit:.0%} of maxmemory {fmt_bytes(limit)})" if limit else " (maxmemory not set)"
    return (f"[bold]{escape(node['address'])}[/] {node['role']} · {escape(node['server_title'])} · used "
            f"{fmt_bytes(used)}{share} · RSS {fmt_bytes(node['used_memory_rss'])} · policy "
            f"{escape(node['maxmemory_policy'])} · {node['keys']} keys · {node['streams']} streams · "
            f"{node['clients'] if node['clients'] is not None else '?'} clients")


def _finding_panel(finding: dict[str, Any]) -> Panel:
    severity = finding["severity"]
    parts: list[Any] = [Text.from_markup(f"[bold]{for_terminal(finding['title'])}[/]")]
    if finding["evidence"]:
        evidence = Table(box=None, show_header=False, pad_edge=False)
        evidence.add_column(style="dim")
        evidence.add_column()
        for name, value in finding["evidence"].items():
            if value is not None:
                evidence.add_row(for_terminal(str(name)), for_terminal(format_evidence(str(name), value)))
        parts.append(evidence)
    if finding["bytes_at_stake"]:
        parts.append(Text.from_markup(f"[dim]bytes at stake:[/] {fmt_bytes(finding['bytes_at_stake'])}"))
    if finding["detail"]:
        parts.append(Text(finding["detail"], style="italic"))
    for fix in finding["fixes"]:
        parts.append(Text.from_markup(f"[green]$[/] {for_terminal(fix['command'])}\n  [dim]risk: "
                                      f"{for_terminal(fix['risk'])}[/]"))
    return Panel(Group(*parts), title=f"[{_STYLE[severity]}]{severity.upper()}[/] {escape(finding['id'])}",
                 title_align="left", subtitle=escape(finding["node"]), subtitle_align="right",
                 border_style=_STYLE[severity])


def render_doctor_terminal(report: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]redisguard doctor[/] {escape(report['target'])} ({report['mode']})")
    for node in report["nodes"]:
        console.print(_summary_line(node))
        console.print(_node_table(node))
        sample = node["key_sample"]
        if sample:
            kind = "all" if sample["exact"] else "a sample of"
            console.print(f"[dim]keys analysed: {kind} {sample['scanned']} of {sample['keyspace_size']}[/]")
    findings = report["findings"]
    if not findings:
        console.print("\n[bold green]No problems found.[/]")
    else:
        counts = {level: sum(1 for f in findings if f["severity"] == level) for level in _STYLE}
        console.print(f"\n[bold]{len(findings)} finding(s):[/] " + ", ".join(
            f"[{_STYLE[level]}]{count} {level}[/]" for level, count in counts.items() if count))
        for finding in findings:
            console.print(_finding_panel(finding))
    if report["not_visible"]:
        console.print("\n[bold]Not visible[/] (the report is blind to these; see `redisguard acl`):")
        for gap in report["not_visible"]:
            console.print(f"  · {escape(gap['what'])} on {escape(gap['node'])}: {escape(gap['reason'])}")
