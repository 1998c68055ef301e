"""``redisguard snapshot``: save what the collectors see, for `doctor --from` or a colleague."""

from __future__ import annotations

from pathlib import Path

import click

from redisguard.cli.options import connection_options
from redisguard.cli.output import Output
from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.keynames import visible
from redisguard.keyspace import doctor_key_sampler
from redisguard.snapshot import dump

__all__ = ["command"]


@click.command("snapshot")
@connection_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@click.option("--replicas", is_flag=True, help="Also collect replicas.")
@click.option("--key-sample", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Keys to sample per node (0 to skip).")
def command(conn: ConnectionOptions, output: Path | None, replicas: bool, key_sample: int) -> None:
    """Collect a read-only snapshot (JSON). It holds no passwords; key names appear as data."""
    snapshot = collect_snapshot(conn, include_replicas=replicas,
                                key_sampler=doctor_key_sampler(key_sample) if key_sample else None)
    out = Output.from_env()
    text = dump(snapshot, output)
    if output is None:
        out.echo(text)
    else:
        out.note(f"snapshot of {visible(snapshot.target)} ({len(snapshot.nodes)} node(s)) written to "
                 f"{visible(str(output))}")
