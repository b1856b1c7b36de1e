"""The sections of the HTML report (see :mod:`bshm.analysis.report_html`).

Each function takes a :class:`bshm.analysis.report.ReportData` and returns
one ``<section>``: heading, plain-language explanation, figures, tables.
"""

from __future__ import annotations

import math
import re
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from bshm.analysis.report_html import (
    _LEVEL,
    _STATUS,
    Markup,
    _section,
    _time,
    badge,
    level_badge,
    table,
)
from bshm.analysis.report_overview import (
    _duration,
    _headline,
    _mode_shapes,
    _sensor_sketch,
)
from bshm.analysis.report_state import (
    campaign_html,
    conditions_html,
    current_state_html,
    trend_bands,
)
from bshm.analysis.report_svg import (
    LEVEL_COLORS,
    PALETTE,
    Series,
    bars,
    chart,
    heatmap,
    timeline,
)

from bshm.palette import mode_colour
from bshm.units import pretty

__all__ = ["SECTION_FUNCTIONS"]

_HINT = re.compile(r"\s*The mode shapes changed most near [^.]*?\([^)]*\)\.")


def _summary(d: Any) -> str:
    max_level = max((a["level"] for a in d.alarms), default=0)
    if d.indices and np.asarray(d.indices.get("level", [])).size:
        max_level = max(max_level, int(np.max(d.indices["level"])))
    n_bad = sum(1 for h in d.health if h["status"] != "ok")
    dam = [f["damage_before"] + float(np.sum(f["damage"])) for f in d.fatigue.values()]
    life = [_remaining(f) for f in d.fatigue.values()]
    n_modes = len(d.tracks.get("mode_ids", [])) if d.tracks else 0
    cards = [
        ("Highest alarm level", Markup(level_badge(max_level)), f"{len(d.alarms)} alarms"),
        ("Channels needing attention", str(n_bad), f"of {len(d.health)} checked"),
        ("Tracked modes", str(n_modes), "natural frequencies followed"),
        (
            "Largest fatigue damage",
            f"{max(dam):.2e}" if dam else "-",
            "Miner sum (1 = end of life)",
        ),
        ("Shortest remaining life", _years(min(life)) if life else "-", "at the measured traffic"),
    ]
    html = "".join(
        f'<div class="card">{escape(t)}<b>{v}</b><span class="note">{escape(n)}</span></div>'
        for t, v, n in cards
    )
    head = _headline(d)
    f = d.findings
    where = f" near x &asymp; {f.location.x_m:.0f} m" if f.location is not None else ""
    verdict = {
        0: "No reading exceeded its limits in this period.",
        1: "Some readings reached the advisory level: worth a look at the next visit.",
        2: "Warning-level alarms: an engineer should review what changed (below).",
        3: f"Critical: have an engineer inspect the bridge{where} and the sensors there "
        "without delay.",
    }
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in d.notes)
    return _section(
        "summary",
        "Summary",
        f"{verdict[max_level]} The table answers what changed, since when, whether it is "
        "still active and where; the cards give the headline numbers, and each section "
        "below explains one of them.",
        f'{current_state_html(d)}{head}<div class="cards">{html}</div>{notes}',
    )


def _sensors(d: Any) -> str:
    if not d.sensors:
        return _section(
            "sensors",
            "Station and sensors",
            "The sensors of the station (positions from the station config).",
            _sensor_sketch(d)
            + '<p class="note">No raw data files were available to list the sensors.</p>',
        )
    rows = []
    for s in d.sensors:
        loc = s["location"]
        where = ", ".join("-" if not math.isfinite(v) else f"{v:g}" for v in loc)
        rows.append(
            [
                s["name"],
                s["quantity"],
                pretty(s["unit"]),
                s["source"],
                f"{s['fs']:g} Hz",
                where,
                s["direction"] or "-",
            ]
        )
    sketch = _sensor_sketch(d)
    return _section(
        "sensors",
        "Station and sensors",
        f"Station <b>{escape(d.station)}</b> has {len(d.sensors)} channels. Location "
        "x is the distance along the bridge (m), y and z across and up. The sketch shows "
        "the deck from the side with its supports (triangles) and the sensors (squares)"
        + (", and the zone where the vibration pattern changed (red)" if "zone" in sketch else "")
        + ".",
        sketch
        + table(
            ["channel", "measures", "unit", "recorded by", "sampling", "x, y, z (m)", "direction"],
            rows,
        ),
    )


