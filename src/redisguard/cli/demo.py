"""``redisguard demo``: start a throwaway local Redis in the incident's state and diagnose it."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, cast

import click
import redis
from rich.console import Console

from redisguard.cli.doctor import run_doctor
from redisguard.cli.options import is_terminal
from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.errors import ConnectionFailed
from redisguard.keyspace import doctor_key_sampler
from redisguard.localserver import LocalServer, find_redis_binaries
from redisguard.rules import Thresholds

__all__ = ["command"]

STREAM = "events:firehose"


def load_incident(client: redis.Redis, scale: float) -> None:
    """The 000 incident in miniature: a firehose stream with a stalled group, sessions that never expire."""
    entries = int(40_000 * scale)
    pipe = client.pipeline(transaction=False)
    for index in range(entries):
        pipe.xadd(STREAM, {"source": "websocket", "seq": str(index), "payload": "e" * 160})
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()
    client.xgroup_create(STREAM, "indexers", id="0")
    client.xgroup_create(STREAM, "audit", id="0")  # created, never read: pins the safe trim point
    delivered = cast("list[Any]", client.xreadgroup("indexers", "indexer-1", {STREAM: ">"}, count=int(15_000 * scale)))
    ids = [entry_id for _, entries_ in delivered for entry_id, _ in entries_]
    client.xack(STREAM, "indexers", *ids[: len(ids) // 5])  # the indexer died after acking a fifth
    for index in range(int(20_000 * scale)):
        pipe.set(f"session:{uuid.UUID(int=index)}", "s" * 120)  # no TTL: sessions never expire
        pipe.set(f"cache:user:{index}", "u" * 80, ex=3600)
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(int(used / 0.86)))  # 86 % full: the pager goes off
    client.config_set("maxmemory-policy", "noeviction")


@click.command("demo")
@click.option("--scale", type=click.FloatRange(0.05, 20), default=1.0, show_default=True,
              help="Dataset size multiplier.")
@click.option("--keep", is_flag=True, help="Keep the demo Redis running until Ctrl-C, to explore it.")
@click.option("--json", "as_json", is_flag=True, help="Print the doctor report as JSON.")
def command(scale: float, keep: bool, as_json: bool) -> None:
    """Start a throwaway Redis on 127.0.0.1 in the state of a real stream-queue incident, and run doctor.

    The server is started on a free port with its own temporary directory, and stopped at the end.
    """
    binaries = find_redis_binaries()
    if not binaries:
        raise ConnectionFailed("no redis-server found: install Debian's redis-server package or run ./dev.sh setup",
                               kind="no-server")
    server = LocalServer(binaries[0])
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    with console.status("starting a throwaway redis-server and loading the incident", spinner="dots") \
            if is_terminal() else contextlib.nullcontext():
        server.start()
        with server.client() as client:
            load_incident(client, scale)
    try:
        console.print(f"[dim]demo: redis-server {binaries[0].version_text} (pid "
                      f"{server.process.pid if server.process else '?'}) on {server.url}: a stream queue whose "
                      f"indexer stalled, sessions without TTL, memory at 86 % of maxmemory, noeviction[/]")
        options = ConnectionOptions.build(server.url)
        snapshot = collect_snapshot(options, key_sampler=doctor_key_sampler(10_000))
        code = run_doctor(snapshot, Thresholds(), "json" if as_json else "terminal")
        console.print(f"[dim]doctor exit code {code} (0 healthy, 1 warnings, 2 critical)[/]")
        if keep:
            console.print(f"demo Redis left running at {server.url}; press Ctrl-C to stop it")
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait() if server.process else None
    finally:
        server.close()
        console.print("[dim]demo redis-server stopped[/]")

