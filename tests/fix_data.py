"""Shared set-up for the fix tests: the incident of seed 000, dataset digests, running the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import redis

REDISGUARD = [sys.executable, "-m", "redisguard"]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDISGUARD, *args], capture_output=True, text=True, timeout=timeout, check=False)


def run_json(*args: str) -> tuple[int, Any]:
    result = run_cli(*args, "--json")
    try:
        return result.returncode, json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout[-2000:]} "
                             f"{result.stderr[-2000:]}") from exc


def dataset_digest(client: redis.Redis) -> dict[bytes, str]:
    """Every key's DUMP, hashed: equal digests mean a byte-for-byte equal dataset."""
    out = {}
    for key in client.scan_iter(count=1000):
        dumped = client.dump(key)
        out[key] = hashlib.sha256(dumped if isinstance(dumped, bytes) else b"").hexdigest()
    return out


def fill_strings(client: redis.Redis, prefix: str, count: int) -> None:
    """``count`` keys ``<prefix>0`` … each holding ``"v"`` (the bulk tests' keyspace): MSETs of 1,000 keys,
    20 to a pipeline, 1.1M keys in a few seconds where one SET per key took 21."""
    for start in range(0, count, 20_000):
        pipe = client.pipeline(transaction=False)
        for first in range(start, min(count, start + 20_000), 1_000):
            pipe.mset({f"{prefix}{index}": "v" for index in range(first, min(count, first + 1_000))})
        pipe.execute()


def fill_incident(client: redis.Redis) -> None:
    """Seed 000: noeviction, two streams filled until XADD is refused with OOM; on the live stream the
    indexers read 80 % and acknowledged 60 %, an audit group read half and acknowledged 45 %; on the
    backfill stream a group that never read."""
    for index in range(200):
        client.set(f"config:flag:{index}", "on")
    client.xgroup_create("firehose_live", "indexers", id="0", mkstream=True)
    client.xgroup_create("firehose_live", "audit", id="0")
    client.xgroup_create("firehose_backfill", "never", id="0", mkstream=True)
    try:
        while True:
            pipe = client.pipeline(transaction=False)
            for _ in range(250):
                pipe.xadd("firehose_live", {"payload": "x" * 200, "n": "1"})
                pipe.xadd("firehose_backfill", {"payload": "y" * 200, "n": "2"})
            pipe.execute()
    except redis.exceptions.OutOfMemoryError:
        pass
    length = client.xlen("firehose_live")
    for group, read, acked, consumers in (("indexers", 0.8, 0.6, 4), ("audit", 0.5, 0.45, 2)):
        entries = []
        per = int(length * read) // consumers
        for c in range(consumers):
            got = client.xreadgroup(group, f"{group}-{c}", {"firehose_live": ">"}, count=per)
            entries += [entry_id for entry_id, _ in got[0][1]]
        for start in range(0, int(length * acked), 1000):
            client.xack("firehose_live", group, *entries[start:min(start + 1000, int(length * acked))])


def group_state(client: redis.Redis, key: str) -> dict[str, tuple[list[Any], list[Any]]]:
    """Per group: its pending entries (id and content) and the entries it has not been delivered yet."""
    out = {}
    for group in client.xinfo_groups(key):
        name = group["name"].decode()
        pending = client.xpending_range(key, name, min="-", max="+", count=10_000_000)
        ids = [row["message_id"] for row in pending]
        contents = [client.xrange(key, min=i, max=i) for i in ids]
        unread = client.xrange(key, min="(" + group["last-delivered-id"].decode(), max="+")
        out[name] = (contents, unread)
    return out
