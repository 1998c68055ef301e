"""Benchmark ``redisguard fix`` bulk work against the seeds' ``redis-cli --scan | xargs`` pipelines.

Each of ``--rounds`` rounds (default 3) starts its own redis-server on 127.0.0.1, loads N keys matching
``session:*`` (default 200,000) and 100,000 others, and runs, in an order that rotates every round:

* ``redisguard fix --expire-pattern 'session:*' --apply --yes --max-impact 1`` and
  ``--delete-pattern 'session:*'`` (UNLINK): wall time (planning, which measures the matching keys, and
  applying), keys/s of the apply (from the audit log's timestamps);
* seed 002's ``redis-cli --scan --pattern 'session:*' | xargs -I {} redis-cli EXPIRE {} 3600`` (one
  redis-cli per key) and its ``... | xargs -I {} redis-cli DEL {}``, on the first K keys (default 2,000:
  at one process per key the whole set would take the better part of an hour); its time for N is
  extrapolated from its rate;
* a control with no Redis traffic at all: one process busy on a CPU for 3 s, so that what CPU contention
  alone does to the other client on this machine is measured beside the tools.

Another client PINGs every 2 ms on its own connection throughout; its p99 is measured while idle right
before every run (2 s), and each run's p99 is shown against that idle p99. On Redis 7.0+ the server's
own view is shown too: the slowest of its commands by INFO latencystats (p99.9 in usec over the run's
SCAN, UNLINK, DEL and EXPIRE calls), which CPU contention on the client side does not inflate.
The load average is printed with every run. The table gives each round, then min / median / max.

Usage: ``.venv/bin/python bench/fix.py [--keys 200000] [--xargs-keys 2000] [--rounds 3]``.
Loopback only; every run is bounded in keys and time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common import LatencyProbe, fill_strings  # bench/common.py, beside this script

from redisguard.localserver import LocalServer, RedisBinary, find_redis_binaries

VENV_BIN = Path(sys.executable).parent
REDISGUARD = str(VENV_BIN / "redisguard")
RUN_TIMEOUT_S = 1800
IDLE_S = 2.0
_BUSY = "import time\nend = time.perf_counter() + 3\nwhile time.perf_counter() < end:\n    pass\n"



@dataclass
class Run:
    tool: str
    round: int
    wall_s: float
    keys_per_s: float
    idle_p99: float
    p99: float
    load: float
    server_p999_us: float | None = None
    extrapolated_s: float | None = None

    @property
    def excess(self) -> float:
        return self.p99 - self.idle_p99


def _fill(server: LocalServer, count: int, prefix: str) -> None:
    with server.client() as client:
        fill_strings(client, count, prefix)


def _idle_p99(port: int) -> float:
    with LatencyProbe(port, RUN_TIMEOUT_S) as probe:
        time.sleep(IDLE_S)
    return probe.p99()


def _server_p999(server: LocalServer) -> float | None:
    """The slowest of the bulk commands by INFO latencystats (7.0+), in usec; None where there is none."""
    with server.client() as client:
        try:
            stats = client.info("latencystats")
        except Exception:  # 6.2 has no such section: the column stays empty
            return None
    values = [float(v["p99.9"]) for k, v in stats.items()
              if k.rsplit("_", 1)[-1] in ("scan", "unlink", "del", "expire") and "p99.9" in v]
    return max(values) if values else None


def _timed(server: LocalServer, argv: list[str], via_sh: bool = False) -> tuple[float, float, float, float | None]:
    """(wall s, idle p99 just before, p99 during, the server's own p99.9 of the bulk commands)."""
    idle = _idle_p99(server.port)
    with server.client() as client:
        client.config_resetstat()  # our own throwaway server: per-run latencystats
    with LatencyProbe(server.port, RUN_TIMEOUT_S) as probe:
        time.sleep(0.2)
        began = time.monotonic()
        proc = subprocess.run(argv if not via_sh else ["sh", "-c", argv[0]], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, check=False)
        wall = time.monotonic() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0][:80]} exited {proc.returncode}: {proc.stderr[-500:]}")
    return wall, idle, probe.p99(), _server_p999(server)


def _apply_seconds(audit: Path) -> float:
    stamps = [json.loads(line) for line in audit.read_text().splitlines() if '"action-' in line]
    times = [datetime.fromisoformat(r["time"]) for r in stamps]
    return (max(times) - min(times)).total_seconds()


def _fix(server: LocalServer, what: str, keys: int, turn: int, tmp: Path) -> Run:
    audit = tmp / f"{what}-{turn}.jsonl"
    option = "--expire-pattern" if what == "EXPIRE" else "--delete-pattern"
    load = os.getloadavg()[0]
    wall, idle, p99, server_us = _timed(server, [
        REDISGUARD, "fix", server.url, "--only", "expire" if what == "EXPIRE" else "delete", option, "session:*",
        "--key-sample", "0", "--max-impact", "1", "--apply", "--yes", "--json", "--audit", str(audit)])
    return Run(f"fix {what}", turn, wall, keys / _apply_seconds(audit), idle, p99, load, server_us)


