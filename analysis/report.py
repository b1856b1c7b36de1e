"""The station report: one self-contained HTML file for the bridge owner.

:func:`load_report_data` gathers everything from the results file (and the
raw store next to it, for sensors, data availability, channel health and
strain statistics) into a plain :class:`ReportData`; :func:`render_report`
turns that into HTML (:mod:`bshm.analysis.report_html`, figures as inline
SVG from :mod:`bshm.analysis.report_svg`, no JavaScript, no external files);
:func:`write_report` does both. The HTML opens in any browser without bshm.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import StoreError

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9


@dataclass
class ReportData:
    """Everything the report shows, as plain data (no open files).

    All times are int64 ns UTC. Optional parts are empty when the results
    or the raw files do not hold them; the report then says so.
    """

    station: str
    results_path: str
    start_ns: int
    end_ns: int
    generated_ns: int
    raw_dir: str | None = None
    sensors: list[dict[str, Any]] = field(default_factory=list)
    availability: list[dict[str, Any]] = field(default_factory=list)
    windows: dict[str, np.ndarray] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    tracks: dict[str, Any] = field(default_factory=dict)
    indices: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    strain: list[dict[str, Any]] = field(default_factory=list)
    fatigue: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    baseline: tuple[int, int] | None = None
    """Baseline (healthy reference) period of the monitoring job, if stored."""
    shape_channels: list[str] = field(default_factory=list)
    """Channels (rows) of the stored mode shapes."""
    all_tracks: dict[str, Any] = field(default_factory=dict)
    """Tracked modes of the whole file (the baseline may lie before the period)."""
    spans_m: tuple[float, ...] = ()
    """Span lengths from the station config's ``[bridge] spans`` (for the sketch)."""
    channel_x: dict[str, float] = field(default_factory=dict)
    """Sensor positions from the station config (the raw files' win when both exist)."""
    feed: str | None = None
    """The alarm feed beside which acknowledgements are kept."""
    alarm_state: dict[str, Any] = field(default_factory=dict)
    """The job's current alarm state (``ResultsReader.alarm_state()``; ``{}`` if none)."""
    model_versions: list[dict[str, Any]] = field(default_factory=list)
    """Model versions: training periods, conditions (``ResultsReader.model_versions()``)."""
    all_indices: dict[str, Any] = field(default_factory=dict)
    """Damage indices of the whole file (for the training periods)."""
    campaign: dict[str, Any] = field(default_factory=dict)
    """``campaign.json`` of the data folder (global mode shapes), if there is one."""


def _in(t: np.ndarray, a: int, b: int) -> np.ndarray:
    t = np.asarray(t, np.int64)
    return (t >= a) & (t < b)


def _period(r: Any, start_ns: int | None, end_ns: int | None) -> tuple[int, int]:
    w = r.windows()
    starts = np.asarray(w.get("start_ns", []), np.int64)
    ends = np.asarray(w.get("end_ns", []), np.int64)
    lo = int(starts.min()) if starts.size else None
    hi = int(ends.max()) if ends.size else None
    spans = [
        (
            np.asarray(g.get("window_start_ns", []), np.int64),
            np.asarray(g.get("window_end_ns", []), np.int64),
        )
        for g in r.fatigue().values()
    ]
    for d in (r.tracks(), r.indices()):  # files without a window table still have a period
        t = np.asarray(d.get("time_ns", []), np.int64)
        spans.append((t, t + 1))
    for s, e in spans:
        if s.size:
            lo = int(s.min()) if lo is None else min(lo, int(s.min()))
            hi = int(e.max()) if hi is None else max(hi, int(e.max()))
    if start_ns is None:
        start_ns = lo if lo is not None else 0
    if end_ns is None:
        end_ns = hi if hi is not None else start_ns + DAY_NS
    if end_ns <= start_ns:
        raise StoreError(f"report period is empty: --from {start_ns} is not before --to {end_ns}")
    return int(start_ns), int(end_ns)


