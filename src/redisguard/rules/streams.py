"""Streams: backlogs, pending entries and their age, dead consumers, groups that never read, no trimming."""

from __future__ import annotations

from collections.abc import Iterator

from redisguard.keynames import quote_cli
from redisguard.rules.finding import Finding, Fix, Severity
from redisguard.rules.registry import rule
from redisguard.rules.thresholds import Thresholds
from redisguard.snapshot import NodeSnapshot, StreamGroup, StreamInfo
from redisguard.units import fmt_bytes, fmt_duration_ms

__all__ = ["dead_consumers", "groups_never_read", "is_backlog", "pending_bytes", "share_of_maxmemory", "slowest_lag",
           "stream_backlog", "stream_pending", "untrimmed_streams"]

_DAY_MS = 86_400_000


def slowest_lag(stream: StreamInfo) -> int | None:
    lags = [group.lag for group in stream.groups if group.lag is not None]
    return max(lags) if lags else None


def share_of_maxmemory(node: NodeSnapshot, size: float | None) -> float | None:
    """``size`` bytes as a share of the node's maxmemory; None without a limit or a size. Capped at the
    node's used memory: MEMORY USAGE of a stream of 4 KB entries comes out above it (69 MiB of 64)."""
    if not node.maxmemory or size is None:
        return None
    return (min(size, node.used_memory) if node.used_memory else size) / node.maxmemory


def _unfinished(stream: StreamInfo) -> bool:
    """Some group has entries it has not read or has not acknowledged. Where Redis gives no lag (before 7.0,
    after deletions), a group that was delivered the stream's last entry has read everything."""
    def unread(group: StreamGroup) -> bool:
        if group.lag is not None:
            return group.lag > 0
        return group.last_delivered_id != stream.last_generated_id

    return any(unread(group) or group.pending > 0 for group in stream.groups)


def is_backlog(node: NodeSnapshot, stream: StreamInfo, t: Thresholds) -> bool:
    """A backlog by count (length or the slowest group's lag) or by memory: a stream some group has not
    finished with, holding ``backlog_memory_share`` of maxmemory (4 KB events fill a limit in few entries)."""
    lag = slowest_lag(stream)
    if stream.length >= t.backlog_entries or (lag is not None and lag >= t.backlog_entries):
        return True
    share = share_of_maxmemory(node, stream.memory_bytes)
    return share is not None and share >= t.backlog_memory_share and _unfinished(stream)


def pending_bytes(stream: StreamInfo, group: StreamGroup) -> int | None:
    """An estimate of what a group's pending entries hold: their count at the stream's mean entry size."""
    if stream.memory_bytes is None or stream.length <= 0:
        return None
    return min(stream.memory_bytes, round(stream.memory_bytes * group.pending / stream.length))


