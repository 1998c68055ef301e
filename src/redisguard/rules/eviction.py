"""Eviction policy against the workload: noeviction with backlogs, volatile-* without TTLs, evicting a store."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.streams import is_backlog
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["evicting_a_store", "noeviction_with_backlog", "volatile_policy_without_ttls"]


@rule
def noeviction_with_backlog(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    if node.policy != "noeviction":
        return
    streams = sorted((s for s in node.streams
                      if is_backlog(node, s, t) or sum(g.pending for g in s.groups) >= t.pending_entries),
                     key=lambda s: s.memory_bytes or 0, reverse=True)
    lists = [key for key in (node.key_sample.biggest() if node.key_sample else [])
             if key.type == "list" and (key.length or 0) >= t.list_backlog_entries]
    if not streams and not lists:
        return
    share = node.used_memory / node.maxmemory if node.maxmemory else None
    severity = Severity.CRITICAL if share is not None and share >= t.memory_warning else Severity.WARNING
    held = sum(s.memory_bytes or 0 for s in streams) + sum(k.bytes for k in lists)
    evidence: dict[str, str | int | float | None] = {
        "maxmemory_policy": "noeviction", "used_memory": node.used_memory, "maxmemory": node.maxmemory or None,
        "backlog_bytes": held,
    }
    for stream in streams[:10]:
        groups = ", ".join(
            f"{g.name}: pending {g.pending}, lag {'unknown' if g.lag is None else g.lag}" for g in stream.groups
        ) or "no consumer groups"
        evidence[f"stream {stream.key}"] = (f"{stream.length} entries, {fmt_bytes(stream.memory_bytes)}; "
                                            f"{groups}")
    for key in lists[:10]:
        evidence[f"list {key.key}"] = f"{key.length} items, {fmt_bytes(key.bytes)}"
    fixes = [Fix.redisguard("trim", "--dry-run", "--", s.key, node=node.write_address,
                            risk="read-only: shows what a safe trim (only entries every group has acknowledged) "
                                 "would free")
             for s in streams[:5]]
    fixes += [Fix.redisguard("trim", "--", s.key, node=node.write_address,
                             risk="removes only entries every consumer group has acknowledged: no unprocessed "
                                  "data is lost")
              for s in streams[:5]]
    fixes.append(Fix.manual("add consumers to the lagging groups (XREADGROUP + XACK still work when memory is "
                            "full)", "none to the data; more load on Redis while the backlog drains"))
    yield Finding(
        id="eviction.noeviction-backlog", severity=severity, node=node.address,
        title=f"noeviction with growing backlogs ({fmt_bytes(held)} in {len(streams)} stream(s) and "
              f"{len(lists)} list(s)): writes will fail with OOM when memory is full",
        evidence=evidence, bytes_at_stake=held, fixes=fixes,
        detail="Under noeviction at maxmemory, XADD (with or without MAXLEN), SET and XGROUP CREATE are "
               "refused, but XREADGROUP, XACK, XDEL and XTRIM still run: consumers can keep draining and "
               "a separate XTRIM frees memory. XADD ... MAXLEN cannot trim its way out.",
    )


@rule
def volatile_policy_without_ttls(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    if not node.policy.startswith("volatile-") or node.total_keys == 0:
        return
    share = node.keys_with_expiry / node.total_keys
    if share >= t.ttl_keys_min_share:
        return
    full = node.maxmemory and node.used_memory / node.maxmemory >= t.memory_warning
    yield Finding(
        id="eviction.volatile-without-ttls",
        severity=Severity.CRITICAL if full else Severity.WARNING, node=node.address,
        title=f"{node.policy} can only evict keys with a TTL, and only {share:.1%} of keys have one: "
              "at maxmemory writes fail like noeviction",
        evidence={"maxmemory_policy": node.policy, "keys": node.total_keys, "keys_with_ttl": node.keys_with_expiry,
                  "ttl_share": round(share, 4)},
        bytes_at_stake=node.used_memory if full else None,
        fixes=[Fix.redis("CONFIG", "SET", "maxmemory-policy", "allkeys-lru", node=node.address,
                         risk="any key may be evicted, including ones without a TTL: only for data that can be "
                              "rebuilt"),
               Fix.manual("give cache keys a TTL where they are written (SET key value EX seconds)",
                          "none; keys expire on schedule")],
    )


@rule
def evicting_a_store(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    evicted = node.info_int("evicted_keys")
    if evicted == 0 or node.policy == "noeviction":
        return
    ttl_share = node.keys_with_expiry / node.total_keys if node.total_keys else 0.0
    looks_like_store = bool(node.streams) or ttl_share < t.no_ttl_share
    uptime_h = max(node.info_int("uptime_in_seconds"), 1) / 3600
    yield Finding(
        id="eviction.evicting-store" if looks_like_store else "eviction.evicting",
        severity=Severity.CRITICAL if looks_like_store else Severity.INFO, node=node.address,
        title=f"{evicted} keys evicted since start ({evicted / uptime_h:.0f}/h)"
              + (": this looks like a store (few TTLs or streams present), so evictions lose data"
                 if looks_like_store else " (a cache evicting under pressure)"),
        evidence={"evicted_keys": evicted, "uptime_in_seconds": node.info_int("uptime_in_seconds"),
                  "maxmemory_policy": node.policy, "keys_with_ttl_share": round(ttl_share, 4),
                  "streams": len(node.streams)},
        fixes=[Fix.redis("CONFIG", "SET", "maxmemory-policy", "noeviction", node=node.address,
                         risk="writes are refused instead of data being dropped: producers must handle OOM "
                              "errors"),
               Fix.redis("CONFIG", "SET", "maxmemory", str(int(node.maxmemory * 1.25)), node=node.address,
                         risk="only if the host has the RAM") if node.maxmemory
               else Fix.manual("raise maxmemory", "only if the host has the RAM")] if looks_like_store else [],
    )