def _xargs(server: LocalServer, what: str, keys: int, xargs_keys: int, turn: int) -> Run:
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port)]
    verb = "EXPIRE {} 3600" if what == "EXPIRE" else "DEL {}"
    line = (f"{shlex.join([*cli, '--scan', '--pattern', 'session:*'])} | head -n {xargs_keys} | "
            f"xargs -I {{}} {shlex.join(cli)} {verb}")
    load = os.getloadavg()[0]
    wall, idle, p99, server_us = _timed(server, [line], via_sh=True)
    rate = xargs_keys / wall
    return Run(f"xargs {what.replace('UNLINK', 'DEL')}", turn, wall, rate, idle, p99, load, server_us, keys / rate)


def _control(server: LocalServer, turn: int) -> Run:
    load = os.getloadavg()[0]
    wall, idle, p99, _ = _timed(server, [sys.executable, "-c", _BUSY])
    return Run("control: a CPU busy, no Redis", turn, wall, 0.0, idle, p99, load)


def _round(binary: RedisBinary, keys: int, xargs_keys: int, turn: int, tmp: Path) -> list[Run]:
    runs: list[Run] = []
    with LocalServer(binary) as server:
        _fill(server, keys, "session:")
        _fill(server, 100_000, "user:")
        for what in ("EXPIRE", "UNLINK"):
            tools = ["fix", "xargs"] if turn % 2 == 0 else ["xargs", "fix"]  # alternate which runs first
            for tool in tools:
                if what == "UNLINK":  # the keys this one deletes exist (again)
                    _fill(server, keys if tool == "fix" else xargs_keys, "session:")
                runs.append(_fix(server, what, keys, turn, tmp) if tool == "fix"
                            else _xargs(server, what, keys, xargs_keys, turn))
        runs.append(_control(server, turn))
    return runs


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def _table(runs: list[Run], keys: int, binary: RedisBinary, load_before: float, rounds: int) -> None:
    header = ("run", "round", "load", "wall s", "keys/s", "idle p99 ms", "p99 ms", "p99 - idle ms",
              "server p99.9 us", "x faster")
    rows: list[tuple[str, ...]] = []
    fix_wall = {(r.tool.split()[1], r.round): r.wall_s for r in runs if r.tool.startswith("fix ")}
    ratio: dict[tuple[str, int], float] = {}
    for run in runs:
        if run.extrapolated_s is not None:
            what = "EXPIRE" if "EXPIRE" in run.tool else "UNLINK"
            ratio[(run.tool, run.round)] = run.extrapolated_s / fix_wall[(what, run.round)]
    for run in runs:
        rows.append((run.tool, str(run.round + 1), f"{run.load:.1f}", f"{run.wall_s:.1f}",
                     f"{run.keys_per_s:,.0f}" if run.keys_per_s else "", f"{run.idle_p99:.3f}", f"{run.p99:.3f}",
                     f"{run.excess:+.3f}", _fmt(run.server_p999_us, ".0f"),
                     _fmt(ratio.get((run.tool, run.round)), ",.0f")))
    for tool in dict.fromkeys(r.tool for r in runs):
        mine = [r for r in runs if r.tool == tool]

        def span(values: list[float], spec: str = ".3f") -> str:
            return "/".join(format(v, spec) for v in (min(values), statistics.median(values), max(values)))

        server = [r.server_p999_us for r in mine if r.server_p999_us is not None]
        ratios = [ratio[(r.tool, r.round)] for r in mine if (r.tool, r.round) in ratio]
        rows.append((f"{tool}: min/median/max", "", span([r.load for r in mine], ".1f"),
                     span([r.wall_s for r in mine], ".1f"),
                     span([r.keys_per_s for r in mine], ",.0f") if mine[0].keys_per_s else "",
                     span([r.idle_p99 for r in mine]), span([r.p99 for r in mine]), span([r.excess for r in mine]),
                     span(server, ".0f") if server else "", span(ratios, ",.0f") if ratios else ""))
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, redis-server {binary.version_text}, {keys:,} matching keys "
          f"+ 100,000 others, --max-impact 1, {rounds} alternating rounds, {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after")
    print("xargs runs on the first keys only; 'x faster' = its time extrapolated to all keys / fix's (plan + apply)")
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--xargs-keys", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binaries = find_redis_binaries()
    binary = next((b for b in binaries if b.flavour == "redis" and b.version[:2] == (7, 0)), binaries[0])
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="redisguard-bench-") as tmp:
        for turn in range(args.rounds):
            runs += _round(binary, args.keys, args.xargs_keys, turn, Path(tmp))
    _table(runs, args.keys, binary, load_before, args.rounds)


if __name__ == "__main__":
    main()
