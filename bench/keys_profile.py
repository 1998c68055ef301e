"""Where a ``redisguard keys`` run's time goes: the server's own time per command, and the wall time split
into server busy, client CPU and the rest (waiting on round trips, or for a CPU on a busy machine).

Starts its own redis-server on 127.0.0.1 with ``bench/keys.py``'s cached dataset, resets INFO
commandstats, runs ``redisguard keys URL --json [extra args]`` (or ``redis-cli --memkeys`` with
``--memkeys``) and reads: the server process's CPU time (``/proc/PID/stat``) before and after, the
tool's own CPU time (``wait4`` rusage), and ``INFO commandstats`` (calls, usec, usec per call).

Usage: ``.venv/bin/python bench/keys_profile.py [--keys 200000] [--keyspace prod] [--memkeys] [-- ARGS]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import keys  # bench/keys.py, beside this script
from common import cpu_seconds  # bench/common.py


def profile(total: int, keyspace: str, memkeys: bool, extra: list[str]) -> None:
    with keys.dataset_server(total, keyspace) as server:
        assert server.process is not None
        pid = server.process.pid
        with server.client() as admin:
            size = int(admin.dbsize())
            admin.config_resetstat()
            if memkeys:
                args = ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--memkeys"]
            else:
                args = [keys.REDISGUARD, "keys", server.url, "--json", *extra]
            load = os.getloadavg()
            cpu_before = cpu_seconds(pid)
            began = time.monotonic()
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - began
            server_cpu = cpu_seconds(pid) - cpu_before
            err = proc.stderr.read().decode() if proc.stderr else ""
            if status != 0:
                sys.exit(f"{args[0]} failed ({status}): {err[-300:]}")
            stats = admin.info("commandstats")
    client_cpu = usage.ru_utime + usage.ru_stime
    print(f"{' '.join(args[:2] + extra) if not memkeys else 'redis-cli --memkeys'}: {keyspace}, {size:,} keys, "
          f"load average {load[0]:.2f} before, after {os.getloadavg()[0]:.2f}")
    print(f"  wall {wall:.2f} s; server CPU {server_cpu:.2f} s ({server_cpu / wall:.0%} busy); "
          f"client CPU {client_cpu:.2f} s ({client_cpu / wall:.0%}); "
          f"neither (approx.) {max(0.0, wall - max(server_cpu, client_cpu)):.2f} s")
    total_usec = 0
    rows = []
    for name, value in stats.items():
        if name in ("cmdstat_config|resetstat", "cmdstat_config", "cmdstat_info"):
            continue
        calls, usec = int(value["calls"]), int(value["usec"])
        total_usec += usec
        rows.append((usec, name.removeprefix("cmdstat_"), calls, float(value["usec_per_call"])))
    for usec, name, calls, per_call in sorted(rows, reverse=True):
        print(f"  {name:18} {calls:>9,} calls  {usec / 1e6:6.2f} s  {per_call:5.2f} us/call  "
              f"{usec / max(size, 1):5.2f} us/key")
    print(f"  commands in all: {total_usec / 1e6:.2f} s of the server's time, {total_usec / max(size, 1):.2f} us/key "
          f"({total_usec / 1e6 / wall:.0%} of the wall time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--keyspace", default="prod")
    parser.add_argument("--memkeys", action="store_true")
    parser.add_argument("extra", nargs="*", help="more arguments for redisguard keys (after --)")
    options = parser.parse_args()
    profile(options.keys, options.keyspace, options.memkeys, options.extra)


if __name__ == "__main__":
    main()
