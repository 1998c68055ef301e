"""The rule registry. Two signatures:

- a node rule, ``(NodeSnapshot, Thresholds) -> Iterator[Finding]``, runs once per node;
- a deployment rule, ``(Snapshot, Thresholds) -> Iterator[Finding]``, sees every node at once (cluster
  imbalance) and is where rules that need a history (a forecast over several snapshots) plug in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from redisguard.rules.finding import Finding
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot, Snapshot

__all__ = ["DEPLOYMENT_RULES", "RULES", "DeploymentRule", "Rule", "deployment_rule", "rule"]

Rule = Callable[[NodeSnapshot, Thresholds], Iterator[Finding]]
DeploymentRule = Callable[[Snapshot, Thresholds], Iterator[Finding]]
RULES: list[Rule] = []
DEPLOYMENT_RULES: list[DeploymentRule] = []


def rule(func: Rule) -> Rule:
    RULES.append(func)
    return func


def deployment_rule(func: DeploymentRule) -> DeploymentRule:
    DEPLOYMENT_RULES.append(func)
    return func
