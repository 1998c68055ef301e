"""Open verified connections: sync clients for diagnosis, asyncio clients for the streams library.

Timeouts and retries are always set explicitly (redis-py changed its defaults in 8.0). Only a lost or
refused connection is retried; a timeout is one timeout (retrying it would make ``--timeout 5`` wait
15 s), and an OOM or NOPERM reply is an answer, never retried.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import redis
import redis.asyncio
import redis.exceptions as rex
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from redisguard._wire.errors import named_command, refusal_kind
from redisguard.connect.errors import ConnectError, describe_connect_failure
from redisguard.connect.options import ConnectionOptions

__all__ = ["async_client", "async_cluster_client", "cluster_client", "current_role", "no_such_database", "open_client",
           "sync_client", "verified"]

RETRYABLE: tuple[type[rex.RedisError], ...] = (rex.ConnectionError,)


def _retry(options: ConnectionOptions) -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), options.retries, supported_errors=RETRYABLE)


def _async_retry(options: ConnectionOptions) -> Any:
    """:func:`_retry` for the asyncio clients (redis-py has a separate Retry class there)."""
    from redis.asyncio.retry import Retry as AsyncRetry

    return AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), options.retries, supported_errors=RETRYABLE)


def sync_client(options: ConnectionOptions, **extra: Any) -> redis.Redis:
    """A sync client (not yet verified: see :func:`open_client`)."""
    return redis.Redis(retry=_retry(options), **{**options.redis_kwargs(), **extra})


def async_client(options: ConnectionOptions, **extra: Any) -> redis.asyncio.Redis:
    """An asyncio client with the same settings (used by :mod:`redisguard.streams`)."""
    return redis.asyncio.Redis(retry=_async_retry(options), **{**options.redis_kwargs(), **extra})


def cluster_client(options: ConnectionOptions, **extra: Any) -> redis.RedisCluster:
    """A Redis Cluster client with the same explicit timeouts and retry policy as :func:`sync_client`."""
    return redis.RedisCluster(retry=_retry(options), **{**options.cluster_kwargs(), **extra})


def async_cluster_client(options: ConnectionOptions, **extra: Any) -> redis.asyncio.RedisCluster:
    """:func:`cluster_client` for asyncio (used by :mod:`redisguard.streams`)."""
    return redis.asyncio.RedisCluster(retry=_async_retry(options), **{**options.cluster_kwargs(), **extra})


def no_such_database(options: ConnectionOptions, exc: BaseException) -> ConnectError | None:
    """The one-line error for a ``SELECT N`` past the server's ``databases`` (None for any other error): a
    ConnectError, like a SELECT the ACL refuses, which every caller (exporter, watch, the streams library)
    handles."""
    if "db index is out of range" not in str(exc).lower():
        return None
    db = options.redis_kwargs().get("db", 0)
    return ConnectError(f"{options.display}: this server has no database {db} (DB index is out of range): "
                        "use one of its databases (/0 is the first)", kind="refused")


def verified(client: redis.Redis, options: ConnectionOptions) -> redis.Redis:
    """PING through ``client``; on failure close it and raise a one-line :class:`ConnectError`.

    A PING that the server refuses (denied by ACL, renamed) still proves the connection and AUTH worked:
    the client is returned. Refusals of other set-up commands are sorted out by :func:`open_client`.
    """
    try:
        reply = client.ping()
    except ConnectError:
        client.close()
        raise
    except rex.ResponseError as exc:
        missing = no_such_database(options, exc)
        if missing is not None:
            client.close()
            raise missing from None
        if refused_setup_command(exc) is None:
            return client  # PING itself is denied or renamed; the server answered, AUTH passed
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


def refused_setup_command(exc: rex.ResponseError) -> str | None:
    """Which connection set-up command the server refused (redis-py sends them before PING), or None.

    Read from the command the error names, never from the whole text: it also holds the user's name
    (a user called ``nosetname`` or ``selector`` whose PING was denied is not a refused set-up command)."""
    command = named_command(exc)
    if command in ("client|setname", "client"):
        return "CLIENT SETNAME"
    if command == "select":
        return "SELECT"
    return None


def current_role(client: redis.Redis) -> Literal["primary", "replica"] | None:
    """The node's role now (ROLE, else INFO replication), or None when the user may run neither."""
    try:
        role = client.execute_command("ROLE")
        first = role[0].decode() if isinstance(role[0], bytes) else str(role[0])
    except rex.ResponseError:
        try:
            first = str(client.info("replication").get("role", ""))
        except rex.ResponseError:
            return None
    return "primary" if first == "master" else "replica" if first == "slave" else None


def _is_primary(client: redis.Redis) -> bool:
    """Not known to be a replica: when the user may run neither ROLE nor INFO, assume a primary (a replica
    refuses writes with READONLY anyway, which the command then reports)."""
    return current_role(client) != "replica"


def open_client(options: ConnectionOptions, *, need_primary: bool = False, **extra: Any) -> redis.Redis:
    """A connected, verified sync client that needs nothing beyond AUTH from the server.

    The connection names itself (CLIENT SETNAME) where the server allows it; where that is denied by ACL
    or renamed, it connects unnamed. SELECT (a URL's ``/N`` other than 0) is the one set-up command that
    cannot be skipped: refused, it is a one-line error naming the ACL rule. With ``need_primary`` a
    replica is refused with a clear error (remedies and writers need the primary).
    """
    try:
        client = verified(sync_client(options, **extra), options)
    except rex.ResponseError as exc:
        refused = refused_setup_command(exc)
        if refused == "CLIENT SETNAME" and options.client_name:
            return open_client(replace(options, client_name=""), need_primary=need_primary, **extra)
        db = options.redis_kwargs().get("db", 0)
        hint = f"SELECT {db} (add +select to the user's ACL, or use /0)" if refused == "SELECT" else str(refused)
        raise ConnectError(f"{options.display}: the server refused {hint} while connecting "
                           f"({reason_for_refusal(exc)})", kind="noperm") from None
    if need_primary and not _is_primary(client):
        client.close()
        raise ConnectError(
            f"{options.display} is a replica; this command needs the primary (connect to it instead)",
            kind="replica",
        )
    return client


def reason_for_refusal(exc: rex.ResponseError) -> str:
    """``denied by ACL`` or ``renamed or unknown``: never the server's text in full (it echoes arguments)."""
    kind = refusal_kind(exc)
    if kind == "denied":
        return "denied by ACL"
    if kind == "unavailable":
        return "renamed or unknown command"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
