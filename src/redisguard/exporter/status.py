"""``/status``: one collection as JSON (memory used and max, share, fragmentation, clients, ops/s, hit rate,
keys, the forecast, the active findings). Pure; never holds a password (targets are shown redacted)."""

from __future__ import annotations

from typing import Any

from redisguard.exporter.model import Collection, NodeResult
from redisguard.keynames import visible

__all__ = ["node_status", "status"]


def _field(node: NodeResult, name: str) -> str | None:
    info = node.sample.info if node.sample and node.sample.info else {}
    for section in info.values():
        if name in section:
            return section[name]
    return None


def _int(node: NodeResult, name: str) -> int | None:
    value = _field(node, name)
    try:
        return None if value is None else int(float(value))
    except ValueError:
        return None


def _float(node: NodeResult, name: str) -> float | None:
    value = _field(node, name)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _keys(node: NodeResult) -> int | None:
    keyspace = node.sample.info.get("keyspace") if node.sample and node.sample.info else None
    if keyspace is None:
        return 0 if node.up else None
    total = 0
    for text in keyspace.values():
        parts = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        total += int(parts.get("keys", 0))
    return total


def node_status(node: NodeResult) -> dict[str, Any]:
    used = _int(node, "used_memory")
    limit = _int(node, "maxmemory")
    counted = None if used is None else max(0, used - (_int(node, "mem_not_counted_for_evict") or 0))
    hits, misses = _int(node, "keyspace_hits"), _int(node, "keyspace_misses")
    lookups = (hits or 0) + (misses or 0)
    fc = node.forecast
    return {
        "node": node.node,
        "up": node.up,
        "error": node.error,
        "version": visible(_field(node, "valkey_version") or _field(node, "redis_version") or "") or None,
        "server": visible(_field(node, "server_name") or "redis"),
        "memory": {
            "used_bytes": used, "max_bytes": limit, "counted_bytes": counted,
            "share": None if not limit or counted is None else counted / limit,
            "rss_bytes": _int(node, "used_memory_rss"),
            "fragmentation_ratio": _float(node, "mem_fragmentation_ratio"),
            "policy": _field(node, "maxmemory_policy"),
        },
        "clients": _int(node, "connected_clients"),
        "ops_per_second": _int(node, "instantaneous_ops_per_sec"),
        "hit_rate": None if not lookups else (hits or 0) / lookups,
        "evicted_keys": _int(node, "evicted_keys"),
        "keys": _keys(node),
        "forecast": None if fc is None else {
            "rate_bytes_per_second": fc.rate_bytes_per_second, "seconds_to_limit": fc.seconds_to_limit,
            "seconds_lower": fc.seconds_lower, "seconds_upper": fc.seconds_upper, "limit_bytes": fc.limit_bytes,
            "current_bytes": fc.current_bytes, "consequence": fc.consequence, "samples_used": fc.samples_used,
        },
        "findings": [{"rule": finding.id, "severity": finding.severity.label, "title": visible(finding.title),
                      "bytes_at_stake": finding.bytes_at_stake} for finding in node.findings],
        "streams": len(node.sample.streams) if node.sample else 0,
        "streams_found": node.streams_found,
    }


def status(collection: Collection) -> dict[str, Any]:
    nodes = [node_status(node) for node in collection.nodes]
    for node in nodes:
        if not node["up"] and node["error"] is None:  # a down node says why, not null
            node["error"] = collection.error or "no reply from this node in this collection"
    used = [n["memory"]["used_bytes"] for n in nodes if n["memory"]["used_bytes"] is not None]
    up = [n for n in nodes if n["up"]]
    limits = [n["memory"]["max_bytes"] or 0 for n in up]

    def total(values: list[int]) -> int | None:
        return sum(values) if up else None  # nothing was read: unknown, not 0

    return {
        "target": collection.target,
        "mode": collection.mode,
        "taken_at": collection.taken_at,
        "partial": collection.partial,
        "error": collection.error,
        "total": {"used_bytes": sum(used) if used else None, "max_bytes": total(limits),
                  "keys": total([n["keys"] or 0 for n in up]), "clients": total([n["clients"] or 0 for n in up])},
        "nodes": nodes,
        "not_visible": [{"what": gap.what, "node": gap.node, "reason": gap.reason}
                        for gap in collection.not_visible],
    }
