"""The keys report for a terminal (rich), as CSV (one row per pattern) and as JSON. Formatting only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from redisguard.keynames import for_csv, for_terminal, quote_cli, with_b64
from redisguard.render.json import dumps
from redisguard.snapshot.keyspace import KeyspaceReport
from redisguard.units import fmt_bytes

if TYPE_CHECKING:  # rich is imported by the terminal renderer only: JSON and CSV output start faster
    from rich.console import Console

__all__ = ["keys_csv", "keys_json", "render_keys_terminal"]

TTL_BUCKETS = ("none", "<1h", "<1d", "<1w", ">=1w")


def keys_json(report: KeyspaceReport) -> str:
    """Lossless JSON: a non-UTF-8 key name or pattern also gets a ``*_b64`` twin."""
    return dumps(with_b64(report.to_dict()))


def _cell(text: str) -> str:
    return for_csv(text)


def keys_csv(report: KeyspaceReport) -> str:
    """One row per pattern."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["pattern", "keys", "bytes", "avg_bytes", "share_of_memory", "no_ttl", "no_ttl_share",
                     *(f"ttl_{name}" for name in TTL_BUCKETS), "types", "encodings",
                     "keys_low", "keys_high", "bytes_low", "bytes_high", "total_length", "avg_length"])
    ttl = report.ttl_visible
    for row in report.patterns:
        writer.writerow([
            _cell(row.pattern), row.keys, row.bytes, f"{row.avg_bytes:.1f}",
            "" if row.share_of_memory is None else f"{row.share_of_memory:.6f}",
            row.no_ttl if ttl else "", f"{row.no_ttl_share:.4f}" if ttl else "",
            *((row.ttl_histogram[name] if ttl else "") for name in TTL_BUCKETS),
            _cell(";".join(f"{k}={v}" for k, v in sorted(row.types.items()))),
            _cell(";".join(f"{k}={v}" for k, v in sorted(row.encodings.items()))),
            *("" if value is None else f"{value:.0f}"
              for value in (row.keys_low, row.keys_high, row.bytes_low, row.bytes_high)),
            "" if row.total_length is None else row.total_length,
            "" if row.avg_length is None else f"{row.avg_length:.1f}",
        ])
    return out.getvalue()


