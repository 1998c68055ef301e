"""The server state both alert-rule tests scrape: full under noeviction, near maxclients, a group behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from redisguard.localserver import LocalServer

__all__ = ["alerting_server"]


def alerting_server(make_server: Callable[..., LocalServer]) -> tuple[LocalServer, redis.Redis, list[redis.Redis]]:
    """A server at maxmemory 4mb (noeviction) filled until it refuses writes, with stream ``orders`` whose
    group ``billing`` holds one pending entry, and 9 of its 12 maxclients connected. Returns the server, the
    client that filled it and the 8 others (the caller closes them)."""
    srv = make_server(maxmemory="4mb", maxmemory_policy="noeviction", maxclients=12)
    client: redis.Redis = srv.client()
    client.xadd("orders", {"id": "1"})
    client.xgroup_create("orders", "billing", id="0")
    client.xreadgroup("billing", "worker-1", {"orders": ">"}, count=1)
    index = 0
    try:
        while index < 10_000:
            client.set(f"fill:{index}", b"x" * 10_000)
            index += 1
    except redis.exceptions.OutOfMemoryError:
        pass
    assert index < 10_000, "the server never refused a write: maxmemory was not applied"
    extra: list[Any] = [srv.client() for _ in range(8)]
    for other in extra:
        other.ping()
    return srv, client, extra
