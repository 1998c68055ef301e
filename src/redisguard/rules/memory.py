"""Memory limits: maxmemory unset, used memory close to the limit."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["maxmemory_unset", "used_memory_high"]


def _suggested_limit(node: NodeSnapshot) -> int | None:
    system = node.info_int("total_system_memory")
    return int(system * 0.75) if system else None


@rule
def maxmemory_unset(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    if node.maxmemory or node.role != "primary" or node.config_or_info("maxmemory") is None:
        return  # set, a replica, or not visible (CONFIG GET and INFO both out of reach): nothing to claim
    system = node.info_int("total_system_memory")
    used = node.used_memory
    share = used / system if system else None
    severity = Severity.CRITICAL if share is not None and share >= t.memory_warning else Severity.WARNING
    limit = _suggested_limit(node)
    fixes = []
    if limit:
        fixes.append(Fix.redis('CONFIG', 'SET', 'maxmemory', str(limit), node=node.address, risk=
                         "at the limit Redis evicts keys or (noeviction) refuses writes, instead of being "
                         "OOM-killed; pick a policy that fits the data first"))
        fixes.append(Fix.redis('CONFIG', 'REWRITE',
                               node=node.address, risk="persists the running config to redis.conf; comments are kept"))
    yield Finding(
        id="memory.maxmemory-unset", severity=severity, node=node.address,
        title="maxmemory is not set: Redis can take all of the host's RAM and be OOM-killed",
        evidence={"maxmemory": 0, "used_memory": used, "total_system_memory": system or None,
                  "used_share_of_host": round(share, 3) if share is not None else None},
        bytes_at_stake=used,
        fixes=fixes,
        detail="With maxmemory 0 nothing stops growth until the kernel's OOM killer ends the process "
               "(losing everything since the last persistence point). 75 % of host RAM leaves room for "
               "fork copy-on-write and client buffers.",
    )


@rule
def used_memory_high(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    limit = node.maxmemory
    if not limit:
        return
    used = node.used_memory
    share = used / limit
    if share < t.memory_warning:
        return
    critical = share >= t.memory_critical
    noeviction = node.policy == "noeviction"
    consequence = ("writes will be refused with OOM errors" if noeviction
                   else f"Redis is evicting keys ({node.policy})")
    yield Finding(
        id="memory.used-critical" if critical else "memory.used-high",
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        node=node.address,
        title=f"used memory is {share:.0%} of maxmemory ({fmt_bytes(used)} of {fmt_bytes(limit)}): "
              f"when full, {consequence}",
        evidence={"used_memory": used, "maxmemory": limit, "share": round(share, 3),
                  "maxmemory_policy": node.policy, "used_memory_dataset": node.info_int("used_memory_dataset"),
                  "used_memory_overhead": node.info_int("used_memory_overhead")},
        bytes_at_stake=max(0, used - int(limit * t.memory_warning)),
        fixes=[
            Fix.redisguard("keys", node=node.address, risk="read-only: finds which key patterns hold the memory"),
            Fix.redis('CONFIG', 'SET', 'maxmemory', str(int(limit * 1.25)), node=node.address, risk=
                "only if the host has that much free RAM (check total_system_memory and other processes)"),
        ],
        detail="Look at the findings below for what holds the memory (streams, big keys, clients, "
               "fragmentation); raising the limit only buys time.",
    )
