"""Human-readable numbers for reports."""

from __future__ import annotations

__all__ = ["fmt_bytes", "fmt_duration_ms", "parse_bytes"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def fmt_duration_ms(value: float | None) -> str:
    if value is None:
        return "?"
    seconds = value / 1000
    if seconds < 1:
        return f"{value:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


_SUFFIXES = {"b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def parse_bytes(text: str) -> int:
    """Redis-style sizes: ``100mb`` (1024-based), ``1g`` (1000-based), ``12345``."""
    cleaned = text.strip().lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if cleaned.endswith(suffix) and cleaned[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return int(float(cleaned[: -len(suffix)]) * _SUFFIXES[suffix])
    return int(cleaned)
