"""Collectors: the only code that talks to Redis for diagnosis. Read-only, and never crash on a gap."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import redisguard
from redisguard.collect.node import KeySampler, collect_node
from redisguard.connect import ConnectError, ConnectionOptions, Node, discover
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
        nodes = list(topology.nodes) or [Node(options.display, "primary", options)]
    results: list[tuple[NodeSnapshot, list[NotVisible]]] = []
    lost: list[NotVisible] = []
    first_error: ConnectError | None = None
    pool = ThreadPoolExecutor(max_workers=min(8, len(nodes)))
    try:
        futures = [pool.submit(collect_node, node, key_sampler=key_sampler) for node in nodes]
        for node, future in zip(nodes, futures, strict=True):
            try:
                node_snapshot, gaps = future.result()
            except ConnectError as exc:  # one node down (a failed primary, a replica restarting): the rest
                first_error = first_error or exc
                lost.append(NotVisible(what=f"node {node.address}", node=node.address,
                                       reason=f"could not be diagnosed: {exc}"))
                continue
            results.append((node_snapshot, gaps.missing))
    except BaseException:
        # Ctrl-C or a node's failure: do not wait for the other nodes' replies (up to --timeout each).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if not results and first_error is not None:
        raise first_error
    return Snapshot(
        version=SNAPSHOT_VERSION,
        taken_at=taken_at,
        target=options.display,
        mode=topology.mode,
        redisguard_version=redisguard.__version__,
        nodes=[node for node, _ in results],
        not_visible=[NotVisible(what=what, node=options.display, reason=reason)
                     for what, reason in topology.not_visible]
                    + lost + [gap for _, gaps in results for gap in gaps],
    )
