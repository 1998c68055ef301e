"""Collect one node's NodeSnapshot: every collector, each allowed to come back "not visible"."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
import redis.exceptions as rex

from redisguard.collect.clients import collect_clients
from redisguard.collect.cluster import collect_cluster_info
from redisguard.collect.config import collect_config
from redisguard.collect.gaps import Gaps
from redisguard.collect.info import collect_info
from redisguard.collect.memory import collect_memory_doctor, collect_memory_stats
from redisguard.collect.slowlog import collect_latency, collect_slowlog
from redisguard.collect.streams import collect_streams
from redisguard.connect import ConnectError, Node, describe_connect_failure, open_client
from redisguard.errors import one_line
from redisguard.snapshot import KeyspaceReport, NodeSnapshot, ServerVersion

__all__ = ["KeySampler", "collect_node"]

# The doctor's key analysis, wired in by the caller (cli/doctor: redisguard.keyspace.doctor_key_sampler):
# collect knows no engine. Its refusals become "not visible" like any other command's.
KeySampler = Callable[[redis.Redis], KeyspaceReport | None]
_KEY_SAMPLE = "keyspace sample (SCAN or RANDOMKEY, MEMORY USAGE, OBJECT ENCODING, PTTL, lengths, big-key pass)"


def collect_node(node: Node, *, key_sampler: KeySampler | None = None) -> tuple[NodeSnapshot, Gaps]:
    """One node's snapshot. Losing the connection midway is a :class:`ConnectError` (exit 3), not a crash."""
    try:
        return _collect_node(node, key_sampler)
    except ConnectError:
        raise
    except (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError) as exc:
        failure = describe_connect_failure(node.address, exc)
        if failure.kind == "unreachable":  # it did connect: the server went away (and a reconnect failed)
            reason = one_line(str(exc)) or type(exc).__name__
            message = f"{node.address}: lost the connection while collecting ({reason})"
            raise ConnectError(message, kind="lost") from None
        raise ConnectError(f"{failure} (while collecting)", kind=failure.kind) from None


def _collect_node(node: Node, key_sampler: KeySampler | None) -> tuple[NodeSnapshot, Gaps]:
    started = time.monotonic()
    gaps = Gaps(node.address)
    client = open_client(node.options)
    try:
        info = collect_info(client, gaps)
        snapshot = NodeSnapshot(
            address=node.address,
            role=node.role,
            # the server's own version: Valkey's valkey_version, not the redis_version:7.2.4 it reports
            version=ServerVersion.from_info(info.get("server", {})).text,
            info=info,
            config=collect_config(client, gaps),
            memory_stats=collect_memory_stats(client, gaps),
            memory_doctor=collect_memory_doctor(client, gaps),
            clients=collect_clients(client, gaps),
            slowlog=collect_slowlog(client, gaps),
            latency=collect_latency(client, gaps),
            streams=[],
            streams_truncated=False,
            key_sample=None,
        )
        if info.get("cluster", {}).get("cluster_enabled") == "1":
            snapshot.cluster = collect_cluster_info(client, gaps)
        snapshot.streams, snapshot.streams_truncated = collect_streams(client, gaps)
        if key_sampler is not None:
            snapshot.key_sample = gaps.run(_KEY_SAMPLE, lambda: key_sampler(client))
    finally:
        client.close()
    snapshot.collected_in_ms = int((time.monotonic() - started) * 1000)
    return snapshot, gaps
