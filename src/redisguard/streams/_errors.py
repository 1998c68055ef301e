"""Errors the streams library raises for its callers to act on."""

from __future__ import annotations

from redisguard.errors import RedisguardError, UsageError

__all__ = ["EventsNotStoredError", "NotAStreamError"]


class NotAStreamError(UsageError):
    """The key does not exist or holds another type than a stream (exit 2)."""


class EventsNotStoredError(RedisguardError, RuntimeError):
    """``Producer.close()`` gave up with events that ``send()`` had accepted still not stored.

    ``count`` is how many; ``__cause__`` is the last error seen (Redis unreachable, or a reply that stopped
    the writer). Nothing else is ever dropped: every other accepted event was stored.
    """

    def __init__(self, count: int, reason: str) -> None:
        super().__init__(f"{count} events accepted by send() were not stored ({reason})", kind="not-stored")
        self.count = count
