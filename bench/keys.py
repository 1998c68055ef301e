"""Benchmark ``redisguard keys`` against ``redis-cli --memkeys`` on a 1,000,000-key mixed dataset.

Starts its own redis-server on 127.0.0.1 (via :class:`redisguard.localserver.LocalServer`), builds the
dataset once and caches its RDB under ``bench/.data/`` (gitignored), then prints one table:

* full scan: redisguard keys vs redis-cli --memkeys: wall time, keys/s, the tool's peak RSS (its
  VmHWM), and the p50/p99 latency a separate client sees meanwhile, against idle;
* sampling: ``--sample 100000`` time and its error against the full scan's exact numbers;
* ``--max-impact 1``: wall time and the other client's p99 against idle;
* optionally (``--five-million``) peak RSS of a full scan at 5M keys, to show memory stays flat.

Usage: ``.venv/bin/python bench/keys.py [--keys 1000000] [--five-million] [--skip-memkeys]``.
Load generation targets 127.0.0.1 only, and every run is bounded in keys and time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hiredis

from redisguard.localserver import LocalServer, find_redis_binaries

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV_BIN = Path(sys.executable).parent
REDISGUARD = str(VENV_BIN / "redisguard")
RUN_TIMEOUT_S = 900


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def _cmd(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def _commands(total: int, seed: int) -> Iterator[bytes]:
    """A mixed dataset: strings, hashes, lists, sets, zsets; about a third with a TTL; a few big keys.

    TTLs are a month or more so the cached RDB still holds every key when it is reused.
    """
    rng = random.Random(seed)
    for n in range(total):
        roll = n % 20
        nb = str(n).encode()
        if roll < 8:
            yield _cmd(b"SET", b"user:%b:profile" % nb, b"x" * rng.randint(20, 200))
        elif roll < 11:
            uuid = b"%08x-%04x-4%03x-a%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                     rng.getrandbits(12), rng.getrandbits(48))
            key = b"session:" + uuid
            fields: list[bytes] = []
            for f in range(rng.randint(3, 10)):
                fields += [b"f%d" % f, b"v" * rng.randint(5, 40)]
            yield _cmd(b"HSET", key, *fields)
            yield _cmd(b"PEXPIRE", key, b"%d" % rng.randint(30 * 86_400_000, 60 * 86_400_000))
        elif roll < 13:
            key = b"cache:page:%040x" % rng.getrandbits(160)
            yield _cmd(b"SET", key, b"p" * rng.randint(100, 1000), b"EX", b"%d" % rng.randint(40 * 86400, 90 * 86400))
        elif roll < 15:
            key = b"order:2024-%02d-%02d:%b" % (rng.randint(1, 12), rng.randint(1, 28), nb)
            yield _cmd(b"HSET", key, b"sku", b"s%d" % rng.randint(1, 9999), b"qty", b"%d" % rng.randint(1, 9),
                       b"total", b"%d.%02d" % (rng.randint(1, 999), rng.randint(0, 99)))
        elif roll == 15:
            yield _cmd(b"RPUSH", b"queue:jobs:%b" % nb, *(b"job-%d" % i for i in range(rng.randint(5, 50))))
        elif roll == 16:
            yield _cmd(b"SADD", b"tags:%b" % nb, *(b"t%d" % rng.randint(1, 500) for _ in range(rng.randint(2, 20))))
        elif roll == 17:
            args: list[bytes] = []
            for i in range(rng.randint(5, 30)):
                args += [b"%d" % rng.randint(0, 10_000), b"player%d" % i]
            yield _cmd(b"ZADD", b"leaderboard:game%d:%b" % (rng.randint(1, 20), nb), *args)
        else:
            key = b"rate:10.%d.%d.%d:%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), n)
            yield _cmd(b"SET", key, b"%d" % rng.randint(1, 100), b"EX", b"%d" % (35 * 86400))
    for i in range(5):  # a few big keys
        yield _cmd(b"RPUSH", b"big:list:%d" % i, *(b"item-%d" % j for j in range(50_000)))


def _load(port: int, total: int, seed: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        reader = hiredis.Reader()
        chunk: list[bytes] = []
        sent = 0

        def flush() -> None:
            nonlocal chunk, sent
            sock.sendall(b"".join(chunk))
            sent += len(chunk)
            chunk = []
            while sent:
                reply = reader.gets()
                while reply is False:
                    reader.feed(sock.recv(1 << 20))
                    reply = reader.gets()
                if isinstance(reply, hiredis.ReplyError):
                    raise RuntimeError(str(reply))
                sent -= 1

        for command in _commands(total, seed):
            chunk.append(command)
            if len(chunk) >= 5000:
                flush()
        if chunk:
            flush()


@contextmanager
def dataset_server(total: int) -> Iterator[LocalServer]:
    """A fresh server holding the dataset (built once, then loaded from the cached RDB)."""
    binary = find_redis_binaries()[0]
    DATA.mkdir(parents=True, exist_ok=True)
    rdb = DATA / f"keys-v2-{total}-redis{binary.version_text}.rdb"
    server = LocalServer(binary)
    if rdb.exists():
        server.workdir = None
        server.config = {"dbfilename": "dump.rdb"}
        server._own_dir = None
        import tempfile

        own = tempfile.TemporaryDirectory(prefix="redisguard-bench-")
        server._own_dir = own
        server.workdir = Path(own.name)
        shutil.copy(rdb, server.workdir / "dump.rdb")
        server.start(timeout=300)
    else:
        server.start()
        began = time.monotonic()
        print(f"building {total:,} keys (once; cached in {rdb}) ...", file=sys.stderr)
        _load(server.port, total, seed=20240101)
        with server.client(socket_timeout=600) as admin:
            admin.save()
        assert server.workdir is not None
        shutil.copy(server.workdir / "dump.rdb", rdb)
        print(f"built in {time.monotonic() - began:.0f} s", file=sys.stderr)
    try:
        yield server
    finally:
        server.close()


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


def _peak_rss(pid: int) -> int:
    """The process's peak RSS so far (VmHWM), in bytes; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_tool(args: list[str], port: int) -> tuple[float, int, tuple[float, float], bytes]:
    """Run a command while a probe measures latency: (wall s, peak RSS bytes, (p50, p99) ms, stdout).

    Peak RSS is the child's own high-water mark (VmHWM), read every 20 ms until it exits: wait4's
    ru_maxrss would also count the bench process's pages the child had between fork and exec.
    """
    peak = 0
    with LatencyProbe(port) as probe:
        time.sleep(0.2)
        began = time.monotonic()
        out_path = DATA / "last-output"
        with out_path.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE)
            deadline = began + RUN_TIMEOUT_S
            while proc.poll() is None and time.monotonic() < deadline:
                peak = max(peak, _peak_rss(proc.pid))
                time.sleep(0.02)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        wall = time.monotonic() - began
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {proc.returncode}: {err[-500:]}")
    return wall, peak, probe.percentiles(), out_path.read_bytes()


