"""Redis Cluster: a node that sees the cluster in ``fail`` state refuses commands for every slot."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot

__all__ = ["cluster_state"]

_SLOTS = 16384


def _int(values: dict[str, str], name: str) -> int:
    try:
        return int(values.get(name, "0"))
    except ValueError:
        return 0


@rule
def cluster_state(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    state = node.cluster.get("cluster_state")
    if state is None or state == "ok":
        return
    ok = _int(node.cluster, "cluster_slots_ok")
    missing = _SLOTS - ok
    full_coverage = node.config.get("cluster-require-full-coverage")
    yield Finding(
        id="cluster.state-fail", severity=Severity.CRITICAL, node=node.address,
        title=f"this node sees the cluster in state {state!r}: {missing} of {_SLOTS} slots are not served"
              + (", and with cluster-require-full-coverage yes it refuses commands for every slot"
                 if full_coverage != "no" else ""),
        evidence={"cluster_state": state, "cluster_slots_assigned": _int(node.cluster, "cluster_slots_assigned"),
                  "cluster_slots_ok": ok, "cluster_slots_pfail": _int(node.cluster, "cluster_slots_pfail"),
                  "cluster_slots_fail": _int(node.cluster, "cluster_slots_fail"),
                  "cluster_known_nodes": _int(node.cluster, "cluster_known_nodes"),
                  "cluster-require-full-coverage": full_coverage or "not visible"},
        fixes=[Fix.redis("CONFIG", "SET", "cluster-require-full-coverage", "no", node=node.address,
                         risk="serves the slots that are covered while the failed ones stay down; clients see "
                              "errors only for keys in the missing slots")] if full_coverage != "no" else [],
        detail="Bring back the primary of the missing slots, or promote one of its replicas (CLUSTER FAILOVER "
               "FORCE on the replica). The nodes flagged as failed are listed under 'not visible'.",
    )
