"""Every stream found by ``SCAN TYPE stream``: length, memory, ages, groups, consumers, oldest pending."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.exceptions as rex

from redisguard._wire.decode import optional_int, text
from redisguard.collect.gaps import Gaps, reason_for
from redisguard.keynames import to_text
from redisguard.snapshot import StreamConsumer, StreamGroup, StreamInfo

__all__ = ["MAX_STREAMS", "collect_streams", "describe_stream", "id_ms", "scan_streams", "server_time_ms"]

T = TypeVar("T")

MAX_STREAMS = 500
MAX_CONSUMERS_LISTED = 50


def id_ms(stream_id: str | None) -> int | None:
    """The millisecond part of a stream id (``"1700000000000-3"`` -> 1700000000000)."""
    if not stream_id:
        return None
    head = stream_id.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def server_time_ms(client: redis.Redis, gaps: Gaps | None = None) -> int:
    """The server's clock (TIME); where TIME is denied or renamed, this machine's, noted on ``gaps``."""
    try:
        seconds, micros = client.time()
    except rex.ResponseError as exc:
        if gaps is not None:
            gaps.note("TIME", f"{reason_for(exc, 'TIME')}: entry ages measured against this machine's clock")
        return int(time.time() * 1000)
    return int(seconds) * 1000 + int(micros) // 1000


def scan_streams(client: redis.Redis, limit: int = MAX_STREAMS) -> tuple[list[bytes], bool]:
    """Stream key names (at most ``limit``) and whether there were more."""
    found: list[bytes] = []
    cursor = 0
    while True:
        # COUNT 200: each SCAN call blocks Redis for the buckets it walks; smaller steps keep other
        # clients' p99 low on big keyspaces, for a few hundred extra round trips per million keys.
        cursor, keys = client.scan(cursor=cursor, count=200, _type="stream")
        for key in keys:
            if len(found) >= limit:
                return found, True
            found.append(key if isinstance(key, bytes) else key.encode())
        if cursor == 0:
            return found, False


def _age(now_ms: int, stream_id: str | None) -> int | None:
    ms = id_ms(stream_id)
    return None if ms is None else max(0, now_ms - ms)


def _optional(gaps: Gaps | None, what: str, call: Callable[[], T]) -> T | None:
    """``call()``, or None where the server refuses it (recorded on ``gaps`` when there is one)."""
    if gaps is not None:
        return gaps.run(what, call)
    try:
        return call()
    except (rex.ConnectionError, rex.TimeoutError):
        raise
    except rex.ResponseError:
        return None


def _group(client: redis.Redis, key: bytes, raw: dict[str, Any], now_ms: int, gaps: Gaps | None) -> StreamGroup:
    name_raw = raw.get("name", b"")
    group = StreamGroup(
        name=text(name_raw),
        consumers=int(raw.get("consumers", 0)),
        pending=int(raw.get("pending", 0)),
        last_delivered_id=text(raw.get("last-delivered-id", "0-0")),
        entries_read=optional_int(raw.get("entries-read")),
        lag=optional_int(raw.get("lag")),
    )
    if group.pending:
        # Not visible (XPENDING denied): oldest_pending_id stays None, and the safe trim point treats the
        # group as needing everything rather than guessing.
        summary = _optional(gaps, "XPENDING", lambda: client.xpending(key, name_raw))
        oldest = summary.get("min") if isinstance(summary, dict) else None
        if oldest is not None:
            group.oldest_pending_id = text(oldest)
            group.oldest_pending_age_ms = _age(now_ms, group.oldest_pending_id)
    if group.consumers:
        consumers = _optional(gaps, "XINFO CONSUMERS", lambda: client.xinfo_consumers(key, name_raw)) or []
        for consumer in consumers[:MAX_CONSUMERS_LISTED]:
            cname = consumer.get("name", b"")
            group.consumer_details.append(StreamConsumer(
                name=text(cname),
                pending=int(consumer.get("pending", 0)),
                idle_ms=int(consumer.get("idle", 0)),
                inactive_ms=optional_int(consumer.get("inactive")),
            ))
    return group


def _gone(exc: rex.ResponseError) -> bool:
    """The key vanished meanwhile, or is not a stream."""
    lowered = str(exc).lower()
    return "no such key" in lowered or "wrongtype" in lowered


def describe_stream(client: redis.Redis, key: bytes, now_ms: int, gaps: Gaps | None) -> StreamInfo | None:
    """One stream's health, or None if it vanished meanwhile (or is not a stream).

    XINFO STREAM and XINFO GROUPS are needed (their refusal is raised, for the caller's gaps); XPENDING,
    XINFO CONSUMERS, MEMORY USAGE and PTTL are optional: refused, that part is None and noted on ``gaps``.
    """
    try:
        raw = client.xinfo_stream(key)
    except rex.ResponseError as exc:
        if _gone(exc):
            return None
        raise
    first = raw.get("first-entry")
    last = raw.get("last-entry")
    first_id = text(first[0]) if first else None
    last_id = text(last[0]) if last else None
    memory = _optional(gaps, "MEMORY USAGE", lambda: client.memory_usage(key, samples=0))
    ttl = _optional(gaps, "PTTL", lambda: client.pttl(key))
    info = StreamInfo(
        key=to_text(key),
        length=int(raw.get("length", 0)),
        memory_bytes=int(memory) if memory is not None else None,
        first_id=first_id,
        last_id=last_id,
        first_entry_age_ms=_age(now_ms, first_id),
        last_entry_age_ms=_age(now_ms, last_id),
        last_generated_id=text(raw.get("last-generated-id", "0-0")),
        max_deleted_entry_id=text(raw["max-deleted-entry-id"]) if raw.get("max-deleted-entry-id") else None,
        entries_added=optional_int(raw.get("entries-added")),
        ttl_ms=int(ttl) if ttl is not None and int(ttl) >= 0 else None,
    )
    try:
        groups = client.xinfo_groups(key)
    except rex.ResponseError as exc:
        if _gone(exc):
            return None
        raise
    info.groups = [_group(client, key, group, now_ms, gaps) for group in groups]
    return info


def collect_streams(client: redis.Redis, gaps: Gaps, limit: int = MAX_STREAMS) -> tuple[list[StreamInfo], bool]:
    """(streams, truncated). A denied XINFO/SCAN is recorded as not visible."""
    found = gaps.run("SCAN TYPE stream", lambda: scan_streams(client, limit))
    if found is None:
        return [], False
    keys, truncated = found
    if not keys:
        return [], truncated
    now_ms = server_time_ms(client, gaps)
    streams: list[StreamInfo] = []
    for key in keys:
        info = gaps.run("XINFO STREAM", lambda key=key: describe_stream(client, key, now_ms, gaps))  # type: ignore[misc]
        if info is not None:
            streams.append(info)
    return streams, truncated
