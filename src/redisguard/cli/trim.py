"""``redisguard trim``: free a stream's memory up to what every consumer group has acknowledged."""

from __future__ import annotations

import click
import redis

from redisguard.cli.options import connection_options
from redisguard.cli.output import Output
from redisguard.connect import ConnectionOptions, cluster_client, discover, open_client
from redisguard.render.streams import print_outcome, print_trim, trim_json
from redisguard.streams import apply_trim, check_trim_options, plan_trim

__all__ = ["command"]


def _client(conn: ConnectionOptions) -> redis.Redis | redis.RedisCluster:
    if discover(conn).mode == "cluster":
        return cluster_client(conn)
    return open_client(conn, need_primary=True)


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
    out = Output.from_env()
    check_trim_options(drop_unprocessed, maxlen, minid)  # before the server is reached
    client = _client(conn)
    try:
        plan = plan_trim(client, stream, node=conn.display, exact=exact, drop_unprocessed=drop_unprocessed,
                         maxlen=maxlen, minid=minid)
        if not as_json:
            print_trim(out.echo, plan)  # what will happen (and, in an emergency, the losses) first
        outcome = None if dry_run else apply_trim(client, plan)
        if as_json:
            out.json(trim_json(plan, outcome))
        elif outcome is not None:
            print_outcome(out.echo, outcome)
    finally:
        client.close()
