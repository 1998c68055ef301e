"""``fix`` on a Redis Cluster: one plan over every primary, each action naming the node it runs on.

SCAN, CONFIG SET, CONFIG REWRITE, CLIENT LIST and MEMORY PURGE are per node, so each primary is collected
and planned on its own (key patterns scanned there, its streams, its clients, its configuration); the
workload is decided once for the whole cluster (every node must carry the same policy), and the host's
memory is shared among the nodes that run on the same host. A stream lives on the node serving its slot:
only that node's plan has its actions. Configuration actions are repeated for each primary's replicas
(configuration only, never data). The plan records each node's state and the cluster layout (node ids
and slots), so a saved plan is refused after a failover, a slot migration or a node change.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Any

import redis
import redis.exceptions as rex

from redisguard.collect.node import collect_node
from redisguard.connect import Node, Topology, open_client
from redisguard.errors import RefusedError
from redisguard.keyspace import doctor_key_sampler
from redisguard.remedy.facts import FixOptions
from redisguard.remedy.gather import gather
from redisguard.remedy.infer import infer_workload
from redisguard.remedy.plan import Action, Plan, Seen, changes_that_matter
from redisguard.remedy.planner import action_rank, expire_patterns_for, findings_for, make_plan
from redisguard.remedy.recheck import seen_now
from redisguard.remedy.recommend import Workload
from redisguard.snapshot import NodeSnapshot

__all__ = ["cluster_layout", "layout_changes", "open_node_clients", "plan_cluster", "saved_plan_changes"]

# Queue and store data must never be given an evicting policy: one such node decides for the cluster.
_CAUTION: dict[Workload, int] = {"cache": 0, "store": 1, "queue": 2}


def _slots(entry: dict[str, Any]) -> str:
    ranges = []
    for item in entry.get("slots", []):
        if len(item) == 2 and item[0] != item[1]:
            ranges.append(f"{item[0]}-{item[1]}")
        elif item:
            ranges.append(str(item[0]))
    return ",".join(ranges)


def cluster_layout(client: redis.Redis) -> dict[str, str]:
    """Each primary that serves slots: address -> ``"node-id slot-ranges"`` (CLUSTER NODES, as this node sees it)."""
    try:
        raw: dict[str, dict[str, Any]] = client.execute_command("CLUSTER NODES")
    except rex.NoPermissionError:
        raise RefusedError("fix on a Redis Cluster needs CLUSTER NODES (the plan records which node serves which "
                           "slots, to refuse a saved plan after a failover or a slot move): grant +cluster|nodes; "
                           "nothing was written") from None
    out = {}
    for address, entry in raw.items():
        flags = str(entry.get("flags", "")).split(",")
        if "master" in flags and "fail" not in flags and entry.get("slots"):
            out[address.split("@")[0]] = f"{entry.get('node_id', '')} {_slots(entry)}"
    return dict(sorted(out.items()))


def layout_changes(planned: dict[str, str], now: dict[str, str]) -> list[str]:
    """Why the cluster is not the one a saved plan was made on (a node gone or added, a failover, slots moved)."""
    reasons = []
    for address, seen in planned.items():
        current = now.get(address)
        if current is None:
            reasons.append(f"{address} is no longer a primary serving slots (a failover, or the node is gone)")
        elif current.split(" ")[0] != seen.split(" ")[0]:
            reasons.append(f"{address} is another node now (node id changed)")
        elif current != seen:
            reasons.append(f"the slots of {address} changed from {seen.split(' ', 1)[1]} to "
                           f"{current.split(' ', 1)[1]} (a slot migration)")
    for address in now:
        if address not in planned:
            reasons.append(f"{address} is a primary now and was not when the plan was made (a failover or a new "
                           "node)")
    return reasons


def _shared_memory(topology: Topology, node: Node, snapshot: NodeSnapshot,
                   options: FixOptions) -> tuple[int, str | None]:
    """The memory one node may plan for: the host's memory divided among the cluster's nodes on that host,
    and how it was chosen (None when the node is alone on its host)."""
    host = node.address.rpartition(":")[0]
    on_host = Counter(n.address.rpartition(":")[0] for n in topology.nodes)[host]
    memory = options.memory or snapshot.info_int("total_system_memory")
    if on_host <= 1:
        return memory, None
    source = "--memory" if options.memory else "INFO total_system_memory"
    return memory // on_host, f"1/{on_host} of {source} ({on_host} nodes of the cluster run on host {host})"


def _workload(options: FixOptions, snapshots: dict[str, NodeSnapshot]) -> tuple[Workload, str]:
    if options.workload is not None:
        return options.workload, "given with --workload"
    inferred = {address: infer_workload(snapshot) for address, snapshot in snapshots.items()}
    address, (workload, reason) = max(inferred.items(), key=lambda item: _CAUTION[item[1][0]])
    others = sorted({w for w, _ in inferred.values()} - {workload})
    extra = f"; other nodes look like {', '.join(others)}, but one policy fits every node" if others else ""
    return workload, f"on {address}: {reason}{extra}"


def _merged_notes(per_node: dict[str, list[str]]) -> list[str]:
    """Each node's notes, a note every primary has said once."""
    everywhere = set.intersection(*(set(n) for n in per_node.values())) if len(per_node) > 1 else set()
    out = [f"every primary: {note}" for note in dict.fromkeys(n for ns in per_node.values() for n in ns)
           if note in everywhere]
    for address, node_notes in per_node.items():
        out += [f"{address}: {note}" for note in node_notes if note not in everywhere]
    return out


