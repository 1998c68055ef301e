"""``redisguard demo``: the incident of seeds 000/001 replayed on a throwaway Redis, diagnosed, fixed, and
run again with the guarded producer, narrated step by step (about a minute).

The server is started by us on 127.0.0.1 (``maxmemory 64mb``, ``noeviction``, its own temporary directory)
and stopped by its PID at the end, on Ctrl-C, on SIGTERM and when the terminal closes (SIGHUP), unless
``--keep`` is given (then it runs until Ctrl-C so every command can be tried on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import resource
import shlex
import signal
import sys
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click
from rich.console import Console

from redisguard.cli.demo_load import (
    GROUP,
    STREAM,
    GuardedResult,
    IncidentResult,
    Tick,
    drain_and_trim,
    guarded_replay,
    naive_incident,
    run_redisguard,
    used_memory,
)
from redisguard.cli.options import writable_file
from redisguard.cli.output import make_console
from redisguard.cli.report import count_trims, make_report, write_report
from redisguard.collect import collect_snapshot
from redisguard.connect import ConnectionOptions
from redisguard.errors import ConnectionFailed, UsageError
from redisguard.keynames import for_terminal
from redisguard.keyspace import doctor_key_sampler
from redisguard.localserver import LocalServer, find_redis_binaries
from redisguard.render import doctor_to_dict, render_doctor_terminal
from redisguard.rules import diagnose
from redisguard.snapshot import Snapshot
from redisguard.units import fmt_bytes

__all__ = ["command"]

MAXMEMORY = "64mb"
FIX_MEMORY = "107mb"  # 60 % of it (fix's headroom for a queue) is 64 MiB: fix keeps maxmemory where it is
AUDIT_NAME = "redisguard-demo-audit.jsonl"  # step c's audit log, written beside the report
T = TypeVar("T")


class _Stopped(KeyboardInterrupt):
    """SIGHUP or SIGTERM: leave through the ``finally`` that stops the server.

    A KeyboardInterrupt, so that asyncio lets it out of whichever task it lands in (it re-raises
    KeyboardInterrupt and SystemExit from a task instead of storing them).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def _install() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, _raise_stopped)


@contextlib.contextmanager
def _hangup_and_term() -> Iterator[None]:
    """Outside the event loop: SIGHUP/SIGTERM raise :class:`_Stopped` where the main thread is."""
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    _install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _until_signal(story: Coroutine[Any, Any, T]) -> T:
    """Inside the event loop: SIGHUP/SIGTERM cancel the story (every task cleans up), then :class:`_Stopped`."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if main is not None:
            main.cancel()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await story
    except asyncio.CancelledError:
        if received:
            raise _Stopped(received[0]) from None
        raise


class _Narrator:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.steps: dict[str, float] = {}  # when each step started, in seconds since the demo did

    def step(self, letter: str, title: str) -> None:
        self.steps[letter] = round(time.monotonic() - self.started, 1)
        self.console.print(f"\n[bold cyan]── {letter}) {title}[/] [dim](t={self.steps[letter]:.0f} s)[/]")

    def say(self, text: str) -> None:
        self.console.print(text)

    def tick(self, tick: Tick) -> None:
        lag = "unknown" if tick.lag is None else f"{tick.lag:,}"
        share = f" ({tick.used_memory / tick.maxmemory:.0%})" if tick.maxmemory else ""
        oom = f"[bold red]{tick.oom_replies:,} OOM[/]" if tick.oom_replies else "0 OOM"
        self.console.print(
            f"  {tick.elapsed_s:4.0f} s  Redis {fmt_bytes(tick.used_memory)}{share} · stream {tick.stream_length:,} "
            f"· lag {lag} · pending {tick.pending:,} · {oom} · producer buffer {tick.producer_buffer_events:,} "
            f"events ({fmt_bytes(tick.producer_buffer_bytes)})")


def _snapshot(url: str) -> Snapshot:
    return collect_snapshot(ConnectionOptions.build(url), key_sampler=doctor_key_sampler(2000))


def _incident(say: _Narrator, result: IncidentResult) -> None:
    say.say(f"  the upstream offered {result.offered:,} events; Redis stored {result.stored:,} and refused "
            f"{result.oom_replies:,} writes with OOM ('command not allowed when used memory > maxmemory')")
    say.say(f"  the naive producer now holds [bold]{result.buffer_events:,} events ({fmt_bytes(result.buffer_bytes)})"
            f"[/] it cannot write, and the pile grows every second the incident lasts (seed 001: 2.7 → 7.3 GB "
            f"in 60 s, then the container was OOM-killed); this process' peak RSS so far: "
            f"{fmt_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")


def _diagnosis(snapshot: Snapshot, console: Console) -> dict[str, Any]:
    report = diagnose(snapshot)
    render_doctor_terminal(report, console)
    return doctor_to_dict(report)


def _shown(say: _Narrator, command: list[str], code: int, text: str) -> None:
    """A child command's own output, indented under the line that ran it (names in it are escaped already)."""
    say.say(f"  [bold]$ {for_terminal(shlex.join(['redisguard', *command]))}[/]  [dim](exit {code})[/]")
    for line in text.rstrip("\n").splitlines():
        say.say(f"  │ {for_terminal(line, None)}")


