"""Stream health: what a stream holds, which group pins it, and what a safe trim would free.

The entries before a point are counted without walking millions of entries: from the pinning group's
``lag`` where Redis knows it (the group has nothing pending, so every entry after its last-delivered id
is what it still needs), else by walking at most :data:`WALK_CAP` entries from each end of the stream,
else estimated from the ids' timestamps between the walked ends (and said to be an estimate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import redis
import redis.exceptions as rex

from redisguard.collect.gaps import Gaps, reason_for
from redisguard.collect.streams import MAX_STREAMS, describe_stream, scan_streams, server_time_ms
from redisguard.keynames import to_bytes, to_text
from redisguard.snapshot import NotVisible, StreamInfo
from redisguard.snapshot.server import ServerVersion
from redisguard.streams._ids import StreamId, format_id, parse_id
from redisguard.streams._safety import SafePoint, safe_point_of_groups

__all__ = ["WALK_CAP", "EntryCount", "StreamHealth", "StreamScan", "count_before", "scan_stream_health",
           "stream_health"]

WALK_CAP = 100_000  # entries read from each end at most, per count
_BATCH = 10_000

SyncClient = redis.Redis | redis.RedisCluster


@dataclass(frozen=True)
class EntryCount:
    """A number of entries, and how it was obtained: ``walk`` and ``lag`` are exact (``lag`` as exact as
    Redis's own group lag), ``estimate`` interpolates between what was walked."""

    value: int
    source: Literal["none", "walk", "lag", "estimate"]

    @property
    def exact(self) -> bool:
        return self.source != "estimate"


@dataclass(frozen=True)
class StreamHealth:
    """One stream as collected, its safe trim point (None: no groups, trim nothing) and what a safe trim
    there would free."""

    node: str
    stream: StreamInfo
    safe_point: SafePoint | None
    safe_to_trim: EntryCount
    bytes_safe_to_trim: int

    @property
    def key(self) -> str:
        return self.stream.key


def _walk(client: SyncClient, key: bytes, start: str, end: str, *, reverse: bool) -> tuple[int, bool]:
    """Entries in [start, end] (XREVRANGE order when ``reverse``), at most WALK_CAP; (count, complete)."""
    count = 0
    batch: Any
    while count < WALK_CAP:
        if reverse:
            batch = client.xrevrange(key, max=end, min=start, count=_BATCH)
        else:
            batch = client.xrange(key, min=start, max=end, count=_BATCH)
        count += len(batch)
        if len(batch) < _BATCH:
            return count, True
        last = batch[-1][0].decode() if isinstance(batch[-1][0], bytes) else str(batch[-1][0])
        if reverse:
            end = "(" + last
        else:
            start = "(" + last
    return count, False


def count_before(client: SyncClient, key: bytes, stream: StreamInfo, point: SafePoint | StreamId) -> EntryCount:
    """Entries of ``stream`` with an id before ``point``."""
    target = point.id if isinstance(point, SafePoint) else point
    if not stream.length or stream.first_id is None or target <= parse_id(stream.first_id):
        return EntryCount(0, "walk")
    if stream.last_id is not None and target > parse_id(stream.last_id):
        return EntryCount(stream.length, "walk")
    if isinstance(point, SafePoint):
        pinning = next(group for group in point.groups if group.group == point.pinned_by)
        lag = next((group.lag for group in stream.groups if group.name == point.pinned_by), None)
        if pinning.pending == 0 and lag is not None:
            return EntryCount(stream.length - min(lag, stream.length), "lag")
    text = format_id(target)
    before, complete = _walk(client, key, "-", "(" + text, reverse=False)
    if complete:
        return EntryCount(before, "walk")
    after, complete = _walk(client, key, text, "+", reverse=True)
    if complete:
        return EntryCount(max(0, stream.length - after), "walk")
    first_ms, last_ms = parse_id(stream.first_id)[0], parse_id(stream.last_id or stream.first_id)[0]
    share = (target[0] - first_ms) / (last_ms - first_ms) if last_ms > first_ms else 0.5
    guess = round(stream.length * min(max(share, 0.0), 1.0))
    return EntryCount(min(max(guess, before), stream.length - after), "estimate")


def stream_health(client: SyncClient, stream: StreamInfo, node: str = "") -> StreamHealth:
    """The health of a collected stream (``redisguard.collect.streams.describe_stream``)."""
    point = safe_point_of_groups(stream.groups)
    count = EntryCount(0, "none") if point is None else count_before(client, to_bytes(stream.key), stream, point)
    per_entry = (stream.memory_bytes or 0) / stream.length if stream.length else 0
    return StreamHealth(node=node, stream=stream, safe_point=point, safe_to_trim=count,
                        bytes_safe_to_trim=int(per_entry * count.value))


@dataclass(frozen=True)
class StreamScan:
    """The streams of one node. ``looked``: False when the streams could not be listed (SCAN denied or
    renamed): no streams then means "unknown", never "none". ``unreadable``: streams listed whose details
    could not be read (XINFO or XPENDING denied or renamed), with the reason."""

    node: str
    healths: list[StreamHealth]
    looked: bool
    truncated: bool
    unreadable: list[tuple[str, str]]  # (stream name, reason)
    not_visible: list[NotVisible]
    server: str | None = None  # "Redis 8.2.3", "Valkey 8.1.8" (INFO server); None when not visible


def scan_stream_health(client: Any, node: str = "", limit: int = MAX_STREAMS) -> StreamScan:
    """Every stream of one node (``SCAN TYPE stream``, at most ``limit``) and its health."""
    gaps = Gaps(node)
    info = gaps.run("INFO server", lambda: client.info("server"))
    server = None if info is None else ServerVersion.from_info({str(k): str(v) for k, v in info.items()}).title
    found = gaps.run("SCAN TYPE stream", lambda: scan_streams(client, limit))
    if found is None:
        return StreamScan(node, [], looked=False, truncated=False, unreadable=[], not_visible=gaps.missing,
                          server=server)
    keys, truncated = found
    now_ms = gaps.run("TIME", lambda: server_time_ms(client))
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    healths: list[StreamHealth] = []
    unreadable: list[tuple[str, str]] = []
    for key in keys:
        try:
            info = describe_stream(client, key, now_ms, gaps)
            if info is not None:
                healths.append(stream_health(client, info, node))
        except rex.ResponseError as exc:  # XINFO/XPENDING/XRANGE denied or renamed (not a lost connection)
            reason = reason_for(exc)
            gaps.note("XINFO/XPENDING/XRANGE on streams", reason)
            unreadable.append((to_text(key), reason))
    return StreamScan(node, healths, looked=True, truncated=truncated, unreadable=unreadable,
                      not_visible=gaps.missing, server=server)