def _replica_actions(topology: Topology, actions: list[Action], nodes: dict[str, Seen],
                     notes: list[str]) -> list[Action]:
    """Each primary's configuration actions again for its replicas: every node of a cluster should carry
    the same configuration (CONFIG SET and CONFIG REWRITE are per node), or a failover brings back the old
    one. Configuration only: a replica's data is never written. Adds each replica's state to ``nodes``."""
    out: list[Action] = []
    for primary in topology.primaries:
        own = [a for a in actions if a.node == primary.address and a.kind in ("config", "rewrite")]
        if not own:
            continue
        for replica in topology.replicas_of(primary):
            touched = {name: "" for a in own if a.kind == "config" for name in a.params["set"]}
            with open_client(replica.options) as client:
                config_file = str(client.info("server").get("config_file", ""))
                nodes[replica.address] = seen_now(client, Seen("", "replica", nodes[primary.address].version, 0, 0,
                                                               touched, {}))
            for action in own:
                if action.kind == "rewrite" and not config_file:
                    notes.append(f"{replica.address}: started without a config file, so CONFIG REWRITE cannot "
                                 "persist the changes there: add the lines to its redis.conf")
                    continue
                params = {**action.params, "config_file": config_file} if action.kind == "rewrite" else action.params
                out.append(replace(action, node=replica.address, params=params, rule=None, bytes_freed=None,
                                   title=f"{action.title} (on replica {replica.address} of {primary.address})",
                                   effect=f"the replica carries the primary's configuration, so a failover keeps "
                                          f"it ({action.effect})",
                                   estimate="nothing is freed on a replica (it follows its primary's data)"))
    return out


def plan_cluster(topology: Topology, options: FixOptions, key_sample: int, max_impact_ms: float | None,
                 server: str) -> Plan:
    """Collect and plan every primary, then merge into one plan whose actions name their node."""
    primaries = list(topology.primaries)
    snapshots = {}
    for node in primaries:
        snapshots[node.address], _probe = collect_node(
            node, key_sampler=doctor_key_sampler(key_sample) if key_sample else None)
    workload, reason = _workload(options, snapshots)
    actions: list[Action] = []
    notes: list[str] = []
    per_node_notes: dict[str, list[str]] = {}
    nodes: dict[str, Seen] = {}
    layout: dict[str, str] = {}
    for node in primaries:
        snapshot = snapshots[node.address]
        memory, source = _shared_memory(topology, node, snapshot, options)
        node_options = replace(options, workload=workload, memory=memory or None, memory_source=source)
        findings = findings_for(snapshot, options.thresholds)
        with open_client(node.options) as client:
            if not layout:
                layout = cluster_layout(client)
            facts = gather(client, snapshot, node_options, expire_patterns_for(findings, node_options), max_impact_ms)
        plan = make_plan(facts, findings, node_options, node.address)
        for action in plan.actions:
            action.node = node.address
        actions += plan.actions
        per_node_notes[node.address] = plan.notes
        memory_note = f"maxmemory is planned from {source}, so that the nodes together fit"
        if source and memory_note not in notes and any(a.id == "maxmemory" for a in plan.actions):
            notes.append(memory_note)
        nodes[node.address] = plan.seen
    actions.sort(key=action_rank)  # stable: node order within each kind
    notes += _merged_notes(per_node_notes)
    mirrored = _replica_actions(topology, actions, nodes, notes)
    actions = sorted(actions + mirrored, key=action_rank)
    notes += [f"{what}: {why}" for what, why in topology.not_visible]
    first = nodes[primaries[0].address] if primaries else Seen("", "primary", "", 0, 0, {}, {})
    return Plan(server=server, created_at=time.time(), workload=workload, workload_reason=reason,
                seen=first, actions=actions, notes=notes, nodes=nodes, layout=layout)


def saved_plan_changes(plan: Plan, topology: Topology, client: redis.Redis) -> list[str]:
    """Why a saved cluster plan must not be applied now: the layout, then each node's own state."""
    reasons = layout_changes(plan.layout, cluster_layout(client))
    if reasons:
        return reasons
    by_address = {node.address: node for node in topology.nodes}
    for address, seen in plan.nodes.items():
        node = by_address.get(address)
        if node is None:
            reasons.append(f"{address} is not a node the cluster lists now")
            continue
        with open_client(node.options) as node_client:
            reasons += [f"{address}: {why}" for why in changes_that_matter(seen, seen_now(node_client, seen))]
    return reasons


def open_node_clients(topology: Topology, plan: Plan) -> dict[str, redis.Redis]:
    """A client for each node the plan's actions run on (closed by the caller)."""
    wanted = {action.node for action in plan.actions if action.node is not None}
    clients: dict[str, redis.Redis] = {}
    try:
        for node in topology.nodes:
            if node.address in wanted:
                clients[node.address] = open_client(node.options)
    except BaseException:
        for client in clients.values():
            client.close()
        raise
    return clients
