"""Where a node's memory goes: dataset, overheads by kind, fragmentation. Pure arithmetic on INFO."""

from __future__ import annotations

from dataclasses import dataclass

from redisguard.snapshot import NodeSnapshot

__all__ = ["MemoryBreakdown", "memory_breakdown"]


@dataclass(frozen=True)
class MemoryBreakdown:
    used: int
    rss: int
    maxmemory: int
    parts: tuple[tuple[str, int], ...]  # (label, bytes), summing to ``used`` (+ fragmentation beyond it)


def memory_breakdown(node: NodeSnapshot) -> MemoryBreakdown:
    used = node.used_memory
    clients = node.info_int("mem_clients_normal")
    replication = node.info_int("mem_clients_slaves") + node.info_int("mem_replication_backlog")
    aof = node.info_int("mem_aof_buffer")
    scripts = node.info_int("used_memory_scripts")
    dataset = node.info_int("used_memory_dataset")
    overhead = node.info_int("used_memory_overhead")
    other = max(0, overhead - clients - replication - aof - scripts)
    rss = node.info_int("used_memory_rss")
    parts = (
        ("dataset (keys and values)", dataset),
        ("clients (buffers)", clients),
        ("replication (backlog, replica buffers)", replication),
        ("AOF buffers", aof),
        ("scripts (cached Lua scripts)", scripts),
        ("other overhead (dict, startup, expires)", other),
        ("fragmentation (RSS beyond used)", max(0, rss - used)),
    )
    return MemoryBreakdown(used=used, rss=rss, maxmemory=node.maxmemory, parts=parts)
