"""The metric names shared by ``redisguard exporter`` (which exposes them) and ``redisguard alerts`` (which
writes rules over them): one constant per metric family, with its type, labels and help text.

Where a family exists in the Go redis_exporter (oliver006/redis_exporter), the name, type and labels are
its own, so existing dashboards and rule sets work unchanged, and our rules also work on its output. The
``redisguard_*`` families are ours. ``name`` is the name PromQL sees (a counter's name ends in ``_total``;
prometheus_client's ``CounterMetricFamily`` is given the name without that suffix and adds it back).

Labels added by Prometheus itself (``instance``, ``job``) are not listed. On Redis Cluster, where one exporter
covers every primary from one seed address, every per-node series also carries :data:`NODE_LABEL`; the
rules therefore match series on ``(instance, node)``, which also works when ``node`` is absent (empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ALL",
    "BY_NAME",
    "NODE_LABEL",
    "MetricName",
    "by_name",
]

MetricType = Literal["gauge", "counter", "info"]

NODE_LABEL = "node"
"""Label naming the Redis node ("host:port") a series comes from, on every per-node series of a cluster."""


@dataclass(frozen=True)
class MetricName:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    origin: Literal["redis_exporter", "redisguard"]

    @property
    def family(self) -> str:
        """The name to give prometheus_client's metric family (a counter without its ``_total``)."""
        if self.type == "counter" and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        if self.type == "info" and self.name.endswith("_info"):
            return self.name[: -len("_info")]
        return self.name


def _rx(name: str, kind: MetricType, help_text: str, *labels: str) -> MetricName:
    return MetricName(name, kind, tuple(labels), help_text, "redis_exporter")


def _rg(name: str, kind: MetricType, help_text: str, *labels: str) -> MetricName:
    return MetricName(name, kind, tuple(labels), help_text, "redisguard")


# --- redis_exporter's names (INFO fields; labels as redis_exporter has them) -------------------------------
UP = _rx("redis_up", "gauge", "1 when the last scrape reached Redis, 0 when it did not")
MEMORY_USED = _rx("redis_memory_used_bytes", "gauge", "INFO used_memory")
MEMORY_MAX = _rx("redis_memory_max_bytes", "gauge", "INFO maxmemory (0: no limit)")
MEMORY_RSS = _rx("redis_memory_used_rss_bytes", "gauge", "INFO used_memory_rss")
MEMORY_NOT_COUNTED = _rx("redis_mem_not_counted_for_eviction_bytes", "gauge",
                         "INFO mem_not_counted_for_evict: replica and AOF buffers Redis subtracts from used_memory "
                         "before comparing it with maxmemory")
FRAGMENTATION_RATIO = _rx("redis_mem_fragmentation_ratio", "gauge", "INFO mem_fragmentation_ratio")
FRAGMENTATION_BYTES = _rx("redis_mem_fragmentation_bytes", "gauge", "INFO mem_fragmentation_bytes (RSS - used)")
CONNECTED_CLIENTS = _rx("redis_connected_clients", "gauge", "INFO connected_clients")
MAX_CLIENTS = _rx("redis_max_clients", "gauge", "INFO maxclients")
CONFIG_MAX_CLIENTS = _rx("redis_config_maxclients", "gauge",
                         "CONFIG GET maxclients (what redis_exporter before INFO's maxclients exported)")
REJECTED_CONNECTIONS = _rx("redis_rejected_connections_total", "counter",
                           "INFO rejected_connections (refused at maxclients)")
EVICTED_KEYS = _rx("redis_evicted_keys_total", "counter", "INFO evicted_keys")
LAST_BGSAVE_STATUS = _rx("redis_rdb_last_bgsave_status", "gauge", "INFO rdb_last_bgsave_status: 1 ok, 0 err")
INSTANCE_INFO = _rx("redis_instance_info", "info", "Information about the Redis instance (value 1)",
                    "role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy",
                    "tcp_port", "run_id", "process_id", "master_replid")
DB_KEYS = _rx("redis_db_keys", "gauge", "Keys per database", "db")
STREAM_LENGTH = _rx("redis_stream_length", "gauge", "XLEN of the stream", "db", "stream")
STREAM_GROUP_LAG = _rx("redis_stream_group_lag", "gauge",
                       "Entries the group has not read yet (absent when Redis reports the lag as unknown)",
                       "db", "stream", "group")
STREAM_GROUP_PENDING = _rx("redis_stream_group_messages_pending", "gauge",
                           "Entries delivered to the group and not acknowledged", "db", "stream", "group")
STREAM_CONSUMER_IDLE = _rx("redis_stream_group_consumer_idle_seconds", "gauge",
                           "Consumer idle time (per-consumer series: redisguard exporter --consumer-metrics)",
                           "db", "stream", "group", "consumer")
STREAM_CONSUMER_PENDING = _rx("redis_stream_group_consumer_messages_pending", "gauge",
                              "Pending entries held by the consumer (per-consumer series, as above)",
                              "db", "stream", "group", "consumer")
STREAM_GROUP_CONSUMERS = _rx("redis_stream_group_consumers", "gauge", "Consumers of the group",
                             "db", "stream", "group")

# --- redisguard's own names ---------------------------------------------------------------------------------
HEADROOM = _rg("redisguard_memory_limit_headroom_bytes", "gauge",
               "maxmemory minus what Redis counts against it (used_memory - mem_not_counted_for_evict); "
               "absent when maxmemory is 0")
GROWTH_RATE = _rg("redisguard_memory_growth_bytes_per_second", "gauge",
                  "Robust growth rate of the memory Redis counts against maxmemory (redisguard.forecast)")
SECONDS_TO_LIMIT = _rg("redisguard_memory_seconds_to_limit", "gauge",
                       "Forecast seconds until the counted memory reaches maxmemory, bound=lower|estimate|upper; "
                       "absent when not growing or no limit", "bound")
FINDING = _rg("redisguard_finding", "gauge", "1 per active doctor finding", "rule", "severity")
FINDING_BYTES = _rg("redisguard_finding_bytes_at_stake", "gauge", "Bytes at stake of an active finding", "rule")
STREAM_MEMORY = _rg("redisguard_stream_memory_bytes", "gauge", "MEMORY USAGE of the stream", "stream")
STREAM_OLDEST_PENDING_AGE = _rg("redisguard_stream_oldest_pending_age_seconds", "gauge",
                                "Age of the group's oldest pending entry (absent when nothing is pending)",
                                "stream", "group")
STREAM_STALLED_CONSUMER_IDLE = _rg("redisguard_stream_group_stalled_consumer_idle_seconds", "gauge",
                                   "Idle time of the group's longest-idle consumer that still holds pending "
                                   "entries (absent when no consumer holds any)", "stream", "group")
STREAM_SAFE_TRIM = _rg("redisguard_stream_safe_trim_entries", "gauge",
                       "Entries every group has finished with (safe to trim)", "stream")
SCRAPE_PARTIAL = _rg("redisguard_scrape_partial", "gauge",
                     "1 when part of the scrape did not arrive within --scrape-timeout or was denied")
NOT_VISIBLE = _rg("redisguard_not_visible", "gauge", "1 per command the server denied or lacks", "command")

ALL: tuple[MetricName, ...] = tuple(value for value in list(globals().values()) if isinstance(value, MetricName))
BY_NAME: dict[str, MetricName] = {metric.name: metric for metric in ALL}


def by_name(name: str) -> MetricName:
    """The constant for ``name`` (a PromQL name); KeyError for a name neither side defines."""
    return BY_NAME[name]
