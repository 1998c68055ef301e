"""What the action builders need beyond the snapshot (pure data; :mod:`redisguard.remedy.gather` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from redisguard.remedy.recommend import Workload
from redisguard.remedy.version import ServerVersion
from redisguard.rules import Thresholds
from redisguard.snapshot import ClientEntry, NodeSnapshot

__all__ = ["DEFAULT_BIG", "Facts", "FixOptions", "PatternFacts", "StreamFacts"]

DEFAULT_BIG = 10 * 1024 * 1024


@dataclass(frozen=True)
class FixOptions:
    workload: Workload | None = None
    memory: int | None = None  # the host's memory for Redis; None: INFO total_system_memory
    memory_source: str | None = None  # how ``memory`` was chosen, when not simply --memory (a cluster's share)
    expire_patterns: tuple[str, ...] = ()
    ttl_s: int = 86_400
    jitter: float = 0.1  # TTLs spread over [ttl, ttl * (1 + jitter)]
    delete_patterns: tuple[str, ...] = ()
    big: int = DEFAULT_BIG
    drop_unprocessed: bool = False
    maxlen: int | None = None  # with drop_unprocessed: keep this many newest entries per stream
    claim_to: str | None = None
    consumer_idle_ms: int | None = None  # None: the thresholds' dead_consumer_idle_ms
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def dead_idle_ms(self) -> int:
        return self.consumer_idle_ms if self.consumer_idle_ms is not None else self.thresholds.dead_consumer_idle_ms


@dataclass
class StreamFacts:
    key: str
    safe_point: str | None  # None: no consumer groups: nothing is known processed
    pinned_by: str | None
    trimmable: int  # entries before the safe point
    capped: bool  # the count stopped at its cap
    entry_bytes: float  # estimated bytes per entry (from a sample of the entries a trim removes)
    cut_point: str | None = None  # --drop-unprocessed: entries before it go
    dropped: int = 0  # --drop-unprocessed: entries before the cut point
    losses: dict[str, int] = field(default_factory=dict)  # group -> unprocessed entries that would go


@dataclass
class PatternFacts:
    pattern: str
    keys: int  # keys matching
    without_ttl: int
    bytes: int  # MEMORY USAGE of the matching keys
    ttl_bytes: int  # ... of those without a TTL
    big: list[tuple[str, str, int]] = field(default_factory=list)  # (key, type, bytes) over --big


@dataclass
class Facts:
    node: NodeSnapshot
    version: ServerVersion
    host_memory: int
    config: dict[str, str]
    config_file: str
    allocator: str
    run_id: str
    self_id: int
    clients: list[ClientEntry]
    streams: dict[str, StreamFacts]
    patterns: dict[str, PatternFacts]
    lengths: dict[str, int] = field(default_factory=dict)
    memory_source: str | None = None  # FixOptions.memory_source
    # Commands the user may not run (ACL names, "info", "config|get", ...): what depends on them is not planned.
    not_visible: list[str] = field(default_factory=list)
