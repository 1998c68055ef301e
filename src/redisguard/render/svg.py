"""Small inline SVG charts for the HTML report: horizontal bars, a stacked bar, a time series.

Formatting only: callers pass labels and numbers; every label is escaped here (``keynames.for_html``), so
a hostile key name in a chart is text. Colours come from CSS classes (``c0`` ... ``c7``, ``limit``,
``ttl``, ``nottl``, ``fc``) defined by the page's stylesheet: no ``style`` attribute anywhere, so the
page's Content-Security-Policy needs no ``unsafe-inline``. Sizes are in a ``viewBox``: the charts scale
to the width of a printed page; on a phone, the page gives them a minimum width and a sideways scroll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redisguard.keynames import for_html

__all__ = ["Bar", "Segment", "bar_chart", "series_chart", "stacked_bar"]

_LABEL_CHARS = 34


@dataclass(frozen=True)
class Segment:
    value: float
    css: str  # a class of the page's stylesheet
    title: str = ""  # tooltip


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    note: str  # printed at the bar's end


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (f'<div class="chartbox"><svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" role="img" '
            'preserveAspectRatio="xMinYMin meet">'
            f"<title>{for_html(title)}</title>{''.join(body)}</svg></div>")


def bar_chart(bars: Sequence[Bar], title: str, width: float = 720.0) -> str:
    """One row per bar: label, segments scaled to the largest bar's total, then the note."""
    row, label_w, note_w = 22.0, 250.0, 200.0
    plot_w = width - label_w - note_w
    biggest = max((sum(s.value for s in bar.segments) for bar in bars), default=0.0) or 1.0
    body: list[str] = []
    for index, bar in enumerate(bars):
        y = index * row
        body.append(f'<text class="lbl" x="{_n(label_w - 6)}" y="{_n(y + 15)}" text-anchor="end">'
                    f"<title>{for_html(bar.label)}</title>{for_html(_short(bar.label))}</text>")
        x = label_w
        for segment in bar.segments:
            w = max(0.0, segment.value / biggest * plot_w)
            if w <= 0:
                continue
            tip = f"<title>{for_html(segment.title)}</title>" if segment.title else ""
            body.append(f'<rect class="{segment.css}" x="{_n(x)}" y="{_n(y + 3)}" width="{_n(max(w, 0.5))}" '
                        f'height="{_n(row - 6)}">{tip}</rect>')
            x += w
        body.append(f'<text class="val" x="{_n(x + 5)}" y="{_n(y + 15)}">{for_html(bar.note)}</text>')
    return _svg(width, max(row, len(bars) * row), body, title)