def _slice_derived(d: dict[str, Any], a: int, b: int) -> dict[str, Any]:
    if not d or "time_ns" not in d:
        return {}
    t = np.asarray(d["time_ns"], np.int64)
    keep = _in(t, a, b)
    out = {}
    for k, v in d.items():
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == t.size:
            out[k] = v[keep]
        else:
            out[k] = v
    return out


def load_report_data(
    results: str | os.PathLike,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    raw_dir: str | os.PathLike | None = None,
    now_ns: int | None = None,
) -> ReportData:
    """Collect the report's content.

    Parameters
    ----------
    results : path
        The station's results file (``<data_dir>/results/<station>_results.h5``)
        or a data folder holding ``results/*_results.h5``.
    start_ns, end_ns : int, optional
        Report period ``[start, end)``; default: everything in the results.
    raw_dir : path, optional
        Raw store for sensors, availability, channel health and strain
        statistics (default: the folder above ``results/``, if it holds raw
        files).
    now_ns : int, optional
        "Generated at" time (default: now).

    Raises
    ------
    StoreError
        No results file, or not a bshm results file.
    """
    from bshm.store.results import open_results
    from bshm.timeutil import now_ns as _now

    path = Path(results)
    if path.is_dir():
        found = sorted(path.glob("results/*_results.h5")) or sorted(path.glob("*_results.h5"))
        if not found:
            raise StoreError(
                f"{path}: no results file (results/*_results.h5); run 'bshm analyze' first"
            )
        path = found[0]
    if not path.exists():
        raise StoreError(f"{path}: results file not found")
    with open_results(path) as r:
        a, b = _period(r, start_ns, end_ns)
        data = ReportData(
            station=r.station or path.stem.replace("_results", ""),
            results_path=str(path),
            start_ns=a,
            end_ns=b,
            generated_ns=int(now_ns if now_ns is not None else _now()),
        )
        w = r.windows()
        if w and np.asarray(w.get("start_ns", [])).size:
            keep = _in(w["start_ns"], a, b)
            data.windows = {k: np.asarray(v)[keep] for k, v in w.items()}
        names, t_env, vals = r.environment()
        if len(names) and t_env.size:
            keep = _in(t_env, a, b)
            data.environment = {"names": list(names), "time_ns": t_env[keep], "values": vals[keep]}
        data.all_tracks = r.tracks()
        data.tracks = _slice_derived(data.all_tracks, a, b)
        data.all_indices = r.indices()
        data.indices = _slice_derived(data.all_indices, a, b)
        data.alarm_state = r.alarm_state()
        data.model_versions = r.model_versions()
        models = r.models()
        data.limits = models.get("limits", {}) or {}
        bl = models.get("baseline")
        if isinstance(bl, (list, tuple)) and len(bl) == 2 and None not in bl:
            data.baseline = (int(bl[0]), int(bl[1]))
        data.shape_channels = [str(c) for c in r.channels]
        stored_alarms = r.alarms()
        data.fatigue = _fatigue(r.fatigue(), a, b)
        rows = r.channel_health()
        stored_health = _stored_health(rows, a, b) if rows else []
    raw = Path(raw_dir) if raw_dir is not None else path.parent.parent
    _station_config(data, raw)
    _alarms(data, stored_alarms, raw)
    from bshm.analysis.report_state import load_campaign

    data.campaign = load_campaign(raw)
    _load_raw(data, raw, stored_health, explicit=raw_dir is not None)
    return data