def _schedule(av: dict[str, Any]) -> str:
    """``10 min every 3 h`` from the record runs, or ``continuous``."""
    runs = av["runs"]
    if not runs:
        return "-"
    share = av["recorded_s"] / av["period_s"] if av["period_s"] else 0.0
    if share > 0.9 or len(runs) < 3:
        return "continuous"
    lengths = np.array([e - s for s, e in runs], np.float64) / 1e9
    starts = np.array([s for s, _ in runs], np.float64) / 1e9
    every = float(np.median(np.diff(starts)))
    return f"{_duration(float(np.median(lengths)))} every {_duration(every)}"


def _availability(d: Any) -> str:
    body = []
    if d.availability:
        rows_tl = []
        rows = []
        for av in d.availability:
            segs = [(s, e, "#66bb6a") for s, e in av["runs"]]
            segs += [(s, e, "#e53935") for s, e, _ in av["gaps"]]
            rows_tl.append((av["source"], segs))
            c = av["counters"]
            rows.append(
                [
                    av["source"],
                    _schedule(av),
                    f"{len(av['runs'])} records, {_duration(av['recorded_s'])}",
                    "none" if av["lost_s"] <= 0 else _duration(av["lost_s"]),
                    len(av["gaps"]),
                    c.get("frames_bad", 0) + c.get("modbus_errors", 0),
                    c.get("timeouts", 0),
                    c.get("reconnects", 0),
                ]
            )
        body.append(
            timeline(
                rows_tl, t0=d.start_ns, t1=d.end_ns, title="Recorded (green) and lost (red) data"
            )
        )
        body.append(
            table(
                [
                    "source",
                    "recording schedule",
                    "recorded",
                    "data lost (gaps)",
                    "gaps",
                    "bad frames",
                    "timeouts",
                    "reconnects",
                ],
                rows,
                num=(4, 5, 6, 7),
            )
        )
    if d.windows and np.asarray(d.windows.get("start_ns", [])).size:
        proc = np.asarray(d.windows["processed"], bool)
        reasons: dict[str, int] = {}
        for r, p in zip(d.windows.get("reason", []), proc):
            if not p:
                reasons[str(r)] = reasons.get(str(r), 0) + 1
        txt = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "none"
        body.append(
            f"<p>Analysis windows: {proc.sum()} analysed, {(~proc).sum()} skipped "
            f"({escape(txt)}).</p>"
        )
    hrows = []
    for h in sorted(
        d.health,
        key=lambda h: (
            {"failed": 0, "fault": 0}.get(h["status"], 1) if h["status"] != "ok" else 2,
            h["channel"],
        ),
    ):
        why = "; ".join(h["reasons"]) or "all checks passed"
        if h.get("history"):
            why += " | earlier in the period: " + "; ".join(h["history"])
        hrows.append(
            [
                h["channel"],
                Markup(badge(h["status"], _STATUS.get(h["status"], "#777"))),
                why,
                _time(h.get("checked_ns")),
            ]
        )
    body.append("<h3>Channel health</h3>")
    body.append(
        table(["channel", "status", "reasons", "checked from"], hrows)
        if hrows
        else '<p class="note">No channel health available.</p>'
    )
    return _section(
        "availability",
        "Data availability and channel health",
        "Green bars show when data was recorded; red bars are data that should have "
        "been recorded and was lost. Many stations record on a schedule (for example "
        "10 minutes every 3 hours): the pauses between records are planned, they are "
        "<b>not</b> data loss. Only 'data lost (gaps)' is data that is missing. Each channel is "
        "checked for missing samples, frozen values, dead sensors, spikes, clipping and "
        "drift: <b>ok</b> means the data can be trusted, <b>suspect</b> means check the "
        "sensor at the next visit, <b>failed</b> means its data is not usable.",
        "".join(body),
    )


