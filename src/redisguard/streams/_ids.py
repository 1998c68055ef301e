"""Stream ids compared as numbers ``(ms, seq)``: as strings, "10-0" sorts before "9-0"."""

from __future__ import annotations

__all__ = ["MAX_PART", "StreamId", "format_id", "next_id", "parse_id"]

StreamId = tuple[int, int]
MAX_PART = 2**64 - 1  # both parts of an id are unsigned 64-bit integers (exact here: Python ints)


def parse_id(value: str | bytes) -> StreamId:
    """``"<ms>-<seq>"`` (or ``"<ms>"``: seq 0) as exact integers; ValueError for anything else, including a
    part above 2^64 - 1, a sign, spaces or other digits than ASCII 0-9."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    ms, dash, seq = text.partition("-")
    if not ms.isascii() or not ms.isdigit() or (dash and (not seq.isascii() or not seq.isdigit())):
        raise ValueError(f"not a stream id: {text!r} (expected <ms>-<seq>, two non-negative integers)")
    parsed = int(ms), int(seq or 0)
    if parsed[0] > MAX_PART or parsed[1] > MAX_PART:
        raise ValueError(f"not a stream id: {text!r} (each part is at most {MAX_PART})")
    return parsed


def next_id(value: StreamId) -> StreamId:
    """The smallest id after ``value`` (the largest id has none: itself, which keeps it, the safe side)."""
    ms, seq = value
    if seq < MAX_PART:
        return ms, seq + 1
    return (ms + 1, 0) if ms < MAX_PART else value


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"

