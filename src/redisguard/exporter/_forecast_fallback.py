"""Stand-in for :mod:`redisguard.forecast` (written on the ``alerts`` branch) until it reaches main.

Same names and contract as the agreed interface; :mod:`redisguard.exporter.forecasting` picks the real
module whenever it is installed. Robust slope: Theil-Sen over the per-window lows of the samples (the
sawtooth of expiry and eviction does not pull it), a restart (a drop to under a fifth) starts a new series.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Forecast", "History", "counted_memory", "forecast"]

MIN_SAMPLES = 6
WINDOWS = 12


@dataclass(frozen=True)
class Forecast:
    rate_bytes_per_second: float
    seconds_to_limit: float
    seconds_lower: float
    seconds_upper: float
    limit_bytes: int
    current_bytes: int
    consequence: str
    samples_used: int


def counted_memory(used_memory: int, mem_not_counted_for_evict: int) -> int:
    return max(0, used_memory - mem_not_counted_for_evict)


def _lows(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    start, end = points[0][0], points[-1][0]
    width = (end - start) / WINDOWS or 1.0
    buckets: dict[int, tuple[float, int]] = {}
    for t, value in points:
        index = min(WINDOWS - 1, int((t - start) / width))
        if index not in buckets or value < buckets[index][1]:
            buckets[index] = (t, value)
    return [buckets[index] for index in sorted(buckets)]


def forecast(samples: Sequence[tuple[float, int]], limit_bytes: int | None, policy: str | None) -> Forecast | None:
    if not limit_bytes:
        return None
    points = sorted(samples)
    for index in range(len(points) - 1, 0, -1):
        if points[index][1] < points[index - 1][1] / 5:
            points = points[index:]
            break
    if len(points) < MIN_SAMPLES or points[-1][0] - points[0][0] <= 0:
        return None
    lows = _lows(points)
    if len(lows) < 3:
        return None
    slopes = sorted((b[1] - a[1]) / (b[0] - a[0]) for i, a in enumerate(lows) for b in lows[i + 1:] if b[0] > a[0])
    rate = statistics.median(slopes)
    if rate <= 0:
        return None
    quartiles = statistics.quantiles(slopes, n=4) if len(slopes) >= 4 else [slopes[0], rate, slopes[-1]]
    fast = max(quartiles[2], rate)
    slow = min(quartiles[0], rate)
    current = points[-1][1]
    remaining = max(0, limit_bytes - current)
    estimate = remaining / rate
    return Forecast(
        rate_bytes_per_second=rate, seconds_to_limit=estimate, seconds_lower=remaining / fast,
        seconds_upper=remaining / slow if slow > 0 else float("inf"), limit_bytes=limit_bytes,
        current_bytes=current, consequence="write errors" if (policy or "noeviction") == "noeviction" else "evictions",
        samples_used=len(points),
    )


class History:
    def __init__(self, window_seconds: float = 3600.0, max_samples: int = 4096) -> None:
        self._window = window_seconds
        self._samples: deque[tuple[float, int]] = deque(maxlen=max_samples)

    def add(self, t: float, counted_bytes: int) -> None:
        self._samples.append((t, counted_bytes))
        while self._samples and self._samples[0][0] < t - self._window:
            self._samples.popleft()

    def samples(self) -> list[tuple[float, int]]:
        return list(self._samples)
