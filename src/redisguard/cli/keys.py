"""``redisguard keys``: where the memory is, by key pattern. Read-only; bounded impact on the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import redis.exceptions as rex

from redisguard.cli.options import Duration, FiniteRange, connection_options
from redisguard.cli.output import Output, output_options
from redisguard.cli.priority import yield_cpu
from redisguard.connect import ConnectionOptions
from redisguard.errors import RedisguardError, RefusedError, from_redis, one_line
from redisguard.keynames import quote_cli, to_bytes
from redisguard.keyspace import DEFAULT_CAP, SORT_KEYS, ScanSettings, scan_deployment
from redisguard.render.keys import keys_csv, keys_json, render_keys_terminal

__all__ = ["command"]


@contextmanager
def _progress(enabled: bool) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A progress bar only for a person at a terminal; nothing when piped, in CI, or with --json/--csv
    (which then never import rich: 50 ms less of every such run's start)."""
    if not enabled:
        yield None, None
        return
    from redisguard.cli.keys_progress import progress_bar

    with progress_bar() as hooks:
        yield hooks


@click.command("keys")
@connection_options
@output_options("json", "csv")
@click.option("--pattern", "match", default=None, metavar="GLOB",
              help="Only keys matching this glob (SCAN MATCH), e.g. 'session:*'.")
@click.option("--sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="Estimate from N uniform random draws (RANDOMKEY) with 95 % confidence intervals.")
@click.option("--budget", type=Duration(0.0, above=True), default=None,
              help="Time budget, e.g. 30s: sample until it is spent (a small keyspace is scanned in full).")
@click.option("--max-impact", "max_impact", type=FiniteRange(min=0, min_open=True), default=None,
              metavar="MS", help="Keep the latency the scan adds for other clients under MS milliseconds.")
@click.option("--rate", type=FiniteRange(min=0, min_open=True), default=None, metavar="KEYS/S",
              help="At most this many keys per second (per node).")
@click.option("--replica", is_flag=True, help="Scan a replica of each shard to spare the primary.")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="bytes", show_default=True,
              help="Order patterns by total bytes, key count or share of keys without TTL.")
@click.option("--top", type=click.IntRange(min=1), default=30, show_default=True,
              help="Patterns shown in the terminal table.")
@click.option("--big", type=click.IntRange(min=1, max=1000), default=10, show_default=True,
              help="Biggest keys kept per type.")
@click.option("--cap", type=click.IntRange(min=1, max=100_000), default=DEFAULT_CAP, show_default=True,
              help="At most this many patterns (the long tail folds into common prefixes).")
@click.option("--count", type=click.IntRange(min=1, max=100_000), default=150, show_default=True,
              help="SCAN COUNT: keys per pipelined batch (larger batches delay other clients longer).")
@click.option("--memory-samples", "memory_samples", type=click.IntRange(min=0), default=None,
              help="MEMORY USAGE ... SAMPLES n for aggregates (default: the server's, 5; 0 = all elements).")
def command(conn: ConnectionOptions, fmt: str, match: str | None, sample: int | None, budget: float | None,
            max_impact: float | None, rate: float | None, replica: bool, sort: str,
            top: int, big: int, cap: int, count: int, memory_samples: int | None) -> None:
    """Which keys use the memory: per key pattern, bytes, counts, TTL coverage, and the biggest keys.

    Read-only (SCAN, MEMORY USAGE, OBJECT ENCODING, PTTL, the type's length command, TYPE, RANDOMKEY,
    INFO). PTTL is not sent while INFO keyspace, read behind every batch, shows no key with a TTL in the
    database. A sampled run (--sample, --budget) first walks the keyspace once to measure every big key exactly.
    Only SCAN and MEMORY USAGE are required: a denied PTTL, OBJECT or DBSIZE drops its column.
    Runs at a lower CPU priority (nice 10): on a host it shares with Redis, the server comes first.
    Exit code: 0 done, 2 bad usage, 3 could not connect (or lost the connection, or refused).
    """
    if match is not None and (sample is not None or budget is not None):
        raise click.UsageError("--pattern needs a full scan: it cannot be combined with --sample or --budget")
    settings = ScanSettings(count=count, match=None if match is None else to_bytes(match),
                            samples=memory_samples, cap=cap, top_k=big, rate=rate, max_impact_ms=max_impact,
                            sample=sample, budget_s=budget)
    out = Output.from_env()
    yield_cpu()
    try:
        with _progress(out.progress_allowed and fmt == "terminal") as (advance, total):
            report = scan_deployment(conn, settings, replica=replica, progress=advance, on_total=total)
    except rex.RedisError as exc:
        raise _required(exc, conn) from None
    report = report.sorted_by(sort)
    if fmt == "json":
        out.echo(keys_json(report))
    elif fmt == "csv":
        out.echo(keys_csv(report), nl=False)
    else:
        render_keys_terminal(report, out.console(), top)


_RULES = {"memory": "+memory|usage", "scan": "+scan", "randomkey": "+randomkey"}


def _required(exc: rex.RedisError, conn: ConnectionOptions) -> RedisguardError:
    """A refusal of what the scan cannot do without (SCAN, RANDOMKEY, MEMORY USAGE): one line naming the
    ACL rule to add; anything else as the error root maps it."""
    text = str(exc)
    if isinstance(exc, rex.NoPermissionError) or text.startswith("NOPERM"):
        lowered = text.lower()
        needed = next((name for name in ("memory", "scan", "randomkey")
                       if f"'{name}" in lowered or lowered.startswith(f"{name} ")), None)
        rule = _RULES.get(needed or "", "+scan +memory|usage")
        what = "MEMORY USAGE" if needed == "memory" else (needed or "scan and memory usage").upper()
        user = quote_cli(conn.acl_user or "default")
        return RefusedError(f"{conn.display}: the keys scan needs {what}, which this user may not run; "
                            f"grant it with: ACL SETUSER {user} {rule}", kind="noperm")
    if isinstance(exc, rex.ResponseError) and "unknown" in text.lower():
        return RefusedError(f"{conn.display}: the server refused a command the scan needs ({one_line(text)}): "
                            "it is renamed or disabled on this server", kind="refused")
    return from_redis(exc, conn.display)
