"""Server refusals: as redis-py exceptions, and what they mean for a caller that degrades."""

from __future__ import annotations

from typing import Any

import hiredis
import redis.exceptions as rex

__all__ = ["DENIED", "UNAVAILABLE", "as_redis_error", "reason_for_text", "refused_command"]

DENIED = "denied by ACL (NOPERM)"
UNAVAILABLE = "command not available (renamed, disabled or not in this Redis version)"


def as_redis_error(reply: Any) -> rex.RedisError:
    """A ``hiredis.ReplyError`` (or its text) as the redis-py exception it stands for (NOPERM:
    ``NoPermissionError``)."""
    text = str(reply)
    return rex.NoPermissionError(text) if text.startswith("NOPERM") else rex.ResponseError(text)


def reason_for_text(text: str) -> str | None:
    """Why a command was refused, when the refusal is about the command (ACL, renamed, missing); None
    for anything else (a key outside the user's patterns, WRONGTYPE, OOM ...)."""
    lowered = text.lower()
    if lowered.startswith("noperm") or "no permissions" in lowered:
        if "to run" in lowered or ("command" in lowered and "access" not in lowered):
            return DENIED
        return None
    if "unknown command" in lowered or "unknown subcommand" in lowered:
        return UNAVAILABLE
    return None


def refused_command(reply: Any) -> str | None:
    """:func:`reason_for_text` of a hiredis error reply; None for any other reply."""
    if not isinstance(reply, hiredis.ReplyError):
        return None
    return reason_for_text(str(reply))