async def _fix(say: _Narrator, url: str, audit: Path) -> dict[str, Any]:
    """Step c: the indexers catch up, then ``redisguard fix``: its plan (a dry run), then --apply, audited."""
    drained = await drain_and_trim(url)
    say.say(f"  first the indexers catch up (XREADGROUP and XACK still run when memory is full): a redisguard "
            f"Consumer handled {drained.handled:,} entries, {drained.claimed:,} of them claimed (XAUTOCLAIM) from "
            f"the dead indexer-2")
    before = await used_memory(url)
    # --memory: the demo's "host", so that the recommended maxmemory (60 % of it for a queue) stays 64 MiB;
    # AOF is left off on a throwaway server (its rewrite would fork and write to disk for nothing).
    args = ["fix", url, "--memory", FIX_MEMORY, "--skip", "appendonly"]
    code, text = await run_redisguard(*args)
    _shown(say, args, code, text)
    applied = [*args, "--apply", "--yes", "--audit", str(audit)]
    apply_code, apply_text = await run_redisguard(*applied)
    _shown(say, applied, apply_code, apply_text)
    after = await used_memory(url)
    entries = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
    say.say(f"  Redis {fmt_bytes(before)} → {fmt_bytes(after)}; the audit log {for_terminal(str(audit.resolve()))} "
            f"holds {len(entries)} line(s), each written before its command ran (`redisguard fix --undo` reads it)")
    say.say("  the policy stays noeviction: right for a queue (nothing unprocessed is ever evicted); what keeps "
            "Redis off the limit is the producer's gate, next")
    return {**dataclasses.asdict(drained), "dry_run_code": code, "apply_code": apply_code,
            "audit": str(audit.resolve()), "audit_entries": len(entries), "used_before": before, "used_after": after}


def _guarded(say: _Narrator, result: GuardedResult, limit: int) -> None:
    lost = result.offered - result.handled
    say.say(f"  the upstream offered {result.offered:,} events (send() waited {result.send_wait_s:.1f} s at closed "
            f"gates: the upstream was slowed, not buffered); Redis stored {result.written:,}; the consumer handled "
            f"{result.handled:,}: [bold]{'nothing lost' if lost == 0 else f'{lost:,} NOT handled'}[/]")
    say.say(f"  OOM replies: [bold]{result.oom_replies}[/]; Redis peaked at {fmt_bytes(result.max_used_memory)} of "
            f"{fmt_bytes(limit)}; the producer's buffer peaked at {result.max_buffer_events:,} events "
            f"({fmt_bytes(result.max_buffer_bytes)}, bounded: flat); gates closed "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.paused_s.items())
            + f"; the Trimmer freed {result.trimmed:,} acknowledged entries")


