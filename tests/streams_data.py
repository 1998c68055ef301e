"""The stream most stream tests start from, written once: 100 entries, two groups at different points."""

from __future__ import annotations

import redis

__all__ = ["two_group_stream"]


def two_group_stream(client: redis.Redis, key: str = "events") -> list[str]:
    """100 entries of ~100 bytes in ``key``; group ``fast`` read and acked 80, group ``slow`` read 60 and
    acked 40 (so it still holds entries 40..59 pending and pins the safe trim point at ids[40]).
    Returns the entry ids in order."""
    ids = [client.xadd(key, {"n": str(n), "body": "b" * 100}).decode() for n in range(100)]
    client.xgroup_create(key, "fast", id="0")
    client.xgroup_create(key, "slow", id="0")
    fast = [i for _, entries in client.xreadgroup("fast", "f1", {key: ">"}, count=80) for i, _ in entries]
    client.xack(key, "fast", *fast)
    slow = [i for _, entries in client.xreadgroup("slow", "s1", {key: ">"}, count=60) for i, _ in entries]
    client.xack(key, "slow", *slow[:40])
    return ids
