"""Test datasets for the keyspace tests whose truth is known by construction."""

from __future__ import annotations

import random

import redis

# pattern -> how to make its n-th key; sizes vary so per-key MEMORY USAGE differs.
KNOWN_PATTERNS = ("user:*:profile", "session:*", "queue:jobs:*", "tags:*", "rank:game*:*")


def fill_known(client: redis.Redis, per_pattern: int = 200, seed: int = 7, prefix: str = "") -> dict[str, set[bytes]]:
    """Writes ``per_pattern`` keys for each of :data:`KNOWN_PATTERNS`; returns pattern -> key names."""
    rng = random.Random(seed)
    made: dict[str, set[bytes]] = {pattern: set() for pattern in KNOWN_PATTERNS}
    pipe = client.pipeline(transaction=False)
    for n in range(per_pattern):
        key = f"{prefix}user:{n}:profile".encode()
        pipe.set(key, "x" * rng.randint(1, 300))
        made["user:*:profile"].add(key)
        key = f"{prefix}session:{rng.getrandbits(128):032x}".encode()
        pipe.hset(key, mapping={f"f{i}": "v" * rng.randint(1, 30) for i in range(rng.randint(1, 8))})
        pipe.pexpire(key, rng.choice([30_000, 7_200_000, 200_000_000, 900_000_000]))
        made["session:*"].add(key)
        key = f"{prefix}queue:jobs:{n}".encode()
        pipe.rpush(key, *(f"job-{i}" for i in range(rng.randint(1, 40))))
        made["queue:jobs:*"].add(key)
        key = f"{prefix}tags:{n}".encode()
        pipe.sadd(key, *(f"t{rng.randint(0, 999)}" for _ in range(rng.randint(1, 20))))
        made["tags:*"].add(key)
        key = f"{prefix}rank:game{rng.randint(1, 9)}:{n}".encode()
        pipe.zadd(key, {f"p{i}": rng.random() for i in range(rng.randint(1, 15))})
        made["rank:game*:*"].add(key)
    pipe.execute()
    return made
