"""A long-lived view of one deployment: its topology plus one open client per primary.

For callers that collect again and again (the exporter every scrape, ``watch`` every second): the
topology is discovered once and kept, each node's client stays open, and both are rebuilt only when
something says they are stale (a MOVED reply, a node that is no longer a primary, a connection error).
Rediscovery is rate-limited (at most once per ``rediscover_interval``) so a dead node cannot cause a
retry storm; clients have explicit timeouts and no retries of their own (the next collection is the retry).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import redis
import redis.exceptions as rex

from redisguard.connect.client import open_client
from redisguard.connect.errors import ConnectError, describe_connect_failure
from redisguard.connect.options import ConnectionOptions
from redisguard.connect.topology import Node, Topology, discover

__all__ = ["Deployment", "NodeClient", "is_stale_reply"]


def is_stale_reply(exc: BaseException) -> bool:
    """A reply that means our picture of the deployment is out of date (resharding, failover)."""
    if not isinstance(exc, rex.ResponseError):
        return False
    text = str(exc).split(" ", 1)[0].upper()
    return text in {"MOVED", "ASK", "CLUSTERDOWN", "READONLY", "TRYAGAIN"}


@dataclass
class NodeClient:
    """One primary and its open client (``None`` while it cannot be reached)."""

    node: Node
    client: redis.Redis | None = None
    error: str | None = None  # the last one-line, secret-free connection failure
    failed_at: float = 0.0


@dataclass
class Deployment:
    """Topology plus one client per primary, kept open between collections; thread-safe.

    ``options`` keep their own timeouts; ``command_timeout`` (if given) overrides the reply timeout of the
    node clients (the exporter sets it to its scrape timeout).
    """

    options: ConnectionOptions
    command_timeout: float | None = None
    rediscover_interval: float = 5.0
    reconnect_interval: float = 1.0
    refresh_interval: float = 60.0  # rediscover this often anyway (nodes added, resharding without MOVED)
    _topology: Topology | None = field(default=None, init=False, repr=False)
    _nodes: dict[str, NodeClient] = field(default_factory=dict, init=False, repr=False)
    _stale: bool = field(default=True, init=False, repr=False)
    _discovered_at: float = field(default=float("-inf"), init=False, repr=False)
    _discover_error: ConnectError | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        timeout = self.command_timeout if self.command_timeout is not None else self.options.command_timeout
        self.options = replace(self.options, retries=0, command_timeout=timeout,
                               connect_timeout=min(self.options.connect_timeout, timeout))

    @property
    def display(self) -> str:
        return self.options.display

    @property
    def mode(self) -> str:
        return self._topology.mode if self._topology else "unknown"

    def mark_stale(self) -> None:
        """Rediscover before the next use (rate-limited)."""
        with self._lock:
            self._stale = True

    def nodes(self) -> list[NodeClient]:
        """Every primary with a client when one could be opened. Raises :class:`ConnectError` only when
        the topology itself cannot be read (seed unreachable) and none is known from before."""
        with self._lock:
            now = time.monotonic()
            if now - self._discovered_at >= self.refresh_interval:
                self._stale = True
            if self._stale and now - self._discovered_at >= self.rediscover_interval:
                self._rediscover(now)
            if self._topology is None:
                assert self._discover_error is not None
                raise self._discover_error
            for entry in self._nodes.values():
                if entry.client is None and now - entry.failed_at >= self.reconnect_interval:
                    self._connect(entry, now)
            return list(self._nodes.values())

    def failed(self, entry: NodeClient, exc: BaseException) -> None:
        """A command on ``entry`` failed: drop its client (reopened on a later call) and, when the failure
        says the topology moved or the node is gone, rediscover."""
        with self._lock:
            if is_stale_reply(exc):
                self._stale = True
                return
            if isinstance(exc, rex.ConnectionError | rex.TimeoutError | OSError):
                self._drop(entry, describe_connect_failure(entry.node.address, exc), time.monotonic())
                self._stale = True

    def role_changed(self) -> None:
        """A node we hold as primary says it is a replica (failover): rediscover."""
        self.mark_stale()

    def close(self) -> None:
        with self._lock:
            for entry in self._nodes.values():
                self._drop(entry, None, 0.0)
            self._nodes.clear()
            self._topology = None
            self._stale = True

    def _drop(self, entry: NodeClient, error: ConnectError | None, now: float) -> None:
        if entry.client is not None:
            entry.client.close()
        entry.client = None
        entry.error = str(error) if error else None
        entry.failed_at = now

    def _connect(self, entry: NodeClient, now: float) -> None:
        try:
            entry.client = open_client(entry.node.options)  # unnamed where CLIENT SETNAME is refused
            entry.error = None
        except ConnectError as exc:
            entry.client = None
            entry.error = str(exc)
            entry.failed_at = now

    def _rediscover(self, now: float) -> None:
        self._discovered_at = now
        try:
            topology = discover(self.options)
        except ConnectError as exc:
            self._discover_error = exc
            if self._topology is not None:  # keep the last known nodes; their own clients say who is down
                return
            return
        self._discover_error = None
        primaries = topology.primaries or topology.nodes  # a lone replica: watch it rather than nothing
        wanted = {node.address: node for node in primaries}
        # Fewer primaries than before is what a failover looks like while it is under way (the old primary
        # already a replica, the new one not yet holding the slots): look again soon.
        previous = len(self._topology.nodes) if self._topology is not None else 0
        self._stale = topology.mode == "cluster" and len(wanted) < previous
        for address in list(self._nodes):
            if address not in wanted:
                self._drop(self._nodes.pop(address), None, 0.0)
        for address, node in wanted.items():
            if address not in self._nodes:
                self._nodes[address] = NodeClient(node)
            else:
                self._nodes[address].node = node
        self._topology = Topology(topology.mode, tuple(wanted.values()))