def _station_config(data: ReportData, raw: Path) -> None:
    """Spans, sensor positions and the alarm feed from ``station.toml`` (if any)."""
    for cfg in (raw / "station.toml", raw.parent / "station.toml"):
        if not cfg.is_file():
            continue
        try:
            from bshm.config import load_station

            st = load_station(cfg)
        except Exception as exc:  # noqa: BLE001 - a bad config must not stop the report
            log.warning("%s: not used for the bridge sketch: %s", cfg, str(exc).splitlines()[0])
            continue
        data.spans_m = tuple(float(v) for v in st.bridge_spans_m)
        for src in st.sources:
            for c in src.channels:
                if c.location and math.isfinite(float(c.location[0])):
                    data.channel_x[c.name] = float(c.location[0])
        if st.alarms.feed:
            data.feed = str(st.alarms.feed)
        return


def _alarms(data: ReportData, stored: list[dict[str, Any]], raw: Path) -> None:
    """The period's alarms with kind, state (active/cleared) and acknowledgement,
    read like the viewer does (results + feed + ``alarms.acks.jsonl``)."""
    from bshm.analysis.report_alarms import attach_acks, merge_alarms

    from bshm.alarms import ack_path

    feed = Path(data.feed) if data.feed else raw / "alarms.jsonl"
    data.feed = str(feed)
    everything = merge_alarms(stored, feed, data.station, data.alarm_state)
    attach_acks(everything, ack_path(feed))
    data.alarms = [x for x in everything if data.start_ns <= x["time_ns"] < data.end_ns]


def _fatigue(fat: dict[str, dict[str, Any]], a: int, b: int) -> dict[str, dict[str, Any]]:
    out = {}
    for gauge, g in sorted(fat.items()):
        s = np.asarray(g.get("window_start_ns", []), np.int64)
        e = np.asarray(g.get("window_end_ns", []), np.int64)
        keep = _in(s, a, b)
        d = np.asarray(g.get("miner_damage", np.zeros(s.size)), np.float64)
        counts = np.asarray(g.get("counts", np.zeros((s.size, 0))), np.float64)
        item: dict[str, Any] = {
            "range_edges": np.asarray(g.get("range_edges", []), np.float64),
            "unit": str(g.get("unit", "MPa")),
            "window_start_ns": s[keep],
            "window_end_ns": e[keep],
            "damage": d[keep],
            "counts": counts[keep].sum(axis=0) if counts.size else np.zeros(0),
            "damage_before": float(d[s < a].sum()),
        }
        for key in ("state", "curve"):
            raw = g.get(key)
            if isinstance(raw, bytes):
                raw = raw.decode()
            if isinstance(raw, str):
                try:
                    item[key] = json.loads(raw)
                except json.JSONDecodeError:
                    log.warning("fatigue/%s: attribute %s is not JSON", gauge, key)
        st = item.get("state") or {}
        if st:
            item["range_mean"] = np.asarray(st.get("histogram", []), np.float64)
            item["mean_edges"] = np.asarray(st.get("mean_edges", []), np.float64)
            item["monitored_s"] = float(st.get("monitored_s", 0.0))
            item["prior_damage"] = float(st.get("prior_damage", 0.0))
        out[gauge] = item
    return out


def _stored_health(rows: dict[str, np.ndarray], a: int, b: int) -> list[dict[str, Any]]:
    t = np.asarray(rows["time_ns"], np.int64)
    keep = np.flatnonzero(_in(t, a, b))
    worst: dict[str, dict[str, Any]] = {}
    rank = {"ok": 0, "suspect": 1, "warning": 1, "failed": 2, "fault": 2}
    for i in keep:
        ch = str(rows["channel"][i])
        st = str(rows["status"][i])
        d = worst.setdefault(
            ch, {"channel": ch, "status": "ok", "reasons": [], "source": "results"}
        )
        if rank.get(st, 0) > rank.get(d["status"], 0):
            d["status"] = st
        msg = str(rows["message"][i])
        is_summary = "check" in rows and str(rows["check"][i]) == "status"
        if msg and not is_summary and msg not in d["reasons"] and rank.get(st, 0) > 0:
            d["reasons"].append(msg)
    return list(worst.values())


