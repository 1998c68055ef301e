"""Where the other client's wait comes from during fix's bulk work: the server's own view, per command.

For each mode named on the command line, a fresh redis-server on 127.0.0.1 (Redis 7.0, for INFO
latencystats) is loaded with N ``session:*`` keys and 100,000 others; another client in its own process
PINGs every 2 ms (idle 3 s first, then during the mode); the mode runs fix's own :class:`BatchRunner`
in this process at ``--max-impact 1``. Printed per mode, one JSON line: the other client's p50/p99/p99.9
idle and during; the runner's batch sizes and SCAN COUNTs; INFO commandstats (calls, usec per call) and
INFO latencystats (p99, p99.9 in usec: the server's own time per command, which the client side's CPU
contention does not inflate, though the server being descheduled mid-command does); lazyfreed_objects;
the load average.

Modes: ``UNLINK``, ``DEL`` (the same loop with DEL: small values are freed synchronously by both),
``EXPIRE``, ``UNLINK:rehash=no`` (``activerehashing no``), ``CPU`` (a busy loop, no Redis traffic: what CPU
contention alone does), ``IDLE``.

Usage: ``.venv/bin/python bench/fix_diagnose.py 200000 UNLINK DEL EXPIRE CPU``. Loopback only, bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import redis
from common import fill_strings  # bench/common.py, beside this script

from redisguard._wire.resp import command
from redisguard.localserver import LocalServer, find_redis_binaries
from redisguard.remedy.bulk import BatchRunner

PROBE_LIMIT_S = 300.0


def _probe(port: int) -> None:
    """The other client (run as ``--probe PORT``): PINGs until SIGTERM, then prints its samples as JSON."""
    samples: list[float] = []
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + PROBE_LIMIT_S
        while not stop and time.monotonic() < deadline:
            start = time.perf_counter()
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            got = b""
            while not got.endswith(b"\r\n"):
                got += sock.recv(64)
            samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.002)
    json.dump(samples, sys.stdout)


def _pct(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=1000)
    return {"n": len(samples), "p50": round(cuts[499], 3), "p99": round(cuts[989], 3), "p999": round(cuts[998], 3)}


def _probed(port: int, work: Callable[[], dict[str, Any]]) -> tuple[dict[str, float], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, __file__, "--probe", str(port)], stdout=subprocess.PIPE)
    time.sleep(0.3)
    out = work()
    proc.send_signal(signal.SIGTERM)
    samples = json.loads(proc.communicate(timeout=30)[0])
    return _pct(samples), out


def _busy(mode: str) -> dict[str, Any]:
    end = time.perf_counter() + 3
    while time.perf_counter() < end:
        if mode == "IDLE":
            time.sleep(0.01)
    return {}


def _bulk(client: redis.Redis, mode: str) -> dict[str, Any]:
    sizes: list[int] = []
    began = time.perf_counter()
    with BatchRunner(client, max_impact_ms=1.0) as runner:
        for keys in runner.keys(b"session:*"):
            if mode == "EXPIRE":
                runner.run([command(b"EXPIRE", key, b"3600") for key in keys])
            else:
                runner.run([command(mode.encode(), *keys)])
            sizes.append(len(keys))
        largest = runner.largest_scan
    return {"wall_s": round(time.perf_counter() - began, 2), "batches": len(sizes),
            "batch_median": statistics.median(sizes), "batch_max": max(sizes), "largest_scan_count": largest}


def _server(client: redis.Redis) -> dict[str, Any]:
    wanted = ("scan", "unlink", "del", "expire")
    stats = {k.removeprefix("cmdstat_"): (v["calls"], v["usec_per_call"])
             for k, v in client.info("commandstats").items() if k.removeprefix("cmdstat_") in wanted}
    latency = {k.removeprefix("latency_percentiles_usec_"): (v.get("p99"), v.get("p99.9"))
               for k, v in client.info("latencystats").items()
               if k.removeprefix("latency_percentiles_usec_") in wanted}
    return {"calls_usec_per_call": stats, "latency_p99_p999_us": latency,
            "lazyfreed_objects": client.info("memory").get("lazyfreed_objects")}


def main() -> None:
    if sys.argv[1:2] == ["--probe"]:
        _probe(int(sys.argv[2]))
        return
    keys, modes = int(sys.argv[1]), sys.argv[2:]
    binary = next(b for b in find_redis_binaries() if b.flavour == "redis" and b.version[:2] == (7, 0))
    for spec in modes:
        mode, _, option = spec.partition(":")
        config = {"activerehashing": "no"} if option == "rehash=no" else {}
        with LocalServer(binary, config=config) as server, server.client() as client:
            fill_strings(client, keys, "session:")
            fill_strings(client, 100_000, "user:")
            idle, _ = _probed(server.port, lambda: _busy("IDLE"))
            client.config_resetstat()  # our own throwaway server
            load = os.getloadavg()[0]
            if mode in ("CPU", "IDLE"):
                during, work = _probed(server.port, lambda m=mode: _busy(m))
            else:
                during, work = _probed(server.port, lambda m=mode, c=client: _bulk(c, m))
            print(json.dumps({"mode": spec, "load": round(load, 2), "idle": idle, "during": during,
                              "excess_p99_ms": round(during["p99"] - idle["p99"], 3), "runner": work,
                              "server": _server(client)}), flush=True)


if __name__ == "__main__":
    main()
