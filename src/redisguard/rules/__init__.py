"""Rules: pure functions over the Snapshot, one module per theme. No I/O here."""

from __future__ import annotations

from redisguard.rules import (  # noqa: F401 - importing a theme registers its rules
    clients,
    cluster,
    doctor_text,
    eviction,
    fragmentation,
    keys,
    memory,
    persistence,
    replication,
    scripts,
    streams,
)
from redisguard.rules.finding import Evidence, Finding, Fix, Severity
from redisguard.rules.registry import RULES, Rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import Snapshot

__all__ = ["RULES", "Evidence", "Finding", "Fix", "Rule", "Severity", "Thresholds", "analyse", "exit_code"]


def analyse(snapshot: Snapshot, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every finding for every node, most severe and most bytes at stake first."""
    limits = thresholds or Thresholds()
    findings = [finding for node in snapshot.nodes for check in RULES for finding in check(node, limits)]
    return sorted(findings, key=lambda finding: finding.sort_key)


def exit_code(findings: list[Finding]) -> int:
    """0 healthy (info only), 1 warnings, 2 critical."""
    worst = max((finding.severity for finding in findings), default=Severity.INFO)
    return {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}[worst]