async def _story(server: LocalServer, say: _Narrator, console: Console, report_path: Path) -> dict[str, Any]:
    url = server.url
    limit = 64 * 1024 * 1024
    say.step("a", f"the incident: a naive producer floods stream {STREAM!r} while group {GROUP!r} lags")
    say.say("  upstream 2,500 events/s of 4 KB → unbounded buffer → XADD; indexer-1 acknowledges 400/s, indexer-2 "
            "reads as much and died before acknowledging (its entries stay pending)")
    incident = await naive_incident(url, say.tick)
    _incident(say, incident)
    say.step("b", "redisguard doctor: the diagnosis")
    before = _snapshot(url)
    trims = count_trims(ConnectionOptions.build(url), before)  # for the report: what a safe trim frees now
    doctor = _diagnosis(before, console)
    say.step("c", "redisguard fix: the plan (a dry run), then --apply, with its audit log")
    fixed = await _fix(say, url, report_path.with_name(AUDIT_NAME))
    say.step("d", "the same load again, with redisguard.streams' Producer, Consumer and Trimmer")
    say.say("  Producer(memory_limit=0.8: writes wait above 80 % of maxmemory) · Consumer(32 concurrent handlers "
            "of the same slow indexer: the doctor's 'add consumers') · Trimmer(every 0.5 s)")
    guarded = await guarded_replay(url, say.tick)
    _guarded(say, guarded, limit)
    say.step("e", "the report")
    series = [(tick.at, tick.used_memory) for tick in incident.ticks]
    report = make_report([before], trims=trims, samples=series)
    write_report(report, report_path)
    say.say(f"  the incident as the team would get it, written to [bold]{report_path.resolve()}[/]: one HTML file "
            "that opens offline (verdict, findings with commands to copy, memory charts, streams, clients)")
    return {"server": {"url": url, "pid": server.process.pid if server.process else None,
                       "version": server.binary.version_text, "maxmemory": limit},
            "incident": dataclasses.asdict(incident), "doctor": doctor, "fix": fixed,
            "guarded": dataclasses.asdict(guarded), "report": str(report_path.resolve()),
            "steps_started_s": say.steps, "elapsed_s": round(time.monotonic() - say.started, 1)}


@click.command("demo")
@click.option("--keep", is_flag=True,
              help="Leave the demo Redis running at the end (until Ctrl-C) to try commands on it.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="Where to write the HTML report.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the story's numbers as JSON on stdout (the narration goes to stderr).")
@click.option("--redis-version", "wanted", default=None, metavar="X.Y",
              help="Use the redis-server of this version among those found (default: the newest).")
def command(keep: bool, report_path: Path, as_json: bool, wanted: str | None) -> None:
    """Replay a real stream-queue OOM incident on a throwaway local Redis, diagnose it, fix it, and run the
    same load again with the memory-safe producer. About a minute.

    The server listens on 127.0.0.1 only and is stopped at the end (also on Ctrl-C or a closed terminal).
    """
    writable_file(report_path, "--report")  # and the audit log goes beside it: refused now, not after step d
    writable_file(report_path.with_name(AUDIT_NAME), "--report's directory")
    binaries = [binary for binary in find_redis_binaries()
                if wanted is None or f"{binary.version_text}.".startswith(f"{wanted.rstrip('.')}.")]
    if not binaries and wanted is not None:
        raise UsageError(f"no redis-server {wanted} found; found: "
                         + (", ".join(b.version_text for b in find_redis_binaries()) or "none"))
    if not binaries:
        raise ConnectionFailed("no redis-server found: install Debian's redis-server package or run ./dev.sh setup",
                               kind="no-server")
    out = sys.stderr if as_json else sys.stdout
    console = make_console(file=out, highlight=False, soft_wrap=True)
    say = _Narrator(console)
    server = LocalServer(binaries[0], config={"maxmemory": MAXMEMORY, "maxmemory-policy": "noeviction"})
    code = 0
    with _hangup_and_term():
        try:
            server.start()
            pid = server.process.pid if server.process else "?"
            name = Path(binaries[0].path).name  # redis-server, or valkey-server
            say.say(f"demo: {for_terminal(name)} {for_terminal(binaries[0].version_text)} (pid {pid}) on {server.url}, "
                    f"maxmemory {MAXMEMORY}, noeviction: the configuration of seed 000")
            try:
                story = asyncio.run(_until_signal(_story(server, say, console, report_path)))
            finally:
                _install()  # closing the event loop put the default handlers back
            if as_json:
                click.echo(json.dumps(story, indent=2, default=str))
            if keep:
                say.say(f"\ndemo Redis left running at [bold]{server.url}[/]: try `redisguard doctor {server.url}`, "
                        f"`redisguard streams {server.url}`, `redisguard report {server.url}`; Ctrl-C stops it")
                while server.process is not None and server.process.poll() is None:
                    time.sleep(0.5)
        except _Stopped as stopped:
            code = 128 + stopped.signum
        except KeyboardInterrupt:
            code = 130
        finally:
            server.close()
            console.print("[dim]demo redis-server stopped[/]")
    if code:
        raise SystemExit(code)
