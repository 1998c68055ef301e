"""Make an asyncio client from a URL (standalone or cluster, detected), or use the caller's client."""

from __future__ import annotations

import redis.asyncio
from redis.asyncio.cluster import RedisCluster

from redisguard.connect import ConnectionOptions, async_client, async_cluster_client

__all__ = ["AsyncClient", "resolve_client"]

AsyncClient = redis.asyncio.Redis | RedisCluster


async def resolve_client(target: str | AsyncClient) -> tuple[AsyncClient, bool]:
    """(client, owned): a client we created from a URL is ours to close."""
    if not isinstance(target, str):
        return target, False
    options = ConnectionOptions.build(target)
    client = async_client(options)
    info = await client.info("cluster")
    if int(info.get("cluster_enabled", 0)) != 1:
        return client, True
    await client.aclose()
    return async_cluster_client(options), True
