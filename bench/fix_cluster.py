"""Benchmark ``redisguard fix --expire-pattern`` on a three-primary Redis Cluster against one standalone server.

Starts its own servers on 127.0.0.1 (the newest redis-server found): a cluster of three primaries and a
standalone server, each loaded with the same N keys matching ``session:*`` (default 30,000) and N/10
others. Then, alternating the two targets, ``--runs`` times each: the keys' TTLs are removed (PERSIST),
and ``redisguard fix URL --expire-pattern 'session:*' --only expire --apply --yes --max-impact 1`` is
timed (plan + apply). Prints min/median/max wall time per target, keys/s of the median, and the load
average before and after. The cluster run covers every primary one after another (each with its own
throttled batches), so it is not expected to be faster than one server, only complete and correct.

Usage: ``.venv/bin/python bench/fix_cluster.py [--keys 30000] [--runs 3]``. Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from redisguard.localserver import LocalCluster, LocalServer, find_redis_binaries

REDISGUARD = str(Path(sys.executable).parent / "redisguard")
RUN_TIMEOUT_S = 600


def _load(client: redis.Redis | redis.RedisCluster, keys: int) -> None:
    pipe = client.pipeline(transaction=False)
    for index in range(keys):
        pipe.set(f"session:{index}", "v")
        if index % 10 == 0:
            pipe.set(f"other:{index}", "v")
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()


def _persist(client: redis.Redis | redis.RedisCluster, keys: int) -> None:
    pipe = client.pipeline(transaction=False)
    for index in range(keys):
        pipe.persist(f"session:{index}")
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()


def _run_fix(url: str, audit: Path) -> float:
    began = time.perf_counter()
    result = subprocess.run([REDISGUARD, "fix", url, "--expire-pattern", "session:*", "--only", "expire",
                             "--key-sample", "0", "--workload", "cache", "--apply", "--yes", "--max-impact", "1",
                             "--audit", str(audit)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                            check=False)
    took = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"fix failed on {url}: {result.stderr.strip()[-500:]}")
    return took


def _ttl_count(client: redis.Redis | redis.RedisCluster, keys: int) -> int:
    return sum(1 for index in range(0, keys, max(keys // 500, 1)) if int(client.ttl(f"session:{index}")) > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = find_redis_binaries()[0]
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {"cluster (3 primaries)": [], "standalone": []}
    with tempfile.TemporaryDirectory() as folder, LocalCluster(binary, primaries=3) as cluster, \
            LocalServer(binary, workdir=Path(folder)) as server:
        cluster_client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port, protocol=2)
        standalone = server.client()
        targets = {"cluster (3 primaries)": (cluster.url, cluster_client), "standalone": (server.url, standalone)}
        for _, client in targets.values():
            _load(client, args.keys)
        for run in range(args.runs):
            for name, (url, client) in targets.items():
                _persist(client, args.keys)
                times[name].append(_run_fix(url, Path(folder) / f"audit-{run}-{len(times[name])}.jsonl"))
                sampled = _ttl_count(client, args.keys)
                if sampled == 0:
                    raise SystemExit(f"{name}: no key got a TTL")
        cluster_client.close()
        standalone.close()
    load_after = os.getloadavg()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {binary.title}, {args.keys} matching keys, {args.runs} runs each "
          f"(alternated); load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'target':<24} {'min s':>7} {'median s':>9} {'max s':>7} {'keys/s (median)':>16}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<24} {min(values):>7.2f} {median:>9.2f} {max(values):>7.2f} {args.keys / median:>16,.0f}")


if __name__ == "__main__":
    main()
