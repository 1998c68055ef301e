"""CLUSTER INFO on a cluster node: its view of the cluster's state (ok/fail) and slot coverage."""

from __future__ import annotations

import redis

from redisguard.collect.gaps import Gaps
from redisguard.collect.raw import raw_replies

__all__ = ["collect_cluster_info"]


def collect_cluster_info(client: redis.Redis, gaps: Gaps) -> dict[str, str]:
    """``cluster_state``, ``cluster_slots_assigned/ok/pfail/fail``, ``cluster_known_nodes``... as sent."""
    with raw_replies(client, "CLUSTER INFO"):
        raw = gaps.run("CLUSTER INFO", lambda: client.execute_command("CLUSTER INFO"))
    if raw is None:
        return {}
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name.startswith("cluster_"):
            values[name] = value
    return values
