"""``redisguard streams`` and ``redisguard trim`` output: terminal text and JSON from the library's models.

Renderers only format. Every name from the server (streams, groups, consumers) goes through the escaping
helpers of :mod:`redisguard.keynames` on a terminal; JSON keeps names exactly, and a name that is not
valid UTF-8 gets its exact bytes in a ``<field>_b64`` companion field (``keynames.with_b64``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from redisguard.keynames import for_terminal, quote_cli, visible, with_b64
from redisguard.snapshot import NotVisible, StreamConsumer
from redisguard.streams import EntryCount, StreamHealth, StreamScan, TrimOutcome, TrimPlan
from redisguard.units import fmt_bytes, fmt_duration_ms

__all__ = ["print_outcome", "print_streams", "print_trim", "streams_json", "trim_json"]

def _lossless_dict(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = with_b64(value)
    return out


def _count(count: EntryCount) -> str:
    return f"about {count.value}" if not count.exact else str(count.value)


def _health_row(health: StreamHealth) -> dict[str, Any]:
    point = health.safe_point
    return {
        "node": health.node,
        **asdict(health.stream),
        "safe_trim_point": None if point is None else point.text,
        "pinned_by": None if point is None else point.pinned_by,
        "entries_safe_to_trim": health.safe_to_trim.value,
        "entries_safe_to_trim_counted_by": health.safe_to_trim.source,
        "bytes_safe_to_trim": health.bytes_safe_to_trim,
    }


def _not_visible(records: list[NotVisible]) -> list[dict[str, str]]:
    return [asdict(record) for record in records]


def streams_json(scans: list[StreamScan], *, replica: bool) -> dict[str, Any]:
    return _lossless_dict({
        "streams": [_health_row(health) for scan in scans for health in scan.healths],
        "truncated": any(scan.truncated for scan in scans),
        "complete": all(scan.looked and not scan.unreadable for scan in scans),
        "read_from_replica": replica,
        "servers": [{"node": scan.node, "server": scan.server} for scan in scans],
        "unreadable": [{"node": scan.node, "key": key, "reason": reason}
                       for scan in scans for key, reason in scan.unreadable],
        "not_visible": [row for scan in scans for row in _not_visible(scan.not_visible)],
    })


def _print_health(console: Console, health: StreamHealth) -> None:
    stream = health.stream
    lag = ", ".join(f"{for_terminal(group.name)}: lag {'unknown' if group.lag is None else group.lag}"
                    for group in stream.groups)
    console.print(f"[bold]{for_terminal(stream.key)}[/] on {for_terminal(health.node)}: {stream.length} entries, "
                  f"{fmt_bytes(stream.memory_bytes)}, oldest {fmt_duration_ms(stream.first_entry_age_ms)}, "
                  f"newest {fmt_duration_ms(stream.last_entry_age_ms)}"
                  + (f" · {lag}" if lag else " · no consumer groups (nothing can be trimmed safely)"))
    if health.safe_point is not None:
        console.print(f"  safe to trim: {_count(health.safe_to_trim)} entries, "
                      f"{fmt_bytes(health.bytes_safe_to_trim)} (before {health.safe_point.text}, "
                      f"pinned by group {for_terminal(health.safe_point.pinned_by)})")
    if not stream.groups:
        return
    table = Table(box=None, pad_edge=False)
    for column in ("group", "lag", "pending", "oldest pending", "consumer", "idle", "its pending"):
        table.add_column(column)
    for group in stream.groups:
        consumers: list[StreamConsumer | None] = [*group.consumer_details] or [None]
        for index, consumer in enumerate(consumers):
            first = index == 0
            table.add_row(
                for_terminal(group.name) if first else "",
                ("unknown" if group.lag is None else str(group.lag)) if first else "",
                str(group.pending) if first else "",
                fmt_duration_ms(group.oldest_pending_age_ms) if first and group.pending else "",
                "-" if consumer is None else for_terminal(consumer.name),
                "" if consumer is None else fmt_duration_ms(consumer.idle_ms),
                "0" if consumer is None else str(consumer.pending))
    console.print(table)


def print_streams(console: Console, scans: list[StreamScan], *, replica: bool) -> None:
    if replica:
        console.print("Read from a replica (streams replicate; `redisguard trim` needs the primary).")
    servers = sorted({scan.server for scan in scans if scan.server})
    if servers:
        console.print(f"Streams of {for_terminal(', '.join(servers))}:")
    for scan in scans:
        for health in scan.healths:
            _print_health(console, health)
    for scan in scans:
        if not scan.looked:
            reasons = "; ".join(f"{record.what}: {record.reason}" for record in scan.not_visible) or "unknown"
            console.print(f"Could not list the streams of {for_terminal(scan.node)} ({for_terminal(reasons)}): "
                          "there may be streams this report does not show.")
        for key, reason in scan.unreadable:
            console.print(f"{for_terminal(key)} on {for_terminal(scan.node)}: a stream whose details are not "
                          f"visible ({for_terminal(reason)}).")
    if all(scan.looked for scan in scans) and not any(scan.healths or scan.unreadable for scan in scans):
        console.print("No streams found.")
    if any(scan.truncated for scan in scans):
        console.print("More streams exist than were listed (the first 500 per node are shown).")


def trim_json(plan: TrimPlan, outcome: TrimOutcome | None) -> dict[str, Any]:
    health = plan.health
    point = health.safe_point
    result: dict[str, Any] = {
        "stream": plan.key,
        "node": health.node,
        "server": plan.server.title,
        "length": plan.stream.length,
        "memory_bytes": plan.stream.memory_bytes,
        "dry_run": outcome is None,
        "method": plan.method,
        "exact": plan.exact,
        "safe_trim_point": None if point is None else point.text,
        "pinned_by": None if point is None else point.pinned_by,
        "entries_safe_to_trim": health.safe_to_trim.value,
        "bytes_safe_to_trim": health.bytes_safe_to_trim,
        "entries_to_free": plan.entries_to_free.value,
        "entries_to_free_counted_by": plan.entries_to_free.source,
        "bytes_to_free": plan.bytes_to_free,
    }
    if plan.drop_unprocessed:
        result["cut_point"] = plan.cut_point
        result["unprocessed_lost_per_group"] = {loss.group: loss.unprocessed_lost.value for loss in plan.losses}
    if outcome is not None:
        result.update({"trimmed": outcome.trimmed, "length_after": outcome.length_after})
        if not plan.drop_unprocessed:
            result["safe_trim_point"] = outcome.point
    return _lossless_dict(result)


def print_trim(echo: Any, plan: TrimPlan) -> None:
    """What the plan does (for an emergency trim: the losses per group). ``echo``: a one-argument print
    function (click.echo). Plain text: names quoted as redis-cli reads them, control bytes escaped."""
    name = visible(quote_cli(plan.key))
    point = plan.health.safe_point
    if plan.drop_unprocessed:
        echo(f"--drop-unprocessed: entries before {plan.cut_point} are removed whether processed or not "
             f"({_count(plan.entries_to_free)} entries, about {fmt_bytes(plan.bytes_to_free)}).")
        for loss in plan.losses:
            echo(f"  group {visible(quote_cli(loss.group))}: {_count(loss.unprocessed_lost)} unprocessed entries "
                 "will be LOST")
    elif point is None:
        echo(f"{name}: no consumer groups, so nothing is known to be processed: nothing trimmed.")
    else:
        echo(f"{name}: safe point {point.text} (pinned by group {visible(quote_cli(point.pinned_by))}); "
             f"trimming would free {_count(plan.entries_to_free)} entries, about {fmt_bytes(plan.bytes_to_free)}.")


def print_outcome(echo: Any, outcome: TrimOutcome) -> None:
    if outcome.plan.drop_unprocessed or outcome.plan.cut_point is not None:
        echo(f"{visible(quote_cli(outcome.plan.key))}: trimmed {outcome.trimmed} entries; "
             f"{outcome.length_after} left.")
