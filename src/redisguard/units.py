"""Human-readable numbers for reports, and the one parser of durations every option takes."""

from __future__ import annotations

import re

__all__ = ["fmt_bytes", "fmt_duration_ms", "parse_bytes", "parse_duration"]

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


# Redis's own suffixes (memtoull), and t/tb: a host of 2 TB is --memory 2tb, not 2048gb.
_SUFFIXES = {"b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3, "t": 1000**4,
             "tb": 1024**4}


def parse_bytes(text: str) -> int:
    """Redis-style sizes: ``100mb`` (1024-based), ``1g`` (1000-based), ``12345``."""
    cleaned = text.strip().lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if cleaned.endswith(suffix) and cleaned[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return int(float(cleaned[: -len(suffix)]) * _SUFFIXES[suffix])
    return int(cleaned)


_DURATION_PART = r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)?"
_DURATION = re.compile(rf"^\s*(?:{_DURATION_PART}\s*)+$")
_DURATION_PARTS = re.compile(_DURATION_PART)
_DURATION_SECONDS = {None: 1.0, "": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``500ms``, ``90``/``90s``, ``30m``/``30min``, ``6h``, ``1d``, ``1h30m`` as seconds; ValueError otherwise."""
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration (examples: 500ms, 30s, 2m, 6h, 1h30m)")
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in _DURATION_PARTS.findall(text))
