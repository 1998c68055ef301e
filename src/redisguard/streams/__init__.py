"""Memory-safe Redis Streams: a bounded producer with backpressure, consumers that reclaim and
dead-letter, and a trimmer that only removes what every consumer group has finished with."""

from __future__ import annotations

from redisguard.streams.consumer import Consumer, ConsumerMetrics, Entry
from redisguard.streams.errors import EventsNotStoredError
from redisguard.streams.producer import Producer, SyncProducer
from redisguard.streams.safety import SafePoint, safe_point_of_groups, safe_trim_point
from redisguard.streams.trim import TrimResult, atrim_safe, trim_safe
from redisguard.streams.trimmer import Trimmer

__all__ = [
    "Consumer",
    "ConsumerMetrics",
    "Entry",
    "EventsNotStoredError",
    "Producer",
    "SafePoint",
    "SyncProducer",
    "TrimResult",
    "Trimmer",
    "atrim_safe",
    "safe_point_of_groups",
    "safe_trim_point",
    "trim_safe",
]