def _ci(low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    if low is None or high is None:
        return ""
    return f"{fmt(low)}–{fmt(high)}"


def render_keys_terminal(report: KeyspaceReport, console: Console, top: int) -> None:
    sampled = not report.exact
    ttl = report.ttl_visible
    encodings = not any(item.startswith("encoding:") for item in report.not_visible)
    lengths = not any(item.startswith("length:") for item in report.not_visible)
    title = (f"{for_terminal(report.target)}: {report.keyspace_size:,} keys, "
             + (f"{report.seen:,} sampled draws (estimates with 95 % CI)" if sampled else "full scan (exact)"))
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("pattern", overflow="fold")
    table.add_column("keys", justify="right")
    if sampled:
        table.add_column("keys 95% CI", justify="right")
    table.add_column("bytes", justify="right")
    if sampled:
        table.add_column("bytes 95% CI", justify="right")
    table.add_column("avg", justify="right")
    if lengths:
        table.add_column("avg len", justify="right")
    table.add_column("% used", justify="right")
    if ttl:
        table.add_column("no TTL", justify="right")
        table.add_column("TTL " + " / ".join(TTL_BUCKETS[1:]), justify="right")
    table.add_column("types / encodings" if encodings else "types")
    for row in report.patterns[:top]:
        cells = [for_terminal(row.pattern), f"{row.keys:,}"]
        if sampled:
            cells.append(_ci(row.keys_low, row.keys_high, lambda v: f"{v:,.0f}"))
        cells.append(fmt_bytes(row.bytes))
        if sampled:
            cells.append(_ci(row.bytes_low, row.bytes_high, fmt_bytes))
        cells.append(fmt_bytes(row.avg_bytes))
        if lengths:
            cells.append("?" if row.avg_length is None else f"{row.avg_length:,.1f}")
        cells.append("?" if row.share_of_memory is None else f"{row.share_of_memory:.1%}")
        if ttl:
            cells += [f"{row.no_ttl_share:.0%}", " / ".join(str(row.ttl_histogram[name]) for name in TTL_BUCKETS[1:])]
        kinds = ", ".join(f"{for_terminal(name)}:{count}"
                          for name, count in sorted(row.types.items(), key=lambda kv: -kv[1]))
        if encodings:
            kinds += " (" + ", ".join(for_terminal(name) for name in sorted(row.encodings)) + ")"
        cells.append(kinds)
        table.add_row(*cells)
    console.print(table)
    if len(report.patterns) > top:
        console.print(f"… and {len(report.patterns) - top} more pattern(s) (--top, --json or --csv for all)")
    _big_keys(report, console, ttl)
    console.print(f"{report.seen:,} keys looked at in {report.elapsed_s:.1f} s ({report.keys_per_s:,.0f} keys/s) "
                  f"on {len(report.nodes)} node(s)"
                  + (f" ({for_terminal(', '.join(servers))})" if (servers := sorted({
                      node.server for node in report.nodes if node.server})) else "")
                  + f"; {report.vanished:,} vanished mid-scan; "
                  f"{len(report.patterns)} pattern(s)"
                  + (f", folded at depth {report.pattern_depth} to stay under {report.pattern_cap}"
                     if report.pattern_depth is not None else ""))
    _coverage(report, console)
    _impact(report, console)
    for item in report.not_visible:
        console.print(f"not visible: {for_terminal(item)} (see `redisguard acl`)")
    for note in report.notes:
        console.print(f"note: {for_terminal(note)}")


def _big_keys(report: KeyspaceReport, console: Console, ttl: bool) -> None:
    if not report.big_keys:
        return
    sampled = not report.exact
    title = "biggest keys per type"
    if sampled:
        title += " (measured exactly by the big-key pass, or among the sampled keys: marked ~)"
    from rich.table import Table

    big = Table(title=title, title_justify="left")
    columns = [("type", "left"), ("key", "left"), ("bytes", "right"), ("length", "right"), ("encoding", "left")]
    if ttl:
        columns.append(("TTL", "right"))
    for name, justify in columns:
        big.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for typ, rows in report.big_keys.items():
        for item in rows[:5]:
            cells = [for_terminal(typ), for_terminal(quote_cli(item.key)),
                     ("" if item.exact or not sampled else "~") + fmt_bytes(item.bytes),
                     "?" if item.length is None else f"{item.length:,}", for_terminal(item.encoding or "?")]
            if ttl:
                cells.append("none" if item.ttl_ms is None else f"{item.ttl_ms / 1000:,.0f} s")
            big.add_row(*cells)
    console.print(big)


def _coverage(report: KeyspaceReport, console: Console) -> None:
    cover = report.coverage
    if cover is None:
        return
    line = (f"coverage: sampled estimate {fmt_bytes(cover.estimated_bytes)} + {cover.big_keys} big key(s) "
            f"measured exactly {fmt_bytes(cover.big_keys_bytes)} = {fmt_bytes(report.total_bytes)}")
    if cover.dataset_bytes is not None and cover.unaccounted_bytes is not None:
        line += f" of used_memory_dataset {fmt_bytes(cover.dataset_bytes)}"
        if cover.unaccounted_bytes >= 0:
            line += (f"; {fmt_bytes(cover.unaccounted_bytes)} ({cover.unaccounted_share or 0:.1%}) unaccounted "
                     "(allocator overhead outside MEMORY USAGE, the expires table, estimate error)")
        else:
            line += (f"; {fmt_bytes(-cover.unaccounted_bytes)} over it (MEMORY USAGE estimates aggregates from "
                     "samples and counts allocator rounding; an exact full scan overshoots too)")
    console.print(line)
    walked = "the whole keyspace" if cover.pass_complete else f"only {cover.pass_keys_walked:,} keys (time budget)"
    console.print(f"big-key pass: walked {walked}; measured every aggregate of ≥ {cover.min_elements:,} elements "
                  f"and every string of ≥ {fmt_bytes(cover.min_string_bytes)}")


def _impact(report: KeyspaceReport, console: Console) -> None:
    for node in report.nodes:
        if node.max_added_latency_ms is None:
            continue
        if node.server_ops_per_s is not None and node.min_duty is not None:
            console.print(f"{for_terminal(node.address)}: worst added latency seen by the probe "
                          f"{node.max_added_latency_ms:.2f} ms; server up to {node.server_ops_per_s:,} ops/s "
                          f"(the scan's own included), other clients up to {node.others_ops_per_s or 0:,.0f} "
                          f"commands/s; the scan took at most {node.min_duty:.0%} of the server's time at the busiest")
        elif report.exact:
            console.print(f"{for_terminal(node.address)}: impact: other clients waited up to "
                          f"{node.max_added_latency_ms:.2f} ms (median {node.median_added_latency_ms or 0:.2f} ms) "
                          "behind the scan's batches, measured by a PING once a second; --max-impact 1 bounds it")
