"""The report's overview parts: the headline (what changed, since when, still
active, where) and the bridge drawings (sensor sketch, mode shapes on the
deck). Used by :mod:`bshm.analysis.report_sections`."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import numpy as np
from bshm.analysis.report_html import _LEVEL, _time
from bshm.analysis.report_svg import deck_sketch

from bshm.palette import mode_colour

__all__ = [
    "_day_time",
    "_duration",
    "_headline",
    "_mode_shapes",
    "_sensor_positions",
    "_sensor_sketch",
]


def _day_time(ns: int | None) -> str:
    return "-" if ns is None else _time(ns)[:16]


def _duration(s: float) -> str:
    if s >= 2 * 86400:
        return f"{s / 86400:.0f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.0f} h"
    if s >= 120:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s"


def _headline(d: Any) -> str:
    """What changed, since when, still active?, where: the owner's four questions."""
    from bshm.analysis.report_findings import findings

    f = findings(d)
    d.findings = f
    lim = [float(v) for v in (d.limits.get("frequency_shift_pct") or [])]
    rows = []
    if f.since_ns is None:
        what = (
            "Nothing: the bridge's natural frequencies and vibration pattern stayed within "
            "their limits in every analysed window of the period."
            if d.indices
            else "No damage indices in this period (the healthy reference period may not be "
            "complete yet), so no structural change can be judged."
        )
        rows.append(("What changed?", escape(what)))
    else:
        parts = [
            f"{escape(m)} {v:+.1f} %" for m, v in f.changes if not lim or abs(v) >= lim[0]
        ] or [f"{escape(m)} {v:+.1f} %" for m, v in f.changes[:2]]
        what = (
            "The bridge vibrates differently from its healthy reference"
            + (
                f" ({_day_time(d.baseline[0])[:10]} to {_day_time(d.baseline[1])[:10]})"
                if d.baseline
                else ""
            )
            + ". Natural frequencies corrected for temperature: "
            + ", ".join(parts)
            + (f" (alarm limits {', '.join(f'{v:g}' for v in lim[:3])} %)" if lim else "")
            + "."
        )
        if f.t2_share is not None:
            what += (
                f" The novelty index T² (all modes together) is above its limit in "
                f"{100 * f.t2_share:.0f} % of the windows since then."
            )
        rows.append(("What changed?", what))
        since = f"{_day_time(f.since_ns)} UTC (the first analysed window beyond a limit)"
        if f.raised_ns is not None and f.raised_ns != f.since_ns:
            since += (
                f"; the alarm followed at {_day_time(f.raised_ns)} UTC, once the change "
                "had persisted (k of n windows)"
            )
        if d.indices and int(np.asarray(d.indices["time_ns"])[0]) == f.since_ns:
            since += " (already at the start of this report's period)"
        rows.append(("Since when?", since))
    if f.since_ns is not None:
        if f.active:
            still = (
                f"<b>Yes</b>: the latest analysed window ({_day_time(f.last_window_ns)} UTC) is at "
                f"level {f.current_level} ({_LEVEL.get(f.current_level, '')})."
            )
        else:
            still = (
                f"No: it ended {_day_time(f.until_ns)} UTC; the latest window "
                f"({_day_time(f.last_window_ns)} UTC) is normal."
            )
        n_ack = len(f.acknowledged)
        still += (
            f" {f.open_alarms} alarm{'s are' if f.open_alarms != 1 else ' is'} active and not "
            f"acknowledged" + (f", {n_ack} acknowledged" if n_ack else "") + "."
        )
        rows.append(("Still active?", still))
        loc = f.location
        if loc is not None:
            near = ", ".join(loc.sensors)
            where = (
                f"Most likely near <b>x &asymp; {loc.x_m:.0f} m</b> from the start of the bridge "
                f"(the mode shapes changed most between {loc.lo_m:g} m and {loc.hi_m:g} m, "
                f"sensors {escape(near)}). How sure: <b>{loc.confidence}</b> "
                f"({len(loc.score)} sensors; "
                + {
                    "high": "the change is concentrated at one or two sensors",
                    "moderate": "the change is spread over a third of the bridge or less",
                    "low": "the change is spread over much of the bridge",
                }[loc.confidence]
                + "). See the sketch under 'Station and sensors'."
            )
        else:
            where = escape(f.location_note or "not known") + "."
        rows.append(("Where?", where))
    body = "".join(
        f'<tr><th style="width:130px">{escape(k)}</th><td>{v}</td></tr>' for k, v in rows
    )
    return f'<table class="headline">{body}</table>'


