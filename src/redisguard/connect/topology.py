"""What we are connected to: a standalone server or a Redis Cluster, and which nodes to fan out over."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import redis
import redis.exceptions as rex

from redisguard._wire.decode import text
from redisguard.connect.client import current_role, open_client, reason_for_refusal
from redisguard.connect.errors import ConnectError
from redisguard.connect.options import ConnectionOptions

__all__ = ["Node", "NodeState", "Topology", "current_role", "discover", "node_states", "role_changes"]


@dataclass(frozen=True)
class Node:
    """One server: its address as announced, its role, and (for a replica) its primary's address."""

    address: str
    role: Literal["primary", "replica"]
    options: ConnectionOptions = field(repr=False)
    primary_address: str | None = None


@dataclass(frozen=True)
class Topology:
    mode: Literal["standalone", "cluster"]
    nodes: tuple[Node, ...]
    # (what, why) for each discovery command the server refused; discovery then assumed the least it could
    not_visible: tuple[tuple[str, str], ...] = ()

    @property
    def primaries(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.role == "primary")

    def replicas_of(self, primary: Node) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.primary_address == primary.address)


_text = text  # the wire layer's one decode helper


def _cluster_nodes(client: redis.Redis, options: ConnectionOptions,
                   gaps: list[tuple[str, str]]) -> tuple[Node, ...]:
    """Every node CLUSTER NODES lists, except failed and slot-less primaries, which are named in ``gaps``."""
    raw: dict[str, dict[str, Any]] = client.execute_command("CLUSTER NODES")
    by_id = {entry["node_id"]: address.split("@")[0] for address, entry in raw.items()}
    nodes: list[Node] = []
    for address, entry in sorted(raw.items()):
        flags = str(entry.get("flags", ""))
        if "fail" in flags.split(",") or "noaddr" in flags:
            gaps.append((f"node {address.split('@')[0]}", f"flagged {flags} by the cluster: not diagnosed"))
            continue
        addr = address.split("@")[0]
        host, _, port = addr.rpartition(":")
        if not host:
            host = "127.0.0.1"  # a node that does not know its own address reports ":port"
        node_opts = options.for_node(host.strip("[]"), int(port))
        if "master" in flags:
            if entry.get("slots"):
                nodes.append(Node(addr, "primary", node_opts))
            else:
                gaps.append((f"node {addr}", "a primary that serves no slots (new, or emptied by resharding): "
                                             "holds no keys, not diagnosed"))
        else:
            nodes.append(Node(addr, "replica", node_opts, primary_address=by_id.get(entry.get("master_id", ""))))
    return tuple(nodes)


def _cluster_slots_nodes(client: redis.Redis, options: ConnectionOptions) -> tuple[Node, ...]:
    """The primaries from CLUSTER SLOTS (for users allowed that but not CLUSTER NODES)."""
    raw = client.execute_command("CLUSTER SLOTS")
    seen: dict[str, Node] = {}
    entries = raw.items() if isinstance(raw, dict) else ((None, entry) for entry in raw)
    for _, entry in entries:
        primary = entry.get("primary") if isinstance(entry, dict) else entry[2] if len(entry) > 2 else None
        if not primary:
            continue
        host = _text(primary[0]) or "127.0.0.1"
        port = int(primary[1])
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        seen.setdefault(address, Node(address, "primary", options.for_node(host, port)))
    return tuple(sorted(seen.values(), key=lambda node: node.address))


def _standalone_nodes(client: redis.Redis, options: ConnectionOptions) -> tuple[Node, ...]:
    info = client.info("replication")
    address = options.display
    role: Literal["primary", "replica"] = "primary" if info.get("role") == "master" else "replica"
    nodes = [Node(address, role, options,
                  primary_address=None if role == "primary"
                  else f"{info.get('master_host')}:{info.get('master_port')}")]
    if role == "primary":
        for index in range(int(info.get("connected_slaves", 0))):
            replica = info.get(f"slave{index}")
            if isinstance(replica, dict) and "ip" in replica:
                nodes.append(Node(f"{replica['ip']}:{replica['port']}", "replica",
                                  options.for_node(str(replica["ip"]), int(replica["port"])),
                                  primary_address=address))
    return tuple(nodes)


