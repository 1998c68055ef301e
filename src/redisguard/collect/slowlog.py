"""SLOWLOG GET and LATENCY LATEST. Slowlog arguments can hold user data: keep command and key only."""

from __future__ import annotations

from typing import Any

import redis

from redisguard._wire.decode import text
from redisguard.collect.gaps import Gaps
from redisguard.collect.raw import raw_replies
from redisguard.keynames import to_text
from redisguard.snapshot import LatencyEvent, SlowlogEntry

__all__ = ["SLOWLOG_ENTRIES", "collect_latency", "collect_slowlog", "slowlog_entry"]

SLOWLOG_ENTRIES = 32
# Commands whose first argument is not a key (or that have none): their arguments are never kept.
_NO_KEY = {"auth", "hello", "config", "client", "eval", "evalsha", "fcall", "script", "function", "acl",
           "info", "ping", "echo", "select", "memory", "slowlog", "latency", "debug", "cluster", "scan",
           "keys", "flushall", "flushdb", "multi", "exec", "subscribe", "psubscribe", "publish", "module"}
_KEY_LIMIT = 200


_text = text  # the wire layer's one decode helper


def slowlog_entry(raw: list[Any]) -> SlowlogEntry:
    args = list(raw[3]) if len(raw) > 3 else []
    command = _text(args[0]).lower() if args else ""
    key: str | None = None
    if len(args) > 1 and command not in _NO_KEY:
        key = to_text(args[1])[:_KEY_LIMIT] if isinstance(args[1], bytes) else _text(args[1])[:_KEY_LIMIT]
    kept = 1 + (key is not None)
    return SlowlogEntry(
        id=int(raw[0]), started_at=int(raw[1]), duration_us=int(raw[2]), command=command,
        key=key, args_dropped=max(0, len(args) - kept),
        client_addr=_text(raw[4]) if len(raw) > 4 else "",
        client_name=_text(raw[5]) if len(raw) > 5 else "",
    )


def collect_slowlog(client: redis.Redis, gaps: Gaps) -> list[SlowlogEntry]:
    with raw_replies(client, "SLOWLOG GET"):
        raw = gaps.run("SLOWLOG GET", lambda: client.execute_command("SLOWLOG GET", SLOWLOG_ENTRIES))
    return [slowlog_entry(item) for item in raw or []]


def collect_latency(client: redis.Redis, gaps: Gaps) -> list[LatencyEvent]:
    with raw_replies(client, "LATENCY LATEST"):
        raw = gaps.run("LATENCY LATEST", lambda: client.execute_command("LATENCY LATEST"))
    return [LatencyEvent(event=_text(item[0]), at=int(item[1]), latest_ms=int(item[2]), max_ms=int(item[3]))
            for item in raw or []]
