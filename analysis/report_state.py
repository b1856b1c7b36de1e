"""What the report and the viewer both derive from the monitoring state (no Qt).

* the spans of windows judged **outside the trained conditions** (from the
  ``inside`` flag the job stores per judged window) and the training
  periods of every model version, with a sentence that says it in words;
* the **campaign** (``campaign.json`` of ``bshm campaign``): modes with their
  global shapes placed at the channels' positions.

One implementation, so what the viewer shades and what the report's charts
shade are the same spans, and the shapes drawn are the stored ones.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "outside_spans",
    "training_periods",
    "outside_runs",
    "load_campaign",
    "campaign_shapes",
]

#: Margin the job adds around the trained temperature range (see analysis/job_models.py).
_MARGIN_C = 1.0


def _window_ns(time_ns: np.ndarray, windows: dict[str, Any] | None) -> int:
    """Typical analysis window length (ns): from the window table, else the spacing."""
    w = windows or {}
    s = np.asarray(w.get("start_ns", []), np.int64)
    e = np.asarray(w.get("end_ns", []), np.int64)
    if s.size and e.size == s.size:
        d = e - s
        d = d[d > 0]
        if d.size:
            return int(np.median(d))
    t = np.asarray(time_ns, np.int64)
    if t.size > 1:
        dt = np.diff(np.sort(t))
        dt = dt[dt > 0]
        if dt.size:
            return int(np.median(dt))
    return 600 * 10**9


def outside_spans(
    indices: dict[str, Any] | None, windows: dict[str, Any] | None = None
) -> list[tuple[int, int]]:
    """Time spans ``[start, end)`` (ns) of windows outside the trained conditions.

    Consecutive judged windows with ``inside`` False are merged into one
    span, from the first one's start to the last one's start plus the
    window length. Files without the ``inside`` flag give ``[]``.
    """
    ix = indices or {}
    if "inside" not in ix or "time_ns" not in ix:
        return []
    t = np.asarray(ix["time_ns"], np.int64)
    inside = np.asarray(ix["inside"], bool)
    if t.size == 0 or inside.size != t.size:
        return []
    order = np.argsort(t, kind="stable")
    t, inside = t[order], inside[order]
    length = _window_ns(t, windows)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < t.size:
        if inside[i]:
            i += 1
            continue
        j = i
        while j + 1 < t.size and not inside[j + 1]:
            j += 1
        spans.append((int(t[i]), int(t[j]) + length))
        i = j + 1
    return spans


def training_periods(versions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every training period of every model version, oldest first.

    Each: ``version``, ``start_ns``, ``end_ns``, ``conditions`` (input name
    -> [lo, hi], e.g. ``{"T1": [0.1, 7.9]}``) and ``text`` (in words).
    """
    out = []
    for v in versions or []:
        chain = v.get("chain") or []
        cond = dict((chain[0].get("conditions") or {}).get("vars", {})) if chain else {}
        text = ", ".join(f"{k} {lo:.1f}..{hi:.1f} °C" for k, (lo, hi) in cond.items())
        for p in v.get("periods") or []:
            if len(p) == 2:
                out.append(
                    {
                        "version": int(v.get("version", 0)),
                        "start_ns": int(p[0]),
                        "end_ns": int(p[1]),
                        "conditions": cond,
                        "text": text,
                    }
                )
    out.sort(key=lambda p: (p["start_ns"], p["version"]))
    return out


def _why(a: int, b: int, env: tuple | None, conditions: dict[str, list[float]]) -> str:
    """Why the windows in ``[a, b)`` were outside: which input, above or below."""
    parts = []
    if env is not None and conditions:
        names, t, values = env
        t = np.asarray(t, np.int64)
        values = np.asarray(values, np.float64)
        sel = (t >= a) & (t < b)
        for name, (lo, hi) in conditions.items():
            if name not in names or not sel.any():
                continue
            v = values[sel, list(names).index(name)]
            v = v[np.isfinite(v)]
            if not v.size:
                continue
            if v.max() > hi + _MARGIN_C:
                parts.append(f"temperature {name} above {hi + _MARGIN_C:.1f} °C")
            if v.min() < lo - _MARGIN_C:
                parts.append(f"temperature {name} below {lo - _MARGIN_C:.1f} °C")
    return "; ".join(parts) if parts else "temperature or excitation outside the trained range"


