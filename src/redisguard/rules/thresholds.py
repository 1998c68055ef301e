"""Every number a rule compares against, in one place, overridable (tests and `doctor --threshold`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    memory_warning: float = 0.80          # used / maxmemory
    memory_critical: float = 0.90
    backlog_entries: int = 100_000        # stream length or group lag that counts as a backlog
    list_backlog_entries: int = 100_000
    backlog_memory_share: float = 0.25   # ... or a stream with unread or unacknowledged entries holding this
                                         # share of maxmemory (few entries, big events: seed 001's 4 KB)
    pending_entries: int = 10_000
    pending_memory_share: float = 0.10   # ... or a group's pending entries holding this share of maxmemory
    pending_age_ms: int = 3_600_000       # oldest pending entry older than an hour
    dead_consumer_idle_ms: int = 1_800_000
    untrimmed_stream_entries: int = 10_000
    ttl_keys_min_share: float = 0.10      # volatile-* policy with < 10 % of keys carrying a TTL
    fragmentation_ratio: float = 1.5
    fragmentation_min_bytes: int = 100 * 1024 * 1024
    idle_client_s: int = 300
    idle_clients_count: int = 50
    client_omem_bytes: int = 16 * 1024 * 1024
    maxclients_share: float = 0.80
    replication_share: float = 0.10       # backlog + replica buffers vs maxmemory
    save_min_interval_s: int = 300        # a save rule more frequent than this is aggressive
    fork_ms: int = 500                    # latest_fork_usec, in ms
    bgsave_s: int = 60
    cow_share: float = 0.20               # copy-on-write peak vs used memory
    scripts_bytes: int = 16 * 1024 * 1024
    cached_scripts: int = 1_000
    no_ttl_share: float = 0.50            # cache/session-looking patterns with over half the keys lacking TTL
    big_key_bytes: int = 10 * 1024 * 1024
    cluster_imbalance_ratio: float = 2.0  # a primary using twice the mean of the others
    cluster_imbalance_min_bytes: int = 64 * 1024 * 1024
    forecast_warning_s: int = 7 * 86_400  # maxmemory reached within a week (history rules)
    forecast_critical_s: int = 6 * 3600
