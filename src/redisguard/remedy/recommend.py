"""The recommended configuration for a workload on a host: pure functions, no I/O.

``recommend(workload, memory_bytes, version)`` gives the settings, each with its reason;
``render_conf`` writes them as a commented redis.conf fragment (one ``save`` pair and one buffer class
per line, which every version from 6.2 parses); ``audit`` (in :mod:`redisguard.remedy.config_audit`)
compares a live server's CONFIG GET against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redisguard.remedy.version import ServerVersion
from redisguard.units import fmt_bytes

__all__ = ["HEADROOM", "MIN_MEMORY", "WORKLOADS", "Setting", "Workload", "recommend", "recommended_maxmemory",
           "render_conf"]

Workload = Literal["cache", "queue", "store"]
WORKLOADS: tuple[Workload, ...] = ("cache", "queue", "store")

# Share of the host's memory given to maxmemory. The rest is for what maxmemory does not count or
# cannot stop: fork copy-on-write during BGSAVE/AOF rewrite (up to the whole dataset on a write-heavy
# instance), replica and client output buffers, allocator fragmentation, and the OS.
HEADROOM: dict[Workload, float] = {"cache": 0.75, "queue": 0.60, "store": 0.60}

_MB = 1024 * 1024
MIN_MEMORY = 8 * _MB  # below it the whole-MiB maxmemory rounds to almost nothing, and to 0 (no limit!) under 2 MiB


@dataclass(frozen=True)
class Setting:
    """One configuration parameter: its value (as CONFIG SET and redis.conf take it) and why."""

    name: str
    value: str
    reason: str
    shown: str = ""  # a human form of the value for the comment (``6.0 GiB``), if it differs

    def conf_lines(self) -> list[str]:
        """redis.conf lines for this setting (6.2 takes one save pair / buffer class per line)."""
        if self.name == "save":
            numbers = self.value.split()
            if not numbers:
                return ['save ""']
            return [f"save {numbers[i]} {numbers[i + 1]}" for i in range(0, len(numbers) - 1, 2)]
        if self.name == "client-output-buffer-limit":
            parts = self.value.split()
            return [f"client-output-buffer-limit {' '.join(parts[i:i + 4])}" for i in range(0, len(parts), 4)]
        return [f"{self.name} {self.value}"]


def recommended_maxmemory(workload: Workload, memory_bytes: int) -> int:
    """maxmemory for a host (or container limit) of ``memory_bytes``, whole MiB; never 0, which Redis reads as
    no limit at all (ValueError for a host under :data:`MIN_MEMORY`)."""
    if memory_bytes < MIN_MEMORY:
        raise ValueError(f"{memory_bytes} bytes is below the {MIN_MEMORY // _MB} MiB a maxmemory is worked out for")
    return int(memory_bytes * HEADROOM[workload]) // _MB * _MB


def _memory(workload: Workload, memory_bytes: int) -> list[Setting]:
    limit = recommended_maxmemory(workload, memory_bytes)
    share = HEADROOM[workload]
    why = {
        "cache": "no persistence forks here, but replica/client buffers and fragmentation live outside it",
        "queue": "AOF rewrites fork (copy-on-write can reach the write rate times the rewrite time), and "
                 "XREADGROUP keeps growing pending lists past maxmemory (measured on 7.0)",
        "store": "BGSAVE and AOF rewrite fork: copy-on-write can approach the whole dataset on a write-heavy store",
    }[workload]
    out = [Setting("maxmemory", str(limit),
                   f"{fmt_bytes(limit)} = {share:.0%} of {fmt_bytes(memory_bytes)}: the rest is headroom, "
                   f"because {why}")]
    if workload == "cache":
        out += [Setting("maxmemory-policy", "allkeys-lru",
                        "a cache can drop any key: evict the least recently used instead of refusing writes"),
                Setting("maxmemory-samples", "10", "closer to true LRU than the default 5, for little CPU")]
    else:
        out += [Setting("maxmemory-policy", "noeviction",
                        f"a {workload} must never lose data silently: at the limit writes are refused (the "
                        "producer backs off), while reads, XACK, XTRIM, DEL and UNLINK still run"),
                Setting("maxmemory-samples", "5", "unused under noeviction; the default")]
    return out


def _lazyfree(version: ServerVersion) -> list[Setting]:
    why = "big values are freed in a background thread instead of blocking every client"
    out = [Setting("lazyfree-lazy-eviction", "yes", f"on eviction, {why}"),
           Setting("lazyfree-lazy-expire", "yes", f"on expiry, {why}"),
           Setting("lazyfree-lazy-server-del", "yes", f"on implicit deletes (RENAME, SET over a big key), {why}"),
           Setting("lazyfree-lazy-user-del", "yes", f"DEL behaves like UNLINK: {why}"),
           Setting("replica-lazy-flush", "yes", "a replica's full resync flushes in the background")]
    if version.redis_compatible >= (6, 2):
        out.append(Setting("lazyfree-lazy-user-flush", "yes", "FLUSHALL/FLUSHDB without ASYNC do not block"))
    return out


def _persistence(workload: Workload) -> list[Setting]:
    if workload == "cache":
        return [Setting("save", "", "a cache is rebuilt from its source: no snapshot forks and their "
                                    "copy-on-write memory"),
                Setting("appendonly", "no", "no AOF for a cache (no fsync cost, no rewrite forks)")]
    aof = [Setting("appendonly", "yes", "every write logged: a restart loses at most a second"),
           Setting("appendfsync", "everysec", "one fsync per second: at most one second lost on power failure"),
           Setting("aof-use-rdb-preamble", "yes", "rewrites start with an RDB image: faster restarts"),
           Setting("auto-aof-rewrite-percentage", "100", "rewrite when the AOF doubles"),
           Setting("auto-aof-rewrite-min-size", str(64 * _MB), "64 MiB: no rewrites (forks) for a small AOF")]
    if workload == "queue":
        return [*aof, Setting("save", "", "the AOF already persists the queue: RDB snapshots would add forks "
                                          "(copy-on-write) on top of the AOF rewrites")]
    return [*aof, Setting("save", "3600 1 300 100", "a snapshot at most every 5 minutes under load, hourly "
                                                    "otherwise: backups without a fork every minute")]


def _clients(workload: Workload, version: ServerVersion) -> list[Setting]:
    out = [Setting("timeout", "300", "close connections idle for 5 minutes (leaked pool connections); "
                                     "blocked consumers and subscribers are exempt"),
           Setting("tcp-keepalive", "300", "detect dead peers so their connections are freed"),
           Setting("maxclients", "10000", "a bound on connections (each costs ~20 KiB plus buffers)"),
           Setting("client-output-buffer-limit",
                   "normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60",
                   "replicas 256 MiB hard / 64 MiB for 60 s; a subscriber that falls behind is "
                   "disconnected at 32 MiB (8 MiB for 60 s) instead of growing without bound",
                   shown="normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60")]
    if version.redis_compatible >= (7, 0):
        out.append(Setting("maxmemory-clients", "5%", "Redis 7+: when all clients' buffers together pass 5 % "
                                                      "of maxmemory, the biggest client is disconnected"))
    return out


def _observability() -> list[Setting]:
    return [Setting("slowlog-log-slower-than", "10000", "log commands slower than 10 ms"),
            Setting("slowlog-max-len", "1024", "enough slow-log history to see an incident's start"),
            Setting("latency-monitor-threshold", "100", "record events (fork, expire cycles) over 100 ms")]


def _streams() -> list[Setting]:
    return [Setting("stream-node-max-entries", "100", "entries per stream node: an approximate trim "
                                                      "(XTRIM ... ~) removes whole nodes, so this is its granularity"),
            Setting("stream-node-max-bytes", "4096", "bytes per stream node: small nodes keep XTRIM ~ close to "
                                                     "the safe point and XDEL cheap")]


def recommend(workload: Workload, memory_bytes: int, version: ServerVersion) -> list[Setting]:
    """Every recommended setting for ``workload`` on a host with ``memory_bytes`` for Redis (ValueError under
    :data:`MIN_MEMORY`: :func:`recommended_maxmemory` refuses it)."""
    settings = [*_memory(workload, memory_bytes), *_lazyfree(version), *_persistence(workload),
                *_clients(workload, version), *_observability()]
    if workload == "queue":
        settings += _streams()
    return settings


def _defrag_note(version: ServerVersion) -> str:
    if version.defrag_crash_range:
        return (f"# activedefrag: leave it off on {version.text} (active defrag crash bugs in Redis 7.4-8.2); "
                "MEMORY PURGE is safe")
    return ("# activedefrag: turn on only where INFO memory says mem_allocator:jemalloc (redisguard fix does "
            "the check); a server built without it refuses to start with activedefrag yes")


def render_conf(workload: Workload, memory_bytes: int, version: ServerVersion,
                settings: list[Setting] | None = None) -> str:
    """A commented redis.conf fragment: each setting after the line saying why."""
    chosen = settings if settings is not None else recommend(workload, memory_bytes, version)
    lines = [f"# redisguard config: {workload} workload, {fmt_bytes(memory_bytes)} for Redis, {version.text}",
             "# Include it from redis.conf (include /etc/redis/redisguard.conf) or paste it at the end.", ""]
    for setting in chosen:
        shown = f" ({setting.shown})" if setting.shown else ""
        lines.append(f"# {setting.reason}{shown}")
        lines += setting.conf_lines()
        lines.append("")
    lines.append(_defrag_note(version))
    return "\n".join(lines) + "\n"
