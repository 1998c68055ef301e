"""The doctor's report as plain data: what every renderer formats (renderers never compute)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from redisguard.breakdown import memory_breakdown
from redisguard.rules import Finding, exit_code
from redisguard.snapshot import Snapshot

__all__ = ["doctor_report"]


def doctor_report(snapshot: Snapshot, findings: list[Finding]) -> dict[str, Any]:
    nodes = []
    for node in snapshot.nodes:
        breakdown = memory_breakdown(node)
        nodes.append({
            "address": node.address, "role": node.role, "version": node.server.text,
            "server": node.server.flavour, "server_title": node.server.title,
            "used_memory": breakdown.used, "used_memory_rss": breakdown.rss, "maxmemory": breakdown.maxmemory,
            "maxmemory_policy": node.policy, "keys": node.total_keys, "streams": len(node.streams),
            "streams_truncated": node.streams_truncated,
            "clients": node.clients.count if node.clients else None,
            "key_sample": None if node.key_sample is None else {
                "scanned": node.key_sample.scanned, "keyspace_size": node.key_sample.keyspace_size,
                "exact": node.key_sample.exact},
            "breakdown": [{"part": label, "bytes": value} for label, value in breakdown.parts],
            "collected_in_ms": node.collected_in_ms,
        })
    return {
        "target": snapshot.target,
        "mode": snapshot.mode,
        "taken_at": snapshot.taken_at,
        "redisguard_version": snapshot.redisguard_version,
        "exit_code": exit_code(findings),
        "nodes": nodes,
        "findings": [
            {**asdict(finding), "severity": finding.severity.label} for finding in findings
        ],
        "not_visible": [asdict(gap) for gap in snapshot.not_visible],
    }