def _sensor_positions(d: Any) -> dict[str, tuple[float, str, str]]:
    pos: dict[str, tuple[float, str, str]] = {}
    for s in d.sensors:
        x = float(s["location"][0]) if s["location"] else math.nan
        pos[s["name"]] = (x, s.get("direction") or "", s["quantity"])
    for name, x in d.channel_x.items():
        if name not in pos or not math.isfinite(pos[name][0]):
            pos[name] = (x, "", "")
    return pos


def _sensor_sketch(d: Any) -> str:
    pos = _sensor_positions(d)
    sensors = [(n, x, dr, q) for n, (x, dr, q) in pos.items() if math.isfinite(x)]
    if not sensors:
        return ""
    f = getattr(d, "findings", None)
    zone = None
    if f is not None and f.location is not None:
        loc = f.location
        zone = (loc.lo_m, loc.hi_m, loc.x_m, f"change most likely here: x ≈ {loc.x_m:.0f} m")
    svg = deck_sketch(
        d.spans_m,
        sensors,
        zone=zone,
        title="The bridge from the side: supports, sensors"
        + (" and the located change" if zone else ""),
        height=170,
    )
    legend = (
        '<p class="note">&#9633; accelerometer &nbsp; &#9671; strain gauge &nbsp; '
        "&#9675; temperature &nbsp; &#9650; support</p>"
    )
    return legend_wrap(svg, legend, zone)


def legend_wrap(svg: str, legend: str, zone) -> str:
    """The sketch with its key (and a marker class when it shows a located change)."""
    if zone:
        svg = svg.replace('class="chart"', 'class="chart zone"', 1)
    return svg + legend


def _mode_shapes(d: Any) -> str:
    """Each tracked mode on the deck: baseline shape, and the shape after the change."""
    from bshm.analysis.report_findings import align_real

    tr = d.all_tracks or d.tracks
    if not tr or "ref_shape" not in tr:
        return ""
    ref = np.asarray(tr["ref_shape"], np.complex128)
    chans = [str(c) for c in (tr.get("channels") or d.shape_channels or [])]
    pos = _sensor_positions(d)
    x = np.array([pos.get(c, (math.nan,))[0] for c in chans], np.float64)
    if ref.ndim != 2 or not np.isfinite(x).any():
        return ""
    vertical = sum(1 for c in chans if pos.get(c, (0, ""))[1].lstrip("-") == "z") >= len(chans) / 2
    supports = np.concatenate(([0.0], np.cumsum(d.spans_m))) if d.spans_m else np.empty(0)
    ids = [str(m) for m in tr.get("mode_ids", range(ref.shape[0]))]
    rf = np.asarray(tr.get("ref_frequency", np.full(ref.shape[0], np.nan)), np.float64)
    f = getattr(d, "findings", None)
    after = None
    if f is not None and f.since_ns is not None and "shape" in tr:
        t = np.asarray(tr["time_ns"], np.int64)
        end = f.until_ns if f.until_ns is not None else int(t.max())
        after = (t >= f.since_ns) & (t <= end)
    sensors = [(c, xv, pos.get(c, (0, ""))[1]) for c, xv in zip(chans, x)]
    out = []
    for j in range(ref.shape[0]):
        base = align_real(ref[j], ref[j])
        scale = np.nanmax(np.abs(base)) or 1.0
        shapes = [
            {
                "label": f"{ids[j]} {rf[j]:.2f} Hz, baseline",
                "color": mode_colour(j),
                "x": _pin(x, base / scale, supports, vertical)[0],
                "y": _pin(x, base / scale, supports, vertical)[1],
            }
        ]
        if after is not None and after.any():
            rows = [align_real(tr["shape"][i, j], ref[j]) for i in np.flatnonzero(after)]
            rows = [r for r in rows if np.isfinite(r).all()]
            if rows:
                now = np.mean(rows, axis=0) / scale
                px, py = _pin(x, now, supports, vertical)
                shapes.append(
                    {
                        "label": "since the change",
                        "color": mode_colour(j),
                        "x": px,
                        "y": py,
                        "dash": "5 3",
                    }
                )
        out.append(
            deck_sketch(d.spans_m, sensors, shapes=shapes, width=490, height=150, labels=False)
        )
    return "<h3>Mode shapes on the bridge</h3>" + "".join(out)


def _pin(x: np.ndarray, y: np.ndarray, supports: np.ndarray, vertical: bool):
    """Add zero deflection at the supports (vertical modes) to a shape line."""
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[ok], y[ok]
    if vertical and supports.size:
        keep = ~np.isin(np.round(supports, 6), np.round(xs, 6))
        xs = np.concatenate([xs, supports[keep]])
        ys = np.concatenate([ys, np.zeros(int(keep.sum()))])
    order = np.argsort(xs)
    return xs[order], ys[order]
