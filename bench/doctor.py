"""How long `redisguard doctor` takes on 1,000,000 keys and 100 streams, and what another client feels.

Starts its own redis-server on 127.0.0.1 (the newest version on the machine), loads the dataset, then
runs, one after the other, with a probe client measuring PING latency throughout:
  idle (nothing else running), `redisguard doctor --json`, and the runbook's `redis-cli --bigkeys`.
Prints one table. Stops only the server it started. Usage: python bench/doctor.py [--keys N] [--streams N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from redisguard.localserver import LocalServer, find_redis_binaries


class Probe:
    """A client doing PING in a loop (bounded by count and time), recording each round trip."""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline and len(self.samples) < 2_000_000:
            start = time.perf_counter()
            self.client.ping()
            self.samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.0005)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load(client: redis.Redis, keys: int, streams: int) -> None:
    strings = int(keys * 0.8)
    client.execute_command("DEBUG", "POPULATE", strings, "cache:item", 100)
    pipe = client.pipeline(transaction=False)
    rest = keys - strings - streams
    for index in range(rest):
        kind = index % 4
        if kind == 0:
            pipe.hset(f"user:{index}", mapping={"name": "n", "email": "e@example.com"})
        elif kind == 1:
            pipe.set(f"session:{index:012x}", "s" * 80, ex=3600)
        elif kind == 2:
            pipe.rpush(f"queue:{index % 1000}:{index}", "a", "b", "c")
        else:
            pipe.zadd(f"rank:{index}", {"a": 1, "b": 2})
        if index % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    for stream in range(streams):
        key = f"events:{stream}"
        for index in range(200):
            pipe.xadd(key, {"n": str(index), "body": "b" * 60})
        pipe.execute()
        client.xgroup_create(key, "indexers", id="0")
        client.xreadgroup("indexers", "i1", {key: ">"}, count=50)


def timed(command: list[str], port: int) -> tuple[float, list[float], int]:
    with Probe(port) as probe:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, timeout=900, check=False)
        elapsed = time.perf_counter() - start
    return elapsed, [probe.percentile(0.5), probe.percentile(0.99)], done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=100)
    args = parser.parse_args()
    binary = find_redis_binaries()[0]
    server = LocalServer(binary, config={"enable-debug-command": "yes"} if binary.version >= (7, 0, 0) else {})
    with server:
        with server.client(socket_timeout=600) as client:
            started = time.perf_counter()
            load(client, args.keys, args.streams)
            print(f"# redis-server {binary.version_text} on 127.0.0.1:{server.port}: {client.dbsize()} keys, "
                  f"{args.streams} streams, loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with Probe(server.port) as idle:
            time.sleep(3)
        redisguard = [sys.executable, "-m", "redisguard", "doctor", server.url, "--json"]
        rows = [("idle (no tool running)", None, [idle.percentile(0.5), idle.percentile(0.99)], 0)]
        doctor_s, doctor_lat, code = timed(redisguard, server.port)
        rows.append(("redisguard doctor --json", doctor_s, doctor_lat, code))
        cli = shutil.which("redis-cli") or str(Path(binary.path).with_name("redis-cli"))
        if Path(cli).exists():
            bigkeys_s, bigkeys_lat, code = timed([cli, "-p", str(server.port), "--bigkeys"], server.port)
            rows.append(("redis-cli --bigkeys (runbook)", bigkeys_s, bigkeys_lat, code))
    print(f"{'run':34} {'wall s':>8} {'other p50 ms':>13} {'other p99 ms':>13} {'exit':>5}")
    for name, wall, (p50, p99), code in rows:
        print(f"{name:34} {'' if wall is None else f'{wall:8.2f}':>8} {p50:13.3f} {p99:13.3f} {code:>5}")
    if len(rows) == 3 and rows[2][1]:
        print(f"{'ratio doctor / --bigkeys':34} {rows[1][1] / rows[2][1]:8.2f}")
    print(f"# median of idle samples {statistics.median(idle.samples):.3f} ms over {len(idle.samples)} pings",
          file=sys.stderr)


if __name__ == "__main__":
    main()