def idle_latency(port: int, seconds: float = 3.0) -> tuple[float, float]:
    with LatencyProbe(port) as probe:
        time.sleep(seconds)
    return probe.percentiles()


def _errors(sampled: dict[str, object], exact: dict[str, object], top: int = 8) -> tuple[float, float, float]:
    """Worst relative error of keys and bytes over the exact top patterns, and the CI coverage there."""
    truth = {row["pattern"]: row for row in exact["patterns"]}  # type: ignore[index,union-attr]
    est = {row["pattern"]: row for row in sampled["patterns"]}  # type: ignore[index,union-attr]
    rows = sorted(truth.values(), key=lambda r: -r["bytes"])[:top]  # type: ignore[index,no-any-return]
    worst_keys = worst_bytes = 0.0
    covered = checks = 0
    for row in rows:
        got = est.get(row["pattern"])
        if got is None:
            continue
        worst_keys = max(worst_keys, abs(got["keys"] - row["keys"]) / row["keys"])
        worst_bytes = max(worst_bytes, abs(got["bytes"] - row["bytes"]) / row["bytes"])
        checks += 2
        covered += got["keys_low"] <= row["keys"] <= got["keys_high"]
        covered += got["bytes_low"] <= row["bytes"] <= got["bytes_high"]
    return worst_keys, worst_bytes, covered / checks if checks else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--five-million", action="store_true", help="also measure peak RSS at 5M keys")
    parser.add_argument("--skip-memkeys", action="store_true")
    options = parser.parse_args()
    rows: list[tuple[str, str, str, str, str, str]] = []
    with dataset_server(options.keys) as server:
        with server.client() as admin:
            size = int(admin.dbsize())
        url = server.url
        idle50, idle99 = idle_latency(server.port)
        rows.append(("idle (no scan)", "", "", "", f"{idle50:.3f}", f"{idle99:.3f}"))
        wall, rss, (p50, p99), out = run_tool([REDISGUARD, "keys", url, "--json"], server.port)
        exact = json.loads(out)
        rg_wall = wall
        rows.append(("redisguard keys (full scan)", f"{wall:.1f}", f"{size / wall:,.0f}", f"{rss / 2**20:.0f}",
                     f"{p50:.3f}", f"{p99:.3f}"))
        if not options.skip_memkeys:
            wall, rss, (p50, p99), _ = run_tool(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port),
                                                 "--memkeys"], server.port)
            rows.append(("redis-cli --memkeys", f"{wall:.1f}", f"{size / wall:,.0f}", f"{rss / 2**20:.0f}",
                         f"{p50:.3f}", f"{p99:.3f}"))
            rows.append(("ratio redisguard / memkeys", f"{rg_wall / wall:.2f}", "", "", "", ""))
        wall, rss, (p50, p99), out = run_tool([REDISGUARD, "keys", url, "--json", "--sample", "100000"], server.port)
        worst_keys, worst_bytes, coverage = _errors(json.loads(out), exact)
        rows.append(("redisguard keys --sample 100000", f"{wall:.1f}", f"{100_000 / wall:,.0f}",
                     f"{rss / 2**20:.0f}", f"{p50:.3f}", f"{p99:.3f}"))
        rows.append(("  sample error (top 8 patterns)", f"keys ≤{worst_keys:.1%}", f"bytes ≤{worst_bytes:.1%}",
                     f"CI cover {coverage:.0%}", "", ""))
        wall, rss, (p50, p99), _ = run_tool([REDISGUARD, "keys", url, "--json", "--max-impact", "1"], server.port)
        rows.append(("redisguard keys --max-impact 1", f"{wall:.1f}", f"{size / wall:,.0f}", f"{rss / 2**20:.0f}",
                     f"{p50:.3f}", f"{p99:.3f}"))
        rows.append(("  p99 added vs idle (ms)", "", "", "", "", f"{p99 - idle99:+.3f}"))
    if options.five_million:
        with dataset_server(5_000_000) as big:
            wall, rss, _, _ = run_tool([REDISGUARD, "keys", big.url, "--json"], big.port)
            rows.append(("redisguard keys, 5M keys", f"{wall:.1f}", f"{5_000_000 / wall:,.0f}", f"{rss / 2**20:.0f}",
                         "", ""))
    header = ("run", "wall s", "keys/s", "peak RSS MiB", "other p50 ms", "other p99 ms")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"dataset: {size:,} keys on redis {find_redis_binaries()[0].version_text}, {os.cpu_count()} CPUs")
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i])
                        for i, cell in enumerate(row)))


if __name__ == "__main__":
    main()