def _frequencies(d: Any) -> str:
    tr = d.tracks
    if not tr or np.asarray(tr.get("time_ns", [])).size == 0:
        return _section(
            "frequencies",
            "Natural frequencies and temperature",
            "Natural frequencies of the bridge, tracked window by window.",
            '<p class="note">No tracked modes in this period.</p>',
        )
    t = np.asarray(tr["time_ns"], np.int64)
    f = np.asarray(tr["frequency"], np.float64)
    ids = [str(x) for x in tr["mode_ids"]]
    body = [
        chart(
            [Series(t, f[:, j], ids[j], color=mode_colour(j)) for j in range(f.shape[1])],
            time_axis=True,
            xlim=(d.start_ns, d.end_ns),
            bands=trend_bands(d),
            title="Tracked natural frequencies",
            ylabel="frequency (Hz)",
        )
    ]
    env = d.environment
    if env and np.asarray(env.get("time_ns", [])).size:
        names = env["names"]
        temps = {s["name"] for s in d.sensors if s["quantity"] == "temperature"}
        j_t = next((i for i, n in enumerate(names) if n in temps), 0)
        temp_t = np.asarray(env["time_ns"], np.int64)
        temp = np.asarray(env["values"], np.float64)[:, j_t]
        tt = (
            np.interp(t.astype(np.float64), temp_t.astype(np.float64), temp)
            if temp_t.size
            else None
        )
        body.append(
            chart(
                [Series(temp_t, temp, names[j_t], color="#d62728")],
                time_axis=True,
                xlim=(d.start_ns, d.end_ns),
                title=f"Temperature ({names[j_t]})",
                ylabel=pretty("degC"),
                height=200,
            )
        )
        if tt is not None:
            for j in range(f.shape[1]):
                body.append(
                    chart(
                        [Series(tt, f[:, j], "", color=mode_colour(j), mode="markers")],
                        title=f"Mode {ids[j]}: frequency against temperature",
                        xlabel=f"temperature {names[j_t]} ({pretty('degC')})",
                        ylabel="frequency (Hz)",
                        width=480,
                        height=230,
                    )
                )
    avail = np.isfinite(f).mean(axis=0) if f.size else []
    rows = [
        [
            ids[j],
            float(np.nanmean(f[:, j])) if np.isfinite(f[:, j]).any() else float("nan"),
            float(np.nanstd(f[:, j])) if np.isfinite(f[:, j]).any() else float("nan"),
            f"{100 * avail[j]:.0f} %",
        ]
        for j in range(f.shape[1])
    ]
    body.append(
        table(["mode", "mean frequency (Hz)", "std (Hz)", "found in windows"], rows, num=(1, 2, 3))
    )
    body.append(_mode_shapes(d))
    return _section(
        "frequencies",
        "Natural frequencies and temperature",
        "A bridge vibrates at its natural frequencies. They depend on its stiffness: "
        "damage lowers them, but so do warm weather (slightly) and frost raises them "
        "(strongly, as bearings and asphalt stiffen). The scatter plots show this "
        "temperature effect; it is removed before damage is judged.",
        "".join(body),
    )


