"""Deployment-level rules: what only shows when every node is looked at together."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import deployment_rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import Snapshot
from redisguard.units import fmt_bytes

__all__ = ["cluster_memory_imbalance"]


@deployment_rule
def cluster_memory_imbalance(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """One primary holding far more than its share: it reaches maxmemory first while the others idle."""
    primaries = [node for node in snapshot.nodes if node.role == "primary"]
    if snapshot.mode != "cluster" or len(primaries) < 2:
        return
    heaviest = max(primaries, key=lambda node: node.used_memory)
    others = [node.used_memory for node in primaries if node is not heaviest]
    mean_others = sum(others) / len(others)
    excess = heaviest.used_memory - mean_others
    if mean_others <= 0 or heaviest.used_memory < mean_others * t.cluster_imbalance_ratio \
            or excess < t.cluster_imbalance_min_bytes:
        return
    yield Finding(
        id="cluster.memory-imbalance", severity=Severity.WARNING, node=heaviest.address,
        title=f"{heaviest.address} holds {fmt_bytes(heaviest.used_memory)}, "
              f"{heaviest.used_memory / mean_others:.1f}x the mean of the other primaries: it fills first",
        evidence={"used_memory": heaviest.used_memory, "other_primaries_mean": int(mean_others),
                  "primaries": len(primaries), "keys": heaviest.total_keys},
        bytes_at_stake=int(excess),
        fixes=[Fix.redisguard("keys", node=heaviest.address,
                              risk="read-only: shows the key patterns (or one big key) behind the imbalance"),
               Fix.manual("move slots to the lighter primaries (redis-cli --cluster rebalance), or split the "
                          "big keys or hash tags that pin the data to one slot", "slot migration adds load")],
    )
