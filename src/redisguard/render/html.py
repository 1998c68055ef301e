"""The report as one self-contained HTML file: inline CSS, inline SVG charts, one small inline script.

Formatting only (the numbers and their order come from :mod:`redisguard.render.report_model`). Every name
and value that came from Redis or a snapshot goes through :func:`redisguard.keynames.for_html`. The page
makes no network request: no external script, style, font or image, and its Content-Security-Policy
(``default-src 'none'``, the one stylesheet and the one script allowed by their SHA-256 hashes) would
block one if it tried. It reads on a phone (one column, tables scroll sideways) and prints (no buttons,
no page break inside a finding).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable, Sequence

from redisguard.keynames import for_html
from redisguard.render.evidence import format_evidence
from redisguard.render.report_model import (
    ClientsView,
    CommandView,
    ConfigAuditView,
    FindingView,
    KeyspaceView,
    NodeView,
    Report,
    StreamView,
    Timeline,
)
from redisguard.render.svg import Bar, Segment, bar_chart, series_chart, stacked_bar
from redisguard.units import fmt_bytes, fmt_duration_ms

__all__ = ["CSS", "SCRIPT", "content_security_policy", "render_report_html"]

CSS = """
:root{--fg:#1d2125;--muted:#5c6670;--bg:#fff;--line:#d8dde2;--crit:#b3261e;--warn:#9a6700;--info:#0b6bcb;
--ok:#1a7f37;--code:#f4f6f8}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:16px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);
padding-bottom:.2em}h3{font-size:1.05em;margin:.2em 0 .4em}
.meta,.muted,.risk{color:var(--muted);font-size:.9em}
.verdict{border-radius:8px;padding:12px 16px;margin:12px 0;border:2px solid}
.verdict strong{font-size:1.25em}
.v-critical{border-color:var(--crit);background:#fdecea}.v-warning{border-color:var(--warn);background:#fff5db}
.v-healthy{border-color:var(--ok);background:#e9f7ee}
.finding{border:1px solid var(--line);border-left:6px solid var(--info);border-radius:6px;padding:10px 14px;
margin:12px 0;break-inside:avoid;page-break-inside:avoid}
.finding.critical{border-left-color:var(--crit)}.finding.warning{border-left-color:var(--warn)}
.badge{display:inline-block;font-size:.75em;font-weight:700;letter-spacing:.04em;padding:1px 7px;border-radius:10px;
color:#fff;background:var(--info);vertical-align:middle;margin-right:6px}
.badge.critical{background:var(--crit)}.badge.warning{background:var(--warn)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f4;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:700;border-top:2px solid var(--fg)}
code,.name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
td .name{display:inline-block;min-width:9em}
.cmd{display:flex;gap:8px;align-items:flex-start;background:var(--code);border:1px solid var(--line);
border-radius:6px;padding:6px 8px;margin:6px 0 2px}
.cmd code{flex:1;white-space:pre-wrap}
.kind{font-size:.75em;color:var(--muted);white-space:nowrap;padding-top:2px}
button.copy{font:inherit;font-size:.8em;padding:2px 10px;border:1px solid var(--muted);border-radius:4px;
background:#fff;cursor:pointer}
button.copy:focus{outline:2px solid var(--info)}
.advice{margin:6px 0 2px;padding-left:10px;border-left:3px solid var(--line)}
dl.ev{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0;font-size:.92em}
dl.ev dt{color:var(--muted)}dl.ev dd{margin:0;overflow-wrap:anywhere}
svg.chart{width:100%;height:auto;display:block;margin:6px 0}.chartbox{overflow-x:auto;max-width:100%}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}svg text.val{fill:var(--muted)}
svg .frame{fill:none;stroke:var(--line)}svg .grid{stroke:#eef0f2}svg .limit{stroke:var(--crit);stroke-width:2;
stroke-dasharray:6 3}svg .used{fill:none;stroke:var(--info);stroke-width:2.5}svg .dot{fill:var(--info)}
svg .fc{fill:none;stroke:var(--warn);stroke-width:2;stroke-dasharray:5 4}svg .band{fill:#f4d58d;opacity:.45}
.c0{fill:#0b6bcb}.c1{fill:#e8590c}.c2{fill:#2f9e44}.c3{fill:#ae3ec9}.c4{fill:#1098ad}.c5{fill:#f59f00}
.c6{fill:#868e96}.c7{fill:#c92a2a}.ttl{fill:#2f9e44}.nottl{fill:#e8590c}
.offscreen{position:fixed;left:-9999px;top:0}
footer{margin:2em 0 1em;color:var(--muted);font-size:.85em}
@media (max-width:640px){body{padding:10px;font-size:14px}h1{font-size:1.25em}
dl.ev{grid-template-columns:1fr}dl.ev dt{margin-top:4px}th,td{padding:3px 5px}svg.chart{min-width:600px}}
@media print{body{max-width:none;padding:0;font-size:11pt}svg.chart{min-width:0}.chartbox{overflow:visible}
button.copy{display:none}
.verdict,.finding{background:none}.scroll{overflow:visible}a{color:inherit}
h2{break-after:avoid;page-break-after:avoid}table,svg.chart{break-inside:avoid;page-break-inside:avoid}}
"""

# No comment markers and no URLs in here (the tests look for "//" in the page).
SCRIPT = """
(function () {
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  function show(button, ok) {
    button.textContent = ok ? "Copied" : "Select it and copy";
    window.setTimeout(function () { button.textContent = "Copy"; }, 1600);
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.parentNode.querySelector("code").textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { show(button, true); },
                                                 function () { show(button, fallback(text)); });
      } else {
        show(button, fallback(text));
      }
    });
  });
})();
"""

_PALETTE = tuple(f"c{index}" for index in range(8))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy() -> str:
    """Nothing may load; only this page's own stylesheet and script run (allowed by hash)."""
    return (f"default-src 'none'; style-src {_sha256(CSS)}; script-src {_sha256(SCRIPT)}; img-src 'none'; "
            "font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")


def e(value: object) -> str:
    """Text from anywhere (Redis, a snapshot, a rule) as HTML text or attribute value."""
    return for_html(str(value))


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _num(value: int | float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}" if isinstance(value, int) or value >= 100 else f"{value:,.1f}"


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]], total: Sequence[str] | None = None) -> str:
    """``head``: (title, numeric); cells are HTML already escaped by the caller."""
    numeric = [flag for _, flag in head]
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f'<th{" class=n" if flag else ""}>{e(title)}</th>' for title, flag in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f'<td{" class=n" if numeric[i] else ""}>{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>")
    if total is not None:
        out.append('<tr class="total">' + "".join(f'<td{" class=n" if numeric[i] else ""}>{cell}</td>'
                                                 for i, cell in enumerate(total)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _verdict(report: Report) -> str:
    words = {"critical": "Critical: act now", "warning": "Warnings: needs attention", "healthy": "Healthy"}
    counts = ", ".join(f"{n} {level}" for level, n in report.counts) or "no findings"
    used = sum(node.used for node in report.nodes)
    limit = sum(node.maxmemory for node in report.nodes)
    memory = f"used {fmt_bytes(used)}" + (f" of maxmemory {fmt_bytes(limit)} ({used / limit:.0%})" if limit
                                           else " (maxmemory not set)")
    if not all(node.memory_visible for node in report.nodes):
        memory = "used memory not visible (INFO and MEMORY STATS)"
    stake = f"; up to {fmt_bytes(report.bytes_at_stake)} at stake in one finding" if report.bytes_at_stake else ""
    return (f'<section class="verdict v-{report.verdict}" id="verdict"><strong>{e(words[report.verdict])}</strong>'
            f"<div>{e(counts)}; {e(memory)}{e(stake)}. Exit code {report.exit_code} "
            f"(0 healthy, 1 warnings, 2 critical).</div></section>")


def _nodes(report: Report) -> str:
    head = [("node", False), ("role", False), ("version", False), ("used", True), ("maxmemory", True),
            ("used / max", True), ("RSS", True), ("policy", False), ("keys", True), ("streams", True),
            ("clients", True)]

    def cells(node: NodeView) -> list[str]:
        seen = node.memory_visible
        return [f'<span class="name">{e(node.address)}</span>', e(node.role), e(node.version),
                fmt_bytes(node.used) if seen else "not visible",
                fmt_bytes(node.maxmemory) if node.maxmemory else "not set", _pct(node.used_share if seen else None),
                fmt_bytes(node.rss) if seen else "not visible", e(node.policy),
                _num(node.keys if node.keys_visible else None), _num(node.streams), _num(node.clients)]

    return _table(head, (cells(node) for node in report.nodes),
                  None if report.total is None else cells(report.total))


def _command(command: CommandView) -> str:
    fill = (f" · replace {e(', '.join(command.placeholders))} before running it" if command.placeholders else "")
    return (f'<div class="cmd"><span class="kind">{e(command.kind)}</span><code>{e(command.text)}</code>'
            f'<button type="button" class="copy" aria-label="Copy this command">Copy</button></div>'
            f'<div class="risk">risk: {e(command.risk)}{fill}</div>')


def _finding(finding: FindingView) -> str:
    out = [f'<article class="finding {finding.severity}"><h3><span class="badge {finding.severity}">'
           f"{e(finding.severity.upper())}</span>{e(finding.title)}</h3>",
           f'<div class="meta"><code>{e(finding.id)}</code> on <span class="name">{e(finding.node)}</span>'
           + (f" · bytes at stake: <strong>{fmt_bytes(finding.bytes_at_stake)}</strong>"
              if finding.bytes_at_stake else "") + "</div>"]
    if finding.evidence:
        out.append('<dl class="ev">' + "".join(f"<dt>{e(name)}</dt><dd>{e(format_evidence(name, value))}</dd>"
                                               for name, value in finding.evidence) + "</dl>")
    if finding.detail:
        out.append(f"<p>{e(finding.detail)}</p>")
    out += [_command(command) for command in finding.commands]
    out += [f'<p class="advice">{e(advice.text)} <span class="risk">({e(advice.risk)})</span></p>'
            for advice in finding.advice]
    out.append("</article>")
    return "".join(out)


def _findings(report: Report) -> str:
    if not report.findings:
        return "<p>No problems found.</p>"
    return "".join(_finding(finding) for finding in report.findings)


def _breakdown(node: NodeView) -> str:
    if not node.memory_visible:
        return (f'<h3><span class="name">{e(node.address)}</span>: used memory not visible (INFO and MEMORY STATS), '
                f"policy {e(node.policy)}</h3>")
    segments = [(f"{label}: {fmt_bytes(value)}", float(value), _PALETTE[i % len(_PALETTE)])
                for i, (label, value) in enumerate(node.breakdown)]
    total = max(float(node.maxmemory), float(sum(value for _, value in node.breakdown)))
    marker = (float(node.maxmemory), f"maxmemory {fmt_bytes(node.maxmemory)}") if node.maxmemory else None
    chart = stacked_bar(segments, total, f"memory of {node.address}", marker=marker)
    parts = [*node.breakdown, *((("fragmentation (RSS beyond used, not counted)", node.fragmentation),)
                                if node.fragmentation else ())]
    bars = bar_chart([Bar(label, (Segment(float(value), _PALETTE[i % len(_PALETTE)], fmt_bytes(value)),),
                          f"{fmt_bytes(value)} ({value / (node.used or 1):.0%} of used)")
                      for i, (label, value) in enumerate(parts)], f"memory breakdown of {node.address}")
    share = f" ({node.used_share:.0%} of maxmemory)" if node.used_share is not None else ""
    return (f'<h3><span class="name">{e(node.address)}</span>: used {fmt_bytes(node.used)}{e(share)}, '
            f"policy {e(node.policy)}</h3>{chart}{bars}")


def _timeline(timeline: Timeline) -> str:
    points = timeline.points
    projection: list[tuple[float, float]] = []
    band = None
    text = ""
    forecast = timeline.forecast
    if forecast is not None and points and timeline.limit:
        last_t = points[-1][0]
        limit = float(timeline.limit)
        projection = [(last_t + forecast.seconds_to_limit, limit)]
        band = ((last_t + forecast.seconds_lower, limit), (last_t + forecast.seconds_upper, limit))
        when = (f"maxmemory is reached already: {e(forecast.consequence)} now" if forecast.seconds_to_limit <= 0 else
                f"maxmemory reached in about {fmt_duration_ms(forecast.seconds_to_limit * 1000)} "
                f"(between {fmt_duration_ms(forecast.seconds_lower * 1000)} and "
                f"{fmt_duration_ms(forecast.seconds_upper * 1000)}), then {e(forecast.consequence)}")
        text = (f"<p><strong>Forecast:</strong> growing {fmt_bytes(forecast.rate_bytes_per_second)}/s; {when}. "
                f'<span class="muted">From {forecast.samples_used} samples.</span></p>')
    else:
        text = f'<p class="muted">{e(timeline.forecast_note)}</p>'
    chart = series_chart(points, timeline.limit, "memory counted against maxmemory over time",
                         fmt_bytes, projection, band) if len(points) > 1 else ""
    return chart + text


def _keyspace(view: KeyspaceView) -> str:
    bars = [Bar(p.pattern, (Segment(p.bytes * (1 - p.no_ttl_share), "ttl", "with a TTL"),
                            Segment(p.bytes * p.no_ttl_share, "nottl", "without a TTL")),
                f"{fmt_bytes(p.bytes)} · {p.no_ttl_share:.0%} no TTL") for p in view.patterns[:15]]
    chart = bar_chart(bars, "memory by key pattern (green: with a TTL, orange: without)") if bars else ""
    table = _table(
        [("pattern", False), ("keys", True), ("bytes", True), ("share", True), ("no TTL", True),
         ("mean size", True), ("mean length", True)],
        ([f'<span class="name">{e(p.pattern)}</span>', _num(p.keys), fmt_bytes(p.bytes), _pct(p.share),
          _pct(p.no_ttl_share), fmt_bytes(p.avg_bytes), "?" if p.avg_length is None else _num(p.avg_length)]
         for p in view.patterns))
    big = _table(
        [("key", False), ("type", False), ("bytes", True), ("length", True), ("TTL", True), ("node", False)],
        ([f'<span class="name">{e(k.key)}</span>', e(k.type), fmt_bytes(k.bytes), _num(k.length),
          "none" if k.ttl_ms is None else fmt_duration_ms(k.ttl_ms), f'<span class="name">{e(k.node)}</span>']
         for k in view.big_keys))
    notes = "".join(f'<p class="muted">note: {e(note)}</p>' for note in view.notes)
    return (f'<p class="muted">{e(view.source)}</p>{chart}{table}<h3>Biggest keys</h3>'
            + (big if view.big_keys else "<p>none seen</p>") + notes)


def _stream(stream: StreamView) -> str:
    if stream.safe_point is None:
        safe = "no consumer groups: nothing is known to be processed, nothing can be trimmed safely"
    elif stream.entries_safe is None:
        safe = (f"everything before {stream.safe_point} (pinned by group {stream.pinned_by}); this offline "
                "report did not count those entries: the command below does, on the server")
    else:
        estimated = " (estimated)" if stream.entries_safe_estimated else ""
        safe = (f"{stream.entries_safe:,}{estimated} entries, about {fmt_bytes(stream.bytes_safe)}, before "
                f"{stream.safe_point} (pinned by group {stream.pinned_by})")
    groups = _table(
        [("group", False), ("consumers", True), ("lag", True), ("pending", True), ("oldest pending", True)],
        ([f'<span class="name">{e(g.name)}</span>', _num(g.consumers), "unknown" if g.lag is None else _num(g.lag),
          _num(g.pending), fmt_duration_ms(g.oldest_pending_age_ms) if g.pending else "–"] for g in stream.groups))
    return (f'<h3><span class="name">{e(stream.key)}</span> <span class="muted">on {e(stream.node)}</span></h3>'
            f"<p>{_num(stream.length)} entries, {fmt_bytes(stream.memory_bytes)}, oldest entry "
            f"{fmt_duration_ms(stream.first_entry_age_ms)} old. <strong>Safe to trim:</strong> {e(safe)}.</p>"
            + (_command(stream.dry_run) if stream.safe_point is not None and stream.entries_safe is None else "")
            + (groups if stream.groups else ""))


def _clients(view: ClientsView) -> str:
    table = _table(
        [("name or address", False), ("clients", True), ("memory", True), ("output buffers", True),
         ("max idle", True)],
        ([f'<span class="name">{e(g.group)}</span>', _num(g.count), fmt_bytes(g.tot_mem), fmt_bytes(g.omem),
          fmt_duration_ms(g.max_idle_s * 1000)] for g in view.groups)) if view.groups else ""
    return (f'<h3><span class="name">{e(view.node)}</span></h3><p>{_num(view.count)} clients using '
            f"{fmt_bytes(view.total_mem)} ({fmt_bytes(view.output_buffer_total)} in output buffers); "
            f"{_num(view.idle_over_300s)} idle for 5 min or more; {_num(view.blocked)} blocked; "
            f"{_num(view.pubsub)} in pub/sub.</p>{table}")


def _slow_and_latency(report: Report) -> str:
    slow = _table(
        [("when", False), ("duration", True), ("command", False), ("first key", False), ("client", False),
         ("node", False)],
        ([e(_clock(s.started_at)), f"{s.duration_us / 1000:,.1f} ms", f"<code>{e(s.command)}</code>",
          "–" if s.key is None else f'<span class="name">{e(s.key)}</span>', f'<span class="name">{e(s.client)}</span>',
          e(s.node)] for s in report.slowlog)) if report.slowlog else "<p>The slow log is empty.</p>"
    latency = _table(
        [("event", False), ("latest", True), ("max", True), ("node", False)],
        ([e(ev.event), f"{ev.latest_ms} ms", f"{ev.max_ms} ms", e(ev.node)] for ev in report.latency),
    ) if report.latency else "<p>No latency events recorded (LATENCY LATEST is empty or the monitor is off).</p>"
    return f"<h3>Slow log (slowest first)</h3>{slow}<h3>Latency events</h3>{latency}"


def _config(view: ConfigAuditView) -> str:
    head = (f'<h3><span class="name">{e(view.node)}</span>: {e(view.version)}, workload {e(view.workload)}</h3>'
            f'<p class="muted">{e(view.why)}' + (f"; recommended for {fmt_bytes(view.memory_bytes)} of host memory"
                                                if view.memory_bytes else "") + "</p>")
    note = f'<p class="muted">{e(view.note)}</p>' if view.note else ""
    if not view.differences:
        return head + note + ("<p>Matches the recommendation.</p>" if view.memory_bytes else "")
    rows = "".join(
        f'<article class="finding info"><h3><code>{e(d.name)}</code>: '
        f'{e("not visible" if d.current is None else d.current)} → {e(d.recommended)}</h3><p>{e(d.reason)}</p>'
        f"{_command(d.command)}</article>" for d in view.differences)
    return head + note + rows


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{e(title)}</h2>{body}</section>'


def render_report_html(report: Report) -> str:
    """The whole page as one string (UTF-8 text; every non-ASCII control or invalid byte escaped)."""
    title = f"redisguard report: {report.target}"
    body = [
        f"<header><h1>{e(title)}</h1><div class=\"meta\">{e(report.mode)} · taken {e(_clock(report.taken_at))} · "
        f"redisguard {e(report.redisguard_version)}</div></header>",
        _verdict(report),
        _section("nodes", "Nodes" if report.total is None else "Nodes and cluster total", _nodes(report)),
        _section("findings", f"Findings ({len(report.findings)}), most severe and most bytes first",
                 _findings(report)),
        _section("memory", "Where the memory goes",
                 "".join(_breakdown(node) for node in ((report.total,) if report.total else ()) + report.nodes[:8])),
        _section("timeline", "Used against maxmemory over time", _timeline(report.timeline)),
    ]
    if report.keyspace is not None:
        body.append(_section("keys", "Memory by key pattern", _keyspace(report.keyspace)))
    else:
        body.append(_section("keys", "Memory by key pattern",
                             '<p class="muted">no keyspace analysis in this report (run it with --keys)</p>'))
    body.append(_section("streams", f"Streams ({len(report.streams)})",
                         "".join(_stream(s) for s in report.streams) or "<p>No streams.</p>"))
    body.append(_section("clients", "Clients", "".join(_clients(c) for c in report.clients)
                         or '<p class="muted">client list not visible</p>'))
    body.append(_section("slow", "Slow log and latency", _slow_and_latency(report)))
    body.append(_section("config", "Configuration against the workload", "".join(_config(c) for c in report.config)
                         or '<p class="muted">no primary to audit</p>'))
    if report.not_visible or report.notes:
        items = [f"<li>{e(what)} on {e(node)}: {e(reason)}</li>" for what, node, reason in report.not_visible]
        items += [f"<li>{e(note)}</li>" for note in report.notes]
        body.append(_section("blind", "Not visible to this report", f"<ul>{''.join(items)}</ul>"))
    body.append(f"<footer>Made by redisguard {e(report.redisguard_version)}. This file is self-contained: it "
                "loads nothing and opens offline.</footer>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>"
        + "\n".join(body)
        + f"\n<script>{SCRIPT}</script></body></html>\n"
    )
