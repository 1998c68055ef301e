"""The doctor report as Markdown (for tickets and post-mortems). Key names are untrusted: escaped."""

from __future__ import annotations

from typing import Any

from redisguard.keynames import for_markdown, visible
from redisguard.render.evidence import format_evidence
from redisguard.units import fmt_bytes

__all__ = ["render_doctor_markdown"]


def _cell(value: object) -> str:
    return for_markdown(str(value))


def render_doctor_markdown(report: dict[str, Any]) -> str:
    lines = [f"# redisguard doctor: {_cell(report['target'])}", ""]
    for node in report["nodes"]:
        limit = fmt_bytes(node["maxmemory"]) if node["maxmemory"] else "not set"
        lines += [f"## {_cell(node['address'])} ({node['role']}, {_cell(node['server_title'])})", "",
                  f"Used {fmt_bytes(node['used_memory'])} of maxmemory {limit}; policy "
                  f"`{_cell(node['maxmemory_policy'])}`; {node['keys']} keys; {node['streams']} streams.", "",
                  "| memory | bytes |", "| --- | ---: |"]
        lines += [f"| {_cell(part['part'])} | {fmt_bytes(part['bytes'])} |" for part in node["breakdown"]]
        lines.append("")
    lines += [f"## Findings ({len(report['findings'])})", ""]
    if not report["findings"]:
        lines.append("No problems found.")
    for finding in report["findings"]:
        lines += [f"### {finding['severity'].upper()}: {_cell(finding['title'])}", "",
                  f"`{finding['id']}` on {_cell(finding['node'])}"
                  + (f"; bytes at stake: {fmt_bytes(finding['bytes_at_stake'])}" if finding["bytes_at_stake"]
                     else ""), ""]
        if finding["evidence"]:
            lines += ["| evidence | value |", "| --- | --- |"]
            lines += [f"| {_cell(name)} | {_cell(format_evidence(name, value))} |"
                      for name, value in finding["evidence"].items()
                      if value is not None]
            lines.append("")
        if finding["detail"]:
            lines += [_cell(finding["detail"]), ""]
        for fix in finding["fixes"]:
            lines += ["```", visible(fix["command"]).replace("```", "ˋˋˋ"), "```", f"Risk: {_cell(fix['risk'])}", ""]
    if report["not_visible"]:
        lines += ["## Not visible", ""]
        lines += [f"- {_cell(gap['what'])} on {_cell(gap['node'])}: {_cell(gap['reason'])}"
                  for gap in report["not_visible"]]
    return "\n".join(lines) + "\n"