def stacked_bar(segments: Sequence[tuple[str, float, str]], total: float, title: str,
                marker: tuple[float, str] | None = None, width: float = 720.0) -> str:
    """One bar of ``(label, value, css)`` parts against ``total`` (e.g. used against maxmemory), a legend below,
    and an optional vertical ``marker`` (value, label)."""
    scale = (width - 2) / (total or sum(value for _, value, _ in segments) or 1.0)
    body: list[str] = []
    x = 1.0
    for label, value, css in segments:
        w = value * scale
        if w > 0:
            body.append(f'<rect class="{css}" x="{_n(x)}" y="4" width="{_n(max(w, 0.5))}" height="26">'
                        f"<title>{for_html(label)}</title></rect>")
        x += w
    body.append(f'<rect class="frame" x="1" y="4" width="{_n(width - 2)}" height="26"/>')
    if marker is not None:
        mx = min(width - 1, 1 + marker[0] * scale)
        body.append(f'<line class="limit" x1="{_n(mx)}" y1="0" x2="{_n(mx)}" y2="34"/>'
                    f'<text class="val" x="{_n(min(mx, width - 140))}" y="46">{for_html(marker[1])}</text>')
    legend_y = 62.0 if marker is not None else 48.0
    per_row = 2
    for index, (label, _, css) in enumerate(segments):
        lx = (index % per_row) * (width / per_row)
        ly = legend_y + (index // per_row) * 18
        body.append(f'<rect class="{css}" x="{_n(lx + 1)}" y="{_n(ly - 10)}" width="12" height="12"/>'
                    f'<text class="lbl" x="{_n(lx + 18)}" y="{_n(ly)}">{for_html(label)}</text>')
    height = legend_y + math.ceil(len(segments) / per_row) * 18
    return _svg(width, height, body, title)


def _clock(t: float, span: float = 86400.0) -> str:
    return time.strftime("%H:%M:%S" if span < 3600 else "%m-%d %H:%M", time.gmtime(t))


def series_chart(points: Sequence[tuple[float, int]], limit: int | None, title: str,
                 fmt: Callable[[float], str], projection: Sequence[tuple[float, float]] = (),
                 band: tuple[tuple[float, float], tuple[float, float]] | None = None,
                 width: float = 720.0, height: float = 260.0) -> str:
    """Bytes over time with the limit as a line, and an optional projection to the limit (a dashed line
    from the last point) with its band of uncertainty (lower and upper ends, as (time, bytes) points)."""
    left, right, top, bottom = 70.0, 20.0, 14.0, 34.0
    times = [t for t, _ in points] + [t for t, _ in projection] + ([band[0][0], band[1][0]] if band else [])
    values = [float(v) for _, v in points] + [v for _, v in projection] + ([float(limit)] if limit else [])
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t1 = t0 + 1
    top_v = max(values) * 1.08 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    def py(v: float) -> float:
        return top + plot_h - v / top_v * plot_h

    body = [f'<rect class="frame" x="{_n(left)}" y="{_n(top)}" width="{_n(plot_w)}" height="{_n(plot_h)}"/>']
    for step in range(5):
        v = top_v * step / 4
        y = _n(py(v))
        body.append(f'<line class="grid" x1="{_n(left)}" y1="{y}" x2="{_n(left + plot_w)}" y2="{y}"/>'
                    f'<text class="val" x="{_n(left - 4)}" y="{_n(py(v) + 4)}" text-anchor="end">'
                    f"{for_html(fmt(v))}</text>")
    for t in (t0, (t0 + t1) / 2, t1):
        anchor = "start" if t == t0 else "end" if t == t1 else "middle"
        body.append(f'<text class="val" x="{_n(px(t))}" y="{_n(height - 12)}" text-anchor="{anchor}">'
                    f"{for_html(_clock(t, t1 - t0))} UTC</text>")
    if limit:
        body.append(f'<line class="limit" x1="{_n(left)}" y1="{_n(py(limit))}" x2="{_n(left + plot_w)}" '
                    f'y2="{_n(py(limit))}"/><text class="val" x="{_n(left + 4)}" y="{_n(py(limit) - 4)}">'
                    f"maxmemory {for_html(fmt(limit))}</text>")
    if band is not None and points:
        last_t, last_v = points[-1]
        (lo_t, lo_v), (hi_t, hi_v) = band
        body.append(f'<polygon class="band" points="{_n(px(last_t))},{_n(py(last_v))} {_n(px(lo_t))},{_n(py(lo_v))} '
                    f'{_n(px(hi_t))},{_n(py(hi_v))}"/>')
    if projection and points:
        path = " ".join(f"{_n(px(t))},{_n(py(v))}" for t, v in [(points[-1][0], float(points[-1][1])), *projection])
        body.append(f'<polyline class="fc" points="{path}"/>')
    if points:
        path = " ".join(f"{_n(px(t))},{_n(py(v))}" for t, v in points)
        body.append(f'<polyline class="used" points="{path}"/>')
        body += [f'<circle class="dot" cx="{_n(px(t))}" cy="{_n(py(v))}" r="3"><title>{for_html(_clock(t))} UTC: '
                 f"{for_html(fmt(v))}</title></circle>" for t, v in points]
    return _svg(width, height, body, title)
