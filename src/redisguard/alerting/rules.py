"""The alert rules over the exporter's metrics (names from :mod:`redisguard.metric_names`). Pure.

Memory is compared with maxmemory as Redis compares it (``used_memory - mem_not_counted_for_evict``,
``evict.c``), and only where maxmemory is set (``> 0``: never a division by zero, never +Inf). Series are
matched on ``(instance, node)``: ``node`` names the primary on a cluster and is empty elsewhere.
Ranged alerts (warning below critical) do not fire together, so no inhibition rule is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redisguard import metric_names as m
from redisguard.alerting import templates as tpl
from redisguard.alerting.thresholds import AlertThresholds

__all__ = ["Alert", "build_alerts"]

ON = "on(instance, node)"
_EVICTING = f'{m.INSTANCE_INFO.name}{{maxmemory_policy=~"allkeys-.+|volatile-.+"}}'
_NOEVICTION = f'{m.INSTANCE_INFO.name}{{maxmemory_policy="noeviction"}}'


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str          # "warning" or "critical"
    expr: str
    for_: str
    summary: str
    runbook: str           # the redisguard subcommand to run next: "doctor" or "streams"
    labels: dict[str, str] = field(default_factory=dict)


def _num(value: float) -> str:
    """A PromQL number literal: integers without a trailing .0, others as repr (exact)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def counted_ratio() -> str:
    """What Redis counts against maxmemory, over maxmemory; absent when maxmemory is 0."""
    used = m.MEMORY_USED.name
    return (f"({used} - ({m.MEMORY_NOT_COUNTED.name} or {used} * 0))"
            f" / ({m.MEMORY_MAX.name} > 0)")


def _memory(t: AlertThresholds) -> list[Alert]:
    ratio = counted_ratio()
    what = f"{tpl.WHERE} uses {tpl.percent()} of maxmemory (used_memory - mem_not_counted_for_evict)"
    return [
        Alert("RedisMemoryHigh", "warning",
              f"{ratio} >= {_num(t.memory_warning)} < {_num(t.memory_critical)}", "5m", what, "doctor"),
        Alert("RedisMemoryCritical", "critical", f"{ratio} >= {_num(t.memory_critical)}", "2m", what, "doctor"),
    ]


def _forecast(t: AlertThresholds) -> list[Alert]:
    """The forecast must hold for 15 / 10 min: in its first sawtooth cycle an exporter sees only a rising
    tooth, which no estimator can tell from growth (it forecasts until the first drop)."""
    estimate = f'{m.SECONDS_TO_LIMIT.name}{{bound="estimate"}}'
    soon = f"{estimate} < {_num(t.forecast_warning_s)} >= {_num(t.forecast_critical_s)}"
    imminent = f"{estimate} < {_num(t.forecast_critical_s)}"
    out = []
    for consequence, join in (("evictions", f"and {ON} {_EVICTING}"), ("write errors", f"unless {ON} {_EVICTING}")):
        text = (f"{tpl.WHERE} reaches maxmemory in {tpl.duration()} at its current growth rate, "
                f"then {consequence}")
        out.append(Alert("RedisMemoryFullSoon", "warning",
                         f"{soon} {join}", "15m", text, "doctor", {"consequence": consequence}))
        severity = "critical" if consequence == "write errors" else "warning"
        out.append(Alert("RedisMemoryFullImminent", severity,
                         f"{imminent} {join}", "10m", text, "doctor", {"consequence": consequence}))
    return out


def _fragmentation(t: AlertThresholds) -> Alert:
    return Alert(
        "RedisFragmentationHigh", "warning",
        f"{m.FRAGMENTATION_BYTES.name} >= {_num(t.fragmentation_min_bytes)}"
        f" and {ON} {m.FRAGMENTATION_RATIO.name} > {_num(t.fragmentation_ratio)}",
        "15m",
        f"{tpl.WHERE}: {tpl.size()} of RSS is fragmentation, not data "
        f"(ratio above {_num(t.fragmentation_ratio)})",
        "doctor")


def _evictions(t: AlertThresholds) -> list[Alert]:
    evicted = f"increase({m.EVICTED_KEYS.name}[10m]) > 0"
    streams = f"({m.STREAM_LENGTH.name} or {m.STREAM_MEMORY.name})"
    unexpected = f"{evicted} and {ON} {_NOEVICTION}"
    if t.noeviction_selector:   # redis_up may be one series per target even on a cluster: match on instance
        unexpected = f"({unexpected}) or ({evicted} and on(instance) {m.UP.name}{{{t.noeviction_selector}}})"
    return [
        Alert("RedisEvictingStreams", "critical", f"{evicted} and {ON} {streams}", "0m",
              f"{tpl.WHERE} evicted {tpl.integer()} keys in 10 min and holds streams: "
              "an evicted stream is lost whole", "doctor"),
        Alert("RedisEvictionsUnexpected", "critical", unexpected, "0m",
              f"{tpl.WHERE} evicted {tpl.integer()} keys in 10 min although it is meant never to evict "
              "(noeviction)", "doctor"),
    ]


