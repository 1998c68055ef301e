"""Pre-built RESP commands written on a connection borrowed from a redis-py asyncio client's pool.

redis-py packs every argument of every command in Python (``pack_command``, an encoder call per
argument) and runs a response callback on every reply: at 500 XADDs or a 500-id XACK per batch, that
was most of the Producer's and the Consumer's own time. Here the caller builds the commands as bytes
once; redis-py still does the connecting (TLS, AUTH, timeouts), the reply parsing (hiredis) and the
error mapping, and its retry policy still covers connection errors, re-sending the whole payload as its
pipeline does. Standalone clients only: on Redis Cluster the callers keep redis-py's cluster pipeline,
which routes each command to its slot's node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import redis.asyncio
import redis.exceptions as rex
from redis.asyncio.connection import Connection

if TYPE_CHECKING:  # the wire layer imports no engine at run time
    from redisguard.streams._clients import AsyncClient

__all__ = ["execute_packed", "packable"]




def packable(client: AsyncClient) -> bool:
    """Whether :func:`execute_packed` may borrow ``client``'s connections (a standalone pooled client)."""
    return isinstance(client, redis.asyncio.Redis) and not client.single_connection_client


async def execute_packed(client: redis.asyncio.Redis, payload: bytes, count: int) -> list[Any]:
    """Write ``payload`` (``count`` commands) in one go and read ``count`` replies, in order; an error
    reply comes back as its exception (a ``redis.ResponseError``), not raised, like a pipeline's
    ``execute(raise_on_error=False)``. Replies are not decoded."""
    pool = client.connection_pool
    connection = cast(Connection, await pool.get_connection())
    try:
        return cast("list[Any]", await connection.retry.call_with_retry(
            lambda: _send_and_read(connection, payload, count), lambda _error: connection.disconnect()))
    finally:
        await pool.release(connection)


async def _send_and_read(connection: Connection, payload: bytes, count: int) -> list[Any]:
    # redis-py disconnects a connection whose send or read fails or is interrupted (cancellation too),
    # so a connection is never handed back to the pool with replies still unread on it.
    await connection.send_packed_command(payload)
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(await connection.read_response(disable_decoding=True))
        except rex.ResponseError as exc:  # an error reply: read the rest before anyone judges
            replies.append(exc)
    return replies