def _damage(d: Any) -> str:
    ix = d.indices
    if not ix or np.asarray(ix.get("time_ns", [])).size == 0:
        return _section(
            "damage",
            "Damage indices",
            "Indices computed after the baseline period.",
            '<p class="note">No damage indices in this period (the baseline may not '
            "be complete yet).</p>",
        )
    t = np.asarray(ix["time_ns"], np.int64)
    body = [conditions_html(d)]
    if "t2" in ix:
        lims = np.asarray(ix.get("t2_limits", []), np.float64)
        lims = lims[-1] if lims.ndim == 2 and lims.size else lims
        hl = [
            (float(v), f"{_LEVEL[k + 1]} limit", LEVEL_COLORS[k + 1])
            for k, v in enumerate(np.ravel(lims)[:3])
            if math.isfinite(v)
        ]
        body.append(
            chart(
                [Series(t, ix["t2"], "novelty index T2", color="#1f4e79")],
                time_axis=True,
                xlim=(d.start_ns, d.end_ns),
                hlines=hl,
                logy=True,
                bands=trend_bands(d),
                title="Novelty index (all modes together) against its limits",
                ylabel="T2 (log scale)",
            )
        )
    if "freq_shift_pct" in ix:
        fs = np.asarray(ix["freq_shift_pct"], np.float64)
        ids = (
            [str(x) for x in d.tracks.get("mode_ids", range(fs.shape[1]))]
            if d.tracks
            else [str(j) for j in range(fs.shape[1])]
        )
        lv = d.limits.get("frequency_shift_pct") or []
        hl = [
            (-float(v), f"-{v:g} % ({_LEVEL[k + 1]})", LEVEL_COLORS[k + 1])
            for k, v in enumerate(lv[:3])
        ]
        body.append(
            chart(
                [
                    Series(t, fs[:, j], ids[j] if j < len(ids) else str(j), color=mode_colour(j))
                    for j in range(fs.shape[1])
                ],
                time_axis=True,
                xlim=(d.start_ns, d.end_ns),
                hlines=hl,
                bands=trend_bands(d),
                title="Temperature-compensated frequency change per mode",
                ylabel="change (%)",
            )
        )
    if "level" in ix:
        lv_arr = np.asarray(ix["level"], np.int64)
        body.append(
            chart(
                [Series(t, lv_arr, "alarm level", color="#c62828", mode="step")],
                time_axis=True,
                xlim=(d.start_ns, d.end_ns),
                ylim=(-0.2, 3.2),
                height=170,
                title="Damage alarm level per window (0 normal .. 3 critical)",
            )
        )
    return _section(
        "damage",
        "Damage indices against their limits",
        "After removing the temperature effect, the frequencies should stay near zero "
        "change. A persistent drop of a few percent, or a novelty index (T2) above its "
        "limits in most recent windows, means the structure behaves differently from "
        "its healthy reference: an engineer should inspect it. Single excursions are "
        "expected now and then; alarms need k of n windows above a limit.",
        "".join(body),
    )


def _alarms(d: Any, limit: int = 200) -> str:
    if not d.alarms:
        return _section(
            "alarms", "Alarms", "Alarms raised in the period.", "<p>No alarms in this period.</p>"
        )
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for a in d.alarms:
        key = (a["index"], a.get("channel") or a.get("mode") or "-")
        g = groups.setdefault(
            key, {"n": [0, 0, 0, 0], "first": a["time_ns"], "last": a["time_ns"], "worst": a}
        )
        g["n"][int(a["level"])] += 1
        g["first"] = min(g["first"], a["time_ns"])
        g["last"] = max(g["last"], a["time_ns"])
        if a["level"] > g["worst"]["level"]:
            g["worst"] = a
    summary = [
        [
            k[0],
            k[1],
            Markup(level_badge(g["worst"]["level"])),
            g["n"][1],
            g["n"][2],
            g["n"][3],
            _time(g["first"]),
            _time(g["last"]),
        ]
        for k, g in sorted(groups.items(), key=lambda kv: (-kv[1]["worst"]["level"], kv[0]))
    ]
    al = sorted(d.alarms, key=lambda a: (-a["level"], a["time_ns"]))
    rows = [
        [
            _time(a["time_ns"]),
            Markup(level_badge(a["level"])),
            _state(a),
            a.get("kind", ""),
            a["index"],
            a.get("channel") or a.get("mode") or "-",
            a["value"],
            a["threshold"],
            _HINT.sub("", str(a["message"])),
        ]
        for a in al[:limit]
    ]
    more = (
        f'<p class="note">{len(al) - limit} more alarms not shown (the lowest levels, '
        "latest first dropped); all are in the results file and the alarm feed.</p>"
        if len(al) > limit
        else ""
    )
    return _section(
        "alarms",
        "Alarms",
        f"{len(d.alarms)} alarms. Levels: advisory (look at it), warning (engineer to "
        "review), critical (act now). Threshold alarms (peak, rms, high, low, change) "
        "compare a reading with a fixed limit; damage alarms (frequency_shift, t2, "
        "mac) come from the indices above. First the alarms grouped by check and "
        "channel, then each alarm, the most severe first.",
        table(
            [
                "check",
                "channel / mode",
                "worst level",
                "advisory",
                "warning",
                "critical",
                "first (UTC)",
                "last (UTC)",
            ],
            summary,
            num=(3, 4, 5),
        )
        + table(
            [
                "time (UTC)",
                "level",
                "state",
                "kind",
                "index",
                "channel / mode",
                "value",
                "limit",
                "message",
            ],
            rows,
            num=(6, 7),
        )
        + more
        + '<p class="note">Where a change is, is estimated once for the whole episode (see '
        "the summary); the hints of single alarms, which vary from window to window, are "
        "left out of the messages above. Acknowledgements come from "
        f"{escape(Path(d.feed).name if d.feed else 'alarms.jsonl')} (.acks.jsonl beside it).</p>",
    )


