"""MEMORY STATS and MEMORY DOCTOR."""

from __future__ import annotations

from typing import Any

import redis

from redisguard.collect.gaps import Gaps

__all__ = ["collect_memory_doctor", "collect_memory_stats"]


def _plain(value: Any) -> Any:
    """bytes -> str, recursively, so the result is JSON-serialisable."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(_plain(key)): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def collect_memory_stats(client: redis.Redis, gaps: Gaps) -> dict[str, Any]:
    stats = gaps.run("MEMORY STATS", lambda: client.execute_command("MEMORY STATS"))
    return _plain(stats) if isinstance(stats, dict) else {}


def collect_memory_doctor(client: redis.Redis, gaps: Gaps) -> str | None:
    text = gaps.run("MEMORY DOCTOR", lambda: client.execute_command("MEMORY DOCTOR"))
    if text is None:
        return None
    return str(_plain(text))
