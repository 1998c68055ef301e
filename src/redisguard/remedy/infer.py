"""Which workload a server looks like, and why (pure): streams or noeviction -> queue/store; TTLs -> cache."""

from __future__ import annotations

from redisguard.remedy.recommend import Workload
from redisguard.snapshot import NodeSnapshot

__all__ = ["infer_workload"]

_CACHE_TTL_SHARE = 0.5


def infer_workload(node: NodeSnapshot) -> tuple[Workload, str]:
    """The workload and a sentence saying what it was inferred from."""
    keys, ttl = node.total_keys, node.keys_with_expiry
    share = ttl / keys if keys else 0.0
    if node.streams:
        return "queue", (f"{len(node.streams)} stream(s) found: a queue (never an evicting policy; give "
                         "--workload to say otherwise)")
    if keys and share >= _CACHE_TTL_SHARE:
        return "cache", f"{share:.0%} of keys carry a TTL: a cache"
    if node.policy == "noeviction":
        return "store", "maxmemory-policy is noeviction and there are no streams: a store (data that must not be lost)"
    if node.policy.startswith("allkeys-"):
        return "cache", f"maxmemory-policy is {node.policy} (evicting any key): treated as a cache"
    return "store", (f"only {share:.0%} of keys carry a TTL and the policy is {node.policy}: treated as a store "
                     "(the safe assumption; give --workload cache if the data can be rebuilt)")
