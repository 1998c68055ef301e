"""Every report as JSON-shaped data, from the typed models (lossless: non-UTF-8 names get a ``_b64`` twin)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from redisguard.keynames import with_b64

if TYPE_CHECKING:  # the rules package is imported when a doctor report is formatted, not for dumps()
    from redisguard.rules.finding import Finding, Fix
    from redisguard.rules.report import DoctorReport, NodeSummary

__all__ = ["doctor_to_dict", "dumps", "finding_to_dict", "fix_to_dict"]


def fix_to_dict(fix: Fix, report: DoctorReport | None = None) -> dict[str, Any]:
    from redisguard.rules.commands import shell_line

    return {
        "kind": fix.kind.value, "text": fix.text, "command": fix.text, "argv": list(fix.argv), "node": fix.node,
        "risk": fix.risk, "placeholders": list(fix.placeholders),
        "shell": shell_line(fix, report.commands if report else None),
    }


def finding_to_dict(finding: Finding, report: DoctorReport | None = None) -> dict[str, Any]:
    return {
        "id": finding.id, "severity": finding.severity.label, "title": finding.title, "node": finding.node,
        "evidence": dict(finding.evidence), "bytes_at_stake": finding.bytes_at_stake,
        "fixes": [fix_to_dict(fix, report) for fix in finding.fixes], "detail": finding.detail,
    }


def doctor_to_dict(report: DoctorReport) -> dict[str, Any]:
    data = {
        "target": report.target, "mode": report.mode, "taken_at": report.taken_at,
        "redisguard_version": report.redisguard_version, "exit_code": report.exit_code,
        "nodes": [_node(node) for node in report.nodes],
        "findings": [finding_to_dict(finding, report) for finding in report.findings],
        "not_visible": [asdict(gap) for gap in report.not_visible],
    }
    result: dict[str, Any] = with_b64(data)
    return result


def dumps(data: Any) -> str:
    """JSON text (ASCII-only, so every byte survives any terminal or pipe)."""
    return json.dumps(data, indent=2)


def _node(node: NodeSummary) -> dict[str, Any]:
    """A node's summary; figures that could not be read are null, not 0 (which reads as an empty server)."""
    data = asdict(node)
    if not node.memory_visible:
        data.update(used_memory=None, used_memory_rss=None)
    if not node.keys_visible:
        data["keys"] = None
    return data
