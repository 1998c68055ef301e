"""MEMORY DOCTOR's own advice, surfaced with its evidence."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot

__all__ = ["memory_doctor_warnings"]

_QUIET = ("can't find any memory issue", "instance is empty", "no memory issue")


@rule
def memory_doctor_warnings(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    text = (node.memory_doctor or "").strip()
    if not text or any(marker in text.lower() for marker in _QUIET):
        return
    points = [line.strip(" *") for line in text.splitlines() if line.strip().startswith("*")]
    yield Finding(
        id="memory-doctor.warnings", severity=Severity.INFO, node=node.address,
        title="MEMORY DOCTOR reports: " + (points[0].split(":")[0] if points else text.splitlines()[0])[:120],
        evidence={f"point {index + 1}": point for index, point in enumerate(points or [text])},
        detail="" if points else text,
    )
