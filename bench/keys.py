"""Benchmark ``redisguard keys`` against ``redis-cli --memkeys`` on two keyspaces, alternating the tools.

Starts its own redis-server on 127.0.0.1 (via :class:`redisguard.localserver.LocalServer`), builds each
dataset once and caches its RDB under ``bench/.data/`` (gitignored): ``mixed`` (the original dataset)
and ``prod`` (production-like names with UUIDs, SKU-like and hex tokens, IPs and dates, plus a
1M-element list, a 200k zset and a 500k-entry stream; see ``bench/keyspaces.py``). Per keyspace, each
of ``--rounds`` rounds runs ``redis-cli --memkeys``, the full scan and ``--max-impact 1`` (the order
rotates every round), while a separate client PINGs every 2 ms; then one ``--sample 100000`` run is
compared with the full scan. The table gives min/median/max of the wall time, the ratio to memkeys of
the same round, the tool's peak RSS (VmHWM), and the other client's p99 in every run beside the idle p99
measured at the start of the same round (the worst difference is the last column).

Usage: ``.venv/bin/python bench/keys.py [--keys 1000000] [--keyspace mixed --keyspace prod] [--rounds 3]``.
The server is Debian's Redis 7.0 (the README's numbers); ``REDISGUARD_BENCH_SERVER=8.2`` (or ``valkey``,
``valkey-8.1``, ``6.2``) picks another one on this machine. A server newer than 7.0 loads the cached 7.0 RDB.
Load generation targets 127.0.0.1 only, and every run is bounded in keys and time.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyspaces  # bench/keyspaces.py, beside this script
from common import LatencyProbe  # bench/common.py

from redisguard.localserver import LocalServer, RedisBinary, find_redis_binaries

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV_BIN = Path(sys.executable).parent
REDISGUARD = str(VENV_BIN / "redisguard")
RUN_TIMEOUT_S = 900


@contextmanager
def dataset_server(total: int, keyspace: str = "mixed") -> Iterator[LocalServer]:
    """A fresh server holding the dataset (built once, then loaded from the cached RDB)."""
    binary = _binary()
    DATA.mkdir(parents=True, exist_ok=True)
    rdb = DATA / f"keys-v3-{keyspace}-{total}-redis{binary.version_text}.rdb"
    shared = DATA / f"keys-v3-{keyspace}-{total}-redis7.0.15.rdb"
    if not rdb.exists() and shared.exists() and (binary.flavour == "valkey" or binary.version >= (7, 0)):
        rdb = shared  # the same dataset: newer servers load an older RDB (6.2 cannot load 7.0's)
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
        keyspaces.load(server.port, keyspaces.commands(keyspace, total))
        with server.client(socket_timeout=600) as admin:
            admin.save()
        assert server.workdir is not None
        shutil.copy(server.workdir / "dump.rdb", rdb)
        print(f"built in {time.monotonic() - began:.0f} s", file=sys.stderr)
    try:
        yield server
    finally:
        server.close()



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
    with LatencyProbe(port, RUN_TIMEOUT_S) as probe:
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
    with LatencyProbe(port, RUN_TIMEOUT_S) as probe:
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
        if got is None or got["keys_low"] is None:  # not drawn, or the run was exact
            continue
        worst_keys = max(worst_keys, abs(got["keys"] - row["keys"]) / row["keys"])
        worst_bytes = max(worst_bytes, abs(got["bytes"] - row["bytes"]) / row["bytes"])
        checks += 2
        covered += got["keys_low"] <= row["keys"] <= got["keys_high"]
        covered += got["bytes_low"] <= row["bytes"] <= got["bytes_high"]
    return worst_keys, worst_bytes, covered / checks if checks else float("nan")


@functools.cache
def _binary() -> RedisBinary:
    """``$REDISGUARD_BENCH_SERVER`` (``8.2``, ``valkey``, ``valkey-8.1``) when set; else Debian's Redis 7.0 when
    present (the version the README's numbers were taken on), else the newest. Looked up once per run: each
    look-up starts every server binary on the machine for its version."""
    binaries = find_redis_binaries()
    wanted = os.environ.get("REDISGUARD_BENCH_SERVER", "").strip().lower()
    if wanted:
        if wanted == "valkey":
            flavour, version = "valkey", ""
        elif "-" in wanted:
            flavour, _, version = wanted.partition("-")
        else:
            flavour, version = "redis", wanted
        for binary in binaries:
            if binary.flavour == flavour and binary.version_text.startswith(version):
                return binary
        sys.exit(f"REDISGUARD_BENCH_SERVER={wanted}: no such server here "
                 f"({', '.join(f'{b.flavour}-{b.version_text}' for b in binaries)})")
    return next((b for b in binaries if b.version[:2] == (7, 0)), binaries[0])


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def bench_keyspace(name: str, total: int, rounds: int) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    with dataset_server(total, name) as server:
        with server.client() as admin:
            size = int(admin.dbsize())
        url = server.url
        memkeys = ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--memkeys"]
        tools = {"memkeys": memkeys, "full": [REDISGUARD, "keys", url, "--json"],
                 "gentle": [REDISGUARD, "keys", url, "--json", "--max-impact", "1"]}
        runs: dict[str, list[tuple[float, int, float, float]]] = {tool: [] for tool in tools}
        exact: dict[str, object] = {}
        order = list(tools)
        idles: list[float] = []
        for turn in range(rounds):
            _, idle99 = idle_latency(server.port)  # every round: the machine's load changes between rounds
            idles.append(idle99)
            for tool in order[turn % 3:] + order[:turn % 3]:  # rotate who goes first
                wall, rss, (_, p99), out = run_tool(tools[tool], server.port)
                runs[tool].append((wall, rss, p99, idle99))
                if tool == "full" and not exact:
                    exact = json.loads(out)
        wall, rss, (_, p99), out = run_tool([REDISGUARD, "keys", url, "--json", "--sample", "100000"], server.port)
        sampled = json.loads(out)
    rows.append((f"{name}: {size:,} keys", "", "", "", "", ""))
    rows.append(("  idle (no scan), per round", "", "", "", ", ".join(f"{idle:.2f}" for idle in idles), ""))
    for tool, label in (("memkeys", "redis-cli --memkeys"), ("full", "redisguard keys (full scan)"),
                        ("gentle", "redisguard keys --max-impact 1")):
        walls = [run[0] for run in runs[tool]]
        pairs = [mine[0] / theirs[0] for mine, theirs in zip(runs[tool], runs["memkeys"], strict=True)]
        ratios = "" if tool == "memkeys" else (", ".join(f"{ratio:.2f}" for ratio in pairs)
                                               + f" (median {statistics.median(pairs):.2f})")
        rows.append((f"  {label}", _spread(walls), ratios,
                     f"{max(run[1] for run in runs[tool]) / 2**20:.0f}",
                     ", ".join(f"{run[2]:.2f}" for run in runs[tool]),
                     f"{max(run[2] - run[3] for run in runs[tool]):+.2f}"))
    worst_keys, worst_bytes, coverage = _errors(sampled, exact)
    cover = sampled.get("coverage") or {}
    rows.append(("  --sample 100000", f"{wall:.1f}", f"keys <={worst_keys:.1%}, bytes <={worst_bytes:.1%} "
                 f"(top 8), CI cover {coverage:.0%}", f"{rss / 2**20:.0f}", f"{p99:.2f}", ""))
    if cover:
        mib = 2**20
        estimate, truth = int(sampled["total_bytes"]), int(exact["total_bytes"])  # type: ignore[call-overload]
        rows.append(("    coverage", f"{cover['big_keys']} big keys exact",
                     f"total {estimate / mib:.0f} MiB vs exact {truth / mib:.0f} MiB (dataset "
                     f"{cover['dataset_bytes'] / mib:.0f} MiB, unaccounted {cover['unaccounted_share']:.1%})",
                     "", "", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="small keys per keyspace")
    parser.add_argument("--keyspace", action="append", choices=sorted(keyspaces.KEYSPACES), default=None)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    load_before = os.getloadavg()
    rows: list[tuple[str, ...]] = []
    for name in options.keyspace or ["mixed", "prod"]:
        rows += bench_keyspace(name, options.keys, options.rounds)
    header = ("run", "wall s min/med/max", "ratio to memkeys, per round", "peak RSS MiB", "other p99 ms, per round",
              "p99 over idle (worst round)")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    server = _binary()
    print(f"{server.flavour} {server.version_text}, {os.cpu_count()} CPUs, load average before "
          f"{load_before[0]:.1f} / after {os.getloadavg()[0]:.1f}, {options.rounds} alternating rounds")
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))


if __name__ == "__main__":
    main()
