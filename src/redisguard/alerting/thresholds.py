"""Every number the alert rules compare against, overridable from ``redisguard alerts`` options."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AlertThresholds", "validate_selector"]

_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\\n]|\\.)*"\s*'
_SELECTOR = re.compile(rf"^{_MATCHER}(?:,{_MATCHER})*,?\s*$")


@dataclass(frozen=True)
class AlertThresholds:
    memory_warning: float = 0.80            # (used - not counted) / maxmemory
    memory_critical: float = 0.90
    forecast_warning_s: float = 6 * 3600.0  # forecast time to maxmemory
    forecast_critical_s: float = 3600.0
    fragmentation_ratio: float = 1.5
    fragmentation_min_bytes: int = 100 * 1024 * 1024
    stream_lag: int = 100_000               # entries a group has not read
    stream_pending: int = 10_000            # entries delivered and not acknowledged
    stream_memory_share: float = 0.25       # a stream with unread or unacknowledged entries holding this
                                            # share of maxmemory (4 KB events fill a limit in few entries)
    pending_age_s: float = 3600.0           # oldest pending entry
    dead_consumer_idle_s: float = 1800.0    # a consumer holding pending entries idle this long is dead
    clients_share: float = 0.80             # connected_clients / maxclients
    noeviction_selector: str = ""           # label matchers of instances meant never to evict (empty: none)

    def problems(self) -> list[str]:
        """What is wrong with these values, one line each (empty when they are usable)."""
        out = []
        if not 0 < self.memory_warning < self.memory_critical <= 1:
            out.append("memory thresholds must satisfy 0 < --memory-warning < --memory-critical <= 1")
        if not 0 < self.forecast_critical_s < self.forecast_warning_s:
            out.append("forecast horizons must satisfy 0 < --forecast-critical < --forecast-warning")
        if self.fragmentation_ratio <= 1:
            out.append("--fragmentation-ratio must be above 1")
        if not 0 < self.clients_share <= 1:
            out.append("--clients-share must be in (0, 1]")
        if not 0 < self.stream_memory_share <= 1:
            out.append("--stream-memory-share must be in (0, 1]")
        for name in ("fragmentation_min_bytes", "stream_lag", "stream_pending", "pending_age_s",
                     "dead_consumer_idle_s"):
            if getattr(self, name) < 0:
                out.append(f"--{name.removesuffix('_s').replace('_', '-')} must not be negative")
        if self.noeviction_selector and not validate_selector(self.noeviction_selector):
            out.append('--noeviction-selector must be PromQL label matchers, e.g. job="redis-queues"')
        return out


def validate_selector(text: str) -> bool:
    """True for a comma-separated list of PromQL label matchers (``name="value"``, ``=~``, ``!=``, ``!~``)."""
    return bool(_SELECTOR.match(text))
