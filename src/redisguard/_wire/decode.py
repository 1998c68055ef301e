"""One decode helper for what the server sends back as bytes (names, ids, values)."""

from __future__ import annotations

from typing import Any

from redisguard.keynames import to_text

__all__ = ["optional_int", "text"]


def text(value: Any) -> str:
    """``bytes`` in the lossless text form of :mod:`redisguard.keynames` (non-UTF-8 bytes kept as lone
    surrogates, never an exception and never a replacement character); anything else as ``str()``."""
    return to_text(value) if isinstance(value, bytes) else str(value)


def optional_int(value: Any) -> int | None:
    """An integer field of a reply (``entries-read``, ``lag``, ...), or None where it is absent or not a number."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
