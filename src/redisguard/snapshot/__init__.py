"""The Snapshot: a typed, versioned, JSON-serialisable record of what the collectors saw."""

from __future__ import annotations

from redisguard.snapshot.io import SnapshotFormatError, dump, load, snapshot_from_dict, snapshot_to_dict
from redisguard.snapshot.keyspace import BigKeyRow, Coverage, KeyspaceReport, NodeSummary, PatternRow
from redisguard.snapshot.model import (
    SNAPSHOT_VERSION,
    ClientEntry,
    ClientGroup,
    ClientSummary,
    LatencyEvent,
    NodeSnapshot,
    NotVisible,
    SlowlogEntry,
    Snapshot,
    StreamConsumer,
    StreamGroup,
    StreamInfo,
)
from redisguard.snapshot.server import ServerVersion

__all__ = [
    "SNAPSHOT_VERSION",
    "BigKeyRow",
    "ClientEntry",
    "ClientGroup",
    "ClientSummary",
    "Coverage",
    "KeyspaceReport",
    "LatencyEvent",
    "NodeSnapshot",
    "NodeSummary",
    "NotVisible",
    "PatternRow",
    "ServerVersion",
    "SlowlogEntry",
    "Snapshot",
    "SnapshotFormatError",
    "StreamConsumer",
    "StreamGroup",
    "StreamInfo",
    "dump",
    "load",
    "snapshot_from_dict",
    "snapshot_to_dict",
]