def _load_raw(
    data: ReportData, raw: Path, stored_health: list[dict[str, Any]], explicit: bool
) -> None:
    from bshm.store import open_raw

    try:
        reader = open_raw(raw)
    except (StoreError, OSError, ValueError) as exc:
        if explicit:
            raise StoreError(f"{raw}: cannot open the raw store: {exc}") from exc
        data.notes.append(
            f"Raw data not found next to the results ({raw}): sensors, "
            "availability, channel health and strain statistics are limited."
        )
        data.health = stored_health
        return
    data.raw_dir = str(raw)
    with reader:
        for src, info in reader.sources.items():
            for c in info.channels:
                data.sensors.append(
                    {
                        "source": src,
                        "kind": info.kind,
                        "fs": info.fs,
                        "name": c.name,
                        "quantity": c.quantity,
                        "unit": c.unit,
                        "location": tuple(c.location),
                        "direction": c.direction,
                        "calibration": c.calibration,
                    }
                )
            data.availability.append(_availability(reader, src, data.start_ns, data.end_ns))
        live = _raw_health(reader, data.start_ns, data.end_ns)
        if not data.environment and data.tracks:
            data.environment = _raw_environment(reader, np.asarray(data.tracks["time_ns"]))
        gauges = _fatigue_accounts(reader, raw) if not data.fatigue else None
        data.strain = _strain_stats(reader, data.start_ns, data.end_ns, gauges)
        if gauges:
            data.fatigue = _raw_fatigue(gauges)
            data.notes.append(
                "The results hold no fatigue yet: the fatigue section was computed from the raw "
                "strain for this report only (S-N curve and modulus from the station config if "
                "found, else EN 1993-1-9 detail 71 and 210 GPa)."
            )
    stored = {h["channel"]: h for h in stored_health}
    for h in live:
        s = stored.pop(h["channel"], None)
        if s and s["status"] != "ok":
            h["history"] = s["reasons"]
            h["worst_in_period"] = s["status"]
        data.health.append(h)
    data.health.extend(stored.values())


def _raw_environment(reader: Any, t: np.ndarray, window_s: float = 600.0) -> dict[str, Any]:
    """Mean of each temperature channel over ``[t, t + window_s)`` for each track time."""
    chans = [
        (src, c.name)
        for src, info in reader.sources.items()
        for c in info.channels
        if c.quantity == "temperature"
    ]
    if not chans or t.size == 0:
        return {}
    vals = np.full((t.size, len(chans)), np.nan)
    for j, (src, name) in enumerate(chans):
        for i, a in enumerate(t.tolist()):
            rec = reader.read(src, int(a), int(a + window_s * 1e9), channels=[name])
            v = rec.data[:, 0].astype(np.float64)
            v = v[np.isfinite(v)]
            if v.size:
                vals[i, j] = v.mean()
    return {
        "names": [n for _, n in chans],
        "time_ns": t.astype(np.int64),
        "values": vals,
        "from_raw": True,
    }


def _fatigue_accounts(reader: Any, raw: Path) -> dict[str, Any]:
    """A fresh GaugeFatigue per strain gauge, with the station's fatigue settings if found."""
    from bshm.analysis.fatigue import GaugeFatigue, en1993_curve

    settings = None
    cfg = raw / "station.toml"
    if cfg.exists():
        try:
            from bshm.config import load_station

            settings = load_station(cfg).fatigue
        except Exception as exc:  # noqa: BLE001 - a bad config must not stop the report
            log.warning("%s: not used for the fatigue settings: %s", cfg, exc)
    curve = en1993_curve(float(getattr(settings, "detail_category", 71.0)))
    modulus = float(getattr(settings, "modulus_gpa", 210.0))
    wanted = tuple(getattr(settings, "gauges", ()) or ())
    out = {}
    for info in reader.sources.values():
        for c in info.channels:
            if c.quantity == "strain" and (not wanted or c.name in wanted):
                try:
                    g = GaugeFatigue(c.name, c.unit, curve, modulus)
                except ValueError as exc:
                    log.warning("fatigue of %s not computed: %s", c.name, exc)
                    continue
                g.windows = []  # type: ignore[attr-defined]
                out[c.name] = g
    return out


