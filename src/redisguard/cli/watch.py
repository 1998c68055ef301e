"""``redisguard watch``: a live terminal view of memory, the forecast, streams and findings."""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click
from rich.live import Live

from redisguard.cli.options import Duration, connection_options
from redisguard.cli.output import Output
from redisguard.connect import ConnectionOptions
from redisguard.errors import ConnectionFailed, RefusedError

if TYPE_CHECKING:
    from redisguard.exporter.model import Collection

__all__ = ["command"]


@contextlib.contextmanager
def _keys() -> Iterator[bool]:
    """stdin in cbreak mode (single keys, no echo) when it is a terminal; restored on the way out."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_for_q(seconds: float, reading: bool) -> bool:
    """Sleep ``seconds``; True as soon as q (or Q) is pressed."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if not reading:
            time.sleep(remaining)
            return False
        ready, _, _ = select.select([sys.stdin], [], [], remaining)
        if ready and os.read(sys.stdin.fileno(), 32).lower().find(b"q") >= 0:
            return True


def _observable(collection: Collection, conn: ConnectionOptions) -> Collection:
    """The collection, unless every node answered and refused INFO: watch shows nothing without it, so that
    is a one-line error (exit 3) rather than a screen of nodes said to be down."""
    from redisguard.exporter.watchbuild import info_refused

    refused = [info_refused(result) for result in collection.nodes]
    if refused and all(refused):
        raise RefusedError(f"{conn.display}: no figures to watch: {refused[0]}", kind="noperm")
    return collection


@click.command("watch")
@connection_options
@click.option("--interval", default="1s", show_default=True, type=Duration(0.1),
              help="Time between samples.")
@click.option("--once", is_flag=True, help="Take one sample, print it and exit (with --json: for scripts).")
@click.option("--json", "as_json", is_flag=True, help="Print samples as JSON (one object per line).")
@click.option("--top-streams", type=click.IntRange(min=0, max=100), default=5, show_default=True,
              help="Streams shown, largest backlog first.")
def command(conn: ConnectionOptions, interval: float, once: bool, as_json: bool, top_streams: int) -> None:
    """Watch memory live: used vs maxmemory, the breakdown, growth and the time-to-full forecast, ops/s,
    hit rate, evictions, clients, the streams with the largest backlog and the latest findings.

    One INFO round trip (plus the stream summary) per node per sample, on connections kept open. q or
    Ctrl-C quits. Not a terminal: one plain line per sample. On a cluster: one row per primary and the total.
    """
    from redisguard.exporter import ExporterSettings, Target
    from redisguard.exporter.watchbuild import Sparks, build_view
    from redisguard.exporter.watchview import view_to_dict
    from redisguard.render.watch import plain_line, render_watch

    out = Output.from_env()
    settings = ExporterSettings(scrape_timeout=conn.command_timeout, timeout_option="--timeout", cache_ttl=0,
                                keys_interval=0, max_streams=200, history_seconds=3600)
    target = Target(conn, settings)
    sparks = Sparks()

    try:
        if once or as_json or not out.stdout_is_terminal:
            while True:  # a script or a pipe: one JSON object or one plain line per sample
                view = build_view(_observable(target.collect(), conn), sparks, top_streams=top_streams)
                if once and view.error:
                    raise ConnectionFailed(view.error if view.error.startswith(conn.display)
                                           else f"{conn.display}: {view.error}")
                out.echo(json.dumps(view_to_dict(view), indent=2 if once else None) if as_json else plain_line(view))
                out.stdout.flush()
                if once:
                    return
                time.sleep(interval)
        console = out.console()
        with _keys() as reading, Live(console=console, screen=True, auto_refresh=False,
                                      redirect_stdout=False) as live:
            while True:
                view = build_view(_observable(target.collect(), conn), sparks, top_streams=top_streams)
                live.update(render_watch(view, interval), refresh=True)
                if _wait_for_q(interval, reading):
                    return
    finally:
        target.close()
