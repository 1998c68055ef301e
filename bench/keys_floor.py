"""The server's own floor for a keys scan: how fast *any* client could get each key's answers, against
``redis-cli --memkeys`` and ``redisguard keys`` in the same rounds.

A single-threaded Redis runs every command itself, so no client can finish a scan sooner than the
server takes to run that scan's commands. This bench measures that time directly: it records the SCAN
cursors and each key's type once, writes the exact command stream a scan sends as raw RESP to a file,
and replays it with ``redis-cli --pipe`` (C, one connection, writes and reads at once: the server never
waits for the client). Three streams, per key:

* ``sizes only``: SCAN COUNT 150 and ``MEMORY USAGE`` (the least any tool with exact sizes must ask);
* ``memkeys' questions``: SCAN COUNT 10, ``TYPE`` and ``MEMORY USAGE`` (what ``redis-cli --memkeys`` asks);
* ``redisguard's questions``: SCAN COUNT 150, ``MEMORY USAGE``, the type's length command, ``OBJECT
  ENCODING`` and ``PTTL`` (exact size, type, length, encoding and TTL); in a database where no key has a
  TTL, ``INFO keyspace`` behind each batch instead of ``PTTL`` (what ``redisguard keys`` then sends).

Each round runs the real ``redis-cli --memkeys``, the real ``redisguard keys --json`` and the three
replays, in a rotating order; the table gives wall and server CPU (``/proc/PID/stat``) min/median/max and
the ratio to memkeys' wall of the same round. The replays' ratios are what no client can beat on this
server and machine.

Usage: ``.venv/bin/python bench/keys_floor.py [--keys 300000] [--keyspace prod] [--rounds 3]``.
Targets the bench's own loopback server only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keys  # bench/keys.py, beside this script
from common import cpu_seconds  # bench/common.py

from redisguard._wire.resp import command
from redisguard.keyspace._scan import LENGTH_COMMANDS  # the scan's own table: the replay asks what it asks


def _scan_batches(client: object, count: int) -> list[tuple[bytes, list[bytes]]]:
    """(cursor sent, keys returned) for every SCAN call of a full scan at this COUNT."""
    batches: list[tuple[bytes, list[bytes]]] = []
    cursor = b"0"
    while True:
        reply = client.execute_command("SCAN", cursor, "COUNT", count)  # type: ignore[attr-defined]
        batches.append((cursor, list(reply[1])))
        cursor = str(reply[0]).encode() if isinstance(reply[0], int) else reply[0]
        if cursor == b"0":
            return batches


def _types(client: object, batches: list[tuple[bytes, list[bytes]]]) -> dict[bytes, bytes]:
    names = [key for _, batch in batches for key in batch]
    found: dict[bytes, bytes] = {}
    for start in range(0, len(names), 5000):
        chunk = names[start:start + 5000]
        pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for key in chunk:
            pipe.type(key)
        found.update(zip(chunk, (t if isinstance(t, bytes) else t.encode() for t in pipe.execute()), strict=True))
    return found


def _write_stream(path: Path, batches: list[tuple[bytes, list[bytes]]], count: int,
                  per_key: Callable[[bytes], list[bytes]], after: list[bytes] | None = None) -> int:
    """Write SCAN + each key's commands (+ ``after`` behind each batch) as RESP; the number of commands."""
    written = 0
    with path.open("wb") as out:
        for cursor, batch in batches:
            parts = [command(b"SCAN", cursor, b"COUNT", str(count).encode())]
            for key in batch:
                parts += per_key(key)
            parts += after or []
            written += len(parts)
            out.write(b"".join(parts))
    return written


def _timed(args: list[str], pid: int, stdin_path: Path | None = None) -> tuple[float, float]:
    """(wall s, server CPU s) of one run of ``args``."""
    cpu = cpu_seconds(pid)
    began = time.monotonic()
    with (stdin_path.open("rb") if stdin_path else open(os.devnull, "rb")) as stdin:
        proc = subprocess.run(args, stdin=stdin, capture_output=True, timeout=keys.RUN_TIMEOUT_S, check=False)
    wall = time.monotonic() - began
    if proc.returncode != 0:
        sys.exit(f"{args[0]} failed ({proc.returncode}): {proc.stderr.decode()[-300:]}")
    if stdin_path is not None and b"errors: 0" not in proc.stdout + proc.stderr:
        sys.exit(f"the replay of {stdin_path.name} had errors: {(proc.stdout + proc.stderr).decode()[-300:]}")
    return wall, cpu_seconds(pid) - cpu