def _raw_fatigue(gauges: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's fatigue entries from accounts filled by :func:`_strain_stats`."""
    out = {}
    for name, g in gauges.items():
        ws = g.windows
        if not ws:
            continue
        out[name] = {
            "range_edges": g.range_edges,
            "unit": "MPa",
            "window_start_ns": np.array([w.window_start_ns for w in ws], np.int64),
            "window_end_ns": np.array([w.window_end_ns for w in ws], np.int64),
            "damage": np.array([w.damage for w in ws]),
            "counts": np.sum([w.range_counts for w in ws], axis=0),
            "damage_before": 0.0,
            "curve": g.curve.to_dict(),
            "range_mean": g.histogram,
            "mean_edges": g.mean_edges,
            "monitored_s": g.monitored_s,
            "prior_damage": 0.0,
            "computed_here": True,
        }
    return out


def _availability(reader: Any, src: str, a: int, b: int) -> dict[str, Any]:
    runs = [(max(s, a), min(e, b)) for s, e in reader.records(src) if e > a and s < b]
    gaps = [(max(g.start_ns, a), min(g.end_ns, b), g.reason) for g in reader.gaps(src, a, b)]
    recorded = sum(e - s for s, e in runs)
    lost = sum(e - s for s, e, _ in gaps)
    c = reader.counters(src)
    return {
        "source": src,
        "runs": runs,
        "gaps": gaps,
        "recorded_s": recorded / 1e9,
        "lost_s": lost / 1e9,
        "period_s": (b - a) / 1e9,
        "counters": dict(c),
        "fs": reader.sources[src].fs,
    }


def _raw_health(reader: Any, a: int, b: int, window_s: float = 600.0) -> list[dict[str, Any]]:
    """Health of every channel over the last ``window_s`` recorded in the period."""
    from bshm.analysis.health import check_record, gap_fraction

    out = []
    for src, info in reader.sources.items():
        runs = [(s, e) for s, e in reader.records(src) if e > a and s < b]
        if not runs:
            for c in info.channels:
                out.append(
                    {
                        "channel": c.name,
                        "source": src,
                        "quantity": c.quantity,
                        "status": "failed",
                        "reasons": ["no data recorded in the period"],
                        "checked_ns": None,
                    }
                )
            continue
        end = min(runs[-1][1], b)
        start = max(a, end - int(window_s * 1e9))
        rec = reader.read(src, start, end)
        gf = gap_fraction(rec.gaps, start, end)
        if rec.data.shape[0] < 3:
            continue
        for c, h in zip(
            rec.channels, check_record(rec.data, info.fs, rec.channels, gap_fraction=gf)
        ):
            out.append(
                {
                    "channel": c.name,
                    "source": src,
                    "quantity": c.quantity,
                    "status": h.status,
                    "reasons": list(h.reasons),
                    "checks": {k: v for k, v in h.checks.items()},
                    "checked_ns": start,
                }
            )
    return out


def _strain_stats(
    reader: Any, a: int, b: int, fatigue: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Statistics and daily extremes of every strain channel, read hour by hour.

    With ``fatigue`` (gauge name -> GaugeFatigue), the same pass also counts
    the gauges' fatigue, one window per hour read (see :func:`_raw_fatigue`).
    """
    out = []
    for src, info in reader.sources.items():
        idx = [j for j, c in enumerate(info.channels) if c.quantity == "strain"]
        if not idx:
            continue
        names = [info.channels[j].name for j in idx]
        acc: dict[str, dict[str, Any]] = {
            n: {"n": 0, "sum": 0.0, "sq": 0.0, "min": math.inf, "max": -math.inf, "days": {}}
            for n in names
        }
        for s, e in reader.records(src):
            s, e = max(s, a), min(e, b)
            t = s
            while t < e:
                c0, c1 = t, min(e, t + HOUR_NS)  # this chunk's window [c0, c1)
                rec = reader.read(src, c0, c1, channels=names)
                t += HOUR_NS
                if rec.data.shape[0] == 0:
                    continue
                day = int(rec.times_ns[0] // DAY_NS * DAY_NS)
                for j, n in enumerate(names):
                    x = rec.data[:, j].astype(np.float64)
                    if fatigue is not None and n in fatigue:
                        res = fatigue[n].process(x, c0, c1)
                        if res is not None:
                            fatigue[n].windows.append(res)  # type: ignore[attr-defined]
                    x = x[np.isfinite(x)]
                    if not x.size:
                        continue
                    d = acc[n]
                    d["n"] += x.size
                    d["sum"] += float(x.sum())
                    d["sq"] += float(np.dot(x, x))
                    lo, hi = float(x.min()), float(x.max())
                    d["min"], d["max"] = min(d["min"], lo), max(d["max"], hi)
                    dd = d["days"].setdefault(day, [math.inf, -math.inf, 0.0, 0])
                    dd[0], dd[1] = min(dd[0], lo), max(dd[1], hi)
                    dd[2] += float(x.sum())
                    dd[3] += x.size
        for j, n in zip(idx, names):
            d = acc[n]
            if d["n"] == 0:
                out.append({"channel": n, "unit": info.channels[j].unit, "n": 0})
                continue
            mean = d["sum"] / d["n"]
            days = sorted(d["days"].items())
            out.append(
                {
                    "channel": n,
                    "source": src,
                    "unit": info.channels[j].unit,
                    "n": d["n"],
                    "min": d["min"],
                    "max": d["max"],
                    "mean": mean,
                    "std": math.sqrt(max(0.0, d["sq"] / d["n"] - mean * mean)),
                    "day_ns": np.array([k + DAY_NS // 2 for k, _ in days], np.int64),
                    "day_min": np.array([v[0] for _, v in days]),
                    "day_max": np.array([v[1] for _, v in days]),
                    "day_mean": np.array([v[2] / v[3] for _, v in days]),
                }
            )
    return out


def render_report(data: ReportData) -> str:
    """The report as one HTML document (str)."""
    from bshm.analysis.report_html import render

    return render(data)


def write_report(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    raw_dir: str | os.PathLike | None = None,
) -> Path:
    """Load, render and write the report; returns the output path.

    Raises
    ------
    StoreError
        The results cannot be read or the output cannot be written.
    """
    data = load_report_data(results, start_ns=start_ns, end_ns=end_ns, raw_dir=raw_dir)
    html = render_report(data)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise StoreError(f"{out}: cannot write the report: {exc}") from exc
    log.info("report written to %s (%d bytes)", out, len(html))
    return out


def write_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """Print the HTML report to PDF (A4) with WeasyPrint: the same page, on paper.

    Raises
    ------
    bshm.errors.BshmError
        WeasyPrint (the ``report`` extra) or its system libraries (Pango) are
        missing, or the PDF cannot be written.
    """
    from bshm.errors import BshmError

    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango/HarfBuzz libraries missing
        raise BshmError(
            f"PDF output needs WeasyPrint and Pango ({str(exc).splitlines()[0]}); install "
            'with: pip install -e ".[report]" (Debian: apt-get install libpango-1.0-0 '
            "libpangoft2-1.0-0 libharfbuzz-subset0)"
        ) from exc
    out = Path(pdf_path)
    tmp = out.with_name(out.name + ".tmp")
    try:
        weasyprint.HTML(filename=str(html_path)).write_pdf(str(tmp))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{out}: cannot write the PDF: {exc}") from exc
    log.info("PDF written to %s", out)
    return out
