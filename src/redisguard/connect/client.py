"""Open verified connections: sync clients for diagnosis, asyncio clients for the streams library.

Timeouts and retries are always set explicitly (redis-py changed its defaults in 8.0). Only a lost or
refused connection is retried; a timeout is one timeout (retrying it would make ``--timeout 5`` wait
15 s), and an OOM or NOPERM reply is an answer, never retried.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.exceptions as rex
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from redisguard.connect.errors import ConnectError, describe_connect_failure
from redisguard.connect.options import ConnectionOptions

__all__ = ["async_client", "async_cluster_client", "cluster_client", "open_client", "sync_client", "verified"]

RETRYABLE: tuple[type[rex.RedisError], ...] = (rex.ConnectionError,)


def _retry(options: ConnectionOptions) -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), options.retries, supported_errors=RETRYABLE)


def sync_client(options: ConnectionOptions, **extra: Any) -> redis.Redis:
    """A sync client (not yet verified: see :func:`open_client`)."""
    kwargs = options.redis_kwargs()
    kwargs.update(extra)
    return redis.Redis(retry=_retry(options), **kwargs)


def async_client(options: ConnectionOptions, **extra: Any) -> redis.asyncio.Redis:
    """An asyncio client with the same settings (used by :mod:`redisguard.streams`)."""
    from redis.asyncio.retry import Retry as AsyncRetry

    kwargs = options.redis_kwargs()
    kwargs.update(extra)
    retry = AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), options.retries, supported_errors=RETRYABLE)
    return redis.asyncio.Redis(retry=retry, **kwargs)


def cluster_client(options: ConnectionOptions, **extra: Any) -> redis.RedisCluster:
    """A Redis Cluster client with the same explicit timeouts and retry policy as :func:`sync_client`."""
    kwargs = options.cluster_kwargs()
    kwargs.update(extra)
    return redis.RedisCluster(retry=_retry(options), **kwargs)


def async_cluster_client(options: ConnectionOptions, **extra: Any) -> redis.asyncio.RedisCluster:
    """:func:`cluster_client` for asyncio (used by :mod:`redisguard.streams`)."""
    from redis.asyncio.retry import Retry as AsyncRetry

    kwargs = options.cluster_kwargs()
    kwargs.update(extra)
    retry = AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), options.retries, supported_errors=RETRYABLE)
    return redis.asyncio.RedisCluster(retry=retry, **kwargs)


def verified(client: redis.Redis, options: ConnectionOptions) -> redis.Redis:
    """PING through ``client``; on failure close it and raise a one-line :class:`ConnectError`."""
    try:
        reply = client.ping()
    except ConnectError:
        client.close()
        raise
    except (rex.RedisError, OSError) as exc:
        client.close()
        raise describe_connect_failure(options.display, exc) from None
    if reply is not True:
        client.close()
        raise ConnectError(f"{options.display}: unexpected reply to PING: is this a Redis server?",
                           kind="protocol")
    return client


def open_client(options: ConnectionOptions, *, need_primary: bool = False, **extra: Any) -> redis.Redis:
    """A connected, PING-verified sync client.

    With ``need_primary`` a replica is refused with a clear error (remedies and writers need the primary).
    """
    client = verified(sync_client(options, **extra), options)
    if need_primary:
        try:
            role = client.execute_command("ROLE")
        except rex.NoPermissionError:
            info = client.info("replication")
            role = [info.get("role", "master")]
        first = role[0].decode() if isinstance(role[0], bytes) else str(role[0])
        if first != "master":
            client.close()
            raise ConnectError(
                f"{options.display} is a {first}; this command needs the primary (connect to it instead)",
                kind="replica",
            )
    return client
