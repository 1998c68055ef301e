"""History rules: what only shows across snapshots of the same deployment over time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from redisguard.forecast import counted_memory, forecast
from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import history_rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot, Snapshot
from redisguard.units import fmt_bytes, fmt_duration_ms

__all__ = ["memory_forecast"]


def _counted(node: NodeSnapshot) -> int:
    return counted_memory(node.used_memory, node.info_int("mem_not_counted_for_evict"))


@history_rule
def memory_forecast(history: Sequence[Snapshot], t: Thresholds) -> Iterator[Finding]:
    """Time until each node reaches maxmemory, from its counted memory across the snapshots (Theil-Sen)."""
    latest: dict[str, NodeSnapshot] = {}
    samples: dict[str, list[tuple[float, int]]] = {}
    for snapshot in history:
        for node in snapshot.nodes:
            samples.setdefault(node.address, []).append((snapshot.taken_at, _counted(node)))
            latest[node.address] = node
    for address, node in latest.items():
        result = forecast(samples[address], node.maxmemory, node.policy)
        if result is None or result.seconds_to_limit > t.forecast_warning_s:
            continue
        eta = fmt_duration_ms(int(result.seconds_to_limit * 1000))
        yield Finding(
            id="memory.forecast-full",
            severity=Severity.CRITICAL if result.seconds_to_limit <= t.forecast_critical_s else Severity.WARNING,
            node=address,
            title=f"memory grows {fmt_bytes(int(result.rate_bytes_per_second * 3600))}/h: maxmemory in about "
                  f"{eta}, then {result.consequence}",
            evidence={"rate_bytes_per_hour": int(result.rate_bytes_per_second * 3600),
                      "seconds_to_limit": int(result.seconds_to_limit),
                      "seconds_lower": int(result.seconds_lower), "seconds_upper": int(result.seconds_upper),
                      "counted_memory": result.current_bytes, "maxmemory": result.limit_bytes,
                      "samples_used": result.samples_used},
            bytes_at_stake=max(0, result.limit_bytes - result.current_bytes),
            fixes=[Fix.redisguard("keys", node=address, risk="read-only: finds which key patterns grow"),
                   Fix.manual("find what grows (streams without trimming, keys without TTL) before raising "
                              "maxmemory", "none")],
            detail="Forecast from per-cycle lows with a 95 % interval (redisguard.forecast); the bounds are in "
                   "the evidence.",
        )
