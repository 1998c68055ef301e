"""The doctor report as Markdown (for tickets and post-mortems). Every server-supplied string is escaped.

Runnable fixes go in code blocks; manual advice is prose, never in a code block.
"""

from __future__ import annotations

import re

from redisguard.keynames import for_markdown, is_utf8, visible
from redisguard.render.evidence import format_evidence
from redisguard.rules.commands import shell_line
from redisguard.rules.finding import Finding
from redisguard.rules.report import DoctorReport
from redisguard.units import fmt_bytes

__all__ = ["render_doctor_markdown"]


def _cell(value: object) -> str:
    return for_markdown(str(value))


def _fence(block: list[str]) -> str:
    """A code fence longer than any run of backticks in ``block`` (CommonMark: a shorter run cannot close it),
    so that a name with backticks stays in its block and the command keeps the name's real characters."""
    longest = max((len(run) for text in block for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _finding(finding: Finding, report: DoctorReport) -> list[str]:
    lines = [f"### {finding.severity.label.upper()}: {_cell(finding.title)}", "",
             f"`{_cell(finding.id)}` on {_cell(finding.node)}"
             + (f"; bytes at stake: {fmt_bytes(finding.bytes_at_stake)}" if finding.bytes_at_stake else ""), ""]
    if finding.evidence:
        lines += ["| evidence | value |", "| --- | --- |"]
        lines += [f"| {_cell(name)} | {_cell(format_evidence(name, value))} |"
                  for name, value in finding.evidence.items() if value is not None]
        lines.append("")
    if finding.detail:
        lines += [_cell(finding.detail), ""]
    for fix in finding.fixes:
        line = shell_line(fix, report.commands)
        if line is None:
            lines += [f"- {_cell(fix.text)} (risk: {_cell(fix.risk)})", ""]
            continue
        block = [visible(line)]
        if not all(arg.isprintable() and is_utf8(arg) for arg in fix.argv):  # say the name in redis-cli escapes
            block.insert(0, "# " + visible(fix.text))
        fence = _fence(block)
        lines += [f"{fence}sh", *block, fence]
        if fix.placeholders:
            lines.append(f"Replace {_cell(', '.join(fix.placeholders))} first.")
        lines += [f"Risk: {_cell(fix.risk)}", ""]
    return lines


def render_doctor_markdown(report: DoctorReport) -> str:
    lines = [f"# redisguard doctor: {_cell(report.target)}", ""]
    for node in report.nodes:
        limit = fmt_bytes(node.maxmemory) if node.maxmemory else "not set"
        lines += [f"## {_cell(node.address)} ({_cell(node.role)}, {_cell(node.server_title)})", "",
                  (f"Used {fmt_bytes(node.used_memory)} of maxmemory {limit}" if node.memory_visible
                   else f"Used memory not visible (INFO and MEMORY STATS); maxmemory {limit}")
                  + f"; policy {_cell(node.maxmemory_policy)}; {node.keys if node.keys_visible else '?'} keys; "
                  f"{node.streams} streams.", ""]
        if node.key_sample and node.key_sample.other_dbs:
            lines += ["Keys analysed in db" + str(node.key_sample.db) + " only; not looked at: " + ", ".join(
                f"{_cell(db)} ({keys} keys)" for db, keys in node.key_sample.other_dbs.items()) + ".", ""]
        if node.memory_visible:
            lines += ["| memory | bytes |", "| --- | ---: |"]
            lines += [f"| {_cell(part.part)} | {fmt_bytes(part.bytes)} |" for part in node.breakdown]
            lines.append("")
    lines += [f"## Findings ({len(report.findings)})", ""]
    if not report.findings:
        lines.append("No problems found.")
    elif report.commands.password_needed:
        lines += ["The commands take the password from `$REDISCLI_AUTH` (export it first).", ""]
    for finding in report.findings:
        lines += _finding(finding, report)
    if report.not_visible:
        lines += ["## Not visible", ""]
        lines += [f"- {_cell(gap.what)} on {_cell(gap.node)}: {_cell(gap.reason)}" for gap in report.not_visible]
    return "\n".join(lines) + "\n"
