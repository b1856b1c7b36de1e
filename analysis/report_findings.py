"""What the report's headline says: what changed, since when, whether it is
still active, and where (one location estimate, with how sure it is).

Everything is computed from the tracked modes and damage indices of a
:class:`bshm.analysis.report.ReportData`, so the headline, the sketch and
the tables agree (the per-alarm location hints of the monitoring job can
differ from window to window; the report shows this one estimate instead).

Location: for each sensor, how far the mean mode shape after the change
moved from the baseline mean, in units of the baseline's own window-to-
window scatter, combined over the modes (root of the sum of squares). The
sensors whose squared change is at least half the largest form the changed
zone; the estimate is their mean position weighted by the squared change. How sure:
*high* when the zone is narrow (at most an eighth of the bridge, at most
two sensors), *moderate* up to a third of the bridge, *low* beyond; no
estimate at all when no sensor moved by three scatters or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY_NS = 86_400 * 10**9
QUIET_WINDOWS = 8
"""Windows at level 0 that end an episode (a change starts after such a stretch)."""
Z_MIN = 3.0


@dataclass
class Location:
    """Where the mode shapes changed most.

    Attributes
    ----------
    x_m : float
        Best estimate (m along the bridge).
    lo_m, hi_m : float
        The changed zone (positions of its outermost sensors).
    sensors : list of str
        Sensors in the zone, west to east.
    confidence : str
        ``high``, ``moderate`` or ``low``.
    score : dict
        Per sensor: combined change in baseline scatters.
    """

    x_m: float
    lo_m: float
    hi_m: float
    sensors: list[str]
    confidence: str
    score: dict[str, float] = field(default_factory=dict)


@dataclass
class Findings:
    """The headline of the report (all times int64 ns UTC)."""

    level: int = 0
    """Highest level in the period (indices and alarms)."""
    since_ns: int | None = None
    """Start of the current (or last) episode: the first window beyond a limit."""
    raised_ns: int | None = None
    """First window of the episode at alarm level >= 1 (after the k-of-n confirmation)."""
    until_ns: int | None = None
    """End of the last episode when it is over (None while active)."""
    active: bool = False
    current_level: int = 0
    last_window_ns: int | None = None
    changes: list[tuple[str, float]] = field(default_factory=list)
    """(mode id, mean compensated change in % since the episode began), largest first."""
    t2_share: float | None = None
    """Share of windows since the episode began with T² above its first limit."""
    location: Location | None = None
    location_note: str = ""
    open_alarms: int = 0
    acknowledged: list[dict[str, Any]] = field(default_factory=list)


def align_real(phi: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Real shape of ``phi`` scaled and rotated onto ``ref`` (least squares)."""
    phi = np.asarray(phi, np.complex128)
    ref = np.asarray(ref, np.complex128)
    den = np.vdot(phi, phi)
    if not np.isfinite(den) or abs(den) == 0:
        return np.full(phi.shape, np.nan)
    return np.real(phi * (np.vdot(phi, ref) / den))


def episode(level: np.ndarray, quiet: int = QUIET_WINDOWS) -> tuple[int | None, int | None]:
    """(first, last) window index of the latest episode of level >= 1.

    An episode ends when ``quiet`` consecutive windows are at level 0; None
    when no window is above 0.
    """
    lv = np.asarray(level, np.int64)
    hot = np.flatnonzero(lv > 0)
    if hot.size == 0:
        return None, None
    last = int(hot[-1])
    first = last
    zeros = 0
    for i in range(last - 1, -1, -1):
        if lv[i] > 0:
            first = i
            zeros = 0
        else:
            zeros += 1
            if zeros >= quiet:
                break
    return first, last


