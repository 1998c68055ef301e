"""The forecast the exporter and ``watch`` use: :mod:`redisguard.forecast` when it is installed, else the
stand-in with the same interface (:mod:`redisguard.exporter._forecast_fallback`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from redisguard.exporter import _forecast_fallback

__all__ = ["HistoryLike", "counted_memory", "forecast", "new_history"]

try:
    _module: Any = importlib.import_module("redisguard.forecast")
except ModuleNotFoundError:
    _module = _forecast_fallback


class HistoryLike(Protocol):
    def add(self, t: float, counted_bytes: int) -> None: ...

    def samples(self) -> list[tuple[float, int]]: ...


def new_history(window_seconds: float) -> HistoryLike:
    history: HistoryLike = _module.History(window_seconds=window_seconds)
    return history


counted_memory: Callable[[int, int], int] = _module.counted_memory
forecast: Callable[[Sequence[tuple[float, int]], int | None, str | None], Any] = _module.forecast
