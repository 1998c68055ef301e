"""Memory-safe Redis Streams: a bounded producer with backpressure, consumers that reclaim and
dead-letter, and a trimmer that only removes what every consumer group has finished with; stream health
and trimming as plan → apply, for the ``streams``/``trim`` commands, ``fix`` and library users alike."""

from __future__ import annotations

from redisguard.streams._capabilities import ServerVersion, acked_trim_works, server_of, xackdel_safe
from redisguard.streams._consumer import Consumer, ConsumerMetrics, Entry
from redisguard.streams._errors import EventsNotStoredError, NotAStreamError
from redisguard.streams._health import (
    EntryCount,
    StreamHealth,
    StreamScan,
    count_before,
    scan_stream_health,
    stream_health,
)
from redisguard.streams._metrics import ProducerMetrics, export_prometheus
from redisguard.streams._plan import GroupLoss, TrimOutcome, TrimPlan, apply_trim, check_trim_options, plan_trim
from redisguard.streams._producer import Producer, SyncProducer
from redisguard.streams._safety import SafePoint, safe_point_of_groups, safe_trim_point
from redisguard.streams._trim import TrimResult, atrim_safe, trim_safe
from redisguard.streams._trimmer import Trimmer

__all__ = [
    "Consumer",
    "ConsumerMetrics",
    "Entry",
    "EntryCount",
    "EventsNotStoredError",
    "GroupLoss",
    "NotAStreamError",
    "Producer",
    "ProducerMetrics",
    "SafePoint",
    "ServerVersion",
    "StreamHealth",
    "StreamScan",
    "SyncProducer",
    "TrimOutcome",
    "TrimPlan",
    "TrimResult",
    "Trimmer",
    "acked_trim_works",
    "apply_trim",
    "atrim_safe",
    "check_trim_options",
    "count_before",
    "export_prometheus",
    "plan_trim",
    "safe_point_of_groups",
    "safe_trim_point",
    "scan_stream_health",
    "server_of",
    "stream_health",
    "trim_safe",
    "xackdel_safe",
]
