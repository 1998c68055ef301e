"""The Snapshot: everything the collectors saw, typed, versioned and JSON-serialisable.

Analysis (rules, renderers) reads only this, never Redis, so ``doctor --from snap.json`` gives the same
answer offline. Key names are held in the lossless text form of :mod:`redisguard.keynames`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from redisguard.snapshot.keyspace import KeyspaceReport
from redisguard.snapshot.server import ServerVersion

__all__ = [
    "SNAPSHOT_VERSION",
    "ClientEntry",
    "ClientGroup",
    "ClientSummary",
    "LatencyEvent",
    "NodeSnapshot",
    "NotVisible",
    "SlowlogEntry",
    "Snapshot",
    "StreamConsumer",
    "StreamGroup",
    "StreamInfo",
]

# 2: the key sample is the keys engine's KeyspaceReport (patterns with intervals, exact big keys, coverage).
SNAPSHOT_VERSION = 2


@dataclass
class NotVisible:
    """Something the collectors could not see, and why (ACL, renamed command, older version, error)."""

    what: str
    node: str
    reason: str


@dataclass
class ClientEntry:
    id: int
    addr: str
    name: str
    age_s: int
    idle_s: int
    flags: str
    cmd: str
    tot_mem: int
    omem: int
    qbuf: int


@dataclass
class ClientGroup:
    """Clients grouped by name, or by source IP when unnamed."""

    group: str
    count: int
    tot_mem: int
    omem: int
    max_idle_s: int


@dataclass
class ClientSummary:
    """CLIENT LIST summarised (our own connection excluded)."""

    count: int
    idle_at_least: dict[str, int]  # {"300": clients idle for >= 300 s, ...}
    top_by_memory: list[ClientEntry]
    groups: list[ClientGroup]
    total_mem: int
    output_buffer_total: int
    pubsub: int
    monitor: int
    replicas: int
    blocked: int

    def idle_for_at_least(self, seconds: int) -> int:
        """Clients idle for at least the largest bucket <= ``seconds`` (a lower bound, never an overcount)."""
        buckets = [int(name) for name in self.idle_at_least if int(name) <= seconds]
        return self.idle_at_least[str(max(buckets))] if buckets else self.count


@dataclass
class SlowlogEntry:
    """One SLOWLOG entry with user data cut: the command name, its first key, and how much was dropped."""

    id: int
    started_at: int
    duration_us: int
    command: str
    key: str | None
    args_dropped: int
    client_addr: str
    client_name: str


@dataclass
class LatencyEvent:
    event: str
    at: int
    latest_ms: int
    max_ms: int


@dataclass
class StreamConsumer:
    name: str
    pending: int
    idle_ms: int
    inactive_ms: int | None = None


@dataclass
class StreamGroup:
    name: str
    consumers: int
    pending: int
    last_delivered_id: str
    entries_read: int | None = None
    lag: int | None = None  # None means unknown (Redis < 7.0, or after deletions/trimming): never 0
    oldest_pending_id: str | None = None
    oldest_pending_age_ms: int | None = None
    consumer_details: list[StreamConsumer] = field(default_factory=list)


@dataclass
class StreamInfo:
    key: str
    length: int
    memory_bytes: int | None
    first_id: str | None
    last_id: str | None
    first_entry_age_ms: int | None
    last_entry_age_ms: int | None
    last_generated_id: str
    groups: list[StreamGroup] = field(default_factory=list)
    max_deleted_entry_id: str | None = None
    entries_added: int | None = None
    ttl_ms: int | None = None


# INFO memory fields and the MEMORY STATS counters that sum to the same figure (Redis's object.c fills both
# from the same zmalloc and allocator readings; RSS is the allocated bytes plus fragmentation.bytes). Checked
# on Redis 7.0 with 20k keys: each within the few kB the INFO reply itself takes between the two readings.
_FROM_MEMORY_STATS: dict[str, tuple[str, ...]] = {
    "used_memory": ("total.allocated",),
    "used_memory_rss": ("total.allocated", "fragmentation.bytes"),
    "used_memory_dataset": ("dataset.bytes",),
    "used_memory_overhead": ("overhead.total",),
    "used_memory_startup": ("startup.allocated",),
    "used_memory_peak": ("peak.allocated",),
    "mem_clients_normal": ("clients.normal",),
    "mem_clients_slaves": ("clients.slaves",),
    "mem_replication_backlog": ("replication.backlog",),
    "mem_aof_buffer": ("aof.buffer",),
    "used_memory_scripts": ("lua.caches", "functions.caches"),
}


@dataclass
class NodeSnapshot:
    address: str
    role: Literal["primary", "replica"]
    version: str
    info: dict[str, dict[str, str]]
    config: dict[str, str]
    memory_stats: dict[str, Any]
    memory_doctor: str | None
    clients: ClientSummary | None
    slowlog: list[SlowlogEntry]
    latency: list[LatencyEvent]
    streams: list[StreamInfo]
    streams_truncated: bool
    key_sample: KeyspaceReport | None  # the keys engine's report, cut for the doctor
    collected_in_ms: int = 0
    cluster: dict[str, str] = field(default_factory=dict)  # CLUSTER INFO on a cluster node (cluster_state...)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The server's own version (Valkey's, not the 7.2.4 it reports as ``redis_version``)."""
        return self.server.version or tuple(int(part) for part in self.version.split(".") if part.isdigit())

    @property
    def server(self) -> ServerVersion:
        """Redis or Valkey, and its own version, from INFO server (also for snapshots saved before the
        collector recorded Valkey's own version in ``version``)."""
        return ServerVersion.from_info(self.info.get("server", {}))

    def info_value(self, name: str) -> str | None:
        """A field from any INFO section (``used_memory``, ``maxmemory_policy``, ...). Where INFO memory was
        not visible (INFO denied by the ACL, or renamed), the memory figures MEMORY STATS also gives come
        from there: the same allocator counters, so a server at 92 % of maxmemory is not read as empty."""
        for section in self.info.values():
            if name in section:
                return section[name]
        if "memory" not in self.info and name in _FROM_MEMORY_STATS:
            return self._from_memory_stats(name)
        return None

    def _from_memory_stats(self, name: str) -> str | None:
        stats = self.memory_stats
        first, *more = _FROM_MEMORY_STATS[name]
        if not isinstance(stats.get(first), int):
            return None
        return str(stats[first] + sum(stats[key] for key in more if isinstance(stats.get(key), int)))

    @property
    def write_address(self) -> str:
        """Where a fix that writes data should be sent: the node itself, or for a replica its primary (from INFO
        replication), since a replica refuses writes (READONLY). Its own address when the primary is not known."""
        replication = self.info.get("replication", {})
        host, port = replication.get("master_host"), replication.get("master_port")
        if self.role != "replica" or not host or not port or not port.isdigit():
            return self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def memory_visible(self) -> bool:
        """Whether the node's used memory was read at all (INFO memory, or MEMORY STATS)."""
        return self.info_value("used_memory") is not None

    @property
    def keys_visible(self) -> bool:
        """Whether the node's key count was read at all (INFO keyspace, or MEMORY STATS)."""
        return "keyspace" in self.info or isinstance(self.memory_stats.get("keys.count"), int)

    def info_int(self, name: str, default: int = 0) -> int:
        value = self.info_value(name)
        if value is None:
            return default
        try:
            return int(float(value))
        except ValueError:
            return default

    def info_float(self, name: str, default: float = 0.0) -> float:
        value = self.info_value(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            return default

    def config_or_info(self, config_name: str, info_name: str | None = None) -> str | None:
        """A config value from CONFIG GET, falling back to its INFO mirror when CONFIG was not visible."""
        if config_name in self.config:
            return self.config[config_name]
        return self.info_value(info_name or config_name.replace("-", "_"))

    @property
    def maxmemory(self) -> int:
        value = self.config_or_info("maxmemory")
        return int(value) if value and value.isdigit() else 0

    @property
    def used_memory(self) -> int:
        return self.info_int("used_memory")

    @property
    def policy(self) -> str:
        return self.config_or_info("maxmemory-policy") or "unknown"

    def _keyspace_sum(self, field_name: str) -> int:
        """Sum of one field (``keys``, ``expires``) over INFO keyspace's ``db0:keys=1,expires=0,...`` lines."""
        total = 0
        for value in self.info.get("keyspace", {}).values():
            parts = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
            total += int(parts.get(field_name, 0))
        return total

    @property
    def total_keys(self) -> int:
        if "keyspace" not in self.info and self.keys_visible:
            return int(self.memory_stats["keys.count"])  # INFO not visible: MEMORY STATS counts them too
        return self._keyspace_sum("keys")

    @property
    def keys_with_expiry(self) -> int:
        return self._keyspace_sum("expires")


@dataclass
class Snapshot:
    version: int
    taken_at: float
    target: str
    mode: Literal["standalone", "cluster"]
    redisguard_version: str
    nodes: list[NodeSnapshot]
    not_visible: list[NotVisible] = field(default_factory=list)

    @property
    def used_memory(self) -> int:
        return sum(node.used_memory for node in self.nodes)

    @property
    def maxmemory(self) -> int:
        return sum(node.maxmemory for node in self.nodes)
