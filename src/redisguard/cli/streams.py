"""``redisguard streams``: every stream, its groups and consumers, and what can be trimmed safely."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from redisguard.cli.options import connection_options, is_terminal
from redisguard.collect.probe import Probe
from redisguard.collect.streams import collect_streams
from redisguard.connect import ConnectionOptions, discover
from redisguard.connect.topology import node_client
from redisguard.keynames import for_terminal, to_bytes
from redisguard.snapshot import StreamInfo
from redisguard.streams.ids import format_id, parse_id
from redisguard.streams.safety import safe_point_of_groups
from redisguard.streams.trim import count_between
from redisguard.units import fmt_bytes, fmt_duration_ms

__all__ = ["command", "stream_health"]


def stream_health(client: Any, stream: StreamInfo) -> dict[str, Any]:
    """The stream as collected, plus its safe trim point and what trimming there would free."""
    point = safe_point_of_groups(stream.groups)
    safe_entries, capped = 0, False
    if point is not None and stream.first_id is not None:
        safe_entries, capped = count_between(client, to_bytes(stream.key), parse_id(stream.first_id), point.id)
    per_entry = (stream.memory_bytes or 0) / stream.length if stream.length else 0
    return {
        **asdict(stream),
        "safe_trim_point": None if point is None else format_id(point.id),
        "pinned_by": None if point is None else point.pinned_by,
        "entries_safe_to_trim": safe_entries,
        "entries_safe_to_trim_capped": capped,
        "bytes_safe_to_trim": int(per_entry * safe_entries),
    }


def _render(rows: list[dict[str, Any]], console: Console) -> None:
    if not rows:
        console.print("No streams found.")
        return
    for row in rows:
        lag = ", ".join(f"{g['name']}: lag {'unknown' if g['lag'] is None else g['lag']}" for g in row["groups"])
        console.print(f"[bold]{for_terminal(row['key'])}[/] on {row['node']}: {row['length']} entries, "
                      f"{fmt_bytes(row['memory_bytes'])}, oldest {fmt_duration_ms(row['first_entry_age_ms'])}, "
                      f"newest {fmt_duration_ms(row['last_entry_age_ms'])}"
                      + (f" · {lag}" if lag else " · no consumer groups (nothing can be trimmed safely)"))
        if row["safe_trim_point"]:
            console.print(f"  safe to trim: {row['entries_safe_to_trim']} entries, "
                          f"{fmt_bytes(row['bytes_safe_to_trim'])} (before {row['safe_trim_point']}, "
                          f"pinned by group {for_terminal(row['pinned_by'])})")
        table = Table(box=None, pad_edge=False, show_header=bool(row["groups"]))
        for column in ("group", "lag", "pending", "oldest pending", "consumer", "idle", "its pending"):
            table.add_column(column)
        for group in row["groups"]:
            consumers = group["consumer_details"] or [{"name": "-", "idle_ms": None, "pending": 0}]
            for index, consumer in enumerate(consumers):
                table.add_row(
                    for_terminal(group["name"]) if index == 0 else "",
                    ("unknown" if group["lag"] is None else str(group["lag"])) if index == 0 else "",
                    str(group["pending"]) if index == 0 else "",
                    fmt_duration_ms(group["oldest_pending_age_ms"]) if index == 0 and group["pending"] else "",
                    for_terminal(consumer["name"]), fmt_duration_ms(consumer["idle_ms"]), str(consumer["pending"]))
        if row["groups"]:
            console.print(table)


@click.command("streams")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(conn: ConnectionOptions, as_json: bool) -> None:
    """Every stream: length, memory, ages; per group lag, pending, consumers; what is safe to trim.

    Read-only. On Redis Cluster every primary is read.
    """
    rows: list[dict[str, Any]] = []
    truncated = False
    for node in discover(conn).primaries:
        with node_client(node) as client:
            probe = Probe(node.address)
            streams, more = collect_streams(client, probe)
            truncated = truncated or more
            rows += [{"node": node.address, **stream_health(client, stream)} for stream in streams]
    if as_json:
        click.echo(json.dumps({"streams": rows, "truncated": truncated}, indent=2))
        return
    _render(rows, Console(highlight=False, width=None if is_terminal() else 120))
