"""``redisguard doctor``: the memory runbook, automated. Read-only."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import click

from redisguard.cli.options import command_context, connection_options
from redisguard.cli.output import Output, output_options
from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.keyspace import doctor_key_sampler
from redisguard.render import doctor_to_dict, render_doctor_markdown, render_doctor_terminal
from redisguard.rules import CommandContext, Thresholds, diagnose
from redisguard.snapshot import Snapshot, load

__all__ = ["command"]

_THRESHOLD_FIELDS = {f.name: f.type for f in dataclasses.fields(Thresholds)}


def _thresholds(pairs: tuple[str, ...]) -> Thresholds:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in _THRESHOLD_FIELDS:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE with NAME one of "
                                     f"{', '.join(sorted(_THRESHOLD_FIELDS))}", param_hint="--threshold")
        try:
            value = float(raw) if _THRESHOLD_FIELDS[name] == "float" else int(raw)
        except ValueError:
            raise click.BadParameter(f"{pair!r}: {raw!r} is not a number", param_hint="--threshold") from None
        if not math.isfinite(value) or value < 0:  # nan would switch the rule off without a word
            raise click.BadParameter(f"{pair!r}: expected a finite number >= 0", param_hint="--threshold")
        values[name] = value
    return dataclasses.replace(Thresholds(), **values)


def run_doctor(snapshot: Snapshot, thresholds: Thresholds, fmt: str, commands: CommandContext | None = None,
               out: Output | None = None) -> int:
    """Analyse ``snapshot``, print the report in ``fmt`` and return the doctor's exit code."""
    report = diagnose(snapshot, thresholds, commands)
    output = out or Output.from_env()
    if fmt == "json":
        output.json(doctor_to_dict(report))
    elif fmt == "markdown":
        output.echo(render_doctor_markdown(report), nl=False)
    else:
        render_doctor_terminal(report, output.console())
    return report.exit_code


@click.command("doctor")
@connection_options
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Analyse a saved snapshot (redisguard snapshot -o FILE) instead of connecting.")
@output_options("json", "markdown")
@click.option("--replicas", is_flag=True, help="Also diagnose replicas (default: primaries only).")
@click.option("--key-sample", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Keys to sample per node for the TTL and big-key rules (0 to skip).")
@click.option("--threshold", "threshold_pairs", multiple=True, metavar="NAME=VALUE",
              help="Override a rule threshold, e.g. --threshold memory_warning=0.7 (repeatable).")
def command(conn: ConnectionOptions, from_file: Path | None, fmt: str, replicas: bool,
            key_sample: int, threshold_pairs: tuple[str, ...]) -> None:
    """Diagnose Redis memory: what uses it, what is wrong, how bad, and the commands that fix it.

    Read-only. Exit code: 0 healthy, 1 warnings, 2 critical (or a usage error), 3 could not connect, 130
    Ctrl-C.
    """
    thresholds = _thresholds(threshold_pairs)
    if from_file is not None:
        snapshot = load(from_file)  # a SnapshotFormatError is a usage error: one line, exit 2
    else:
        snapshot = collect_snapshot(conn, include_replicas=replicas,
                                    key_sampler=doctor_key_sampler(key_sample) if key_sample else None)
    raise SystemExit(run_doctor(snapshot, thresholds, fmt, command_context(conn) if from_file is None else None))
