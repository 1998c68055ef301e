"""The memory-relevant CONFIG values, asked for by name: ``CONFIG GET *`` would return passwords."""

from __future__ import annotations

import redis

from redisguard.collect.gaps import Gaps, reason_for

__all__ = ["MEMORY_CONFIG", "collect_config"]

# Every parameter the rules and reports read. Never add requirepass, masterauth, or anything secret.
MEMORY_CONFIG: tuple[str, ...] = (
    "maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-clients", "maxclients", "timeout",
    "tcp-keepalive", "save", "appendonly", "appendfsync", "aof-use-rdb-preamble",
    "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size", "activedefrag",
    "active-defrag-ignore-bytes", "active-defrag-threshold-lower", "client-output-buffer-limit",
    "client-query-buffer-limit", "repl-backlog-size", "repl-backlog-ttl", "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del",
    "stream-node-max-bytes", "stream-node-max-entries", "slowlog-log-slower-than", "slowlog-max-len",
    "latency-monitor-threshold", "hash-max-listpack-entries", "hash-max-ziplist-entries",
    "zset-max-listpack-entries", "zset-max-ziplist-entries", "list-max-listpack-size", "list-max-ziplist-size",
    "set-max-intset-entries", "lua-time-limit", "busy-reply-threshold", "notify-keyspace-events",
    "rdb-key-save-delay", "cluster-require-full-coverage",
)
_SECRET = {"requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"}


def collect_config(client: redis.Redis, gaps: Gaps) -> dict[str, str]:
    """One CONFIG GET per parameter, pipelined (Redis < 7.0 takes one pattern per call)."""
    pipe = client.pipeline(transaction=False)
    for name in MEMORY_CONFIG:
        pipe.config_get(name)  # through redis-py's CONFIG GET parser: a dict in RESP2 and RESP3 alike
    replies = gaps.run("CONFIG GET", lambda: pipe.execute(raise_on_error=False))
    if replies is None:
        return {}
    values: dict[str, str] = {}
    errors = [reply for reply in replies if isinstance(reply, redis.exceptions.RedisError)]
    if errors and len(errors) == len(replies):
        gaps.note("CONFIG GET", reason_for(errors[0], "CONFIG GET"))
        return {}
    for reply in replies:
        if isinstance(reply, dict):
            for raw_name, raw_value in reply.items():
                name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
                if name in _SECRET:
                    continue
                value = raw_value.decode("utf-8", "replace") if isinstance(raw_value, bytes) else str(raw_value)
                values[name] = value
    return values
