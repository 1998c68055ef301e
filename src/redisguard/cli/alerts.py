"""``redisguard alerts``: print (or write) the Prometheus rules file for the exporter's metrics."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

import click

from redisguard.alerting import (
    AlertThresholds,
    Runbook,
    metrics_used,
    rules_document,
    rules_yaml,
    undefined_metrics,
)
from redisguard.cli.options import Duration, FiniteRange
from redisguard.cli.output import Output
from redisguard.errors import UsageError
from redisguard.keynames import visible
from redisguard.units import parse_bytes

__all__ = ["command"]

_DEFAULTS = AlertThresholds()


class _Size(click.ParamType[int]):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace("ib", "b")   # 100MiB -> 100mb (1024-based, as Redis)
        try:
            return parse_bytes(text)
        except ValueError:
            self.fail(f"{value!r} is not a size (examples: 104857600, 100mb, 100MiB, 1gb)", param, ctx)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds % 3600 == 0 else f"{seconds:g}s"


# (option, field, type, default shown, help)
_OPTIONS: tuple[tuple[str, str, click.ParamType[Any], str, str], ...] = (
    ("--memory-warning", "memory_warning", FiniteRange(), "0.8", "Warn at this share of maxmemory."),
    ("--memory-critical", "memory_critical", FiniteRange(), "0.9", "Critical at this share of maxmemory."),
    ("--forecast-warning", "forecast_warning_s", Duration(), "6h", "Warn when the forecast reaches maxmemory "
     "within this time."),
    ("--forecast-critical", "forecast_critical_s", Duration(), "1h", "...within this time: critical under "
     "noeviction (write errors), warning under allkeys-*/volatile-* (evictions)."),
    ("--fragmentation-ratio", "fragmentation_ratio", FiniteRange(), "1.5", "Fragmentation ratio above which..."),
    ("--fragmentation-bytes", "fragmentation_min_bytes", _Size(), "100MiB", "...at least this much RSS is "
     "fragmentation."),
    ("--stream-lag", "stream_lag", click.INT, "100000", "Entries a consumer group has not read."),
    ("--stream-pending", "stream_pending", click.INT, "10000", "Entries delivered, not acknowledged."),
    ("--stream-memory-share", "stream_memory_share", FiniteRange(), "0.25", "Share of maxmemory held by a stream "
     "some group has not read or acknowledged."),
    ("--pending-age", "pending_age_s", Duration(), "1h", "Age of a group's oldest pending entry."),
    ("--dead-consumer-idle", "dead_consumer_idle_s", Duration(), "30m", "Idle time after which a consumer "
     "still holding pending entries is dead."),
    ("--clients-share", "clients_share", FiniteRange(), "0.8", "Share of maxclients connected."),
    ("--noeviction-selector", "noeviction_selector", click.STRING, "", 'Label matchers of instances meant never '
     'to evict, e.g. \'job="redis-queues"\' (those with policy noeviction always are).'),
)


def _with_threshold_options(func: Any) -> Any:
    for flag, dest, kind, default, text in reversed(_OPTIONS):
        func = click.option(flag, dest, type=kind, default=None, help=f"{text} [default: {default or 'none'}]")(func)
    return func


def _thresholds(values: dict[str, Any]) -> tuple[AlertThresholds, list[str]]:
    given = {dest: values[dest] for _, dest, *_ in _OPTIONS if values.get(dest) is not None}
    thresholds = dataclasses.replace(_DEFAULTS, **given)
    args = []
    for flag, dest, *_ in _OPTIONS:
        if dest in given:
            value = given[dest]
            args += [flag, _hours(value) if dest.endswith("_s") else str(value)]
    return thresholds, args


def _write(path: Path, text: str) -> None:
    """Atomically: a reader (Prometheus reloading) never sees half a file."""
    directory = path.parent if str(path.parent) else Path()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("alerts")
@_with_threshold_options
@click.option("--runbook-scheme", type=click.Choice(["redis", "rediss"]), default="redis", show_default=True,
              help="URL scheme of the runbook command for a host:port instance label (rediss: TLS).")
@click.option("--runbook-args", default="", metavar="ARGS",
              help="Arguments added to every runbook command, e.g. '--tls-ca /etc/redis/ca.pem --user ops' "
                   "(never a password: redisguard reads REDISCLI_AUTH).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rules file here instead of printing it.")
@click.option("--json", "as_json", is_flag=True, help="The same rules as JSON (Prometheus reads either).")
@click.option("--check-names", is_flag=True,
              help="Only check that every metric the rules use is one the exporter defines; exit 2 if not.")
def command(output: Path | None, as_json: bool, check_names: bool, runbook_scheme: str, runbook_args: str,
            **values: Any) -> None:
    """A Prometheus rules file: memory share and forecast, fragmentation, evictions, streams, clients,
    persistence, exporter health. Each alert's runbook annotation is the redisguard command to run next.

    Check it with `promtool check rules FILE`; load it with Prometheus's rule_files.
    """
    out = Output.from_env()
    thresholds, args = _thresholds(values)
    try:
        runbook = Runbook(runbook_scheme, tuple(shlex.split(runbook_args)))
    except ValueError as exc:
        raise UsageError(f"--runbook-args: {exc}") from None
    if runbook_scheme != "redis":
        args += ["--runbook-scheme", runbook_scheme]
    if runbook.extra_args:
        args += ["--runbook-args", shlex.join(runbook.extra_args)]
    problems = thresholds.problems() + runbook.problems()
    if problems:
        raise UsageError("; ".join(problems))
    if check_names:
        missing = undefined_metrics(thresholds)
        if missing:
            raise UsageError(f"the rules use metrics the exporter does not define: {', '.join(sorted(missing))}")
        out.echo(f"ok: the rules use {len(metrics_used(thresholds))} metrics, all defined in "
                 "redisguard.metric_names")
        return
    shown = " ".join(shlex.quote(arg) for arg in args).replace("\n", "\\n")
    text = (json.dumps(rules_document(thresholds, runbook), indent=2) + "\n" if as_json
            else rules_yaml(thresholds, shown, runbook))
    if output is None:
        out.echo(text, nl=False)
        return
    try:
        _write(output, text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    out.note(f"wrote {visible(str(output))}")