def _state(a: dict[str, Any]) -> str:
    if int(a["level"]) == 0:
        st = "back to normal"
    else:
        st = str(a.get("state") or "active")
    ack = a.get("ack")
    if ack:
        st += f"; acknowledged by {ack.get('by', '?')} {str(ack.get('time', ''))[:10]}"
        if ack.get("comment"):
            st += f": {ack['comment']}"
    return st


def _strain(d: Any) -> str:
    st = [s for s in d.strain if s.get("n")]
    if not st:
        return _section(
            "strain",
            "Strain statistics",
            "Strain measured by the gauges.",
            '<p class="note">No strain data in this period.</p>',
        )
    rows = [
        [s["channel"], pretty(s["unit"]), s["min"], s["max"], s["mean"], s["std"], s["n"]]
        for s in st
    ]
    series = []
    for i, s in enumerate(st):
        col = PALETTE[i % 10]
        series.append(Series(s["day_ns"], s["day_max"], f"{s['channel']} daily max", color=col))
        series.append(
            Series(s["day_ns"], s["day_min"], f"{s['channel']} daily min", color=col, dash="4 3")
        )
    return _section(
        "strain",
        "Strain statistics",
        "Strain is the relative stretching of the steel, in micrometres per metre. "
        "Traffic makes it go up and down (that wears the steel, see fatigue); "
        "temperature shifts it slowly. Large extremes or a slow one-way drift of the "
        "daily values deserve attention.",
        table(["gauge", "unit", "min", "max", "mean", "std", "samples"], rows, num=(2, 3, 4, 5, 6))
        + chart(
            series,
            time_axis=True,
            xlim=(d.start_ns, d.end_ns),
            title="Daily extremes of strain",
            ylabel=pretty(st[0]["unit"]),
        ),
    )


def _remaining(f: dict[str, Any]) -> float:
    from bshm.analysis.fatigue import remaining_life_years

    total = f["damage_before"] + float(np.sum(f["damage"]))
    mon = f.get("monitored_s") or float(np.sum(f["window_end_ns"] - f["window_start_ns"])) / 1e9
    return remaining_life_years(total, mon, f.get("prior_damage", 0.0))


def _years(y: float) -> str:
    return "more than 1000 years" if not math.isfinite(y) or y > 1000 else f"{y:.0f} years"


