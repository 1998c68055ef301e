"""Helpers that put a real redis-server into the state a rule is about, and diagnose it."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.keyspace import doctor_key_sampler
from redisguard.localserver import LocalServer
from redisguard.rules import Finding, Thresholds, analyse
from redisguard.snapshot import Snapshot


def snapshot_of(server: LocalServer, *, key_sample: int = 0) -> Snapshot:
    sampler = doctor_key_sampler(key_sample) if key_sample else None
    return collect_snapshot(ConnectionOptions.build(server.url), key_sampler=sampler)


def diagnose(server: LocalServer, *, key_sample: int = 0, **limits: float) -> list[Finding]:
    return analyse(snapshot_of(server, key_sample=key_sample), Thresholds(**limits))  # type: ignore[arg-type]


def only(findings: list[Finding], rule_id: str) -> Finding:
    matching = [finding for finding in findings if finding.id == rule_id]
    assert len(matching) == 1, (rule_id, [finding.id for finding in findings])
    return matching[0]


def ids(findings: list[Finding]) -> set[str]:
    return {finding.id for finding in findings}


def fill_until(client: redis.Redis, share: float, *, prefix: str = "store", value_size: int = 1000) -> int:
    """SET keys until used_memory reaches ``share`` of maxmemory; returns how many were written."""
    limit = int(client.config_get("maxmemory")["maxmemory"])
    written = 0
    while int(client.info("memory")["used_memory"]) < limit * share:
        pipe = client.pipeline(transaction=False)
        for _ in range(50):
            pipe.set(f"{prefix}:{written}", "v" * value_size)
            written += 1
        pipe.execute()
    return written


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
