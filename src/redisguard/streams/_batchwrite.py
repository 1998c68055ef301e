"""Write a batch of pre-built commands and read the replies one by one, so that a connection lost in the
middle of a batch says which replies arrived (those commands are settled) and which did not (their
outcome is unknown: written again, each may then be stored twice).

Unlike :func:`redisguard._wire.streams.execute_packed`, nothing here is retried: the caller (the Producer's
writer) owns the retry loop, with its own backoff, for as long as it takes.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, cast

import redis.asyncio
import redis.exceptions as rex
from redis.asyncio.connection import Connection

__all__ = ["RETRYABLE", "BatchInterrupted", "transient", "write_batch"]

# What a restart, a failover or a network cut looks like from the client: the connection is refused or
# reset, a reply never comes, or the restarted server is still loading its data (BusyLoadingError is a
# ConnectionError). OOM, NOPERM, WRONGTYPE ... are answers, never retried as a connection fault.
RETRYABLE: tuple[type[BaseException], ...] = (rex.ConnectionError, rex.TimeoutError, OSError)


def transient(fault: BaseException) -> bool:
    """A fault that goes away by itself (retry after a backoff); a wrong password is not one, although
    redis-py makes AuthenticationError a ConnectionError."""
    return isinstance(fault, RETRYABLE) and not isinstance(fault, rex.AuthenticationError)


class BatchInterrupted(Exception):
    """The connection failed during a batch: ``replies`` holds the replies of the first commands, in order;
    ``unsettled`` commands after them were sent (or partly sent) but their outcome is unknown."""

    def __init__(self, replies: list[Any], unsettled: int, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.replies = replies
        self.unsettled = unsettled
        self.cause = cause


async def write_batch(client: redis.asyncio.Redis, payload: bytes, count: int) -> list[Any]:
    """Write ``payload`` (``count`` commands) and read ``count`` replies; an error reply comes back as its
    exception. A connection fault raises :class:`BatchInterrupted` (nothing retried)."""
    pool = client.connection_pool
    try:
        connection = cast(Connection, await pool.get_connection())
    except RETRYABLE as exc:
        raise BatchInterrupted([], 0, exc) from exc  # not connected: nothing was sent
    replies: list[Any] = []
    read = connection.read_response
    try:
        # One timeout for the whole batch (the connection's socket timeout), not one per reply: a timeout
        # context per reply was half of the Producer's time per event.
        async with asyncio.timeout(connection.socket_timeout):
            await connection.send_packed_command(payload)
            for _ in range(count):
                try:
                    replies.append(await read(disable_decoding=True, timeout=math.inf))
                except rex.BusyLoadingError:
                    raise  # a restarted server still loading: this command was refused, the rest are unknown
                except rex.ResponseError as exc:
                    replies.append(exc)
    except RETRYABLE as exc:  # asyncio's TimeoutError is an OSError
        await connection.disconnect(nowait=True)  # never hand back a connection with replies unread
        refused = 1 if isinstance(exc, rex.BusyLoadingError) else 0
        raise BatchInterrupted(replies, count - len(replies) - refused, exc) from exc
    finally:
        await pool.release(connection)
    return replies