def _streams(t: AlertThresholds) -> list[Alert]:
    where = f"{tpl.WHERE}: {tpl.group_of_stream()}"
    return [
        Alert("RedisStreamLagHigh", "warning", f"{m.STREAM_GROUP_LAG.name} > {_num(t.stream_lag)}", "10m",
              f"{where} has {tpl.integer()} entries not yet read", "streams"),
        Alert("RedisStreamPendingHigh", "warning",
              f"{m.STREAM_GROUP_PENDING.name} > {_num(t.stream_pending)}", "10m",
              f"{where} has {tpl.integer()} entries delivered and not acknowledged", "streams"),
        Alert("RedisStreamMemoryHigh", "warning", _stream_memory(t), "10m",
              f"{tpl.WHERE}: stream {tpl.stream()} holds {tpl.percent()} of maxmemory with entries not yet read "
              "or acknowledged", "streams"),
        Alert("RedisStreamPendingOld", "warning",
              f"{m.STREAM_OLDEST_PENDING_AGE.name} > {_num(t.pending_age_s)}", "5m",
              f"{where}: its oldest unacknowledged entry is {tpl.duration()} old", "streams"),
        Alert("RedisStreamDeadConsumer", "warning", _dead_consumers(t), "5m",
              f"{where}: a consumer holding pending entries has been idle for {tpl.duration()}", "streams"),
    ]


def _stream_memory(t: AlertThresholds) -> str:
    """A backlog by memory, the doctor's rule: few big events fill a limit long before any count alert. A
    stream every group has read and acknowledged is not one (it is retained data); a lag Redis reports as
    unknown is absent, so such a group counts only by its pending entries."""
    by = "instance, node, stream"
    memory = f"max by ({by}) ({m.STREAM_MEMORY.name})"
    limit = f"max by (instance, node) ({m.MEMORY_MAX.name} > 0)"
    unfinished = (f"max by ({by}) ({m.STREAM_GROUP_LAG.name} > 0)"
                  f" or max by ({by}) ({m.STREAM_GROUP_PENDING.name} > 0)")
    return (f"{memory} / {ON} group_left {limit} >= {_num(t.stream_memory_share)}"
            f" and on({by}) ({unfinished})")


def _dead_consumers(t: AlertThresholds) -> str:
    """redisguard's per-group series, or else (redis_exporter, or --consumer-metrics) the per-consumer ones:
    a consumer idle past the threshold that still holds pending entries."""
    idle = _num(t.dead_consumer_idle_s)
    ours = m.STREAM_STALLED_CONSUMER_IDLE.name
    per_consumer = (f"max by (instance, job, node, db, stream, group) ({m.STREAM_CONSUMER_IDLE.name} > {idle}"
                    f" and on(instance, job, node, db, stream, group, consumer)"
                    f" {m.STREAM_CONSUMER_PENDING.name} > 0)")
    return f"{ours} > {idle} or ({per_consumer} unless on(instance, node, stream, group) {ours})"


def _clients(t: AlertThresholds) -> list[Alert]:
    return [
        Alert("RedisRejectedConnections", "critical", f"increase({m.REJECTED_CONNECTIONS.name}[5m]) > 0", "0m",
              f"{tpl.WHERE} refused {tpl.integer()} connections in 5 min (maxclients reached)", "doctor"),
        Alert("RedisClientsNearMax", "warning",
              f"{m.CONNECTED_CLIENTS.name} / (({m.MAX_CLIENTS.name} or {m.CONFIG_MAX_CLIENTS.name}) > 0)"
              f" >= {_num(t.clients_share)}", "5m",
              f"{tpl.WHERE} has {tpl.percent()} of maxclients connected", "doctor"),
    ]


def _health() -> list[Alert]:
    return [
        Alert("RedisLastBgsaveFailed", "critical", f"{m.LAST_BGSAVE_STATUS.name} == 0", "1m",
              f"{tpl.WHERE}: the last background save failed (with stop-writes-on-bgsave-error, writes "
              "are refused)", "doctor"),
        Alert("RedisDown", "critical", f"{m.UP.name} == 0", "1m",
              f"{tpl.WHERE} cannot be reached by the exporter", "doctor"),
        Alert("RedisguardScrapePartial", "warning", f"{m.SCRAPE_PARTIAL.name} > 0", "10m",
              f"{tpl.WHERE}: part of the exporter's scrape is missing (timeout or denied commands)", "doctor"),
    ]


def build_alerts(t: AlertThresholds) -> list[Alert]:
    """Every alert, in the order of the rules file."""
    return [*_memory(t), *_forecast(t), _fragmentation(t), *_evictions(t), *_streams(t), *_clients(t),
            *_health()]
