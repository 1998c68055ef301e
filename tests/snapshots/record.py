"""Record the snapshots in this folder: real servers put into known states, saved by ``redisguard snapshot``.

    .venv/bin/python tests/snapshots/record.py            # every state on 7.x, the core states on the others

Each state names the findings that define it (written here by hand, not computed) and the thresholds
to analyse it with; ``manifest.json`` carries both, and tests/test_recorded_snapshots.py checks that the
rules still find exactly that in each file, in milliseconds and without a server.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from redisguard.localserver import LocalServer, RedisBinary, find_redis_binaries

HERE = Path(__file__).resolve().parent


@dataclass
class State:
    name: str
    config: dict[str, Any]
    load: Callable[[redis.Redis, LocalServer], Iterator[None]]  # a generator: set up, yield, tear down
    expect: list[str]  # finding ids that must be present
    absent: list[str] = field(default_factory=list)  # finding ids that must not be present
    thresholds: dict[str, float] = field(default_factory=dict)
    exit_code: int | None = None
    everywhere: bool = False  # recorded on every server version, not only 7.x


def _healthy(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    pipe = client.pipeline(transaction=False)
    for index in range(300):
        pipe.set(f"cache:item:{index}", "x" * 50, ex=3600)
    pipe.execute()
    yield


def _fill(client: redis.Redis, share: float) -> None:
    limit = int(client.config_get("maxmemory")["maxmemory"])
    written = 0
    while int(client.info("memory")["used_memory"]) < limit * share:
        pipe = client.pipeline(transaction=False)
        for _ in range(50):
            pipe.set(f"store:{written}", "v" * 1000)
            written += 1
        pipe.execute()


def _noeviction_streams(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    pipe = client.pipeline(transaction=False)
    for index in range(20_000):
        pipe.xadd("events:firehose", {"seq": str(index), "payload": "e" * 120})
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()
    client.xgroup_create("events:firehose", "indexers", id="0")
    client.xgroup_create("events:firehose", "audit", id="0")  # never read: pins the safe point
    client.xreadgroup("indexers", "indexer-1", {"events:firehose": ">"}, count=3000)  # delivered, never acked
    _fill(client, 0.93)
    yield


def _fragmentation(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    rng = random.Random(7)
    pipe = client.pipeline(transaction=False)
    for index in range(200_000):
        pipe.set(f"frag:{index}", "f" * rng.randint(100, 400))
        if index % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    doomed = [f"frag:{index}" for index in range(200_000) if rng.random() < 0.92]
    for start in range(0, len(doomed), 5000):
        client.delete(*doomed[start:start + 5000])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and float(client.info("memory")["mem_fragmentation_ratio"]) <= 1.5:
        time.sleep(0.1)
    yield


def _idle_clients(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    idle = [server.client() for _ in range(8)]
    for other in idle:
        other.ping()
    time.sleep(1.5)  # CLIENT LIST's idle is in whole seconds
    yield
    for other in idle:
        other.close()


def _volatile_without_ttls(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    pipe = client.pipeline(transaction=False)
    for index in range(500):
        pipe.set(f"store:{index}", "v" * 100)
    pipe.execute()
    yield


def _keys(client: redis.Redis, server: LocalServer) -> Iterator[None]:
    pipe = client.pipeline(transaction=False)
    for index in range(800):
        pipe.set(f"session:{uuid.UUID(int=index)}", "s" * 120)  # cache-like, no TTL
        pipe.set(f"user:{index}:profile", "p" * 60, ex=86_400)
    pipe.execute()
    client.hset("catalog:all", mapping={f"item:{index}": "d" * 200 for index in range(3000)})  # a big key
    yield


STATES = [
    State("healthy-cache", {"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"}, _healthy,
          expect=[], exit_code=0, everywhere=True),
    State("noeviction-full-streams", {"maxmemory": "12mb", "maxmemory-policy": "noeviction"}, _noeviction_streams,
          expect=["memory.used-critical", "eviction.noeviction-backlog", "streams.group-never-read",
                  "streams.pending", "streams.backlog"],
          thresholds={"backlog_entries": 1000, "pending_entries": 100}, exit_code=2, everywhere=True),
    State("fragmentation", {"activedefrag": "no"}, _fragmentation,
          expect=["fragmentation.high"], thresholds={"fragmentation_min_bytes": 1024 * 1024}),
    State("idle-clients", {"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru", "timeout": "0"}, _idle_clients,
          expect=["clients.idle"], thresholds={"idle_client_s": 1, "idle_clients_count": 6}),
    State("volatile-without-ttls", {"maxmemory": "64mb", "maxmemory-policy": "volatile-lru"},
          _volatile_without_ttls, expect=["eviction.volatile-without-ttls"]),
    State("maxmemory-unset-keys", {}, _keys,
          expect=["memory.maxmemory-unset", "keys.cache-without-ttl", "keys.big-keys"],
          absent=["eviction.volatile-without-ttls"], thresholds={"big_key_bytes": 100_000}, everywhere=True),
]


def _server_label(binary: RedisBinary) -> str:
    kind = "valkey" if "valkey" in Path(binary.path).name else "redis"
    return f"{kind}-{binary.version_text}"


@contextmanager
def _running(binary: RedisBinary, config: dict[str, Any]) -> Iterator[LocalServer]:
    server = LocalServer(binary, config=config)
    server.start()
    try:
        yield server
    finally:
        server.close()


def record(state: State, binary: RedisBinary) -> tuple[str, dict[str, Any]]:
    name = f"{state.name}--{_server_label(binary)}.json"
    with _running(binary, state.config) as server, server.client() as client:
        steps = state.load(client, server)
        next(steps)
        subprocess.run([sys.executable, "-m", "redisguard", "snapshot", server.url, "-o", str(HERE / name)],
                       check=True, timeout=300)
        for _ in steps:
            pass
    entry = {"state": state.name, "server": _server_label(binary), "expect": state.expect, "absent": state.absent,
             "thresholds": state.thresholds, "exit_code": state.exit_code}
    return name, entry


def main() -> None:
    manifest: dict[str, Any] = {}
    binaries = find_redis_binaries()
    for binary in binaries:
        for state in STATES:
            if state.everywhere or binary.version[:1] == (7,):
                name, entry = record(state, binary)
                manifest[name] = entry
                print(f"recorded {name}", file=sys.stderr)
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
