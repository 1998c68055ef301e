"""Scrape time of `redisguard exporter` against the Go redis_exporter, on one Redis, in one run.

Starts its own redis-server on 127.0.0.1 (the newest version on the machine, with DEBUG enabled to load
data fast), loads 1,000,000 keys of which 1,000 are streams with a consumer group (some entries read,
some pending), then starts both exporters against it on free loopback ports:
  - `redisguard exporter URL --cache-ttl 0 --keys-interval 0` (every scrape collects afresh; the
    background keyspace analysis is off so it cannot overlap a scrape),
  - Debian's `prometheus-redis-exporter -check-streams 'stream:*'` (the same streams).
Each gets one warm-up scrape (redisguard's first scrape discovers the streams with SCAN TYPE stream),
then 10 timed scrapes, one after the other. Prints median scrape time, series count, stream-group lag and
stream memory series, and each exporter's RSS. Stops only the processes it started, by PID.
Then --soak more scrapes of redisguard's, to show its RSS stays flat.
Usage: python bench/exporter.py [--keys N] [--streams N] [--scrapes N] [--soak N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import redis

from redisguard.localserver import LocalServer, find_redis_binaries, free_port

GO_EXPORTER = "/usr/bin/prometheus-redis-exporter"


def load(client: redis.Redis, keys: int, streams: int) -> None:
    client.execute_command("DEBUG", "POPULATE", keys - streams, "cache:item", 100)
    pipe = client.pipeline(transaction=False)
    for index in range(streams):
        key = f"stream:{index}"
        for _ in range(20):
            pipe.xadd(key, {"event": "e" * 40})
        pipe.xgroup_create(key, "workers", id="0")
        pipe.xreadgroup("workers", "w1", {key: ">"}, count=12)
        if index % 100 == 99:
            pipe.execute()
    pipe.execute()
    for index in range(streams):  # acknowledge some, so pending and lag both differ from zero
        key = f"stream:{index}"
        ids = [entry[0] for entry in client.xrange(key, count=8)]
        pipe.xack(key, "workers", *ids)
    pipe.execute()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback URL we built
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


def scrape(url: str) -> tuple[float, str]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310
        body = response.read().decode()
    return time.perf_counter() - began, body


def series(body: str) -> list[str]:
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def measure(name: str, args: list[str], port: int, scrapes: int, soak: int = 0) -> dict[str, object]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_http(f"http://127.0.0.1:{port}/", proc)
        warm, body = scrape(url)
        process = psutil.Process(proc.pid)
        rss_first = process.memory_info().rss
        times = []
        for _ in range(scrapes):
            took, body = scrape(url)
            times.append(took)
        lines = series(body)
        rss = process.memory_info().rss
        for _ in range(soak):  # RSS stays flat: the same again many times
            scrape(url)
        rss_soak = process.memory_info().rss
        return {
            "name": name, "warmup_s": warm, "median_s": statistics.median(times), "max_s": max(times),
            "series": len(lines), "streams": len([s for s in lines if s.startswith("redis_stream_length{")]),
            "lag": len([s for s in lines if s.startswith("redis_stream_group_lag{")]),
            "stream_memory": len([s for s in lines if s.startswith("redisguard_stream_memory_bytes{")]),
            "rss_mib": rss / 1024 / 1024, "rss_first_mib": rss_first / 1024 / 1024,
            "rss_soak_mib": rss_soak / 1024 / 1024, "soak": soak,
        }
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--soak", type=int, default=50, help="more scrapes of redisguard's, to see RSS stay flat")
    options = parser.parse_args()
    if not os.access(GO_EXPORTER, os.X_OK):
        sys.exit(f"{GO_EXPORTER} is not installed (apt-get install prometheus-redis-exporter)")
    binary = find_redis_binaries()[0]
    config: dict[str, str | int] = {"enable-debug-command": "yes"} if binary.version >= (7, 0, 0) else {}
    with LocalServer(binary, config=dict(config)) as server:
        client = server.client()
        began = time.monotonic()
        load(client, options.keys, options.streams)
        print(f"redis-server {binary.version_text}: {client.dbsize():,} keys, {options.streams:,} streams "
              f"loaded in {time.monotonic() - began:.1f} s")
        url = f"redis://127.0.0.1:{server.port}/0"
        ours_port, go_port = free_port(), free_port()
        redisguard = shutil.which("redisguard") or str(Path(sys.executable).with_name("redisguard"))
        results = [
            measure("redisguard exporter", [redisguard, "exporter", url, "--listen", f"127.0.0.1:{ours_port}",
                                            "--cache-ttl", "0", "--keys-interval", "0",
                                            "--max-streams", str(options.streams)], ours_port, options.scrapes,
                    options.soak),
            measure("redis_exporter (Go)", [GO_EXPORTER, "-redis.addr", url, "-web.listen-address",
                                            f"127.0.0.1:{go_port}", "-check-streams", "stream:*"],
                    go_port, options.scrapes),
        ]
    print(f"\n| exporter | warm-up scrape | median of {options.scrapes} | max | series | streams | group lag "
          "series | stream memory series | RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in results:
        print(f"| {row['name']} | {row['warmup_s']:.3f} s | {row['median_s']:.3f} s | {row['max_s']:.3f} s | "
              f"{row['series']:,} | {row['streams']:,} | {row['lag']:,} | {row['stream_memory']:,} | "
              f"{row['rss_mib']:.0f} MiB |")
    ours = results[0]
    print(f"\nredisguard exporter RSS: {ours['rss_first_mib']:.0f} MiB after the first scrape, {ours['rss_mib']:.0f} "
          f"MiB after {options.scrapes + 1}, {ours['rss_soak_mib']:.0f} MiB after {options.scrapes + 1 + options.soak}")
    ratio = float(str(results[0]["median_s"])) / float(str(results[1]["median_s"]))
    print(f"\nratio (redisguard / Go), median scrape time: {ratio:.2f} (target <= 1.0, must be <= 2.0)")


if __name__ == "__main__":
    main()
