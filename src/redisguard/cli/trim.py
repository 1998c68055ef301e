"""``redisguard trim``: free a stream's memory up to what every consumer group has acknowledged."""

from __future__ import annotations

import json
from typing import Any

import click
import redis

from redisguard.cli.options import connection_options, fail
from redisguard.cli.streams import stream_health
from redisguard.collect.probe import Probe
from redisguard.collect.streams import describe_stream, server_time_ms
from redisguard.connect import ConnectionOptions, discover, open_client
from redisguard.keynames import quote_cli, to_bytes
from redisguard.streams.ids import format_id, next_id, parse_id
from redisguard.streams.safety import safe_point_of_groups
from redisguard.streams.trim import count_between, trim_safe
from redisguard.units import fmt_bytes

__all__ = ["command"]


def _client(conn: ConnectionOptions) -> redis.Redis | redis.RedisCluster:
    if discover(conn).mode == "cluster":
        return redis.RedisCluster(**conn.cluster_kwargs())
    return open_client(conn, need_primary=True)


def _cut_point(client: Any, key: bytes, maxlen: int | None, minid: str | None) -> str | None:
    if minid is not None:
        return format_id(parse_id(minid))
    assert maxlen is not None
    if maxlen == 0:
        last = client.xrevrange(key, count=1)
        return None if not last else format_id(next_id(parse_id(last[0][0])))
    kept = client.xrevrange(key, count=maxlen)
    return None if len(kept) < maxlen else kept[-1][0].decode()


@click.command("trim")
@click.argument("stream")
@connection_options
@click.option("--dry-run", is_flag=True, help="Only show what would be freed.")
@click.option("--drop-unprocessed", is_flag=True,
              help="Trim past the safe point (emergency): entries some group has not processed are LOST.")
@click.option("--maxlen", type=click.IntRange(min=0), default=None, help="With --drop-unprocessed: keep N newest.")
@click.option("--minid", default=None, help="With --drop-unprocessed: remove entries older than this id.")
@click.option("--exact", is_flag=True, help="Trim exactly (default: whole nodes only, cheaper for Redis).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(stream: str, conn: ConnectionOptions, dry_run: bool, drop_unprocessed: bool, maxlen: int | None,
            minid: str | None, exact: bool, as_json: bool) -> None:
    """Trim STREAM up to the oldest entry any consumer group still needs (nothing unprocessed is lost).

    The safe point is computed and trimmed in one atomic script. A stream with no consumer groups has
    no safe point and is left alone. --drop-unprocessed with --maxlen/--minid trims past it, after
    showing how many unprocessed entries each group loses.
    """
    if drop_unprocessed == (maxlen is None and minid is None) or (maxlen is not None and minid is not None):
        fail("--drop-unprocessed goes with exactly one of --maxlen N or --minid ID", 2)
    key = to_bytes(stream)
    client = _client(conn)
    try:
        probe = Probe(conn.display)
        info = describe_stream(client, key, server_time_ms(client), probe)  # type: ignore[arg-type]
        if info is None:
            fail(f"no stream named {quote_cli(stream)} (or it is not a stream)", 2)
            return
        health = stream_health(client, info)
        result: dict[str, Any] = {"stream": stream, "length": info.length, "memory_bytes": info.memory_bytes,
                                  "dry_run": dry_run, **{k: health[k] for k in (
                                      "safe_trim_point", "pinned_by", "entries_safe_to_trim",
                                      "bytes_safe_to_trim")}}
        if drop_unprocessed:
            cut = _cut_point(client, key, maxlen, minid)
            point = safe_point_of_groups(info.groups)
            losses = {}
            for group in (point.groups if point else ()):
                if cut is not None and info.first_id is not None:
                    start = max(group.needs_from, parse_id(info.first_id))
                    losses[group.group] = count_between(client, key, start, parse_id(cut))[0]
            result.update({"cut_point": cut, "unprocessed_lost_per_group": losses})
            if not as_json:
                click.echo(f"--drop-unprocessed: entries before {cut} are removed whether processed or not.")
                for name, lost in losses.items():
                    click.echo(f"  group {name}: {lost} unprocessed entries will be LOST")
            if not dry_run and cut is not None:
                result["trimmed"] = int(client.xtrim(key, minid=cut, approximate=not exact))
        elif not dry_run:
            done = trim_safe(client, key, exact=exact)
            result.update({"trimmed": done.trimmed, "safe_trim_point": done.point})
        if not dry_run:
            result["length_after"] = int(client.xlen(key))
        if as_json:
            click.echo(json.dumps(result, indent=2))
            return
        if result["safe_trim_point"] is None and not drop_unprocessed:
            click.echo(f"{stream}: no consumer groups, so nothing is known to be processed: nothing trimmed.")
            return
        verb = "would free" if dry_run else "freed"
        if dry_run and not drop_unprocessed:
            click.echo(f"{stream}: safe point {result['safe_trim_point']} (pinned by group {result['pinned_by']}); "
                       f"trimming {verb} {result['entries_safe_to_trim']} entries, "
                       f"about {fmt_bytes(result['bytes_safe_to_trim'])}.")
        elif not dry_run:
            click.echo(f"{stream}: trimmed {result['trimmed']} entries; {result['length_after']} left.")
    finally:
        client.close()
