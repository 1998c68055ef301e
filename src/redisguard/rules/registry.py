"""The rule registry. Two signatures:

- a node rule, ``(NodeSnapshot, Thresholds) -> Iterator[Finding]``, runs once per node;
- a deployment rule, ``(Snapshot, Thresholds) -> Iterator[Finding]``, sees every node at once (cluster
  imbalance);
- a history rule, ``(Sequence[Snapshot], Thresholds) -> Iterator[Finding]``, sees snapshots of the same
  deployment over time, oldest first (the time-to-maxmemory forecast). Run by ``analyse_history``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from redisguard.rules.finding import Finding
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot, Snapshot

__all__ = ["DEPLOYMENT_RULES", "HISTORY_RULES", "RULES", "DeploymentRule", "HistoryRule", "Rule", "deployment_rule",
           "history_rule", "rule"]

Rule = Callable[[NodeSnapshot, Thresholds], Iterator[Finding]]
DeploymentRule = Callable[[Snapshot, Thresholds], Iterator[Finding]]
RULES: list[Rule] = []
DEPLOYMENT_RULES: list[DeploymentRule] = []
HistoryRule = Callable[[Sequence[Snapshot], Thresholds], Iterator[Finding]]
HISTORY_RULES: list[HistoryRule] = []


def rule(func: Rule) -> Rule:
    RULES.append(func)
    return func


def deployment_rule(func: DeploymentRule) -> DeploymentRule:
    DEPLOYMENT_RULES.append(func)
    return func


def history_rule(func: HistoryRule) -> HistoryRule:
    HISTORY_RULES.append(func)
    return func