def locate_change(
    shapes: np.ndarray,
    ref: np.ndarray,
    baseline: np.ndarray,
    after: np.ndarray,
    channel_x: list[float],
    channels: list[str],
    length_m: float | None = None,
) -> tuple[Location | None, str]:
    """One estimate of where the mode shapes changed (see the module doc).

    Parameters
    ----------
    shapes : ndarray, shape (n_w, n_modes, n_ch), complex
        Tracked shapes per window (NaN where a mode was not found).
    ref : ndarray, shape (n_modes, n_ch), complex
        Reference shapes (alignment targets).
    baseline, after : ndarray of bool, shape (n_w,)
        Windows of the healthy reference and of the change.
    channel_x : list of float
        Sensor positions (m), NaN when unknown.
    channels : list of str
    length_m : float, optional
        Bridge length (default: the sensors' extent).

    Returns
    -------
    (Location or None, note)
    """
    shapes = np.asarray(shapes, np.complex128)
    if shapes.ndim != 3 or shapes.shape[0] == 0:
        return None, "no mode shapes in the results"
    x = np.asarray(channel_x, np.float64)
    if not np.isfinite(x).any():
        return None, "the sensors have no positions (location in the station config)"
    n_modes, n_ch = shapes.shape[1], shapes.shape[2]
    total = np.zeros(n_ch)
    used = 0
    for j in range(n_modes):
        r = np.asarray(ref[j], np.complex128)
        rows_b = [align_real(shapes[i, j], r) for i in np.flatnonzero(baseline)]
        rows_a = [align_real(shapes[i, j], r) for i in np.flatnonzero(after)]
        b = np.array([v for v in rows_b if np.isfinite(v).all()])
        a = np.array([v for v in rows_a if np.isfinite(v).all()])
        if len(b) < 5 or len(a) < 3:
            continue
        sd = b.std(axis=0)
        scale = np.nanmax(np.abs(b.mean(axis=0))) or 1.0
        sd = np.maximum(sd, 1e-3 * scale)  # a sensor that never moves is not infinitely sure
        z = (a.mean(axis=0) - b.mean(axis=0)) / sd
        total += z**2
        used += 1
    if used == 0:
        return None, "too few windows before and after the change to compare mode shapes"
    score = np.sqrt(total)
    ok = np.isfinite(x)
    if score[ok].max() < Z_MIN:
        return None, "the mode shapes did not change measurably: no location can be given"
    zone = ok & (score**2 >= 0.5 * score[ok].max() ** 2)
    w = score[zone] ** 2
    est = float(np.sum(x[zone] * w) / np.sum(w))
    lo, hi = float(x[zone].min()), float(x[zone].max())
    if length_m is None or not length_m > 0:
        length_m = float(np.nanmax(x) - np.nanmin(x)) or 1.0
    spread = hi - lo
    if spread <= length_m / 8 and int(zone.sum()) <= 2:
        conf = "high"
    elif spread <= length_m / 3:
        conf = "moderate"
    else:
        conf = "low"
    order = np.argsort(x[zone])
    names = [channels[k] for k in np.flatnonzero(zone)[order]]
    sc = {channels[k]: float(score[k]) for k in range(n_ch)}
    return Location(est, lo, hi, names, conf, sc), ""