@rule
def stream_backlog(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    for stream in node.streams:
        lags = {g.name: g.lag for g in stream.groups}
        slowest = slowest_lag(stream)
        if not is_backlog(node, stream, t):
            continue
        share = share_of_maxmemory(node, stream.memory_bytes)
        yield Finding(
            id="streams.backlog", severity=Severity.WARNING, node=node.address,
            title=f"stream {stream.key} holds {stream.length} entries ({fmt_bytes(stream.memory_bytes)}"
                  + (f", {share:.0%} of maxmemory" if share is not None else "") + ")"
                  + (f", slowest group {slowest} behind" if slowest is not None else ""),
            evidence={"stream": stream.key, "length": stream.length, "memory_bytes": stream.memory_bytes,
                      "share_of_maxmemory": None if share is None else round(share, 3),
                      "oldest_entry_age": fmt_duration_ms(stream.first_entry_age_ms),
                      **{f"lag {name}": "unknown" if lag is None else lag for name, lag in lags.items()}},
            bytes_at_stake=stream.memory_bytes,
            fixes=[Fix.redisguard("trim", "--dry-run", "--", stream.key, risk="read-only", node=node.write_address),
                   Fix.redisguard("trim", "--", stream.key, node=node.write_address,
                                  risk="removes only entries every group has acknowledged")],
            detail="Lag is reported as unknown (never 0) where Redis cannot compute it (before 7.0, or "
                   "after deletions); pending entries are reported separately.",
        )


@rule
def stream_pending(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    for stream in node.streams:
        for group in stream.groups:
            old = group.oldest_pending_age_ms is not None and group.oldest_pending_age_ms >= t.pending_age_ms
            held = pending_bytes(stream, group) if group.pending else None
            share = share_of_maxmemory(node, held)
            heavy = share is not None and share >= t.pending_memory_share
            if group.pending < t.pending_entries and not old and not heavy:
                continue
            yield Finding(
                id="streams.pending", severity=Severity.WARNING, node=node.address,
                title=f"group {group.name} on {stream.key} has {group.pending} delivered but unacknowledged "
                      f"entries, the oldest {fmt_duration_ms(group.oldest_pending_age_ms)} old"
                      + (f", about {fmt_bytes(held)} ({share:.0%} of maxmemory)" if share is not None else ""),
                evidence={"stream": stream.key, "group": group.name, "pending": group.pending,
                          "oldest_pending_id": group.oldest_pending_id,
                          "oldest_pending_age_ms": group.oldest_pending_age_ms,
                          "pending_bytes_estimate": held},
                # the entries they pin (no safe trim frees them) and the PEL, ~84 B per entry per group (measured)
                bytes_at_stake=(held or 0) + group.pending * 84,
                fixes=[Fix.redis("XAUTOCLAIM", stream.key, group.name, "<live-consumer>", str(t.pending_age_ms),
                                 "0-0", "COUNT", "100", node=node.write_address, placeholders=("<live-consumer>",),
                                 risk="moves stuck entries to a live consumer, which processes them again "
                                      "(at-least-once)")],
                detail="Pending entries pin the stream: a safe trim never removes them until acknowledged.",
            )


@rule
def dead_consumers(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    for stream in node.streams:
        for group in stream.groups:
            dead = [c for c in group.consumer_details if c.pending > 0 and c.idle_ms >= t.dead_consumer_idle_ms]
            if not dead:
                continue
            held = sum(c.pending for c in dead)
            yield Finding(
                id="streams.dead-consumers", severity=Severity.WARNING, node=node.address,
                title=f"{len(dead)} consumer(s) of {group.name} on {stream.key} idle for "
                      f"{fmt_duration_ms(min(c.idle_ms for c in dead))}+ still hold {held} pending entries",
                evidence={"stream": stream.key, "group": group.name,
                          **{f"consumer {c.name}": f"pending {c.pending}, idle {fmt_duration_ms(c.idle_ms)}"
                             for c in dead[:10]}},
                bytes_at_stake=held * 84,
                fixes=[Fix.redis("XAUTOCLAIM", stream.key, group.name, "<live-consumer>",
                                 str(t.dead_consumer_idle_ms), "0-0", "COUNT", "100", node=node.write_address,
                                 placeholders=("<live-consumer>",),
                                 risk="a live consumer takes over the entries and processes them again"),
                       Fix.redis("XGROUP", "DELCONSUMER", stream.key, group.name, dead[0].name, node=node.write_address,
                                 risk="ONLY after its pending count is 0: deleting a consumer silently drops its "
                                      "pending entries (they are never processed)")],
            )


@rule
def groups_never_read(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    for stream in node.streams:
        idle_groups = [g for g in stream.groups if g.consumers == 0 and g.pending == 0 and stream.length > 0
                       and g.last_delivered_id != stream.last_generated_id]
        for group in idle_groups:
            yield Finding(
                id="streams.group-never-read", severity=Severity.WARNING, node=node.address,
                title=f"group {group.name} on {stream.key} has no consumers and is behind: it pins the safe "
                      "trim point, so nothing older than its position can be trimmed safely",
                evidence={"stream": stream.key, "group": group.name, "last_delivered_id": group.last_delivered_id,
                          "lag": "unknown" if group.lag is None else group.lag, "stream_length": stream.length},
                bytes_at_stake=stream.memory_bytes,
                fixes=[Fix.redis("XGROUP", "DESTROY", stream.key, group.name, node=node.write_address,
                                 risk="only if nobody will ever read this group: its position is lost")],
            )


@rule
def untrimmed_streams(node: NodeSnapshot, t: Thresholds) -> Iterator[Finding]:
    for stream in node.streams:
        if stream.length < t.untrimmed_stream_entries:
            continue
        if stream.entries_added is not None:
            if stream.entries_added > stream.length:
                continue  # Redis >= 7.0: entries were trimmed or deleted at some point
        elif (stream.first_entry_age_ms or 0) < _DAY_MS:
            continue  # Redis < 7.0 cannot tell; only flag streams whose first entry is over a day old
        yield Finding(
            id="streams.untrimmed", severity=Severity.WARNING, node=node.address,
            title=f"stream {stream.key} ({stream.length} entries, {fmt_bytes(stream.memory_bytes)}) has never "
                  "been trimmed: it grows until memory is full",
            evidence={"stream": stream.key, "length": stream.length, "memory_bytes": stream.memory_bytes,
                      "first_entry_age": fmt_duration_ms(stream.first_entry_age_ms),
                      "entries_added": stream.entries_added},
            bytes_at_stake=stream.memory_bytes,
            fixes=[Fix.manual("run redisguard.streams.Trimmer beside the consumers (trims only acknowledged "
                              "entries)", "none to unprocessed data"),
                   Fix.manual(f"or cap the stream where it is written: XADD {quote_cli(stream.key)} MAXLEN ~ <n> * "
                              "field value ...", "capping by length drops entries whether or not they were "
                                                 "processed")],
        )
