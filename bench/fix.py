"""Benchmark ``redisguard fix`` bulk work against the seeds' ``redis-cli --scan | xargs`` pipelines.

Starts its own redis-server on 127.0.0.1, loads N keys matching ``session:*`` (default 1,000,000) and
100,000 others, then prints one table:

* the other client's p50/p99 (a PING every 2 ms on its own connection) while idle;
* ``redisguard fix --expire-pattern 'session:*' --apply --yes --max-impact 1``: wall time (planning,
  which measures the matching keys, and applying), keys/s of the apply, the other client's p99;
* the same for ``--delete-pattern 'session:*'`` (UNLINK);
* seed 002's ``redis-cli --scan --pattern 'session:*' | xargs -I {} redis-cli EXPIRE {} 3600`` (one
  redis-cli per key) and its ``... | xargs -I {} redis-cli DEL {}``: run on the first K keys (default
  5,000: at one process per key the whole set would take the better part of an hour), its rate, and its
  time for N extrapolated from that rate.

Usage: ``.venv/bin/python bench/fix.py [--keys 1000000] [--xargs-keys 5000]``.
Loopback only; every run is bounded in keys and time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from redisguard.localserver import LocalServer, find_redis_binaries

VENV_BIN = Path(sys.executable).parent
REDISGUARD = str(VENV_BIN / "redisguard")
RUN_TIMEOUT_S = 1800


class LatencyProbe:
    """Another client: one PING every 2 ms on its own connection, timing each round trip."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not self._stop.is_set() and time.monotonic() < deadline:
                start = time.perf_counter()
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                got = b""
                while not got.endswith(b"\r\n"):
                    got += sock.recv(64)
                self.samples.append((time.perf_counter() - start) * 1000)
                time.sleep(0.002)

    def __enter__(self) -> LatencyProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def percentiles(self) -> tuple[float, float]:
        if len(self.samples) < 2:
            return float("nan"), float("nan")
        cuts = statistics.quantiles(self.samples, n=100)
        return cuts[49], cuts[98]


def _fill(server: LocalServer, count: int, prefix: str) -> None:
    with server.client() as client:
        for start in range(0, count, 20_000):
            pipe = client.pipeline(transaction=False)
            for index in range(start, min(count, start + 20_000)):
                pipe.set(f"{prefix}{index}", "v")
            pipe.execute()


def _timed(args: list[str], port: int, via_sh: bool = False) -> tuple[float, tuple[float, float], str]:
    with LatencyProbe(port) as probe:
        time.sleep(0.2)
        began = time.monotonic()
        proc = subprocess.run(args if not via_sh else ["sh", "-c", args[0]], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, check=False)
        wall = time.monotonic() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0][:80]} exited {proc.returncode}: {proc.stderr[-500:]}")
    return wall, probe.percentiles(), proc.stdout


def _apply_seconds(audit: Path) -> float:
    stamps = [json.loads(line) for line in audit.read_text().splitlines() if '"action-' in line]
    times = [datetime.fromisoformat(r["time"]) for r in stamps]
    return (max(times) - min(times)).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--xargs-keys", type=int, default=5_000)
    args = parser.parse_args()
    binary = next(b for b in find_redis_binaries() if b.version[:2] == (7, 0)) if any(
        b.version[:2] == (7, 0) for b in find_redis_binaries()) else find_redis_binaries()[0]
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="redisguard-bench-") as tmp, LocalServer(binary) as server:
        url, port = server.url, server.port
        cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
        _fill(server, args.keys, "session:")
        _fill(server, 100_000, "user:")
        with LatencyProbe(port) as idle:
            time.sleep(3)
        _idle50, idle99 = idle.percentiles()
        rows.append(("idle", "", "", f"{_idle50:.3f}", f"{idle99:.3f}", ""))
        for what, option in (("EXPIRE", "--expire-pattern"), ("UNLINK", "--delete-pattern")):
            audit = Path(tmp) / f"{what}.jsonl"
            wall, (p50, p99), _ = _timed([REDISGUARD, "fix", url, "--only", "expire" if what == "EXPIRE" else "delete",
                                          option, "session:*", "--key-sample", "0", "--max-impact", "1", "--apply",
                                          "--yes", "--json", "--audit", str(audit)], port)
            applied = _apply_seconds(audit)
            rows.append((f"redisguard fix {what} {args.keys:,} keys (plan + apply)", f"{wall:.1f}",
                         f"{args.keys / applied:,.0f} (apply {applied:.1f} s)", f"{p50:.3f}", f"{p99:.3f}",
                         f"{p99 - idle99:+.3f}"))
            fix_wall = wall
            xargs = (f"{shlex.join([*cli, '--scan', '--pattern', 'session:*'])} | head -n {args.xargs_keys} | "
                     f"xargs -I {{}} {shlex.join(cli)} {'EXPIRE {} 3600' if what == 'EXPIRE' else 'DEL {}'}")
            if what == "UNLINK":
                _fill(server, args.xargs_keys, "session:")  # the keys xargs deletes exist again
            wall, (p50, p99), _ = _timed([xargs], port, via_sh=True)
            rate = args.xargs_keys / wall
            rows.append((f"seed 002 xargs -I {{}} redis-cli {what.replace('UNLINK', 'DEL')} ({args.xargs_keys:,} "
                         f"keys; {args.keys:,} extrapolated: {args.keys / rate:,.0f} s)", f"{wall:.1f}",
                         f"{rate:,.0f}", f"{p50:.3f}", f"{p99:.3f}", f"{p99 - idle99:+.3f}"))
            rows.append((f"  ratio: xargs time for {args.keys:,} keys / redisguard's (plan + apply)", "",
                         f"{(args.keys / rate) / fix_wall:,.1f}x", "", "", ""))
    header = ("run", "wall s", "keys/s", "other p50 ms", "other p99 ms", "p99 vs idle ms")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    print(f"redis-server {binary.version_text}, {args.keys:,} matching keys + 100,000 others, --max-impact 1")
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
