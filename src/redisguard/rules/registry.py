"""The rule registry: every rule is a pure function ``(NodeSnapshot, Thresholds) -> Iterator[Finding]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from redisguard.rules.finding import Finding
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot

__all__ = ["RULES", "Rule", "rule"]

Rule = Callable[[NodeSnapshot, Thresholds], Iterator[Finding]]
RULES: list[Rule] = []


def rule(func: Rule) -> Rule:
    RULES.append(func)
    return func
