"""CLIENT LIST, summarised: counts, idle distribution, the heaviest clients, groups by name or address."""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Any

import redis

from redisguard.collect.gaps import Gaps
from redisguard.snapshot import ClientEntry, ClientGroup, ClientSummary

__all__ = ["IDLE_BUCKETS", "collect_clients", "summarise_clients"]

# ClientSummary.idle_at_least["300"] = how many clients have been idle for at least 300 s.
IDLE_BUCKETS: tuple[int, ...] = (1, 10, 60, 300, 600, 1800, 3600, 86400)
TOP_CLIENTS = 10
TOP_GROUPS = 20


def _int(entry: dict[str, Any], name: str) -> int:
    try:
        return int(entry.get(name, 0))
    except (TypeError, ValueError):
        return 0


def _entry(raw: dict[str, Any]) -> ClientEntry:
    return ClientEntry(
        id=_int(raw, "id"), addr=str(raw.get("addr", "")), name=str(raw.get("name", "")),
        age_s=_int(raw, "age"), idle_s=_int(raw, "idle"), flags=str(raw.get("flags", "")),
        cmd=str(raw.get("cmd", "")),
        tot_mem=_int(raw, "tot-mem"), omem=_int(raw, "omem"), qbuf=_int(raw, "qbuf"),
    )


def summarise_clients(raw_clients: list[dict[str, Any]], self_id: int | None = None) -> ClientSummary:
    idle = {str(seconds): 0 for seconds in IDLE_BUCKETS}
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    entries = [_entry(raw) for raw in raw_clients if self_id is None or _int(raw, "id") != self_id]
    for entry in entries:
        for seconds in IDLE_BUCKETS:
            if entry.idle_s >= seconds:
                idle[str(seconds)] += 1
        key = entry.name or entry.addr.rsplit(":", 1)[0] or "unknown"
        group = groups[key]
        group[0] += 1
        group[1] += entry.tot_mem
        group[2] += entry.omem
        group[3] = max(group[3], entry.idle_s)
    top_groups = heapq.nlargest(TOP_GROUPS, groups.items(), key=lambda item: (item[1][1], item[1][0]))
    return ClientSummary(
        count=len(entries),
        idle_at_least=idle,
        top_by_memory=heapq.nlargest(TOP_CLIENTS, entries, key=lambda e: (e.tot_mem, e.omem)),
        groups=[ClientGroup(name, *values) for name, values in top_groups],
        total_mem=sum(entry.tot_mem for entry in entries),
        output_buffer_total=sum(entry.omem for entry in entries),
        pubsub=sum(1 for entry in entries if "P" in entry.flags),
        monitor=sum(1 for entry in entries if "O" in entry.flags),
        replicas=sum(1 for entry in entries if "S" in entry.flags),
        blocked=sum(1 for entry in entries if "b" in entry.flags),
    )


def collect_clients(client: redis.Redis, gaps: Gaps) -> ClientSummary | None:
    raw = gaps.run("CLIENT LIST", client.client_list)
    if raw is None:
        return None
    own = gaps.run("CLIENT ID", client.client_id)
    return summarise_clients(list(raw), self_id=int(own) if own is not None else None)
