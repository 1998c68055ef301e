"""How an evidence value reads: byte counts in units (with the exact number), shares as percentages."""

from __future__ import annotations

from redisguard.units import fmt_bytes

__all__ = ["format_evidence"]

_BYTE_NAMES = ("memory", "bytes", "_size", "maxmemory", "backlog", "buffer", "omem", "cow", "headroom",
               "mem_clients", "used_memory_scripts", "used_memory_lua")
_SHARE_NAMES = ("share", "ratio")


def format_evidence(name: str, value: object) -> str:
    lowered = name.lower()
    if isinstance(value, int) and not isinstance(value, bool):
        if any(part in lowered for part in _BYTE_NAMES) and "ratio" not in lowered and abs(value) >= 1024:
            return f"{fmt_bytes(value)} ({value})"
        return str(value)
    if isinstance(value, float) and "share" in lowered:
        return f"{value:.1%}"
    return str(value)
