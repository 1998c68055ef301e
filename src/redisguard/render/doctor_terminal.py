"""The doctor report for a person at a terminal: summary, memory breakdown, findings, fixes to copy.

Formats a :class:`~redisguard.rules.report.DoctorReport`; computes nothing. Every server-supplied string
goes through :func:`~redisguard.keynames.for_terminal`; only runnable fixes get a ``$`` prompt, and they
are printed below their finding's box, unwrapped, so that a copied command is one whole line.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from redisguard.keynames import for_terminal
from redisguard.render.evidence import format_evidence
from redisguard.rules.commands import shell_line
from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.report import DoctorReport, NodeSummary
from redisguard.units import fmt_bytes

__all__ = ["render_doctor_terminal"]

_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _node_table(node: NodeSummary) -> Table:
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("memory", no_wrap=True)
    table.add_column("bytes", justify="right")
    table.add_column("share of used", justify="right")
    used = node.used_memory or 1
    for part in node.breakdown:
        table.add_row(for_terminal(part.part), fmt_bytes(part.bytes), f"{part.bytes / used:.1%}")
    return table


def _summary_line(node: NodeSummary) -> str:
    share = node.used_share
    limit = (f" ({share:.0%} of maxmemory {fmt_bytes(node.maxmemory)})" if share is not None
             else " (maxmemory not set)")
    used = (f"used {fmt_bytes(node.used_memory)}{limit} · RSS {fmt_bytes(node.used_memory_rss)}" if node.memory_visible
            else "used memory not visible (INFO and MEMORY STATS)")
    return (f"[bold]{for_terminal(node.address)}[/] {for_terminal(node.role)} · {for_terminal(node.server_title)}"
            f" · {used} · policy {for_terminal(node.maxmemory_policy)} · "
            f"{node.keys if node.keys_visible else '?'} keys · {node.streams} streams · "
            f"{node.clients if node.clients is not None else '?'} clients")


def _fix(fix: Fix, report: DoctorReport) -> Text:
    risk = f"\n  [dim]risk: {for_terminal(fix.risk, None)}[/]"
    line = shell_line(fix, report.commands)
    if line is None:  # advice: never after a prompt
        return Text.from_markup(f"[cyan]→[/] {for_terminal(fix.text, None)}{risk}", emoji=False)
    fill = (f"\n  [dim]replace {for_terminal(', '.join(fix.placeholders))} before running it[/]"
            if fix.placeholders else "")
    return Text.from_markup(f"[green]$[/] {for_terminal(line, None)}{fill}{risk}", emoji=False)


def _finding_panel(finding: Finding, report: DoctorReport) -> Panel:
    style = _STYLE[finding.severity]
    parts: list[RenderableType] = [Text.from_markup(f"[bold]{for_terminal(finding.title, 400)}[/]", emoji=False)]
    if finding.evidence:
        evidence = Table(box=None, show_header=False, pad_edge=False)
        evidence.add_column(style="dim")
        evidence.add_column()
        for name, value in finding.evidence.items():
            if value is not None:
                evidence.add_row(for_terminal(str(name)), for_terminal(format_evidence(str(name), value)))
        parts.append(evidence)
    if finding.bytes_at_stake:
        parts.append(Text.from_markup(f"[dim]bytes at stake:[/] {fmt_bytes(finding.bytes_at_stake)}", emoji=False))
    if finding.detail:
        parts.append(Text(for_terminal(finding.detail, None), style="italic"))
    return Panel(Group(*parts), title=f"[{style}]{finding.severity.label.upper()}[/] {for_terminal(finding.id)}",
                 title_align="left", subtitle=for_terminal(finding.node), subtitle_align="right", border_style=style)


def render_doctor_terminal(report: DoctorReport, console: Console) -> None:
    console.print(f"[bold]redisguard doctor[/] {for_terminal(report.target)} ({for_terminal(report.mode)})")
    for node in report.nodes:
        console.print(_summary_line(node))
        if node.memory_visible:  # else every row would be a 0 B that is not known to be 0
            console.print(_node_table(node))
        sample = node.key_sample
        if sample:
            kind = "all" if sample.exact else "a sample of"
            console.print(f"[dim]keys analysed: {kind} {sample.scanned} of {sample.keyspace_size} in db{sample.db}[/]")
            if sample.other_dbs:
                console.print("[dim]not looked at: " + ", ".join(
                    f"{for_terminal(db)} ({keys} keys)" for db, keys in sample.other_dbs.items())
                    + " (run doctor against redis://host:port/N for db N)[/]")
    if not report.findings:
        console.print("\n[bold green]No problems found.[/]")
    else:
        counts = [(severity, report.count(severity)) for severity in _STYLE]
        console.print(f"\n[bold]{len(report.findings)} finding(s):[/] " + ", ".join(
            f"[{_STYLE[severity]}]{count} {severity.label}[/]" for severity, count in counts if count))
        if report.commands.password_needed:
            console.print("[dim]the commands below take the password from $REDISCLI_AUTH (export it first); "
                          "it is never printed[/]")
        for finding in report.findings:
            console.print(_finding_panel(finding, report))
            for fix in finding.fixes:  # outside the box and never wrapped: a command must paste as one line
                console.print(_fix(fix, report), soft_wrap=True)
    if report.not_visible:
        console.print("\n[bold]Not visible[/] (the report is blind to these; see `redisguard acl`):")
        for gap in report.not_visible:
            console.print(f"  · {for_terminal(gap.what)} on {for_terminal(gap.node)}: {for_terminal(gap.reason, 400)}")
