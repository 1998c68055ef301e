"""Collectors: the only code that talks to Redis for diagnosis. Read-only, and never crash on a gap."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from redisguard import __version__
from redisguard.collect.node import KeySampler, collect_node
from redisguard.connect import ConnectionOptions, Node, discover
from redisguard.snapshot import SNAPSHOT_VERSION, NodeSnapshot, NotVisible, Snapshot

__all__ = ["KeySampler", "collect_snapshot"]


def collect_snapshot(
    options: ConnectionOptions,
    *,
    include_replicas: bool = False,
    key_sampler: KeySampler | None = None,
) -> Snapshot:
    """Discover the deployment and collect every primary (and replicas if asked), cluster nodes in parallel."""
    taken_at = time.time()
    topology = discover(options)
    nodes: list[Node] = list(topology.nodes if include_replicas else topology.primaries)
    if not nodes:  # connected to a lone replica: diagnose it rather than nothing
        nodes = list(topology.nodes)
    results: list[tuple[NodeSnapshot, list[NotVisible]]] = []
    pool = ThreadPoolExecutor(max_workers=min(8, len(nodes)))
    try:
        futures = [pool.submit(collect_node, node, key_sampler=key_sampler) for node in nodes]
        for future in futures:
            node_snapshot, probe = future.result()
            results.append((node_snapshot, probe.missing))
    except BaseException:
        # Ctrl-C or a node's failure: do not wait for the other nodes' replies (up to --timeout each).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return Snapshot(
        version=SNAPSHOT_VERSION,
        taken_at=taken_at,
        target=options.display,
        mode=topology.mode,
        redisguard_version=__version__,
        nodes=[node for node, _ in results],
        not_visible=[gap for _, gaps in results for gap in gaps],
    )
