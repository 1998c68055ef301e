"""Server refusals: as redis-py exceptions, and what they mean for a caller that degrades."""

from __future__ import annotations

import re
from typing import Any, Literal

import hiredis
import redis.exceptions as rex

__all__ = ["DENIED", "UNAVAILABLE", "as_redis_error", "named_command", "reason_for_text", "refusal_kind",
           "refused_command"]

DENIED = "denied by ACL (NOPERM)"
UNAVAILABLE = "command not available (renamed, disabled or not in this Redis version)"
# NOPERM: "User <name> has no permissions to run the 'client|setname' command" (7.0: "this user has ...";
# 6.2 names only the command: "... the 'client' command or its subcommand").
_DENIED_COMMAND = re.compile(r"permissions to run the '([a-z0-9|_.-]{1,64})' command", re.IGNORECASE)
# "unknown command 'CLIENT', with args beginning with: 'SETNAME' ..." (6.2 quotes with backticks)
_UNKNOWN_COMMAND = re.compile(r"unknown command ['`]([a-z0-9|_.-]{1,64})['`]", re.IGNORECASE)


def as_redis_error(reply: Any) -> rex.RedisError:
    """A ``hiredis.ReplyError`` (or its text) as the redis-py exception it stands for (NOPERM:
    ``NoPermissionError``)."""
    text = str(reply)
    return rex.NoPermissionError(text) if text.startswith("NOPERM") else rex.ResponseError(text)


def refusal_kind(refused: BaseException | str) -> Literal["denied", "unavailable"] | None:
    """The one reading of a refusal: ``denied`` (NOPERM: the ACL refused the command or its keys),
    ``unavailable`` (renamed, disabled, or not in this server version), or None (any other error)."""
    text = str(refused)
    lowered = text.lower()
    if isinstance(refused, rex.NoPermissionError) or "noperm" in lowered or "no permissions" in lowered:
        return "denied"
    if "unknown command" in lowered or "unknown subcommand" in lowered:
        return "unavailable"
    return None


def named_command(refused: BaseException | str) -> str | None:
    """The command a refusal names, lowercase (``client|setname``, ``client``, ``select``), or None.

    Read only from the phrase around it, never from the rest of the text: that also holds the user's name
    (which has no spaces, so it cannot hold the phrase) and the command's arguments."""
    text = str(refused)
    match = _DENIED_COMMAND.search(text) or _UNKNOWN_COMMAND.search(text)
    return match.group(1).lower() if match else None


def reason_for_text(text: str) -> str | None:
    """Why a command was refused, when the refusal is about the command (ACL, renamed, missing); None
    for anything else (a key outside the user's patterns, WRONGTYPE, OOM ...)."""
    kind = refusal_kind(text)
    if kind == "denied":
        lowered = text.lower()
        return DENIED if "to run" in lowered or ("command" in lowered and "access" not in lowered) else None
    return UNAVAILABLE if kind == "unavailable" else None


def refused_command(reply: Any) -> str | None:
    """:func:`reason_for_text` of a hiredis error reply; None for any other reply."""
    if not isinstance(reply, hiredis.ReplyError):
        return None
    return reason_for_text(str(reply))
