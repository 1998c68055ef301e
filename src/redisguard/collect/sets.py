"""Named collection sets, for callers that collect over and over on a long-lived client.

- ``INFO``: one ``INFO`` round trip (memory, clients, stats, persistence, replication, keyspace).
- ``STREAMS``: INFO plus a summary of the given streams, pipelined (XINFO STREAM, XINFO GROUPS, MEMORY
  USAGE with the server's default sampling, then XPENDING summaries for groups with pending entries and,
  if asked, XINFO CONSUMERS): two or three round trips per batch of streams, not a few per stream.
- ``FULL``: the doctor's whole set (:func:`collect_full`, the same collectors as ``doctor``).

A :class:`NodeSample` is filled step by step, so a caller that stops waiting at a deadline still has
what arrived (``complete`` says whether everything did). Denied or renamed commands are recorded as not
visible and their part is left out; nothing here raises for them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import redis
import redis.exceptions as rex

from redisguard._wire.decode import optional_int, text
from redisguard.collect.clients import collect_clients
from redisguard.collect.config import collect_config
from redisguard.collect.gaps import Gaps, reason_for
from redisguard.collect.info import collect_info, parse_info_text
from redisguard.collect.memory import collect_memory_doctor, collect_memory_stats
from redisguard.collect.raw import raw_replies
from redisguard.collect.slowlog import collect_latency, collect_slowlog
from redisguard.collect.streams import collect_streams, id_ms
from redisguard.keynames import to_text
from redisguard.snapshot import NodeSnapshot, NotVisible, StreamConsumer, StreamGroup, StreamInfo

__all__ = [
    "STREAM_BATCH",
    "CollectionSet",
    "NodeSample",
    "collect_full",
    "collect_sample",
    "discover_streams",
    "sample_snapshot",
]

STREAM_BATCH = 250  # streams per pipelined batch: the deadline is checked between batches


class CollectionSet(Enum):
    INFO = "info"
    STREAMS = "streams"
    FULL = "full"


@dataclass
class NodeSample:
    """What one collection of one node brought back (possibly partial)."""

    address: str
    role: str
    started_at: float
    info: dict[str, dict[str, str]] | None = None
    streams: list[StreamInfo] = field(default_factory=list)
    streams_wanted: int = 0
    complete: bool = False
    not_visible: list[NotVisible] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0

    def note(self, what: str, reason: str) -> None:
        record = NotVisible(what=what, node=self.address, reason=reason)
        if record not in self.not_visible:
            self.not_visible.append(record)


def discover_streams(client: redis.Redis, limit: int, *, count: int = 500) -> tuple[list[bytes], int]:
    """Stream keys found by ``SCAN ... TYPE stream`` (at most ``limit``) and how many exist in all."""
    found: list[bytes] = []
    total = 0
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, count=count, _type="stream")
        for key in keys:
            total += 1
            if len(found) < limit:
                found.append(key if isinstance(key, bytes) else str(key).encode())
        if cursor == 0:
            return found, total


def _age(now_ms: int, stream_id: str | None) -> int | None:
    ms = id_ms(stream_id)
    return None if ms is None else max(0, now_ms - ms)


def _denied(sample: NodeSample, what: str, reply: Any) -> bool:
    """True (and noted) when a pipelined reply is a denial or an unknown command; other errors are
    per-key answers (the key vanished or changed type)."""
    if not isinstance(reply, rex.RedisError):
        return False
    reason = reason_for(reply)
    if reason.startswith(("denied", "command not available")):
        sample.note(what, reason)
    return True


def _stream(key: bytes, raw: dict[str, Any], memory: Any, now_ms: int) -> StreamInfo:
    first = raw.get("first-entry")
    last = raw.get("last-entry")
    first_id = text(first[0]) if first else None
    last_id = text(last[0]) if last else None
    return StreamInfo(
        key=to_text(key), length=int(raw.get("length", 0)),
        memory_bytes=int(memory) if isinstance(memory, int) else None,
        first_id=first_id, last_id=last_id,
        first_entry_age_ms=_age(now_ms, first_id), last_entry_age_ms=_age(now_ms, last_id),
        last_generated_id=text(raw.get("last-generated-id", "0-0")),
        max_deleted_entry_id=text(raw["max-deleted-entry-id"]) if raw.get("max-deleted-entry-id") else None,
        entries_added=optional_int(raw.get("entries-added")),
    )


def _group(raw: dict[str, Any]) -> tuple[StreamGroup, Any]:
    name_raw = raw.get("name", b"")
    return StreamGroup(
        name=text(name_raw),
        consumers=int(raw.get("consumers", 0)), pending=int(raw.get("pending", 0)),
        last_delivered_id=text(raw.get("last-delivered-id", "0-0")),
        entries_read=optional_int(raw.get("entries-read")), lag=optional_int(raw.get("lag")),
    ), name_raw


def _stream_batch(client: redis.Redis, sample: NodeSample, keys: Sequence[bytes], now_ms: int,
                  consumers: bool) -> list[StreamInfo]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.xinfo_stream(key)
        pipe.xinfo_groups(key)
        pipe.memory_usage(key)
    replies = pipe.execute(raise_on_error=False)
    streams: list[StreamInfo] = []
    groups_of: list[tuple[StreamInfo, bytes, list[tuple[StreamGroup, Any]]]] = []
    for index, key in enumerate(keys):
        raw_stream, raw_groups, memory = replies[3 * index: 3 * index + 3]
        if _denied(sample, "XINFO STREAM", raw_stream) or not isinstance(raw_stream, dict):
            continue
        if _denied(sample, "MEMORY USAGE", memory):
            memory = None
        info = _stream(key, raw_stream, memory, now_ms)
        streams.append(info)
        if _denied(sample, "XINFO GROUPS", raw_groups) or not isinstance(raw_groups, list):
            continue
        groups_of.append((info, key, [_group(raw) for raw in raw_groups]))
    follow = client.pipeline(transaction=False)
    asked: list[tuple[str, StreamGroup]] = []
    for info, key, groups in groups_of:
        for group, name_raw in groups:
            info.groups.append(group)
            if group.pending:
                follow.xpending(key, name_raw)
                asked.append(("XPENDING", group))
            if consumers and group.consumers:
                follow.xinfo_consumers(key, name_raw)
                asked.append(("XINFO CONSUMERS", group))
    if asked:
        for (what, group), reply in zip(asked, follow.execute(raise_on_error=False), strict=True):
            if _denied(sample, what, reply):
                continue
            if what == "XPENDING" and isinstance(reply, dict) and reply.get("min") is not None:
                group.oldest_pending_id = text(reply["min"])
                group.oldest_pending_age_ms = _age(now_ms, group.oldest_pending_id)
            elif what == "XINFO CONSUMERS" and isinstance(reply, list):
                group.consumer_details = [StreamConsumer(
                    name=text(c.get("name", b"")),
                    pending=int(c.get("pending", 0)), idle_ms=int(c.get("idle", 0)),
                    inactive_ms=optional_int(c.get("inactive"))) for c in reply]
    return streams


def _server_time_ms(client: redis.Redis, sample: NodeSample) -> int:
    try:
        seconds, micros = client.time()
        return int(seconds) * 1000 + int(micros) // 1000
    except rex.ResponseError as exc:  # TIME denied: our clock is the next best thing
        sample.note("TIME", reason_for(exc))
        return int(time.time() * 1000)


def _default_info(client: redis.Redis, sample: NodeSample) -> dict[str, dict[str, str]] | None:
    """Plain ``INFO`` (the default sections: no per-command statistics), parsed section by section."""
    with raw_replies(client, "INFO"):
        try:
            raw = client.execute_command("INFO")
        except rex.ResponseError as exc:
            sample.note("INFO", reason_for(exc))
            return None
    return parse_info_text(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)) or None


def collect_sample(client: redis.Redis, sample: NodeSample, which: CollectionSet, *,
                   streams: Sequence[bytes] = (), consumers: bool = False, deadline: float | None = None) -> None:
    """Fill ``sample`` with the ``INFO`` or ``STREAMS`` set, step by step (``FULL``: :func:`collect_full`).

    Stops between stream batches once ``time.monotonic()`` passes ``deadline`` (``complete`` stays False).
    Connection errors and timeouts propagate: the caller owns the client and decides what to do.
    """
    if which is CollectionSet.FULL:
        raise ValueError("the FULL set is collected by collect_full()")
    began = time.monotonic()
    try:
        sample.info = _default_info(client, sample)
        if which is CollectionSet.STREAMS and streams:
            sample.streams_wanted = len(streams)
            now_ms = _server_time_ms(client, sample)
            for start in range(0, len(streams), STREAM_BATCH):
                if deadline is not None and time.monotonic() > deadline:
                    return
                sample.streams.extend(_stream_batch(client, sample, streams[start:start + STREAM_BATCH],
                                                    now_ms, consumers))
        sample.complete = True
    finally:
        sample.duration_s = time.monotonic() - began


def collect_full(client: redis.Redis, address: str, role: str) -> tuple[NodeSnapshot, list[NotVisible]]:
    """The doctor's whole set on an open client (the same collectors as :func:`collect_node`)."""
    started = time.monotonic()
    gaps = Gaps(address)
    info = collect_info(client, gaps)
    snapshot = NodeSnapshot(
        address=address, role="primary" if role == "primary" else "replica",
        version=info.get("server", {}).get("redis_version", "unknown"), info=info,
        config=collect_config(client, gaps), memory_stats=collect_memory_stats(client, gaps),
        memory_doctor=collect_memory_doctor(client, gaps), clients=collect_clients(client, gaps),
        slowlog=collect_slowlog(client, gaps), latency=collect_latency(client, gaps),
        streams=[], streams_truncated=False, key_sample=None,
    )
    snapshot.streams, snapshot.streams_truncated = collect_streams(client, gaps)
    snapshot.collected_in_ms = int((time.monotonic() - started) * 1000)
    return snapshot, gaps.missing


def sample_snapshot(sample: NodeSample, *, streams_truncated: bool = False) -> NodeSnapshot:
    """A :class:`NodeSnapshot` holding only what a light sample saw (INFO and streams), for the rules:
    the rules that need CONFIG, MEMORY STATS or CLIENT LIST find nothing and stay quiet."""
    info = sample.info or {}
    return NodeSnapshot(
        address=sample.address, role="primary" if sample.role == "primary" else "replica",
        version=info.get("server", {}).get("redis_version", "unknown"), info=info, config={},
        memory_stats={}, memory_doctor=None, clients=None, slowlog=[], latency=[],
        streams=list(sample.streams), streams_truncated=streams_truncated, key_sample=None,
        collected_in_ms=int(sample.duration_s * 1000),
    )
