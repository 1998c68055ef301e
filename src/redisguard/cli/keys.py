"""``redisguard keys``: where the memory is, by key pattern. Read-only; bounded impact on the server."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import redis.exceptions as rex
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from redisguard.cli.options import connection_options, fail, is_terminal
from redisguard.connect import EXIT_CANNOT_CONNECT, ConnectionOptions
from redisguard.keynames import for_terminal, quote_cli, to_bytes
from redisguard.keyspace import DEFAULT_CAP, SORT_KEYS, TTL_BUCKETS, KeyspaceReport, ScanSettings, scan_deployment
from redisguard.units import fmt_bytes

__all__ = ["command", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or plain seconds, as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 2m, 500ms)")
    return float(match.group(1)) * _SCALE[match.group(2)]


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter("must be more than zero")
    return seconds


class _Bar:
    """A rich progress bar on stderr with keys/s and ETA; thread-safe (one scan thread per shard)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("scanning", total=None)
        self._lock = threading.Lock()
        self._done = 0

    def total(self, value: int) -> None:
        self._progress.update(self._task, total=value or None)

    def advance(self, keys: int) -> None:
        with self._lock:
            self._done += keys
            self._progress.update(self._task, completed=self._done)


class _KeysPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} keys/s")


@contextmanager
def _progress(enabled: bool) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A progress bar only for a person at a terminal; nothing when piped, in CI, or with --json/--csv."""
    if not enabled:
        yield None, None
        return
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), _KeysPerSecond(),
                  TextColumn("ETA"), TimeRemainingColumn(), transient=True, console=Console(stderr=True)) as progress:
        bar = _Bar(progress)
        yield bar.advance, bar.total


def _ci(low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    if low is None or high is None:
        return ""
    return f"{fmt(low)}–{fmt(high)}"


def render_terminal(report: KeyspaceReport, console: Console, top: int) -> None:
    sampled = not report.exact
    title = (f"{report.target}: {report.keyspace_size:,} keys, "
             + (f"{report.seen:,} sampled draws (estimates with 95 % CI)" if sampled else "full scan (exact)"))
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("pattern", overflow="fold")
    table.add_column("keys", justify="right")
    if sampled:
        table.add_column("keys 95% CI", justify="right")
    table.add_column("bytes", justify="right")
    if sampled:
        table.add_column("bytes 95% CI", justify="right")
    table.add_column("avg", justify="right")
    table.add_column("avg len", justify="right")
    table.add_column("% used", justify="right")
    table.add_column("no TTL", justify="right")
    table.add_column("TTL " + " / ".join(TTL_BUCKETS[1:]), justify="right")
    table.add_column("types / encodings")
    for row in report.patterns[:top]:
        cells = [for_terminal(row.pattern), f"{row.keys:,}"]
        if sampled:
            cells.append(_ci(row.keys_low, row.keys_high, lambda v: f"{v:,.0f}"))
        cells.append(fmt_bytes(row.bytes))
        if sampled:
            cells.append(_ci(row.bytes_low, row.bytes_high, fmt_bytes))
        cells += [
            fmt_bytes(row.avg_bytes),
            "?" if row.avg_length is None else f"{row.avg_length:,.1f}",
            "?" if row.share_of_memory is None else f"{row.share_of_memory:.1%}",
            f"{row.no_ttl_share:.0%}",
            " / ".join(str(row.ttl_histogram[name]) for name in TTL_BUCKETS[1:]),
            ", ".join(f"{name}:{count}" for name, count in sorted(row.types.items(), key=lambda kv: -kv[1]))
            + " (" + ", ".join(sorted(row.encodings)) + ")",
        ]
        table.add_row(*cells)
    console.print(table)
    if len(report.patterns) > top:
        console.print(f"… and {len(report.patterns) - top} more pattern(s) (--top, --json or --csv for all)")
    if report.big_keys:
        big = Table(title="biggest keys per type" + (" (among the sampled ones)" if sampled else ""),
                    title_justify="left")
        for name, justify in (("type", "left"), ("key", "left"), ("bytes", "right"), ("length", "right"),
                              ("encoding", "left"), ("TTL", "right")):
            big.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for typ, rows in report.big_keys.items():
            for item in rows[:5]:
                big.add_row(for_terminal(typ), for_terminal(quote_cli(item.key)), fmt_bytes(item.bytes),
                            "?" if item.length is None else f"{item.length:,}", for_terminal(item.encoding or "?"),
                            "none" if item.ttl_ms is None else f"{item.ttl_ms / 1000:,.0f} s")
        console.print(big)
    console.print(f"{report.seen:,} keys looked at in {report.elapsed_s:.1f} s ({report.keys_per_s:,.0f} keys/s) "
                  f"on {len(report.nodes)} node(s)"
                  + (f" ({for_terminal(', '.join(servers))})" if (servers := sorted({
                      node.server for node in report.nodes if node.server})) else "")
                  + f"; {report.vanished:,} vanished mid-scan; "
                  f"{len(report.patterns)} pattern(s)"
                  + (f", folded at depth {report.pattern_depth} to stay under {report.pattern_cap}"
                     if report.pattern_depth is not None else ""))
    for node in report.nodes:
        if node.max_added_latency_ms is not None:
            load = ""
            if node.server_ops_per_s is not None and node.min_duty is not None:
                load = (f"; server up to {node.server_ops_per_s:,} ops/s (the scan's own included), "
                        f"other clients up to {node.others_ops_per_s or 0:,.0f} commands/s; the scan took at most "
                        f"{node.min_duty:.0%} of the server's time at the busiest")
            console.print(f"{node.address}: worst added latency seen by the probe "
                          f"{node.max_added_latency_ms:.2f} ms{load}")
    for note in report.notes:
        console.print(f"note: {for_terminal(note)}")


@click.command("keys")
@connection_options
@click.option("--pattern", "match", default=None, metavar="GLOB",
              help="Only keys matching this glob (SCAN MATCH), e.g. 'session:*'.")
@click.option("--sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="Estimate from N uniform random draws (RANDOMKEY) with 95 % confidence intervals.")
@click.option("--budget", callback=_duration, default=None, metavar="DURATION",
              help="Time budget, e.g. 30s: sample until it is spent (a small keyspace is scanned in full).")
@click.option("--max-impact", "max_impact", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="MS", help="Keep the latency the scan adds for other clients under MS milliseconds.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None, metavar="KEYS/S",
              help="At most this many keys per second (per node).")
@click.option("--replica", is_flag=True, help="Scan a replica of each shard to spare the primary.")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="bytes", show_default=True,
              help="Order patterns by total bytes, key count or share of keys without TTL.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per pattern.")
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
def command(conn: ConnectionOptions, match: str | None, sample: int | None, budget: float | None,
            max_impact: float | None, rate: float | None, replica: bool, sort: str, as_json: bool, as_csv: bool,
            top: int, big: int, cap: int, count: int, memory_samples: int | None) -> None:
    """Which keys use the memory: per key pattern, bytes, counts, TTL coverage, and the biggest keys.

    Read-only (SCAN, MEMORY USAGE, TYPE, PTTL, OBJECT ENCODING, the type's length command, RANDOMKEY).
    Exit code: 0 done, 2 bad usage, 3 could not connect (or lost the connection).
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive")
    if match is not None and (sample is not None or budget is not None):
        raise click.UsageError("--pattern needs a full scan: it cannot be combined with --sample or --budget")
    settings = ScanSettings(count=count, match=None if match is None else to_bytes(match),
                            samples=memory_samples, cap=cap, top_k=big, rate=rate, max_impact_ms=max_impact,
                            sample=sample, budget_s=budget)
    try:
        with _progress(is_terminal() and not (as_json or as_csv)) as (advance, total):
            report = scan_deployment(conn, settings, replica=replica, progress=advance, on_total=total)
    except rex.NoPermissionError as exc:
        fail(f"{conn.display}: this user may not run a command the scan needs ({exc}); see `redisguard acl`",
             EXIT_CANNOT_CONNECT)
        return
    except (rex.ConnectionError, rex.TimeoutError) as exc:
        fail(f"{conn.display}: lost the connection during the scan ({exc})", EXIT_CANNOT_CONNECT)
        return
    except rex.ResponseError as exc:  # e.g. MEMORY renamed or disabled on a managed service
        fail(f"{conn.display}: the server refused a command the scan needs ({exc})", EXIT_CANNOT_CONNECT)
        return
    report = report.sorted_by(sort)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif as_csv:
        click.echo(report.to_csv(), nl=False)
    else:
        render_terminal(report, Console(highlight=False, width=None if is_terminal() else 160), top)