def outside_runs(
    indices: dict[str, Any] | None,
    windows: dict[str, Any] | None,
    versions: list[dict[str, Any]] | None,
    env: tuple | None = None,
) -> list[dict[str, Any]]:
    """Each stretch of windows outside the trained conditions: ``start_ns``,
    ``end_ns``, ``n`` (judged windows in it) and ``why`` (which input left its
    range, in words).

    ``env`` is ``(names, time_ns, values)`` of the environment (as
    ``ResultsReader.environment()``), to say which temperature left its range.
    """
    ix = indices or {}
    periods = training_periods(versions)
    out = []
    t = np.asarray(ix.get("time_ns", []), np.int64)
    inside = np.asarray(ix.get("inside", []), bool)
    mv = np.asarray(ix.get("model_version", np.zeros(t.size)), np.int64)
    for a, b in outside_spans(indices, windows):
        sel = (t >= a) & (t < b) & ~inside if inside.size == t.size else np.zeros(t.size, bool)
        n = int(sel.sum())
        ver = int(mv[sel][-1]) if n and mv.size == t.size else 0
        cond = next((p["conditions"] for p in reversed(periods) if p["version"] == ver), None)
        if cond is None and periods:
            cond = periods[-1]["conditions"]
        out.append({"start_ns": a, "end_ns": b, "n": n, "why": _why(a, b, env, cond or {})})
    return out


def _when(ns: int) -> str:
    from bshm.timeutil import to_iso

    return to_iso(int(ns))[:16].replace("T", " ")


def _sentence(a: int, b: int, n: int, why: str, stretches: int = 1) -> str:
    many = f" in {stretches} stretches" if stretches > 1 else ""
    return (
        f"From {_when(a)} to {_when(b)} UTC, {n} window{'s' if n != 1 else ''}{many} "
        f"{'were' if n != 1 else 'was'} outside the conditions the models know "
        f"({why}); changes there are detected later."
    )


#: More stretches than this: one summary sentence and a table.
MAX_SENTENCES = 4


# --------------------------------------------------------------------- campaign
def load_campaign(folder: str | Path | None) -> dict[str, Any]:
    """``campaign.json`` of a data folder (or its parent), ``{}`` when there is none.

    A file that does not parse is logged (one line) and skipped.
    """
    if folder is None:
        return {}
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    cands = [folder / "campaign.json", folder.parent / "campaign.json"]
    if folder.name == "results":
        cands.insert(0, folder.parent / "campaign.json")
    for p in cands:
        if p.is_file():
            try:
                obj = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                log.warning("%s: not used (%s)", p, exc)
                return {}
            if not isinstance(obj, dict) or not isinstance(obj.get("shapes"), list):
                log.warning("%s: not used (no 'shapes' list)", p)
                return {}
            obj["path"] = str(p)
            return obj
    return {}