def bench(total: int, keyspace: str, rounds: int) -> None:
    load_before = os.getloadavg()
    with keys.dataset_server(total, keyspace) as server, tempfile.TemporaryDirectory(prefix="rg-floor-") as tmp:
        assert server.process is not None
        pid = server.process.pid
        with server.client() as admin:
            size = int(admin.dbsize())
            wide = _scan_batches(admin, 150)
            narrow = _scan_batches(admin, 10)
            types = _types(admin, wide)
            ttl_free = admin.info("keyspace").get("db0", {}).get("expires", 0) == 0
        work = Path(tmp)
        # With no TTL in the database, redisguard asks INFO keyspace behind each batch instead of PTTL per key.
        ttl_question = [] if ttl_free else [b"PTTL"]
        guard = [command(b"INFO", b"keyspace")] if ttl_free else []
        streams = {
            "replay: sizes only": _write_stream(work / "sizes.resp", wide, 150,
                                                lambda k: [command(b"MEMORY", b"USAGE", k)]),
            "replay: memkeys' questions": _write_stream(work / "memkeys.resp", narrow, 10,
                                                        lambda k: [command(b"TYPE", k),
                                                                   command(b"MEMORY", b"USAGE", k)]),
            "replay: redisguard's questions": _write_stream(
                work / "redisguard.resp", wide, 150,
                lambda k: [command(b"MEMORY", b"USAGE", k), command(LENGTH_COMMANDS.get(types[k], b"STRLEN"), k),
                           command(b"OBJECT", b"ENCODING", k), *(command(name, k) for name in ttl_question)],
                after=guard),
        }
        files = dict(zip(streams, ("sizes.resp", "memkeys.resp", "redisguard.resp"), strict=True))
        cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port)]
        tools: dict[str, tuple[list[str], Path | None]] = {
            "redis-cli --memkeys": ([*cli, "--memkeys"], None),
            "redisguard keys --json": ([keys.REDISGUARD, "keys", server.url, "--json"], None),
            **{name: ([*cli, "--pipe"], work / files[name]) for name in streams},
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
        order = list(tools)
        for turn in range(rounds):
            for name in order[turn % len(order):] + order[:turn % len(order)]:
                args, stdin = tools[name]
                results[name].append(_timed(args, pid, stdin))
    memkeys = [wall for wall, _ in results["redis-cli --memkeys"]]
    binary = keys._binary()
    server_name = f"{binary.flavour} {binary.version_text}"
    print(f"{server_name}, {keyspace}: {size:,} keys, {os.cpu_count()} CPUs, load average "
          f"before {load_before[0]:.1f} / after {os.getloadavg()[0]:.1f}, {rounds} rotating rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    header = ("run", "commands/key", "wall s min/med/max", "server CPU s min/med/max", "ratio to memkeys per round")
    rows = [header]
    ours = "3 + (SCAN+INFO)/150" if ttl_free else "4 + SCAN/150"
    per_key = {"redis-cli --memkeys": "2 + SCAN/10", "redisguard keys --json": ours,
               "replay: sizes only": "1 + SCAN/150", "replay: memkeys' questions": "2 + SCAN/10",
               "replay: redisguard's questions": ours}
    for name, runs in results.items():
        walls = [wall for wall, _ in runs]
        ratios = [wall / peer for wall, peer in zip(walls, memkeys, strict=True)]
        cpus = [cpu for _, cpu in runs]
        rows.append((name, per_key[name], keys._spread(walls, "{:.2f}"), keys._spread(cpus, "{:.2f}"),
                     "" if name == "redis-cli --memkeys" else
                     ", ".join(f"{r:.2f}" for r in ratios) + f" (median {statistics.median(ratios):.2f})"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--keyspace", choices=sorted(keys.keyspaces.KEYSPACES), default="prod")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    bench(options.keys, options.keyspace, options.rounds)


if __name__ == "__main__":
    main()