def findings(d: Any) -> Findings:
    """The headline of a :class:`bshm.analysis.report.ReportData`."""
    out = Findings()
    out.level = max((int(a["level"]) for a in d.alarms), default=0)
    out.open_alarms = sum(
        1 for a in d.alarms if a.get("state") == "active" and a["level"] > 0 and not a.get("ack")
    )
    out.acknowledged = [a for a in d.alarms if a.get("ack") and a.get("state") == "active"]
    ix = d.indices
    if not ix or np.asarray(ix.get("time_ns", [])).size == 0:
        return out
    t = np.asarray(ix["time_ns"], np.int64)
    level = np.asarray(ix.get("level", np.zeros(t.size)), np.int64)
    out.level = max(out.level, int(level.max()) if level.size else 0)
    out.last_window_ns = int(t[-1])
    out.current_level = int(level[-1]) if level.size else 0
    first_opt, last_opt = episode(level)
    if first_opt is None or last_opt is None:
        return out
    first, last = first_opt, last_opt
    out.raised_ns = int(t[first])
    out.active = last >= level.size - 1 - 1  # the latest windows are still above 0
    # the change began where the indices first crossed a limit, before the alarm
    # level (which waits for k of n windows) went up
    exceed = _beyond_limits(ix, d.limits)
    onset = first
    while onset > 0 and exceed[onset - 1] and first - onset < 50:
        onset -= 1
    out.since_ns = int(t[onset])
    first = onset
    if not out.active:
        out.until_ns = int(t[last])
    after = np.zeros(t.size, bool)
    after[first : last + 1] = True
    shift = ix.get("shift_avg_pct", ix.get("freq_shift_pct"))
    ids = [str(m) for m in (d.tracks.get("mode_ids", []) if d.tracks else [])]
    if shift is not None:
        sh = np.asarray(ix.get("freq_shift_pct", shift), np.float64)
        for j in range(sh.shape[1]):
            v = sh[after, j]
            v = v[np.isfinite(v)]
            if v.size:
                out.changes.append((ids[j] if j < len(ids) else f"mode {j + 1}", float(v.mean())))
        out.changes.sort(key=lambda c: -abs(c[1]))
    if "t2" in ix:
        lim = np.asarray(ix.get("t2_limits", []), np.float64)
        lim = lim[-1] if lim.ndim == 2 and lim.size else lim
        if lim.size:
            t2 = np.asarray(ix["t2"], np.float64)[after]
            out.t2_share = float(np.mean(t2 > float(np.ravel(lim)[0]))) if t2.size else None
    out.location, out.location_note = _locate(d, after)
    return out


def _locate(d: Any, after_ix: np.ndarray) -> tuple[Location | None, str]:
    tr = d.all_tracks or d.tracks  # the baseline may lie before the report period
    if not tr or "shape" not in tr or "ref_shape" not in tr:
        return None, "the results hold no mode shapes"
    t_tr = np.asarray(tr["time_ns"], np.int64)
    t_ix = np.asarray(d.indices["time_ns"], np.int64)
    since, until = int(t_ix[after_ix][0]), int(t_ix[after_ix][-1])
    after = (t_tr >= since) & (t_tr <= until)
    b0, b1 = d.baseline if d.baseline else (None, None)
    if b0 is not None and b1 is not None:
        baseline = (t_tr >= b0) & (t_tr < b1)
    else:
        baseline = t_tr < since
        baseline &= np.cumsum(baseline) <= max(20, int(baseline.sum()) // 2)
    chans = [str(c) for c in (tr.get("channels") or d.shape_channels or [])]
    pos = {s["name"]: s["location"][0] for s in d.sensors}
    pos.update(d.channel_x)
    x = [float(pos.get(c, math.nan)) for c in chans]
    length = float(sum(d.spans_m)) if d.spans_m else None
    if not chans:
        return None, "the results do not name the channels of the mode shapes"
    return locate_change(tr["shape"], tr["ref_shape"], baseline, after, x, chans, length)


def _beyond_limits(ix: dict[str, Any], limits: dict[str, Any]) -> np.ndarray:
    """Per window: any compensated frequency change or T² beyond its first limit."""
    n = np.asarray(ix["time_ns"]).size
    out = np.zeros(n, bool)
    lim = list(limits.get("frequency_shift_pct") or [])
    if lim and "freq_shift_pct" in ix:
        sh = np.abs(np.asarray(ix["freq_shift_pct"], np.float64))
        with np.errstate(invalid="ignore"):
            out |= np.any(sh >= float(lim[0]), axis=1)
    if "t2" in ix:
        tl = np.asarray(ix.get("t2_limits", []), np.float64)
        if tl.ndim == 2 and tl.shape[0] == n:
            first_lim = tl[:, 0]
        elif tl.size:
            first_lim = np.full(n, float(np.ravel(tl)[0]))
        else:
            first_lim = None
        if first_lim is not None:
            with np.errstate(invalid="ignore"):
                out |= np.asarray(ix["t2"], np.float64) > first_lim
    return out
