"""Fan a scan out over a deployment: every primary of a Redis Cluster in parallel (or one replica per
shard with ``--replica``), a standalone server (or its replica), then merge into one report."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import cast
from urllib.parse import urlsplit

import redis.exceptions as rex

from redisguard.connect import ConnectionOptions, Node, Topology, discover, open_client
from redisguard.connect.topology import node_states, role_changes
from redisguard.keyspace._report import KeyspaceReport, build_report
from redisguard.keyspace._scan import NodeScan, ScanSettings, scan_client

__all__ = ["pick_nodes", "scan_deployment"]

Progress = Callable[[int], None]


def _url_db(options: ConnectionOptions) -> int:
    """The database a ``redis://host:port/N`` URL names (0 when none, or for a unix socket's ?db=)."""
    path = urlsplit(options.url).path.strip("/")
    return int(path) if path.isdigit() else 0


def pick_nodes(topology: Topology, *, replica: bool) -> tuple[list[Node], list[str]]:
    """The node to scan for each shard, and notes for the report (a shard with no replica to use)."""
    notes: list[str] = []
    primaries = topology.primaries
    if not primaries:  # connected straight to a replica (standalone): that is the one to scan
        return list(topology.nodes[:1]), notes
    if not replica:
        return list(primaries), notes
    chosen: list[Node] = []
    for primary in primaries:
        replicas = sorted(topology.replicas_of(primary), key=lambda node: node.address)
        if replicas:
            chosen.append(replicas[0])
        else:
            notes.append(f"--replica: {primary.address} has no replica; scanned the primary instead")
            chosen.append(primary)
    return chosen, notes


def _dbsize(node: Node, db: int | None) -> int:
    """The node's key count for the plan (0 when DBSIZE is denied or renamed: the scan then has no total)."""
    with open_client(node.options) as client:
        if db is not None:
            client.execute_command("SELECT", db)
        try:
            return int(client.dbsize())
        except rex.ResponseError:
            return 0


def _run_all(run: Callable[[int], NodeScan], count: int, cancel: threading.Event) -> list[NodeScan]:
    """Every shard's scan in its own thread. The first error (or Ctrl-C in this thread) cancels the
    others within a batch, instead of waiting for them to scan their whole shard."""
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="redisguard-scan")
    try:
        futures = [pool.submit(run, index) for index in range(count)]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                raise cast(BaseException, future.exception())
        return [future.result() for future in futures]
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def scan_deployment(options: ConnectionOptions, settings: ScanSettings, *, replica: bool = False,
                    progress: Progress | None = None,
                    on_total: Callable[[int], None] | None = None) -> KeyspaceReport:
    """Discover the deployment, scan (or sample) every shard in parallel, and merge the results.

    With ``settings.sample`` on several shards the draws are split in proportion to each shard's
    ``DBSIZE`` (a stratified sample: see :mod:`redisguard.keyspace._sampling`). ``on_total`` is told the
    number of keys (or draws) expected, for a progress bar's ETA.
    """
    began = time.monotonic()
    topology = discover(options)
    nodes, notes = pick_nodes(topology, replica=replica)
    seed_db = _url_db(options)
    if settings.db is None and seed_db and topology.mode == "standalone":
        # redis://host:port/N: every node (a replica with --replica too, whose options point at /0) scans db N.
        settings = replace(settings, db=seed_db)
    if settings.db is not None and topology.mode == "cluster" and settings.db != 0:
        notes.append("Redis Cluster has only database 0")
    sizes = [_dbsize(node, settings.db) for node in nodes]
    total = sum(sizes)
    draws: list[int | None] = [None] * len(nodes)
    if settings.sample is not None and total:
        draws = [math.ceil(settings.sample * size / total) for size in sizes]
    if on_total is not None:
        on_total(sum(min(size, d) if d is not None else size for size, d in zip(sizes, draws, strict=True)))

    cancel = threading.Event()

    def run(index: int) -> NodeScan:
        node = nodes[index]
        node_settings = settings if settings.sample is None else replace(settings, sample=draws[index])
        with open_client(node.options) as client:
            return scan_client(client, node_settings, address=node.address, role=node.role, progress=progress,
                               draws=draws[index], cancel=cancel)

    scans = [run(0)] if len(nodes) == 1 else _run_all(run, len(nodes), cancel)
    report = build_report(scans, target=options.display, topology=topology.mode, cap=settings.cap,
                          db=settings.db if settings.db is not None else seed_db,
                          elapsed_s=time.monotonic() - began)
    report.notes.extend(notes)
    report.notes.extend(f"{what}: {why}" for what, why in topology.not_visible)  # failed/slot-less nodes, gaps
    states = node_states(nodes)  # each node again: its server (Valkey named as such) and its role now
    for summary, state in zip(report.nodes, states, strict=False):
        summary.server = state.server
    if topology.mode == "cluster" or len(nodes) > 1:
        report.notes.extend(role_changes(nodes, states))  # a failover mid-scan makes MOVED keys look vanished
    return report
