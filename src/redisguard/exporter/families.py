"""A :class:`Collection` as Prometheus metric families. Pure: formats what was collected, never asks Redis.

Where a family exists in the Go redis_exporter, the name, type and labels are its own (checked against
``prometheus-redis-exporter`` 1.45 on a real Redis: ``db="db0"``, ``stream``, ``group``, ``consumer``), so
existing dashboards and rules work unchanged; every per-node series also carries ``node="host:port"``, so
one exporter covers every primary of a cluster. ``redisguard_*`` families are ours. Server-supplied names
(streams, groups, consumers, patterns, versions) are shown with control and non-UTF-8 bytes escaped.
A value Redis does not know (a group's lag after deletions) is absent, never 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from redisguard.exporter.model import Collection, NodeResult, node_label
from redisguard.keynames import visible
from redisguard.snapshot import StreamInfo

__all__ = ["INFO_COUNTERS", "INFO_GAUGES", "families"]

# (metric name, INFO field, help). Names as redis_exporter has them.
INFO_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("redis_uptime_in_seconds", "uptime_in_seconds", "INFO uptime_in_seconds"),
    ("redis_memory_used_bytes", "used_memory", "INFO used_memory"),
    ("redis_memory_max_bytes", "maxmemory", "INFO maxmemory (0: no limit)"),
    ("redis_memory_used_rss_bytes", "used_memory_rss", "INFO used_memory_rss"),
    ("redis_memory_used_peak_bytes", "used_memory_peak", "INFO used_memory_peak"),
    ("redis_memory_used_dataset_bytes", "used_memory_dataset", "INFO used_memory_dataset"),
    ("redis_memory_used_overhead_bytes", "used_memory_overhead", "INFO used_memory_overhead"),
    ("redis_memory_used_startup_bytes", "used_memory_startup", "INFO used_memory_startup"),
    ("redis_memory_used_scripts_bytes", "used_memory_scripts", "INFO used_memory_scripts"),
    ("redis_memory_used_lua_bytes", "used_memory_lua", "INFO used_memory_lua"),
    ("redis_mem_clients_normal", "mem_clients_normal", "INFO mem_clients_normal"),
    ("redis_mem_clients_slaves", "mem_clients_slaves", "INFO mem_clients_slaves"),
    ("redis_replication_backlog_bytes", "mem_replication_backlog", "INFO mem_replication_backlog"),
    ("redis_mem_not_counted_for_eviction_bytes", "mem_not_counted_for_evict",
     "INFO mem_not_counted_for_evict: buffers Redis subtracts from used_memory before comparing with maxmemory"),
    ("redis_mem_fragmentation_ratio", "mem_fragmentation_ratio", "INFO mem_fragmentation_ratio"),
    ("redis_mem_fragmentation_bytes", "mem_fragmentation_bytes", "INFO mem_fragmentation_bytes"),
    ("redis_connected_clients", "connected_clients", "INFO connected_clients"),
    ("redis_blocked_clients", "blocked_clients", "INFO blocked_clients"),
    ("redis_max_clients", "maxclients", "INFO maxclients"),
    ("redis_connected_slaves", "connected_slaves", "INFO connected_slaves"),
    ("redis_rdb_changes_since_last_save", "rdb_changes_since_last_save", "INFO rdb_changes_since_last_save"),
    ("redis_rdb_last_save_timestamp_seconds", "rdb_last_save_time", "INFO rdb_last_save_time"),
    ("redis_rdb_bgsave_in_progress", "rdb_bgsave_in_progress", "INFO rdb_bgsave_in_progress"),
    ("redis_aof_enabled", "aof_enabled", "INFO aof_enabled"),
    ("redis_cluster_enabled", "cluster_enabled", "INFO cluster_enabled"),
    ("redis_instantaneous_ops_per_sec", "instantaneous_ops_per_sec", "INFO instantaneous_ops_per_sec"),
    ("redisguard_memory_aof_buffer_bytes", "mem_aof_buffer", "INFO mem_aof_buffer"),
)
# (metric name without _total, INFO field, help)
INFO_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("redis_evicted_keys", "evicted_keys", "INFO evicted_keys"),
    ("redis_expired_keys", "expired_keys", "INFO expired_keys"),
    ("redis_keyspace_hits", "keyspace_hits", "INFO keyspace_hits"),
    ("redis_keyspace_misses", "keyspace_misses", "INFO keyspace_misses"),
    ("redis_commands_processed", "total_commands_processed", "INFO total_commands_processed"),
    ("redis_connections_received", "total_connections_received", "INFO total_connections_received"),
    ("redis_rejected_connections", "rejected_connections", "INFO rejected_connections (refused at maxclients)"),
    ("redis_net_input_bytes", "total_net_input_bytes", "INFO total_net_input_bytes"),
    ("redis_net_output_bytes", "total_net_output_bytes", "INFO total_net_output_bytes"),
)
_INSTANCE_LABELS = ("role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy",
                    "tcp_port", "run_id", "process_id")


@functools.lru_cache(maxsize=65536)
def _label(value: str) -> str:
    """A label value as shown: printable ASCII as is (the common case, and fast), else control and
    non-UTF-8 bytes escaped (prometheus_client escapes quotes, backslashes and newlines itself)."""
    if value.isascii() and value.isprintable():
        return value
    return visible(value)


@dataclass
class _Builder:
    """Families by name, created on first use with a fixed label order."""

    metrics: dict[str, Metric] = field(default_factory=dict)

    def gauge(self, name: str, help_text: str, value: float | None, **labels: str) -> None:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return
        family = self.metrics.get(name)
        if family is None:
            family = self.metrics[name] = GaugeMetricFamily(name, help_text, labels=list(labels))
        assert isinstance(family, GaugeMetricFamily)
        family.add_metric([_label(value_) for value_ in labels.values()], value)

    def counter(self, name: str, help_text: str, value: float | None, **labels: str) -> None:
        if value is None:
            return
        family = self.metrics.get(name)
        if family is None:
            family = self.metrics[name] = CounterMetricFamily(name, help_text, labels=list(labels))
        assert isinstance(family, CounterMetricFamily)
        family.add_metric([_label(value_) for value_ in labels.values()], value)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _info_field(node: NodeResult, name: str) -> str | None:
    info = node.sample.info if node.sample and node.sample.info else {}
    for section in info.values():
        if name in section:
            return section[name]
    return None


def _info_families(out: _Builder, node: NodeResult) -> None:
    label = node.node
    for name, info_name, help_text in INFO_GAUGES:
        out.gauge(name, help_text, _number(_info_field(node, info_name)), node=label)
    for name, info_name, help_text in INFO_COUNTERS:
        out.counter(name, help_text, _number(_info_field(node, info_name)), node=label)
    status = _info_field(node, "rdb_last_bgsave_status")
    if status is not None:
        out.gauge("redis_rdb_last_bgsave_status", "INFO rdb_last_bgsave_status: 1 ok, 0 err",
                  1.0 if status == "ok" else 0.0, node=label)
    instance = {name: _info_field(node, name) or "" for name in _INSTANCE_LABELS}
    instance["role"] = _info_field(node, "role") or ""
    out.gauge("redis_instance_info", "Information about the Redis instance", 1.0, node=label, **instance)
    keyspace = node.sample.info.get("keyspace", {}) if node.sample and node.sample.info else {}
    for db, text in sorted(keyspace.items()):
        parts = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        out.gauge("redis_db_keys", "Keys per database", _number(parts.get("keys")), db=db, node=label)
        out.gauge("redis_db_keys_expiring", "Keys with an expiry per database", _number(parts.get("expires")),
                  db=db, node=label)
        avg_ttl = _number(parts.get("avg_ttl"))
        out.gauge("redis_db_avg_ttl_seconds", "Average TTL per database",
                  None if avg_ttl is None else avg_ttl / 1000, db=db, node=label)
    _memory_families(out, node)


def _memory_families(out: _Builder, node: NodeResult) -> None:
    label = node.node
    used = _number(_info_field(node, "used_memory"))
    limit = _number(_info_field(node, "maxmemory"))
    not_counted = _number(_info_field(node, "mem_not_counted_for_evict")) or 0.0
    if used is not None:
        counted = max(0.0, used - not_counted)
        out.gauge("redisguard_memory_counted_bytes", "used_memory - mem_not_counted_for_evict: what Redis compares "
                  "with maxmemory", counted, node=label)
        if limit:
            out.gauge("redisguard_memory_limit_headroom_bytes", "maxmemory minus what Redis counts against it "
                      "(absent when maxmemory is 0)", limit - counted, node=label)
    fc = node.forecast
    out.gauge("redisguard_memory_growth_bytes_per_second", "Robust growth rate of the counted memory "
              "(absent when not growing)", None if fc is None else fc.rate_bytes_per_second, node=label)
    if fc is not None:
        for bound, value in (("lower", fc.seconds_lower), ("estimate", fc.seconds_to_limit),
                             ("upper", fc.seconds_upper)):
            out.gauge("redisguard_memory_seconds_to_limit", "Forecast seconds until the counted memory reaches "
                      "maxmemory (absent when not growing or no limit)", value, bound=bound, node=label)
    for finding in node.findings:
        out.gauge("redisguard_finding", "1 per active doctor finding", 1.0, rule=finding.id,
                  severity=finding.severity.label, node=label)
        if finding.bytes_at_stake is not None:
            out.gauge("redisguard_finding_bytes_at_stake", "Bytes at stake of an active finding",
                      float(finding.bytes_at_stake), rule=finding.id, node=label)


def _stream_families(out: _Builder, node: NodeResult, stream: StreamInfo, db: str, consumers: bool) -> None:
    label = node.node
    name = stream.key
    out.gauge("redis_stream_length", "XLEN of the stream", float(stream.length), db=db, stream=name, node=label)
    out.gauge("redis_stream_groups", "Consumer groups of the stream", float(len(stream.groups)), db=db,
              stream=name, node=label)
    last_ms = _number(stream.last_generated_id.split("-", 1)[0])
    out.gauge("redis_stream_last_generated_id", "Millisecond part of the stream's last generated id", last_ms,
              db=db, stream=name, node=label)
    out.gauge("redisguard_stream_memory_bytes", "MEMORY USAGE of the stream (the server's default sampling)",
              None if stream.memory_bytes is None else float(stream.memory_bytes), stream=name, node=label)
    out.gauge("redisguard_stream_first_entry_age_seconds", "Age of the stream's oldest entry",
              None if stream.first_entry_age_ms is None else stream.first_entry_age_ms / 1000, stream=name,
              node=label)
    safe = _safe_trim_entries(stream)
    out.gauge("redisguard_stream_safe_trim_entries", "Entries every group has acknowledged (safe to trim); "
              "absent when it cannot be known without reading the stream", None if safe is None else float(safe),
              stream=name, node=label)
    for group in stream.groups:
        labels = {"db": db, "stream": name, "group": group.name, "node": label}
        out.gauge("redis_stream_group_consumers", "Consumers of the group", float(group.consumers), **labels)
        out.gauge("redis_stream_group_messages_pending", "Entries delivered to the group and not acknowledged",
                  float(group.pending), **labels)
        out.gauge("redis_stream_group_lag", "Entries the group has not read yet (absent when Redis reports the "
                  "lag as unknown)", None if group.lag is None else float(group.lag), **labels)
        out.gauge("redis_stream_group_entries_read", "entries-read of the group",
                  None if group.entries_read is None else float(group.entries_read), **labels)
        out.gauge("redis_stream_group_last_delivered_id", "Millisecond part of the group's last delivered id",
                  _number(group.last_delivered_id.split("-", 1)[0]), **labels)
        out.gauge("redisguard_stream_oldest_pending_age_seconds", "Age of the group's oldest pending entry (absent "
                  "when nothing is pending)", None if group.oldest_pending_age_ms is None
                  else group.oldest_pending_age_ms / 1000, stream=name, group=group.name, node=label)
        holding = [c.idle_ms for c in group.consumer_details if c.pending]
        out.gauge("redisguard_stream_group_stalled_consumer_idle_seconds", "Idle time of the group's longest-idle "
                  "consumer that still holds pending entries (absent when none does)",
                  max(holding) / 1000 if holding else None, stream=name, group=group.name, node=label)
        if consumers:
            for consumer in group.consumer_details:
                out.gauge("redis_stream_group_consumer_messages_pending", "Pending entries of the consumer",
                          float(consumer.pending), **labels, consumer=consumer.name)
                out.gauge("redis_stream_group_consumer_idle_seconds", "Idle time of the consumer",
                          consumer.idle_ms / 1000, **labels, consumer=consumer.name)


def _safe_trim_entries(stream: StreamInfo) -> int | None:
    """Entries before the safe point, when it can be counted without reading the stream: the group that
    pins the point holds nothing pending (the point is just past its last delivered entry) and its lag is
    known. No groups: None (nothing is known to be processed, so nothing is safe to trim)."""
    if not stream.groups:
        return None
    if any(group.pending for group in stream.groups):
        return None  # the oldest pending entry pins the point; counting up to it would read the stream
    if any(group.lag is None for group in stream.groups):
        return None
    slowest = max(group.lag or 0 for group in stream.groups)
    return max(0, stream.length - slowest)


def _node_families(out: _Builder, node: NodeResult, collection: Collection) -> None:
    out.gauge("redis_up", "1 when the last scrape reached this Redis node, 0 when it did not",
              1.0 if node.up else 0.0, node=node.node)
    if not node.up:
        return
    _info_families(out, node)
    db = "db0"
    streams = node.sample.streams if node.sample else []
    out.gauge("redisguard_streams_found", "Streams found by SCAN TYPE stream", float(node.streams_found),
              node=node.node)
    out.gauge("redisguard_streams_not_exported", "Streams found but not exported (over --max-streams)",
              float(max(0, node.streams_found - collection.max_streams)), node=node.node)
    for stream in streams:
        _stream_families(out, node, stream, db, collection.consumer_metrics)


def _keyspace_families(out: _Builder, collection: Collection) -> None:
    result = collection.keyspace
    if result is None or result.report is None:
        return
    for row in result.report.patterns:
        out.gauge("redisguard_keys_pattern_bytes", "Bytes per key pattern (last keyspace analysis)",
                  float(row.bytes), pattern=row.pattern)
        out.gauge("redisguard_keys_pattern_keys", "Keys per key pattern (last keyspace analysis)",
                  float(row.keys), pattern=row.pattern)
        out.gauge("redisguard_keys_pattern_no_ttl_keys", "Keys without TTL per key pattern (last keyspace "
                  "analysis)", float(row.no_ttl), pattern=row.pattern)
    if result.finished_at is not None:
        out.gauge("redisguard_keys_analysis_timestamp_seconds", "When the last keyspace analysis finished",
                  result.finished_at)


def families(collection: Collection) -> Iterator[Metric]:
    """Every family for one collection (fresh objects each call)."""
    out = _Builder()
    if not collection.nodes:
        out.gauge("redis_up", "1 when the last scrape reached this Redis node, 0 when it did not", 0.0,
                  node=node_label(collection.target))
    for node in collection.nodes:
        _node_families(out, node, collection)
    _keyspace_families(out, collection)
    out.gauge("redisguard_scrape_partial", "1 when part of the scrape did not arrive within --scrape-timeout",
              1.0 if collection.partial else 0.0)
    out.gauge("redisguard_scrape_duration_seconds", "How long collecting this target took",
              collection.duration_s)
    for command in sorted({gap.what for gap in collection.not_visible}):
        out.gauge("redisguard_not_visible", "1 per command the server denied or lacks (its families are absent)",
                  1.0, command=command)
    yield from out.metrics.values()
