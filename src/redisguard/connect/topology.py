"""What we are connected to: a standalone server or a Redis Cluster, and which nodes to fan out over."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import redis
import redis.exceptions as rex

from redisguard._wire.decode import text
from redisguard.connect.client import open_client
from redisguard.connect.errors import ConnectError
from redisguard.connect.options import ConnectionOptions

__all__ = ["Node", "Topology", "discover"]


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

    @property
    def primaries(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.role == "primary")

    def replicas_of(self, primary: Node) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.primary_address == primary.address)


_text = text  # the wire layer's one decode helper


def _cluster_nodes(client: redis.Redis, options: ConnectionOptions) -> tuple[Node, ...]:
    raw: dict[str, dict[str, Any]] = client.execute_command("CLUSTER NODES")
    by_id = {entry["node_id"]: address.split("@")[0] for address, entry in raw.items()}
    nodes: list[Node] = []
    for address, entry in sorted(raw.items()):
        flags = str(entry.get("flags", ""))
        if "fail" in flags.split(",") or "noaddr" in flags:
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
            nodes.append(Node(addr, "replica", node_opts, primary_address=by_id.get(entry.get("master_id", ""))))
    return tuple(nodes)


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


def discover(options: ConnectionOptions) -> Topology:
    """Connect to the seed and find the deployment's nodes (cluster fan-out, replicas)."""
    with open_client(options) as client:
        try:
            cluster_enabled = int(client.info("cluster").get("cluster_enabled", 0)) == 1
        except rex.NoPermissionError:
            cluster_enabled = False
        if cluster_enabled:
            try:
                return Topology("cluster", _cluster_nodes(client, options))
            except rex.NoPermissionError:
                raise ConnectError(
                    f"{options.display} is a Redis Cluster node, but this user may not run CLUSTER NODES "
                    "(needed to find every primary; see `redisguard acl`)", kind="noperm") from None
        return Topology("standalone", _standalone_nodes(client, options))


@contextmanager
def node_client(node: Node) -> Iterator[redis.Redis]:
    """A verified client for one node, closed on exit."""
    client = open_client(node.options)
    try:
        yield client
    finally:
        client.close()
