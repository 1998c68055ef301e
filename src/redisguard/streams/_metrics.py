"""Producer/consumer counters as a dict, and as Prometheus metrics when prometheus_client is installed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ProducerMetrics", "export_prometheus"]


@dataclass
class ProducerMetrics:
    events_sent: int = 0            # accepted by send()
    events_written: int = 0         # stored in Redis
    bytes_written: int = 0
    batches_written: int = 0
    events_in_flight: int = 0       # buffered or being written
    bytes_in_flight: int = 0
    max_events_in_flight: int = 0
    max_bytes_in_flight: int = 0
    oom_replies: int = 0            # batches Redis refused with OOM (each retried, never dropped)
    connection_errors: int = 0      # writes or gate reads that failed for a connection fault (then retried)
    possible_duplicates: int = 0    # events written again after their first write's reply was lost
    events_not_stored: int = 0      # accepted by send() but not stored when close() gave up
    paused_seconds: dict[str, float] = field(
        default_factory=lambda: {"memory": 0.0, "backlog": 0.0, "oom": 0.0, "disconnected": 0.0})
    send_wait_seconds: float = 0.0  # time callers of send() waited for buffer room

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_prometheus(metrics: ProducerMetrics, registry: Any = None, prefix: str = "redisguard_producer") -> Any:
    """A prometheus_client Collector reading ``metrics`` at each scrape (fresh families, no state).

    ``registry`` defaults to a new private CollectorRegistry so importing never touches the global one.
    """
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class _Collector:
        def describe(self) -> list[Any]:
            return []

        def collect(self) -> Any:
            for name in ("events_written", "bytes_written", "batches_written", "oom_replies", "connection_errors",
                         "possible_duplicates", "events_not_stored"):
                yield CounterMetricFamily(f"{prefix}_{name}", name.replace("_", " "), value=getattr(metrics, name))
            for name in ("events_in_flight", "bytes_in_flight"):
                yield GaugeMetricFamily(f"{prefix}_{name}", name.replace("_", " "), value=getattr(metrics, name))
            paused = CounterMetricFamily(f"{prefix}_paused_seconds", "time paused by a gate", labels=["reason"])
            for reason, seconds in metrics.paused_seconds.items():
                paused.add_metric([reason], seconds)
            yield paused

    target = registry if registry is not None else CollectorRegistry()
    target.register(_Collector())
    return target