def _is_cluster(client: redis.Redis, gaps: list[tuple[str, str]]) -> bool:
    try:
        return int(client.info("cluster").get("cluster_enabled", 0)) == 1
    except rex.ResponseError as exc:
        info_refused = reason_for_refusal(exc)
    try:
        client.execute_command("CLUSTER INFO")
        return True
    except rex.ResponseError as exc:
        if "cluster support disabled" in str(exc).lower():
            return False
        gaps.append(("INFO cluster and CLUSTER INFO",
                     f"{info_refused}; {reason_for_refusal(exc)}: cannot tell whether this is a cluster node, "
                     "diagnosed as a standalone server (grant: +info)"))
        return False


def discover(options: ConnectionOptions) -> Topology:
    """Connect to the seed and find the deployment's nodes (cluster fan-out, replicas).

    Every discovery command is optional: refused, discovery falls back (CLUSTER NODES, then CLUSTER SLOTS,
    then the seed alone; INFO replication, then the seed as a primary) and says so in ``not_visible``.
    """
    gaps: list[tuple[str, str]] = []
    with open_client(options) as client:
        if _is_cluster(client, gaps):
            try:
                return Topology("cluster", _cluster_nodes(client, options, gaps), tuple(gaps))
            except rex.ResponseError as exc:
                nodes_refused = reason_for_refusal(exc)
            try:
                nodes = _cluster_slots_nodes(client, options)
                gaps.append(("CLUSTER NODES", f"{nodes_refused}: primaries found with CLUSTER SLOTS, "
                                              "replicas not visible (grant: +cluster|nodes)"))
                return Topology("cluster", nodes, tuple(gaps))
            except rex.ResponseError as exc:
                gaps.append(("CLUSTER NODES and CLUSTER SLOTS",
                             f"{nodes_refused}; {reason_for_refusal(exc)}: only the node connected to is diagnosed, "
                             "not the rest of the cluster (grant: +cluster|nodes)"))
                return Topology("cluster", (Node(options.display, "primary", options),), tuple(gaps))
        try:
            return Topology("standalone", _standalone_nodes(client, options), tuple(gaps))
        except rex.ResponseError as exc:
            gaps.append(("INFO replication", f"{reason_for_refusal(exc)}: role and replicas not visible, "
                                             "diagnosed as a primary (grant: +info)"))
            return Topology("standalone", (Node(options.display, "primary", options),), tuple(gaps))


@dataclass(frozen=True)
class NodeState:
    """A node looked at again after a long command: its role now and what server it is."""

    role: Literal["primary", "replica"] | None  # None: ROLE and INFO not allowed, or unreachable
    server: str | None  # "Redis 8.2.3", "Valkey 8.1.8"; None when INFO server is not visible
    error: str | None = None  # why it could not be looked at


def node_states(nodes: Sequence[Node]) -> list[NodeState]:
    """Each node's role and server now (one short connection each)."""
    from redisguard.snapshot.server import ServerVersion

    states = []
    for node in nodes:
        try:
            with open_client(node.options) as client:
                role = current_role(client)
                try:
                    server: str | None = ServerVersion.from_info(client.info("server")).title
                except rex.ResponseError:
                    server = None
        except (ConnectError, rex.RedisError, OSError) as exc:
            states.append(NodeState(None, None, str(exc)))
            continue
        states.append(NodeState(role, server))
    return states


def role_changes(nodes: Sequence[Node], states: Sequence[NodeState] | None = None) -> list[str]:
    """A note for each node whose role changed since discovery (a failover while a command ran)."""
    notes = []
    for node, state in zip(nodes, states if states is not None else node_states(nodes), strict=True):
        if state.error is not None:
            notes.append(f"{node.address} could not be checked after the scan ({state.error}): a failover may "
                         "have changed the shard's primary meanwhile")
        elif state.role is not None and state.role != node.role:
            notes.append(f"{node.address} was a {node.role} when the scan began and is a {state.role} now (a "
                         "failover during the scan): keys it stopped serving were counted as vanished; run the "
                         "scan again")
    return notes


@contextmanager
def node_client(node: Node) -> Iterator[redis.Redis]:
    """A verified client for one node, closed on exit."""
    client = open_client(node.options)
    try:
        yield client
    finally:
        client.close()
