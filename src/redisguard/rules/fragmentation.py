"""Fragmentation: RSS far above used memory (allocator fragmentation vs RSS overhead), or below it (swap)."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["fragmentation_high", "swapping"]

_MIN_USED_FOR_SWAP_CHECK = 64 * 1024 * 1024


@rule
def fragmentation_high(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    ratio = node.info_float("mem_fragmentation_ratio", 1.0)
    excess = node.info_int("mem_fragmentation_bytes") or (node.info_int("used_memory_rss") - node.used_memory)
    if ratio <= t.fragmentation_ratio or excess < t.fragmentation_min_bytes:
        return
    allocator = node.info_int("allocator_frag_bytes")
    rss_overhead = node.info_int("rss_overhead_bytes")
    kind = "allocator fragmentation (freed memory jemalloc cannot return)" if allocator >= rss_overhead \
        else "RSS overhead outside the allocator (e.g. pages not yet returned to the OS)"
    defrag = node.config.get("activedefrag")
    jemalloc = "jemalloc" in (node.info_value("mem_allocator") or "")
    fixes: list[Fix] = []
    # Both need jemalloc: with libc malloc (Valkey's wheel, some builds) MEMORY PURGE does nothing and
    # CONFIG SET activedefrag yes is refused.
    if jemalloc:
        fixes.append(Fix.redis('MEMORY', 'PURGE', node=node.address,
                               risk="asks jemalloc to return dirty pages to the OS; brief CPU use"))
    if defrag != "yes" and jemalloc:
        fixes.append(Fix.redis('CONFIG', 'SET', 'activedefrag', 'yes', node=node.address, risk=
                         "background defragmentation costs CPU (bounded by active-defrag-cycle-max)"))
    fixes.append(Fix.manual("restart a replica, fail over to it, then restart the old primary",
                     "a fresh process has no fragmentation; failover briefly interrupts writes"))
    yield Finding(
        id="fragmentation.high", severity=Severity.WARNING, node=node.address,
        title=f"fragmentation ratio {ratio:.2f}: {fmt_bytes(excess)} of RSS is not data, mostly {kind}",
        evidence={"mem_fragmentation_ratio": ratio, "mem_fragmentation_bytes": excess,
                  "allocator_frag_ratio": node.info_float("allocator_frag_ratio") or None,
                  "allocator_frag_bytes": allocator or None, "rss_overhead_bytes": rss_overhead or None,
                  "activedefrag": defrag if defrag is not None else "not visible",
                  "mem_allocator": node.info_value("mem_allocator")},
        bytes_at_stake=excess, fixes=fixes,
    )


@rule
def swapping(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    ratio = node.info_float("mem_fragmentation_ratio", 1.0)
    rss = node.info_int("used_memory_rss")
    if ratio >= 1.0 or node.used_memory < _MIN_USED_FOR_SWAP_CHECK or rss == 0:
        return
    yield Finding(
        id="fragmentation.swapping", severity=Severity.CRITICAL, node=node.address,
        title=f"RSS ({fmt_bytes(rss)}) is below used memory ({fmt_bytes(node.used_memory)}): part of Redis "
              "is likely swapped out, and every access to it is a disk read",
        evidence={"mem_fragmentation_ratio": ratio, "used_memory": node.used_memory, "used_memory_rss": rss},
        bytes_at_stake=node.used_memory - rss,
        fixes=[Fix.manual("set maxmemory below the host's free RAM, and vm.swappiness=1 on the host",
                   "keys are evicted or writes refused earlier, instead of latency collapsing")],
    )