def campaign_shapes(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """Each campaign mode's global shape at its points' positions.

    ``campaign`` is ``campaign.json`` as ``bshm campaign`` writes it
    (``frequencies_hz``, ``damping`` (ratio), ``channels`` (points),
    ``locations`` ([x, y, z] per point), ``shapes`` ([re, im] or null per
    point and mode)).

    Returns
    -------
    list of dict
        One per mode: ``label`` (``"1: 2.17 Hz"``), ``frequency_hz``,
        ``damping_pct``, ``mpc``, ``channels`` (points with a position and a
        value, sorted by x), ``x`` (m), ``y`` (the shape rotated so its
        largest component is real and positive, real part, scaled to
        max |y| = 1 over all points).
    """
    names = [str(c) for c in campaign.get("channels") or []]
    locs = campaign.get("locations") or []
    xs = np.full(len(names), np.nan)
    for i, loc in enumerate(locs[: len(names)]):
        try:
            xs[i] = float(loc[0]) if loc and loc[0] is not None else np.nan
        except (TypeError, ValueError, IndexError):
            pass
    freqs = campaign.get("frequencies_hz") or []
    damping = campaign.get("damping") or []
    mpc = campaign.get("mpc") or []
    rows = campaign.get("shapes") or []
    out = []
    for k, f in enumerate(freqs):
        phi = np.full(len(names), complex(np.nan, np.nan), complex)
        for i, row in enumerate(rows[: len(names)]):
            v = row[k] if row is not None and k < len(row) else None
            if v is not None and len(v) == 2 and None not in v:
                phi[i] = complex(float(v[0]), float(v[1]))
        y = normalised_real(phi)
        keep = np.isfinite(xs) & np.isfinite(y)
        order = np.argsort(xs[keep], kind="stable")
        fz = float(f) if f is not None else math.nan
        dz = damping[k] if k < len(damping) and damping[k] is not None else math.nan
        out.append(
            {
                "label": f"{k + 1}: {fz:.3g} Hz",
                "frequency_hz": fz,
                "damping_pct": 100.0 * float(dz),
                "mpc": float(mpc[k]) if k < len(mpc) and mpc[k] is not None else math.nan,
                "channels": [str(n) for n in np.asarray(names, object)[keep][order]],
                "x": xs[keep][order],
                "y": y[keep][order],
            }
        )
    return out


def normalised_real(phi: np.ndarray) -> np.ndarray:
    """A complex shape rotated so its largest component is real and positive,
    real part, scaled to max |y| = 1 (NaN entries stay NaN)."""
    phi = np.asarray(phi, complex)
    ok = np.isfinite(phi)
    if not ok.any():
        return np.full(phi.shape, np.nan)
    k = int(np.argmax(np.where(ok, np.abs(phi), -1.0)))
    rot = phi * np.exp(-1j * np.angle(phi[k]))
    y = np.real(rot)
    big = np.nanmax(np.abs(y[ok]))
    return np.where(ok, y / big if big > 0 else y, np.nan)


# ------------------------------------------------------------ report HTML parts
#: Colours of the shaded spans (viewer and report).
OUTSIDE_COLOUR = "#ff9800"
TRAINING_COLOUR = "#43a047"
OUTSIDE_LABEL = "outside trained conditions"


def trend_bands(d: Any) -> list[tuple[int, int, str, str]]:
    """Bands for the report's trend charts: training periods and outside spans."""
    bands: list[tuple[int, int, str, str]] = []
    for p in training_periods(d.model_versions):
        bands.append((p["start_ns"], p["end_ns"], "training period", TRAINING_COLOUR))
    for a, b in outside_spans(d.indices, d.windows):
        bands.append((a, b, OUTSIDE_LABEL, OUTSIDE_COLOUR))
    return bands


def current_state_html(d: Any) -> str:
    """The "current state" table for the top of the report (empty when not stored)."""
    from html import escape

    from bshm.analysis.report_alarms import current_state_rows
    from bshm.analysis.report_html import level_badge

    from bshm.timeutil import to_iso

    rows = current_state_rows(d.alarm_state)
    if not rows:
        return (
            '<p class="note">This results file holds no stored alarm state (made by an '
            "older bshm analyze): the alarm states below follow the older rule.</p>"
        )
    when = d.alarm_state.get("updated_ns")
    head = (
        "<h3>Current state</h3><p>As the monitoring job left it"
        + (f" at {escape(to_iso(int(when))[:16].replace('T', ' '))} UTC" if when else "")
        + " (the same as <code>bshm analyze --json</code> prints): every subject above "
        "normal on its own line, the bridge first; the normal ones grouped below.</p>"
    )
    body = []
    for r in rows:  # subjects above normal: one row each, with since when and why
        if not r["active"]:
            continue
        since = (r.get("since") or "")[:16].replace("T", " ")
        body.append(
            f'<tr data-subjects="{escape(r["subject"])}" data-level="{r["level"]}">'
            f"<td>{escape(r['label'])}</td><td>{escape(r['kind'])}</td>"
            f"<td>{level_badge(r['level'])}</td><td>{escape(since) or '-'}</td>"
            f"<td>{escape(str(r.get('message') or ''))}</td></tr>"
        )
    quiet: dict[str, list[dict[str, Any]]] = {}
    for r in rows:  # the normal ones: one row per kind, so the table stays short
        if not r["active"]:
            quiet.setdefault(r["kind"], []).append(r)
    for kind, rs in quiet.items():
        if kind == "sensor":
            label = "sensors " + ", ".join(x["label"].partition(" ")[2] for x in rs)
        else:
            label = ", ".join(x["label"] for x in rs)
        subjects = " ".join(x["subject"] for x in rs)
        body.append(
            f'<tr data-subjects="{escape(subjects)}" data-level="0">'
            f"<td>{escape(label)}</td><td>{escape(kind)}</td>"
            f"<td>{level_badge(0)}</td><td>-</td><td></td></tr>"
        )
    return (
        head + '<table class="state"><thead><tr><th>subject</th><th>kind</th><th>level</th>'
        "<th>since (UTC)</th><th>why</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def conditions_html(d: Any) -> str:
    """Training periods and the spans outside the trained conditions, in words."""
    from html import escape

    from bshm.timeutil import to_iso

    periods = training_periods(d.model_versions)
    if not periods and "inside" not in (d.indices or {}):
        return ""
    env = None
    e = d.environment or {}
    if e.get("names"):
        env = (list(e["names"]), np.asarray(e["time_ns"]), np.asarray(e["values"]))
    parts = []
    for p in periods:
        parts.append(
            f"Model version {p['version']} was trained on "
            f"{to_iso(p['start_ns'])[:16].replace('T', ' ')} to "
            f"{to_iso(p['end_ns'])[:16].replace('T', ' ')} UTC"
            + (
                f" ({escape(p['text'])}; windows within {_MARGIN_C:g} °C of that range "
                "count as inside)"
                if p["text"]
                else ""
            )
            + "."
        )
    runs = outside_runs(d.indices, d.windows, d.model_versions, env)
    table = ""
    if len(runs) > MAX_SENTENCES:  # one sentence for all, then a table of the stretches
        whys = list(dict.fromkeys(w for r in runs for w in r["why"].split("; ")))
        sentences = [
            _sentence(
                runs[0]["start_ns"],
                runs[-1]["end_ns"],
                sum(r["n"] for r in runs),
                "; ".join(whys),
                len(runs),
            )
        ]
        table = (
            '<table class="outside-runs"><thead><tr><th>from (UTC)</th><th>to (UTC)</th>'
            "<th>windows</th><th>why</th></tr></thead><tbody>"
            + "".join(
                f'<tr data-n="{r["n"]}"><td>{_when(r["start_ns"])}</td>'
                f'<td>{_when(r["end_ns"])}</td><td class="num">{r["n"]}</td>'
                f"<td>{escape(r['why'])}</td></tr>"
                for r in runs
            )
            + "</tbody></table>"
        )
    else:
        sentences = [_sentence(r["start_ns"], r["end_ns"], r["n"], r["why"]) for r in runs]
    if not runs and "inside" in (d.indices or {}):
        sentences = ["Every judged window of the period was inside the trained conditions."]
    return (
        '<div class="conditions"><h3>Trained conditions</h3>'
        + "".join(f"<p>{escape(x)}</p>" for x in parts)
        + "".join(f'<p class="outside">{escape(x)}</p>' for x in sentences)
        + table
        + '<p class="note">Shaded on the charts: green, the training periods; orange, '
        "windows outside the trained conditions (judged, but less sensitive; they never "
        "lower an alarm).</p></div>"
    )


def campaign_html(d: Any) -> str:
    """The campaign section body: table of modes and each global shape on the deck."""
    from html import escape

    from bshm.analysis.report_html import table
    from bshm.analysis.report_svg import deck_sketch

    from bshm.palette import mode_colour

    camp = d.campaign or {}
    shapes = campaign_shapes(camp)
    if not shapes:
        return '<p class="note">campaign.json holds no modes.</p>'
    names = [str(c) for c in camp.get("channels") or []]
    locs = camp.get("locations") or []
    sensors = []
    for i, n in enumerate(names):
        try:
            x = float(locs[i][0])
        except (TypeError, ValueError, IndexError):
            continue
        sensors.append((n, x, "", "acceleration"))
    rows = [
        [k + 1, s["frequency_hz"], s["damping_pct"], s["mpc"], len(s["channels"])]
        for k, s in enumerate(shapes)
    ]
    body = [
        table(
            ["mode", "frequency (Hz)", "damping (%)", "MPC", "points with a value"],
            rows,
            num=(1, 2, 3, 4),
        )
    ]
    for k, s in enumerate(shapes):
        svg = deck_sketch(
            d.spans_m,
            sensors,
            shapes=[
                {
                    "label": f"mode {s['label']}",
                    "color": mode_colour(k),
                    "x": s["x"],
                    "y": s["y"],
                }
            ],
            title=f"Global mode {s['label']}",
            height=170,
        )
        body.append(f'<div class="campaign-shape" data-mode="{k}">{svg}</div>')
    setups = ", ".join(str(x.get("name", "")) for x in camp.get("setups") or [])
    refs = ", ".join(str(x) for x in camp.get("references") or [])
    intro = (
        f"{len(shapes)} global modes from "
        f"{len(camp.get('setups') or [])} setups ({escape(setups)}), glued through the "
        f"reference points {escape(refs)} ({escape(str(camp.get('method', '')))}); "
        f"from {escape(Path(camp.get('path', 'campaign.json')).name)}."
    )
    return f"<p>{intro}</p>" + "".join(body)
