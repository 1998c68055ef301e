"""One decode helper for what the server sends back as bytes (names, ids, values)."""

from __future__ import annotations

from typing import Any

from redisguard.keynames import to_text

__all__ = ["text"]


def text(value: Any) -> str:
    """``bytes`` in the lossless text form of :mod:`redisguard.keynames` (non-UTF-8 bytes kept as lone
    surrogates, never an exception and never a replacement character); anything else as ``str()``."""
    return to_text(value) if isinstance(value, bytes) else str(value)
