"""Rules: pure functions over the Snapshot, one module per theme. No I/O here.

:func:`analyse` gives the findings; :func:`build_report` (in :mod:`redisguard.rules.report`) makes them
the typed :class:`DoctorReport` every renderer formats.
"""

from __future__ import annotations

from collections.abc import Sequence

from redisguard.rules import (  # noqa: F401 - importing a theme registers its rules
    clients,
    cluster,
    cluster_state,
    doctor_text,
    eviction,
    forecast,
    fragmentation,
    keys,
    memory,
    persistence,
    replication,
    scripts,
    streams,
)
from redisguard.rules.commands import CommandContext, shell_line
from redisguard.rules.finding import Evidence, Finding, Fix, FixKind, Severity
from redisguard.rules.registry import DEPLOYMENT_RULES, HISTORY_RULES, RULES, DeploymentRule, HistoryRule, Rule
from redisguard.rules.report import DoctorReport, KeySampleSummary, MemoryPart, NodeSummary, build_report, exit_code
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import Snapshot

__all__ = [
    "DEPLOYMENT_RULES",
    "HISTORY_RULES",
    "RULES",
    "CommandContext",
    "DeploymentRule",
    "DoctorReport",
    "Evidence",
    "Finding",
    "Fix",
    "FixKind",
    "HistoryRule",
    "KeySampleSummary",
    "MemoryPart",
    "NodeSummary",
    "Rule",
    "Severity",
    "Thresholds",
    "analyse",
    "analyse_history",
    "build_report",
    "diagnose",
    "exit_code",
    "shell_line",
]


def analyse(snapshot: Snapshot, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every finding for every node and for the deployment, most severe and most bytes at stake first."""
    limits = thresholds or Thresholds()
    findings = [finding for node in snapshot.nodes for check in RULES for finding in check(node, limits)]
    findings += [finding for check in DEPLOYMENT_RULES for finding in check(snapshot, limits)]
    return sorted(findings, key=lambda finding: finding.sort_key)


def analyse_history(history: Sequence[Snapshot], thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings of the history rules over snapshots of one deployment (any order; sorted by time here)."""
    limits = thresholds or Thresholds()
    ordered = sorted(history, key=lambda snapshot: snapshot.taken_at)
    findings = [finding for check in HISTORY_RULES for finding in check(ordered, limits)]
    return sorted(findings, key=lambda finding: finding.sort_key)


def diagnose(snapshot: Snapshot, thresholds: Thresholds | None = None,
             commands: CommandContext | None = None) -> DoctorReport:
    """:func:`analyse` and :func:`build_report` in one call: the doctor's report for ``snapshot``."""
    return build_report(snapshot, analyse(snapshot, thresholds), commands)
