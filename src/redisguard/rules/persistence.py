"""Persistence overhead: aggressive save rules, slow forks, copy-on-write peaks, AOF buffers, no persistence."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot
from redisguard.units import fmt_bytes

__all__ = ["aggressive_save", "aof_buffers", "copy_on_write", "no_persistence_on_store", "slow_fork"]

_AOF_BUFFER_BYTES = 32 * 1024 * 1024


def _save_rules(node: NodeSnapshot) -> list[tuple[int, int]]:
    raw = node.config.get("save", "")
    numbers = [int(part) for part in raw.split() if part.isdigit()]
    return list(zip(numbers[::2], numbers[1::2], strict=False))


@rule
def aggressive_save(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    rules = _save_rules(node)
    fast = [(seconds, changes) for seconds, changes in rules if seconds < t.save_min_interval_s]
    if not fast:
        return
    forks = node.info_int("total_forks")
    yield Finding(
        id="persistence.aggressive-save", severity=Severity.WARNING, node=node.address,
        title=f"save rule(s) {' '.join(f'{s} {c}' for s, c in fast)} fork a full snapshot every few minutes "
              f"or less: each fork can double memory through copy-on-write",
        evidence={"save": node.config.get("save"), "total_forks": forks,
                  "rdb_last_cow_size": node.info_int("rdb_last_cow_size") or None,
                  "used_memory": node.used_memory},
        bytes_at_stake=node.info_int("rdb_last_cow_size") or None,
        fixes=[Fix.redis('CONFIG', 'SET', 'save', '3600 1 300 100', node=node.address, risk=
                   "up to 5 minutes of writes more can be lost on a crash (use AOF for durability)")],
    )


@rule
def slow_fork(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    fork_ms = node.info_int("latest_fork_usec") / 1000
    bgsave_s = node.info_int("rdb_last_bgsave_time_sec", -1)
    if fork_ms < t.fork_ms and bgsave_s < t.bgsave_s:
        return
    yield Finding(
        id="persistence.slow-fork", severity=Severity.WARNING, node=node.address,
        title=f"the last fork took {fork_ms:.0f} ms (Redis is blocked meanwhile) and the last BGSAVE "
              f"{bgsave_s} s",
        evidence={"latest_fork_usec": node.info_int("latest_fork_usec"), "rdb_last_bgsave_time_sec": bgsave_s,
                  "used_memory": node.used_memory},
        fixes=[Fix.manual("disable transparent huge pages on the host (echo never > "
                   "/sys/kernel/mm/transparent_hugepage/enabled)", "none; recommended by Redis"),
               Fix.redis('CONFIG', 'SET', 'save', '3600 1',
                         node=node.address, risk="fewer forks; more writes lost on a crash")],
    )


@rule
def copy_on_write(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    cow = max(node.info_int("rdb_last_cow_size"), node.info_int("aof_last_cow_size"),
              node.info_int("module_fork_last_cow_size"))
    used = node.used_memory
    if not used or cow < used * t.cow_share:
        return
    limit = node.maxmemory
    headroom = node.info_int("total_system_memory") - node.info_int("used_memory_rss")
    yield Finding(
        id="persistence.copy-on-write", severity=Severity.WARNING, node=node.address,
        title=f"the last fork copied {fmt_bytes(cow)} ({cow / used:.0%} of used memory): writes during "
              "BGSAVE/AOF rewrite need that much RAM on top of maxmemory",
        evidence={"cow_bytes": cow, "used_memory": used, "maxmemory": limit or None,
                  "host_headroom": headroom if headroom > 0 else None},
        bytes_at_stake=cow,
        fixes=[Fix.manual("keep maxmemory at most ~60-75 % of host RAM on write-heavy persisted instances",
                   "less data fits"),
               Fix.redis('CONFIG', 'SET', 'save', '3600 1',
                         node=node.address, risk="fewer forks; more writes lost on a crash")],
    )


@rule
def aof_buffers(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    buffer = node.info_int("mem_aof_buffer") + node.info_int("aof_rewrite_buffer_length")
    if buffer < _AOF_BUFFER_BYTES:
        return
    yield Finding(
        id="persistence.aof-buffers", severity=Severity.WARNING, node=node.address,
        title=f"AOF buffers hold {fmt_bytes(buffer)}: the disk is not keeping up with writes",
        evidence={"mem_aof_buffer": node.info_int("mem_aof_buffer"),
                  "aof_rewrite_in_progress": node.info_int("aof_rewrite_in_progress"),
                  "appendfsync": node.config.get("appendfsync")},
        bytes_at_stake=buffer,
        fixes=[Fix.redis('CONFIG', 'SET', 'appendfsync', 'everysec',
                         node=node.address, risk="up to one second of writes lost on power failure")],
    )


@rule
def no_persistence_on_store(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    if "save" not in node.config or node.role != "primary":
        return  # CONFIG not visible: cannot tell
    aof = node.config.get("appendonly") == "yes" or node.info_int("aof_enabled") == 1
    if _save_rules(node) or aof:
        return
    store = node.policy == "noeviction" or bool(node.streams)
    if not store or node.total_keys == 0:
        return
    yield Finding(
        id="persistence.none-on-store", severity=Severity.WARNING, node=node.address,
        title="no RDB snapshots and no AOF, on an instance that looks like a store (noeviction or streams): "
              "a restart loses everything",
        evidence={"save": node.config.get("save") or "(empty)", "appendonly": node.config.get("appendonly"),
                  "maxmemory_policy": node.policy, "streams": len(node.streams), "keys": node.total_keys},
        bytes_at_stake=node.info_int("used_memory_dataset") or None,
        fixes=[Fix.redis('CONFIG', 'SET', 'appendonly', 'yes',
                         node=node.address, risk="fsync and rewrite cost I/O; AOF rewrite forks (copy-on-write)"),
               Fix.redis('CONFIG', 'SET', 'save', '3600 1 300 100',
                         node=node.address, risk="forks for snapshots (copy-on-write memory)")],
    )
