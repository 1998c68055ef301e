"""Connections: URLs, credentials, TLS, timeouts, and the one-line errors when they fail."""

from __future__ import annotations

from redisguard.connect.client import (
    async_client,
    async_cluster_client,
    cluster_client,
    open_client,
    sync_client,
    verified,
)
from redisguard.connect.errors import EXIT_CANNOT_CONNECT, ConnectError, describe_connect_failure
from redisguard.connect.options import ConnectionOptions
from redisguard.connect.topology import Node, Topology, discover

__all__ = [
    "EXIT_CANNOT_CONNECT",
    "ConnectError",
    "ConnectionOptions",
    "Node",
    "Topology",
    "async_client",
    "async_cluster_client",
    "cluster_client",
    "describe_connect_failure",
    "discover",
    "open_client",
    "sync_client",
    "verified",
]