def _fatigue(d: Any) -> str:
    if not d.fatigue:
        return _section(
            "fatigue",
            "Fatigue",
            "Fatigue of the steel at the strain gauges.",
            '<p class="note">No fatigue results in this period.</p>',
        )
    body, rows = [], []
    for i, (g, f) in enumerate(d.fatigue.items()):
        dmg = np.asarray(f["damage"], np.float64)
        cum = f["damage_before"] + np.cumsum(dmg)
        curve = f.get("curve", {})
        mon = f.get("monitored_s") or float(np.sum(f["window_end_ns"] - f["window_start_ns"])) / 1e9
        total = float(cum[-1]) if cum.size else f["damage_before"]
        rate = total / (mon / (365.25 * 86400)) if mon > 0 else float("nan")
        rows.append(
            [
                g,
                curve.get("name", "-"),
                float(np.sum(f["counts"])),
                total,
                rate,
                _years(_remaining(f)),
            ]
        )
        body.append(f"<h3>Gauge {escape(g)}</h3>")
        body.append(
            bars(
                f["range_edges"],
                f["counts"],
                title=f"{g}: stress-range histogram",
                xlabel=f"stress range ({f['unit']})",
                ylabel="cycles (log)",
                color=PALETTE[i % 10],
            )
        )
        rm = f.get("range_mean")
        if rm is not None and np.size(rm) and np.asarray(rm).sum() > 0:
            body.append(
                heatmap(
                    f["range_edges"],
                    f["mean_edges"],
                    rm,
                    title=f"{g}: cycles by range and mean (all time)",
                    xlabel="stress range (MPa)",
                    ylabel="mean stress (MPa)",
                )
            )
        if cum.size:
            body.append(
                chart(
                    [
                        Series(
                            f["window_end_ns"],
                            cum,
                            "cumulative Miner damage",
                            color=PALETTE[i % 10],
                            mode="step",
                        )
                    ],
                    time_axis=True,
                    xlim=(d.start_ns, d.end_ns),
                    title=f"{g}: cumulative damage",
                    ylabel="Miner sum",
                    height=200,
                )
            )
    return _section(
        "fatigue",
        "Fatigue",
        "Each passing vehicle bends the steel a little. Rainflow counting turns the "
        "measured stress into cycles; the S-N curve of the detail (EN 1993-1-9) says "
        "how many cycles of each size the steel can take, and Miner's rule adds up the "
        "used fraction. A damage sum of 1 means the design fatigue life is used up; "
        "the remaining life assumes traffic stays as measured. Cycles below the "
        "cut-off limit do no damage.",
        table(
            [
                "gauge",
                "S-N curve",
                "cycles",
                "damage (Miner sum)",
                "damage per year",
                "remaining life",
            ],
            rows,
            num=(2, 3, 4),
        )
        + "".join(body),
    )


def _glossary() -> str:
    items = [
        ("Natural frequency", "how many times per second the bridge sways when left alone (Hz)."),
        (
            "Mode",
            "one way of vibrating (first bending, second bending, ...), each with its "
            "own natural frequency.",
        ),
        ("Baseline", "the first weeks of monitoring, taken as the healthy reference."),
        (
            "T2 (novelty index)",
            "one number measuring how unusual all the compensated "
            "frequencies are together, compared with the baseline.",
        ),
        (
            "Microstrain (µm/m)",
            "one millionth of relative stretching; 100 µm/m in steel is a stress of about 21 MPa.",
        ),
        ("Miner sum", "the fraction of fatigue life used; 1 means the design life is used up."),
        (
            "Detail category",
            "the fatigue strength class of a welded or bolted steel detail "
            "(stress range in MPa at two million cycles).",
        ),
    ]
    return _section(
        "glossary",
        "What the words mean",
        "Short definitions of the terms used above.",
        "<dl>"
        + "".join(f"<dt><b>{escape(k)}</b></dt><dd>{escape(v)}</dd>" for k, v in items)
        + "</dl>",
    )


def _campaign(d: Any) -> str:
    if not d.campaign:
        return ""  # no campaign.json: no section
    return _section(
        "campaign",
        "Campaign: global mode shapes",
        "A roving-sensor campaign measured the bridge at more points than the "
        "permanent sensors, in several setups that share reference points; the "
        "setups' mode shapes are glued into one shape per mode over every point "
        "(bshm campaign). Each shape is drawn on the deck: the line is how the deck "
        "moves in that mode (largest movement = 1).",
        campaign_html(d),
    )


SECTION_FUNCTIONS = (
    ("summary", _summary),
    ("sensors", _sensors),
    ("availability", _availability),
    ("frequencies", _frequencies),
    ("campaign", _campaign),
    ("damage", _damage),
    ("alarms", _alarms),
    ("strain", _strain),
    ("fatigue", _fatigue),
    ("glossary", lambda d: _glossary()),
)
