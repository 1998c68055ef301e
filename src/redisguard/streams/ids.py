"""Stream ids compared as numbers ``(ms, seq)``: as strings, "10-0" sorts before "9-0"."""

from __future__ import annotations

__all__ = ["StreamId", "format_id", "next_id", "parse_id"]

StreamId = tuple[int, int]


def parse_id(value: str | bytes) -> StreamId:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def next_id(value: StreamId) -> StreamId:
    """The smallest id after ``value``."""
    ms, seq = value
    return (ms + 1, 0) if seq >= 2**64 - 1 else (ms, seq + 1)


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"

