"""Small hand-written SVG charts for the HTML report (no plotting library).

Every function returns an ``<svg>`` element as a string, with its own axes,
ticks, labels and legend, ready to inline in HTML. Long series are reduced
to at most a few thousand points (min/max per pixel column), so a year of
windows still gives a small file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
LEVEL_COLORS = {0: "#2e7d32", 1: "#f9a825", 2: "#ef6c00", 3: "#c62828"}
_ML, _MR, _MT, _MB = 64, 16, 26, 44  # margins (px)
_IDS = itertools.count(1)


@dataclass
class Series:
    """One data series of a chart.

    ``x`` may be int64 ns times (with ``time_axis=True`` on the chart).
    ``mode`` is ``"line"``, ``"markers"`` or ``"step"``.
    """

    x: Any
    y: Any
    label: str = ""
    color: str | None = None
    mode: str = "line"
    dash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 * step:
        if v >= lo - 1e-9 * step:
            ticks.append(round(v, 12))
        v += step
    return ticks or [lo, hi]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.1e}"
    return f"{v:.6g}"


def _time_ticks(lo_ns: float, hi_ns: float) -> tuple[list[float], list[str]]:
    span_s = (hi_ns - lo_ns) / 1e9
    steps = [
        60,
        300,
        900,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86400,
        2 * 86400,
        7 * 86400,
        14 * 86400,
        30 * 86400,
        91 * 86400,
        365 * 86400,
    ]
    step = next((s for s in steps if span_s / s <= 7), steps[-1])
    first = math.ceil(lo_ns / 1e9 / step) * step
    ticks, labels = [], []
    t = first
    while t * 1e9 <= hi_ns:
        d = datetime.fromtimestamp(t, tz=UTC)
        labels.append(d.strftime("%Y-%m-%d") if step >= 86400 else d.strftime("%m-%d %H:%M"))
        ticks.append(t * 1e9)
        t += step
    return ticks, labels


def _reduce(x: np.ndarray, y: np.ndarray, n_max: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation to about ``2 * n_max`` points (keeps extremes)."""
    if x.size <= 2 * n_max:
        return x, y
    k = int(math.ceil(x.size / n_max))
    m = (x.size // k) * k
    xs = x[:m].reshape(-1, k)
    ys = y[:m].reshape(-1, k)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(ys).any(axis=1)
        imin = np.nanargmin(np.where(np.isfinite(ys), ys, np.inf), axis=1)
        imax = np.nanargmax(np.where(np.isfinite(ys), ys, -np.inf), axis=1)
    rows = np.arange(xs.shape[0])
    lo, hi = np.minimum(imin, imax), np.maximum(imin, imax)
    xo = np.column_stack([xs[rows, lo], xs[rows, hi]]).ravel()
    yo = np.column_stack([ys[rows, lo], ys[rows, hi]]).ravel()
    yo[np.repeat(~good, 2)] = np.nan
    return xo, yo


def _path(px: np.ndarray, py: np.ndarray) -> str:
    parts = []
    pen = False
    for a, b in zip(px.tolist(), py.tolist()):
        if not (math.isfinite(a) and math.isfinite(b)):
            pen = False
            continue
        parts.append(f"{'L' if pen else 'M'}{a:.1f},{b:.1f}")
        pen = True
    return "".join(parts)


def chart(
    series: Sequence[Series],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    time_axis: bool = False,
    hlines: Sequence[tuple[float, str, str]] = (),
    width: int = 760,
    height: int = 280,
    ylim: tuple[float, float] | None = None,
    logy: bool = False,
    xlim: tuple[float, float] | None = None,
    bands: Sequence[tuple[float, float, str, str]] = (),
) -> str:
    """A line/marker chart with axes and legend.

    Parameters
    ----------
    series : sequence of Series
    hlines : sequence of (y, label, color)
        Horizontal reference lines (limits), drawn dashed and labelled.
    time_axis : bool
        ``x`` values are int64 ns since the epoch (UTC dates on the axis).
    xlim : (float, float), optional
        Fixed x range (e.g. the report period).
    logy : bool
        Logarithmic y axis (non-positive values dropped).
    bands : sequence of (x0, x1, label, color)
        Shaded x spans behind the data (e.g. windows outside the trained
        conditions); each ``<rect class="band">`` carries its exact span as
        ``data-x0``/``data-x1`` and its label as ``data-label``; one legend
        entry per label.
    """
    xs, ys = [], []
    for s in series:
        x = np.asarray(s.x, np.float64)
        y = np.asarray(s.y, np.float64)
        if logy:
            y = np.where(y > 0, y, np.nan)
            y = np.log10(y)
        ok = np.isfinite(x) & np.isfinite(y)
        xs.append(x[ok])
        ys.append(y[ok])
    allx = np.concatenate(xs) if xs else np.zeros(0)
    ally = np.concatenate(
        ys
        + [
            np.array(
                [
                    math.log10(h[0]) if logy and h[0] > 0 else h[0]
                    for h in hlines
                    if not logy or h[0] > 0
                ]
            )
        ]
    )
    if allx.size == 0:
        return _empty(title, width, height)
    x0, x1 = (float(allx.min()), float(allx.max())) if xlim is None else map(float, xlim)
    if x1 <= x0:
        pad = 12 * 3600e9 if time_axis else max(1.0, abs(x0) * 0.05)
        x0, x1 = x0 - pad, x1 + pad
    elif not time_axis and xlim is None:
        pad = 0.04 * (x1 - x0)
        x0, x1 = x0 - pad, x1 + pad
    if ylim is not None:
        y0, y1 = ylim
    else:
        y0, y1 = float(ally.min()), float(ally.max())
        pad = 0.05 * (y1 - y0 or abs(y0) or 1.0)
        y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - _ML - _MR, height - _MT - _MB

    def sx(v: Any) -> Any:
        return _ML + (np.asarray(v, np.float64) - x0) / (x1 - x0) * pw

    def sy(v: Any) -> Any:
        return _MT + ph - (np.asarray(v, np.float64) - y0) / (y1 - y0) * ph

    out = [_open(width, height, title)]
    # axes and grid
    yt = nice_ticks(y0, y1)
    for t in yt:
        py = float(sy(t))
        lab = _fmt(10**t) if logy else _fmt(t)
        out.append(
            f'<line x1="{_ML}" x2="{_ML + pw}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
            f'<text x="{_ML - 6}" y="{py + 4:.1f}" text-anchor="end">{lab}</text>'
        )
    if time_axis:
        xt, xl = _time_ticks(x0, x1)
    else:
        xt = nice_ticks(x0, x1)
        xl = [_fmt(t) for t in xt]
    for t, lab in zip(xt, xl):
        px = float(sx(t))
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{_MT}" y2="{_MT + ph}" class="grid"/>'
            f'<text x="{px:.1f}" y="{_MT + ph + 16}" text-anchor="middle">{escape(lab)}</text>'
        )
    out.append(f'<rect x="{_ML}" y="{_MT}" width="{pw}" height="{ph}" class="frame"/>')
    cid = f"clip{next(_IDS)}"  # unique in the document: charts differ in size
    out.append(
        f'<clipPath id="{cid}"><rect x="{_ML - 3}" y="{_MT - 3}" width="{pw + 6}" '
        f'height="{ph + 6}"/></clipPath><g clip-path="url(#{cid})">'
    )
    band_legend: dict[str, str] = {}
    for b0, b1, lab, col in bands:
        if b1 <= x0 or b0 >= x1:
            continue
        xa = float(sx(max(float(b0), x0)))
        xb = float(sx(min(float(b1), x1)))
        out.append(
            f'<rect class="band" x="{xa:.1f}" y="{_MT}" width="{max(1.0, xb - xa):.1f}" '
            f'height="{ph}" fill="{col}" fill-opacity="0.22" data-x0="{int(b0)}" '
            f'data-x1="{int(b1)}" data-label="{escape(lab)}"/>'
        )
        band_legend.setdefault(lab, col)
    for k, (yv, lab, col) in enumerate(hlines):
        yy = math.log10(yv) if logy and yv > 0 else yv
        if logy and yv <= 0:
            continue
        py = float(sy(yy))
        out.append(
            f'<line x1="{_ML}" x2="{_ML + pw}" y1="{py:.1f}" y2="{py:.1f}" '
            f'stroke="{col}" stroke-dasharray="6 4" stroke-width="1.5"/>'
            f'<text x="{_ML + pw - 4 - 120 * k}" y="{py - 4:.1f}" text-anchor="end" '
            f'fill="{col}">{escape(lab)}</text>'
        )
    legend = []
    for i, (s, x, y) in enumerate(zip(series, xs, ys)):
        col = s.color or PALETTE[i % len(PALETTE)]
        if s.mode == "markers":
            px, py = sx(x), sy(y)
            dots = "".join(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.2"/>'
                for a, b in zip(px.tolist()[:4000], py.tolist()[:4000])
            )
            out.append(f'<g fill="{col}" fill-opacity="0.75">{dots}</g>')
        else:
            order = np.argsort(x, kind="stable")
            xr, yr = _reduce(x[order], y[order])
            if s.mode == "step" and xr.size:
                xr = np.repeat(xr, 2)[1:]
                yr = np.repeat(yr, 2)[:-1]
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            out.append(
                f'<path d="{_path(sx(xr), sy(yr))}" stroke="{col}" fill="none" '
                f'stroke-width="1.4"{dash}/>'
            )
        if s.label:
            legend.append((s.label, col))
    legend = legend[: 12 - len(band_legend)] + list(band_legend.items())
    out.append("</g>")
    for j, (lab, col) in enumerate(legend[:12]):
        lx = _ML + 8 + (j % 4) * ((pw - 16) // 4)
        ly = _MT + 14 + (j // 4) * 14
        out.append(
            f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{col}"/>'
            f'<text x="{lx + 14}" y="{ly + 1}" class="legend">{escape(lab)}</text>'
        )
    out.append(
        f'<text x="{_ML + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(xlabel)}</text>"
    )
    out.append(
        f'<text transform="translate(14,{_MT + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def bars(
    edges: Any,
    counts: Any,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    logy: bool = True,
    width: int = 760,
    height: int = 260,
    color: str = PALETTE[0],
) -> str:
    """A histogram from bin edges and counts (log y by default)."""
    e = np.asarray(edges, np.float64)
    c = np.asarray(counts, np.float64)
    nz = np.flatnonzero(c > 0)
    if nz.size == 0:
        return _empty(title, width, height, "no cycles counted")
    last = int(nz[-1]) + 1
    e, c = e[: last + 1], c[:last]
    vals = np.log10(np.where(c > 0, c, np.nan)) if logy else c
    lo = math.floor(np.nanmin(vals)) - (0.3 if logy else 0) if logy else 0.0
    hi = float(np.nanmax(vals))
    hi = hi + 0.05 * ((hi - lo) or 1.0)
    pw, ph = width - _ML - _MR, height - _MT - _MB
    x0, x1 = float(e[0]), float(e[-1])
    out = [_open(width, height, title)]
    for t in nice_ticks(lo, hi, 5):
        py = _MT + ph - (t - lo) / (hi - lo) * ph
        out.append(
            f'<line x1="{_ML}" x2="{_ML + pw}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
            f'<text x="{_ML - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{_fmt(10**t) if logy else _fmt(t)}</text>"
        )
    for t in nice_ticks(x0, x1):
        px = _ML + (t - x0) / (x1 - x0) * pw
        out.append(f'<text x="{px:.1f}" y="{_MT + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    rects = []
    for i in range(c.size):
        if not np.isfinite(vals[i]):
            continue
        xa = _ML + (e[i] - x0) / (x1 - x0) * pw
        xb = _ML + (e[i + 1] - x0) / (x1 - x0) * pw
        yb = _MT + ph - (vals[i] - lo) / (hi - lo) * ph
        rects.append(
            f'<rect x="{xa:.1f}" y="{yb:.1f}" width="{max(0.8, xb - xa - 0.5):.1f}" '
            f'height="{_MT + ph - yb:.1f}"/>'
        )
    out.append(f'<g fill="{color}">{"".join(rects)}</g>')
    out.append(f'<rect x="{_ML}" y="{_MT}" width="{pw}" height="{ph}" class="frame"/>')
    out.append(
        f'<text x="{_ML + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(xlabel)}</text>"
    )
    out.append(
        f'<text transform="translate(14,{_MT + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text></svg>'
    )
    return "".join(out)


def heatmap(
    x_edges: Any,
    y_edges: Any,
    z: Any,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    width: int = 760,
    height: int = 300,
) -> str:
    """A log-colour heat map of ``z`` (shape (len(x_edges)-1, len(y_edges)-1))."""
    xe = np.asarray(x_edges, np.float64)
    ye = np.asarray(y_edges, np.float64)
    zz = np.asarray(z, np.float64)
    nzx = np.flatnonzero(zz.sum(axis=1) > 0)
    if nzx.size == 0:
        return _empty(title, width, height, "no cycles counted")
    last = int(nzx[-1]) + 1
    xe, zz = xe[: last + 1], zz[:last]
    nzy = np.flatnonzero(zz.sum(axis=0) > 0)  # crop the mean axis to the data, +1 bin
    j0, j1 = max(0, int(nzy[0]) - 1), min(zz.shape[1], int(nzy[-1]) + 2)
    ye, zz = ye[j0 : j1 + 1], zz[:, j0:j1]
    lz = np.log10(np.where(zz > 0, zz, np.nan))
    lo, hi = float(np.nanmin(lz)), float(np.nanmax(lz))
    pw, ph = width - _ML - _MR - 60, height - _MT - _MB
    out = [_open(width, height, title)]
    cells = []
    for i in range(zz.shape[0]):
        for j in range(zz.shape[1]):
            if not np.isfinite(lz[i, j]):
                continue
            f = (lz[i, j] - lo) / ((hi - lo) or 1.0)
            xa = _ML + (xe[i] - xe[0]) / (xe[-1] - xe[0]) * pw
            xb = _ML + (xe[i + 1] - xe[0]) / (xe[-1] - xe[0]) * pw
            ya = _MT + ph - (ye[j + 1] - ye[0]) / (ye[-1] - ye[0]) * ph
            yb = _MT + ph - (ye[j] - ye[0]) / (ye[-1] - ye[0]) * ph
            cells.append(
                f'<rect x="{xa:.1f}" y="{ya:.1f}" width="{xb - xa:.1f}" '
                f'height="{yb - ya:.1f}" fill="{_ramp(f)}"/>'
            )
    out.append("".join(cells))
    out.append(f'<rect x="{_ML}" y="{_MT}" width="{pw}" height="{ph}" class="frame"/>')
    for t in nice_ticks(xe[0], xe[-1]):
        px = _ML + (t - xe[0]) / (xe[-1] - xe[0]) * pw
        out.append(f'<text x="{px:.1f}" y="{_MT + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    for t in nice_ticks(ye[0], ye[-1], 5):
        py = _MT + ph - (t - ye[0]) / (ye[-1] - ye[0]) * ph
        out.append(f'<text x="{_ML - 6}" y="{py + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    # colour bar
    bx = _ML + pw + 20
    for k in range(20):
        out.append(
            f'<rect x="{bx}" y="{_MT + ph - (k + 1) * ph / 20:.1f}" width="14" '
            f'height="{ph / 20 + 0.5:.1f}" fill="{_ramp(k / 19)}"/>'
        )
    out.append(
        f'<text x="{bx + 7}" y="{_MT - 4}" text-anchor="middle">{_fmt(10**hi)}</text>'
        f'<text x="{bx + 7}" y="{_MT + ph + 14}" text-anchor="middle">{_fmt(10**lo)}</text>'
    )
    out.append(
        f'<text x="{_ML + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(xlabel)}</text>"
    )
    out.append(
        f'<text transform="translate(14,{_MT + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text></svg>'
    )
    return "".join(out)


def timeline(
    rows: Sequence[tuple[str, Sequence[tuple[float, float, str]]]],
    *,
    t0: float,
    t1: float,
    title: str = "",
    width: int = 760,
) -> str:
    """Horizontal bars per row: ``(label, [(start_ns, end_ns, colour), ...])``."""
    rh = 18
    height = _MT + _MB + rh * max(1, len(rows))
    pw = width - _ML - _MR - 40
    left = _ML + 40
    out = [_open(width, height, title)]
    span = (t1 - t0) or 1.0
    for i, (label, segs) in enumerate(rows):
        y = _MT + i * rh
        out.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{pw}" height="{rh - 4}" fill="#eeeeee"/>'
        )
        for a, b, col in segs:
            xa = left + max(0.0, (a - t0) / span) * pw
            xb = left + min(1.0, (b - t0) / span) * pw
            out.append(
                f'<rect x="{xa:.1f}" y="{y + 2}" width="{max(0.6, xb - xa):.1f}" '
                f'height="{rh - 4}" fill="{col}"/>'
            )
    xt, xl = _time_ticks(t0, t1)
    for t, lab in zip(xt, xl):
        px = left + (t - t0) / span * pw
        out.append(
            f'<text x="{px:.1f}" y="{height - _MB + 16}" text-anchor="middle">{escape(lab)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _ramp(f: float) -> str:
    """Light yellow -> orange -> dark red."""
    f = min(1.0, max(0.0, float(f)))
    stops = [(255, 247, 188), (254, 153, 41), (204, 76, 2), (102, 37, 6)]
    pos = f * (len(stops) - 1)
    i = min(len(stops) - 2, int(pos))
    t = pos - i
    c = [round(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * t) for k in range(3)]
    return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"


def _open(width: int, height: int, title: str) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart" role="img" '
        f'aria-label="{escape(title)}">'
    )
    if title:
        head += f'<text x="{_ML}" y="16" class="title">{escape(title)}</text>'
    return head


def _empty(title: str, width: int, height: int, why: str = "no data in this period") -> str:
    return (
        _open(width, 60, title)
        + f'<text x="{_ML}" y="44" class="nodata">{escape(why)}</text></svg>'
    )


def deck_sketch(
    spans: Sequence[float],
    sensors: Sequence[tuple[Any, ...]],
    *,
    shapes: Sequence[dict[str, Any]] = (),
    zone: tuple[float, float, float, str] | None = None,
    title: str = "",
    width: int = 760,
    height: int = 190,
    labels: bool = True,
) -> str:
    """A side view of the deck: supports, sensors and mode shapes drawn on it.

    Parameters
    ----------
    spans : sequence of float
        Span lengths (m); supports at 0 and the end of every span. Empty:
        the deck is drawn over the sensors' extent without supports.
    sensors : sequence of (name, x_m, direction[, quantity])
        The quantity (``acceleration``, ``strain``, ``temperature``) picks the
        marker; sensors of one quantity at one place share one label.
    shapes : sequence of dict
        ``{"label", "color", "x" (m), "y" (scaled to max |y| = 1), "dash"}``,
        drawn as lines over the deck (up = positive).
    zone : (lo_m, hi_m, x_m, label), optional
        A shaded band (e.g. where a change was located) with a marker at ``x_m``.
    """
    xs = [float(s[1]) for s in sensors if math.isfinite(float(s[1]))]
    if spans:
        x0, x1 = 0.0, float(sum(spans))
    elif xs:
        pad = 0.05 * ((max(xs) - min(xs)) or 10.0)
        x0, x1 = min(xs) - pad, max(xs) + pad
    else:
        return _empty(title, width, height, "no sensor positions (location in station.toml)")
    ml, mr = 30, 20
    pw = width - ml - mr
    n_rows = len({(s[3] if len(s) > 3 else "acceleration") for s in sensors}) if labels else 0
    bottom = 44 + 12 * max(0, n_rows - 1)
    top = 26 if title or shapes else 8
    y_deck = top + (height - top - bottom) / 2 + 6
    amp = (height - top - bottom) / 2 - 4

    def sx(v: float) -> float:
        return ml + (float(v) - x0) / ((x1 - x0) or 1.0) * pw

    out = [_open(width, height, title)]
    if zone is not None:
        lo, hi, xe, lab = zone
        xa, xb = sx(lo), sx(hi)
        out.append(
            f'<rect x="{xa:.1f}" y="{top:.1f}" width="{max(2.0, xb - xa):.1f}" '
            f'height="{y_deck - top + amp:.1f}" fill="#c62828" fill-opacity="0.12"/>'
            f'<line x1="{sx(xe):.1f}" x2="{sx(xe):.1f}" y1="{top:.1f}" y2="{y_deck + amp:.1f}" '
            f'stroke="#c62828" stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{sx(xe) + (4 if sx(xe) < width / 2 else -4):.1f}" y="{top + 11:.1f}" '
            f'fill="#c62828" text-anchor="{"start" if sx(xe) < width / 2 else "end"}" '
            f'style="font-weight:bold">{escape(lab)}</text>'
        )
    out.append(
        f'<line x1="{sx(x0):.1f}" x2="{sx(x1):.1f}" y1="{y_deck:.1f}" y2="{y_deck:.1f}" '
        f'stroke="#616161" stroke-width="4"/>'
    )
    supports = [0.0]
    for s in spans:
        supports.append(supports[-1] + float(s))
    for xv in supports if spans else []:
        px = sx(xv)
        out.append(
            f'<path d="M{px:.1f},{y_deck + 2:.1f} l-7,12 h14 z" fill="#9e9e9e" stroke="#424242"/>'
        )
    for sh in shapes:
        x = np.asarray(sh["x"], np.float64)
        y = np.asarray(sh["y"], np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        order = np.argsort(x[ok])
        pts = " ".join(
            f"{sx(a):.1f},{y_deck - b * amp:.1f}" for a, b in zip(x[ok][order], y[ok][order])
        )
        dash = f' stroke-dasharray="{sh["dash"]}"' if sh.get("dash") else ""
        data = (  # the drawn values, exactly, for readers and tests
            f' data-x="{" ".join(repr(float(v)) for v in x[ok][order])}"'
            f' data-y="{" ".join(repr(float(v)) for v in y[ok][order])}"'
        )
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{sh["color"]}" stroke-width="2"'
            f"{dash}{data}/>"
        )
        dots = "".join(
            f'<circle cx="{sx(a):.1f}" cy="{y_deck - b * amp:.1f}" r="2.5"/>'
            for a, b in zip(x[ok][order], y[ok][order])
        )
        out.append(f'<g fill="{sh["color"]}">{dots}</g>')
    rows_of: dict[str, int] = {}
    merged: dict[tuple[str, float], list[str]] = {}
    for sensor in sensors:  # sensors of one kind at one place share one label
        q = sensor[3] if len(sensor) > 3 else "acceleration"
        merged.setdefault((q, round(float(sensor[1]), 3)), []).append(str(sensor[0]))
    sensors = [(", ".join(names), x, "", q) for (q, x), names in merged.items()]
    for sensor in sensors:
        name, xv = sensor[0], float(sensor[1])
        quantity = sensor[3] if len(sensor) > 3 else "acceleration"
        if not math.isfinite(xv):
            continue
        row = rows_of.setdefault(quantity, len(rows_of))  # one label row per quantity
        px = sx(xv)
        if quantity == "strain":
            mark = (
                f'<path d="M{px:.1f},{y_deck - 5:.1f} l5,5 l-5,5 l-5,-5 z" '
                f'fill="#fff59d" stroke="#212121"/>'
            )
        elif quantity == "temperature":
            mark = (
                f'<circle cx="{px:.1f}" cy="{y_deck:.1f}" r="4" fill="#ef9a9a" stroke="#212121"/>'
            )
        else:
            mark = (
                f'<rect x="{px - 4:.1f}" y="{y_deck - 4:.1f}" width="8" height="8" '
                f'fill="#ffffff" stroke="#212121"/>'
            )
        out.append(mark)
        if labels:
            out.append(
                f'<text x="{px:.1f}" y="{y_deck + 28 + 12 * row:.1f}" text-anchor="middle">'
                f"{escape(name)}</text>"
            )
    for t in nice_ticks(x0, x1, 8):
        out.append(
            f'<text x="{sx(t):.1f}" y="{height - 4}" text-anchor="middle" '
            f'class="note">{_fmt(t)} m</text>'
        )
    legend = [(sh["label"], sh["color"], sh.get("dash", "")) for sh in shapes if sh.get("label")]
    lx = ml + 8 if not title else width - mr - sum(7.4 * len(x[0]) + 44 for x in legend[:4])
    for lab, col, dash in legend[:4]:
        ly = 16 if title else top - 8
        d = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx:.0f}" x2="{lx + 18:.0f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{col}" '
            f'stroke-width="2"{d}/><text x="{lx + 22:.0f}" y="{ly}">{escape(lab)}</text>'
        )
        lx += 7.4 * len(lab) + 44
    out.append("</svg>")
    return "".join(out)
