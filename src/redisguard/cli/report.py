"""``redisguard report``: the diagnosis as one self-contained HTML file, to attach to a ticket or an e-mail.

Read-only. From a live server (URL) and/or saved snapshots (``--from``, repeatable: the series gives the
memory timeline and its forecast). ``--keys`` adds a keyspace analysis, sampled under a latency budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import click

from redisguard.cli.options import FiniteRange, command_context, connection_options
from redisguard.cli.output import Output
from redisguard.cli.priority import yield_cpu
from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions, discover
from redisguard.connect.topology import node_client
from redisguard.errors import UsageError
from redisguard.keynames import for_terminal, with_b64
from redisguard.keyspace import KeyspaceReport, ScanSettings, doctor_key_sampler, scan_deployment
from redisguard.render.html import render_report_html
from redisguard.render.report_model import Report, TrimCount, build_report
from redisguard.rules import CommandContext, Thresholds, analyse, analyse_history
from redisguard.rules import build_report as build_doctor_report
from redisguard.snapshot import Snapshot, load
from redisguard.streams import stream_health

__all__ = ["command", "write_report"]

def count_trims(options: ConnectionOptions, snapshot: Snapshot) -> dict[tuple[str, str], TrimCount]:
    """Entries before each stream's safe trim point, counted read-only on the node that holds the stream
    (:func:`redisguard.streams.stream_health`: from the group's lag, a bounded walk, or an estimate)."""
    counts: dict[tuple[str, str], TrimCount] = {}
    wanted = {node.address: node for node in snapshot.nodes if node.streams}
    for info in discover(options).primaries:
        node = wanted.get(info.address)
        if node is None:
            continue
        with node_client(info) as client:
            for stream in node.streams:
                health = stream_health(client, stream, node.address)
                if health.safe_point is not None:
                    counts[(node.address, stream.key)] = TrimCount(health.safe_to_trim.value,
                                                                   estimated=not health.safe_to_trim.exact)
    return counts


def make_report(history: Sequence[Snapshot], *, keyspace: KeyspaceReport | None = None,
                trims: dict[tuple[str, str], TrimCount] | None = None, thresholds: Thresholds | None = None,
                samples: Sequence[tuple[float, int]] = (), commands: CommandContext | None = None) -> Report:
    """The report for the newest of ``history``, with the history rules' findings (the forecast) over all of
    it; ``commands``: how the user connected (for the lines to paste)."""
    current = max(history, key=lambda snap: snap.taken_at)
    findings = analyse(current, thresholds) + (analyse_history(history, thresholds) if len(history) > 1 else [])
    doctor = build_doctor_report(current, findings, commands)
    return build_report(history, doctor, keyspace=keyspace, trims=trims, samples=samples)


def write_report(report: Report, path: Path) -> None:
    """Write the page; an unwritable path is a usage error (one line, exit 2)."""
    try:
        path.write_text(render_report_html(report), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _load_all(paths: Sequence[Path]) -> list[Snapshot]:
    return [load(path) for path in paths]  # a bad file raises SnapshotFormatError: one line, exit 2


@click.command("report")
@connection_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="Where to write the HTML file.")
@click.option("--from", "from_files", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="A saved snapshot (redisguard snapshot -o FILE); repeat it for a history and a forecast. "
                   "With a URL too, the live snapshot is the newest point.")
@click.option("--keys", "with_keys", is_flag=True, help="Add a keyspace analysis (needs a server).")
@click.option("--max-impact", "max_impact", type=FiniteRange(min=0, min_open=True), default=1.0,
              show_default=True, metavar="MS", help="--keys: latency the scan may add for other clients.")
@click.option("--budget", type=FiniteRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="SECONDS", help="--keys: sample for this long at most (a small keyspace is scanned in full).")
@click.option("--key-sample", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Keys the doctor sample reads per node when no --keys scan is asked for (0 to skip).")
@click.option("--json", "as_json", is_flag=True, help="Also print the report's data as JSON on stdout.")
def command(conn: ConnectionOptions, output: Path, from_files: tuple[Path, ...], with_keys: bool, max_impact: float,
            budget: float, key_sample: int, as_json: bool) -> None:
    """Write the diagnosis as one self-contained HTML file: verdict, findings with commands to copy, charts.

    Read-only. The file loads nothing from the network and opens offline. Exit code: 0 healthy,
    1 warnings, 2 critical (or bad usage), 3 could not connect.
    """
    live = not from_files or click.get_current_context().params.get("url") is not None
    if with_keys and not live:
        raise click.UsageError("--keys scans a server: give its URL (with or without --from)")
    history = _load_all(from_files)
    keyspace: KeyspaceReport | None = None
    trims: dict[tuple[str, str], TrimCount] = {}
    out = Output.from_env()
    status = (out.console(stderr=True).status("collecting (read-only)", spinner="dots")
              if live and out.progress_allowed else contextlib.nullcontext())
    if live:  # a redis-py error on the way is turned into one line by the entry point (redisguard.errors)
        with status:
            snapshot = collect_snapshot(conn, key_sampler=(doctor_key_sampler(key_sample)
                                                           if key_sample and not with_keys else None))
            history.append(snapshot)
            trims = count_trims(conn, snapshot)
            if with_keys:
                yield_cpu()
                keyspace = scan_deployment(conn, ScanSettings(max_impact_ms=max_impact, budget_s=budget))
    report = make_report(history, keyspace=keyspace, trims=trims, commands=command_context(conn) if live else None)
    write_report(report, output)
    summary = (f"report written to {for_terminal(str(output.resolve()))} ({report.verdict}: "
               + (", ".join(f"{n} {level}" for level, n in report.counts) or "no findings") + ")")
    if as_json:  # the data on stdout (non-UTF-8 names with a _b64 twin), the summary for the person on stderr
        out.json(with_b64(dataclasses.asdict(report)))
        out.note(summary)
    else:
        out.echo(summary)
    raise SystemExit(report.exit_code)
