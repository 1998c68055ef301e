"""Replication: backlog and replica output buffers large relative to maxmemory."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["replication_buffers"]


@rule
def replication_buffers(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    limit = node.maxmemory
    if not limit:
        return
    backlog = node.info_int("mem_replication_backlog")
    if not backlog and node.info_int("repl_backlog_active"):
        backlog = node.info_int("repl_backlog_size")
    replica_buffers = node.info_int("mem_clients_slaves")
    total = backlog + replica_buffers
    if total < limit * t.replication_share:
        return
    yield Finding(
        id="replication.buffers-large", severity=Severity.WARNING, node=node.address,
        title=f"replication backlog and replica buffers take {fmt_bytes(total)}, "
              f"{total / limit:.0%} of maxmemory",
        evidence={"repl_backlog": backlog, "mem_clients_slaves": replica_buffers, "maxmemory": limit,
                  "connected_slaves": node.info_int("connected_slaves"),
                  "repl_backlog_size": node.info_int("repl_backlog_size")},
        bytes_at_stake=total,
        fixes=[Fix.redis('CONFIG', 'SET', 'repl-backlog-size', str(max(1024 * 1024, int(limit * 0.02))),
                         node=node.address, risk=
                   "a smaller backlog means a replica that disconnects longer needs a full resync"),
               Fix.redis('CONFIG', 'SET', 'client-output-buffer-limit', 'replica 256mb 64mb 60',
                         node=node.address, risk=
                   "a replica that falls further behind is disconnected and fully resyncs")],
        detail="Replication memory counts toward maxmemory on the primary: at the limit it competes with data.",
    )
