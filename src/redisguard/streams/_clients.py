"""Make an asyncio client from a URL (standalone or cluster, detected), or use the caller's client."""

from __future__ import annotations

from dataclasses import replace

import redis.asyncio
import redis.exceptions as rex
from redis.asyncio.cluster import RedisCluster

from redisguard.connect import ConnectionOptions, async_client, async_cluster_client
from redisguard.connect.client import no_such_database, refused_setup_command

__all__ = ["AsyncClient", "resolve_client"]

AsyncClient = redis.asyncio.Redis | RedisCluster


async def resolve_client(target: str | AsyncClient) -> tuple[AsyncClient, bool]:
    """(client, owned): a client we created from a URL is ours to close."""
    if not isinstance(target, str):
        return target, False
    return await resolve_client_options(ConnectionOptions.build(target))


async def resolve_client_options(options: ConnectionOptions) -> tuple[AsyncClient, bool]:
    """A client for ``options``: standalone or cluster, detected with INFO cluster."""
    client = async_client(options)
    try:
        info = await client.info("cluster")
    except rex.ResponseError as exc:
        await client.aclose()
        missing = no_such_database(options, exc)
        if missing is not None:
            raise missing from None
        if refused_setup_command(exc) == "CLIENT SETNAME" and options.client_name:
            # CLIENT SETNAME denied by ACL or renamed: connect unnamed, as the sync clients do.
            return await resolve_client_options(replace(options, client_name=""))
        if not isinstance(exc, rex.NoPermissionError):
            raise
        return async_client(options), True  # INFO denied: taken as standalone (a cluster answers MOVED)
    if int(info.get("cluster_enabled", 0)) != 1:
        return client, True
    await client.aclose()
    return async_cluster_client(options), True
