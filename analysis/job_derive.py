"""Derived results of the job, incrementally: tracking, compensation, indices, alarm states.

Windows are *judged* once, in time order, when they are new: tracked
against the reference modal set, compensated by the compensation chain,
turned into damage indices, graded, and fed to the alarm states
(:mod:`bshm.analysis.alarm_state`). The rows of ``/tracks``, ``/features``
and ``/indices`` are appended, never rewritten: results already reported
never change.

A run costs the new windows only. Everything a later window needs from the
past is kept in a small JSON state (``/state/job``): the tracker's recent
frequencies per mode, the last few judged windows (for the moving means,
the COMAC and the lagged temperatures), the alarm states. Every step is
causal with a bounded memory, and the kept history is long enough for each
of them, so judging a history in one run or in many gives identical results
(``--reprocess`` recomputes everything; a test compares the two).

Until the baseline period is complete, modes are tracked against a
provisional reference (``/tracks_provisional``, rewritten by each run) and
nothing is judged. When it completes, the models are trained on it
(:mod:`bshm.analysis.job_models`) and every window so far is judged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bshm.analysis.alarm_state import NO_CLEAR, Rule, SubjectState
from bshm.analysis.compensation import fit_compensation
from bshm.analysis.damage import (
    DamageIndices,
    compute_indices,
    grade_windows,
    persistence_rate,
)
from bshm.analysis.job_alarms import assessment_alarm, conditions_alarm, structural_alarm
from bshm.analysis.job_models import ModelVersion, in_periods, inside_conditions
from bshm.analysis.tracking import ReferenceSet, WindowModes, build_reference, track

from bshm.errors import AnalysisError

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 1_000_000_000
HOUR_NS = 3_600_000_000_000
#: Windows separated from the rest by more than this are outside the station's
#: normal period for the default baseline (days).
OUTLIER_GAP_DAYS = 30.0


@dataclass
class DeriveOut:
    """What :func:`derive` produced."""

    alarms: list[Any] = field(default_factory=list)
    tracked_modes: list[dict[str, Any]] = field(default_factory=list)
    baseline: tuple[int, int] | None = None
    baseline_complete: bool = False
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    judged: int = 0
    late: int = 0


# --------------------------------------------------------------------------- loading
def _windows(w, start_ns: int | None = None) -> dict[str, np.ndarray]:
    """Window rows (optionally from ``start_ns`` on), sorted by start, with env values."""
    rows = w.rows("windows", start_ns=start_ns)
    if not rows or rows["start_ns"].size == 0:
        return {}
    env = w.rows("environment", start_ns=start_ns)
    names = json.loads(w.f["environment"].attrs["names"]) if "environment" in w.f else []
    order = np.argsort(rows["start_ns"], kind="stable")
    out = {k: v[order] for k, v in rows.items()}
    vals = env.get("values", np.full((rows["start_ns"].size, len(names)), np.nan))[order]
    if "start_ns" in env and not np.array_equal(env["start_ns"][order], out["start_ns"]):
        raise AnalysisError(f"{w.path}: /environment rows do not match /windows")
    out["env"] = {n: vals[:, i].astype(float) for i, n in enumerate(names)}
    return out


def _modes(w, starts: np.ndarray) -> list[WindowModes]:
    """The identified modes of the processed windows ``starts`` (sorted)."""
    if starts.size == 0:
        return []
    m = w.rows("modes", start_ns=int(starts.min()), end_ns=int(starts.max()) + 1)
    if not m:
        return [WindowModes(int(t), np.zeros(0), np.zeros(0), np.zeros((0, 0))) for t in starts]
    srt = np.argsort(m["window_start_ns"], kind="stable")
    ws = m["window_start_ns"][srt]
    fr, dp, sh = m["frequency"][srt], m["damping"][srt], m["shape"][srt]
    lo = np.searchsorted(ws, starts, "left")
    hi = np.searchsorted(ws, starts, "right")
    return [
        WindowModes(int(t), fr[a:b], dp[a:b], sh[a:b].T)
        for t, a, b in zip(starts.tolist(), lo.tolist(), hi.tolist())
    ]


# --------------------------------------------------------------------------- baseline
def default_baseline(
    starts: np.ndarray, ends: np.ndarray, days: float, planned_end: int | None = None
) -> tuple[int, int, bool, str]:
    """The first ``days`` of the station's main recording period.

    Windows separated from the others by more than :data:`OUTLIER_GAP_DAYS`
    (or ``days``) form separate periods; the first period long enough to
    hold the baseline is the main one (else the one with most windows, the
    baseline being incomplete). A file dated 1970 or 2099 therefore does
    not move the baseline.

    Returns
    -------
    (start_ns, end_ns, complete, note)
    """
    order = np.argsort(starts)
    t, e = np.asarray(starts, np.int64)[order], np.asarray(ends, np.int64)[order]
    gap = int(max(OUTLIER_GAP_DAYS, days) * DAY_NS)
    cut = np.flatnonzero(np.diff(t) > gap) + 1
    segs = np.split(np.arange(t.size), cut)
    need = int(days * DAY_NS)
    pick = next((s for s in segs if e[s].max() - t[s[0]] >= need), None)
    complete = pick is not None
    if pick is None:
        pick = max(segs, key=len)
        if planned_end is not None and t[pick[0]] + need <= planned_end <= e[pick].max() + gap:
            complete = True
    b0 = int(t[pick[0]])
    others = t.size - pick.size
    note = ""
    if len(segs) > 1:
        from bshm.timeutil import to_iso

        away = [int(x) for s in segs if s is not pick for x in t[s][:3]]
        note = (
            f"default baseline: the first {days:g} days of the main recording period "
            f"(from {to_iso(b0, digits=0)}); {others} window(s) far outside it "
            f"(e.g. {', '.join(to_iso(x, digits=0) for x in away[:3])}) are not part of it"
        )
    return b0, b0 + need, complete, note


# --------------------------------------------------------------------------- helpers
def cv_residual(t, freq, env, base, temperatures, lags_h, in_sample, folds: int = 4):
    """Out-of-sample residuals of the baseline (contiguous-block cross-validation).

    The baseline is cut into ``folds`` consecutive blocks; each block's
    residuals come from a model trained on the other blocks. In-sample
    residuals understate the scatter of new data (the regression partly fits
    the noise, and slow model errors look like noise), which would make the
    control limits too tight. Windows outside the baseline keep their
    in-sample residuals (unused). Falls back to the in-sample residuals of a
    block whose complement cannot train the model.
    """
    out = in_sample.copy()
    idx = np.flatnonzero(base)
    if idx.size < 4 * folds:
        return out
    for block in np.array_split(idx, folds):
        train = base.copy()
        train[block] = False
        try:
            c = fit_compensation(t, freq, env, train, temperatures=temperatures, lags_h=lags_h)
        except AnalysisError:
            continue
        out[block] = c.residual[block]
    return out


def _cv_residual(t, freq, env, base, st, in_sample, folds: int = 4):
    """:func:`cv_residual` with the temperatures and lags of job settings ``st``."""
    return cv_residual(t, freq, env, base, st.temperatures, st.lags_h, in_sample, folds)


def _rule(st) -> Rule:
    return Rule(st.persistence_k, st.persistence_n, st.clear_m, st.clear_n)


def _states(d: dict[str, Any]) -> dict[str, SubjectState]:
    return {k: SubjectState.from_dict(v) for k, v in d.items()}


# --------------------------------------------------------------------------- history
def _hist_rows(t, freq, mac, shape, env_names, env, rms) -> list[dict[str, Any]]:
    return [
        {
            "t": int(t[i]),
            "f": [None if not np.isfinite(x) else float(x) for x in freq[i]],
            "m": [None if not np.isfinite(x) else float(x) for x in mac[i]],
            "sr": np.asarray(shape[i].real, float).tolist(),
            "si": np.asarray(shape[i].imag, float).tolist(),
            "e": [None if not np.isfinite(env[n][i]) else float(env[n][i]) for n in env_names],
            "r": None if not np.isfinite(rms[i]) else float(rms[i]),
        }
        for i in range(len(t))
    ]


def _hist_arrays(rows, k: int, n_ch: int, env_names):
    n = len(rows)
    t = np.array([r["t"] for r in rows], np.int64)
    f = np.array([[np.nan if x is None else x for x in r["f"]] for r in rows], float).reshape(n, k)
    m = np.array([[np.nan if x is None else x for x in r["m"]] for r in rows], float).reshape(n, k)
    sr = np.array([r["sr"] for r in rows], float).reshape(n, k, n_ch)
    si = np.array([r["si"] for r in rows], float).reshape(n, k, n_ch)
    sh = sr + 1j * si
    env = {
        nm: np.array([np.nan if r["e"][j] is None else r["e"][j] for r in rows], float)
        for j, nm in enumerate(env_names)
    }
    rms = np.array([np.nan if r["r"] is None else r["r"] for r in rows], float)
    return t, f, m, sh.astype(np.complex64), env, rms


def _keep_hist(rows: list[dict[str, Any]], m: int, lag_ns: int) -> list[dict[str, Any]]:
    """The judged windows later windows still need (moving means, COMAC, lagged temperatures)."""
    if not rows:
        return rows
    first = max(0, len(rows) - max(m - 1, 4))
    cutoff = rows[first]["t"] - lag_ns
    keep = [i for i, r in enumerate(rows) if r["t"] >= cutoff]
    lo = keep[0] if keep else len(rows)
    # plus, per temperature, the last two windows with a valid value before the cutoff
    extra: set[int] = set()
    for j in range(len(rows[0]["e"])):
        got = 0
        for i in range(lo - 1, -1, -1):
            if rows[i]["e"][j] is not None:
                extra.add(i)
                got += 1
                if got == 2:
                    break
    idx = sorted(set(range(lo, len(rows))) | extra)
    return [rows[i] for i in idx]


# --------------------------------------------------------------------------- derive
def derive(w, st, *, planned_end: int | None, now_ns: int | None = None) -> DeriveOut:
    """Judge the windows stored since the last run, inside an open ResultsWriter.

    Parameters
    ----------
    w : bshm.store.results.ResultsWriter
    st : bshm.analysis.job_config.JobSettings
    planned_end : int or None
        End (ns) of the latest window of the raw store.
    now_ns : int, optional
        Wall-clock time of the run (for the records of model versions).

    Returns
    -------
    DeriveOut
    """
    from bshm.timeutil import now_ns as _now
    from bshm.timeutil import to_iso

    out = DeriveOut()
    job = w.read_json("job", {}) or {}
    fp = st.fingerprint()
    stored = {k: json.loads(v) for k, v in w.f["models"].attrs.items()} if "models" in w.f else {}
    if "settings" in stored and stored["settings"] != fp:
        from bshm.errors import ConfigError

        raise ConfigError(
            f"{w.path}: the window/identification settings changed since these "
            "results were computed; run with --reprocess to start again"
        )
    w.write_model("settings", fp)
    if not job.get("trained"):
        allw = _windows(w)
        if not allw:
            out.notes.append("no window stored yet")
            return out
        b0, b1, complete, note = _baseline(st, allw, planned_end)
        out.baseline, out.baseline_complete = (b0, b1), complete
        if note:
            out.notes.append(note)
        proc = allw["processed"].astype(bool)
        if not complete:
            _provisional(w, st, allw, proc, out)
            out.notes.append(
                f"baseline incomplete (until {to_iso(b1, digits=0)}): modes are "
                "tracked against a provisional reference; no damage indices yet"
            )
            return out
        job = _train(w, st, allw, (b0, b1), out, now_ns or _now())
        w.delete_group("tracks_provisional")
    b0, b1 = job["baseline"]
    out.baseline, out.baseline_complete = (b0, b1), True
    _check_baseline(st, (b0, b1), job)
    versions = [ModelVersion.from_dict(v) for v in w.read_json("model_versions", [])]
    mv = versions[-1]
    last = job.get("last_start")
    n_prev = job.get("n_seen")
    new = _windows(w, start_ns=int(last) + 1 if last is not None else None)
    if new:
        _judge(w, st, job, mv, new, out)
    total = w.n_windows()
    if n_prev is not None:
        out.late = max(0, total - int(n_prev) - (int(new["start_ns"].size) if new else 0))
    job["n_seen"] = total
    if out.late:
        out.notes.append(
            f"{out.late} window(s) older than the latest judged window were added (late "
            "files?): stored, not judged; run with --reprocess to judge them in order"
        )
    w.write_json("job", job)
    out.tracked_modes = job.get("tracked_modes", [])
    out.models = _models_summary(mv, job, st)
    return out


def _baseline(st, allw, planned_end):
    t, e = allw["start_ns"], allw["end_ns"]
    days = st.baseline_days
    b0, b1 = st.baseline
    if b0 is None and b1 is None:
        return default_baseline(t, e, days, planned_end)
    if b0 is None:
        b0 = int(b1 - days * DAY_NS)
    if b1 is None:
        b1 = int(b0 + days * DAY_NS)
    latest = max(int(e.max()), planned_end or 0)
    return int(b0), int(b1), latest >= b1, ""


def _check_baseline(st, trained: tuple[int, int], job: dict[str, Any]) -> None:
    b0, b1 = st.baseline
    if b0 is None and b1 is None:
        return
    want = (
        b0 if b0 is not None else trained[0],
        b1 if b1 is not None else (b0 + int(st.baseline_days * DAY_NS)),
    )
    if tuple(map(int, want)) != tuple(map(int, trained)):
        from bshm.errors import ConfigError
        from bshm.timeutil import to_iso

        raise ConfigError(
            f"the baseline {to_iso(want[0], digits=0)}..{to_iso(want[1], digits=0)} differs from "
            f"the one the models were trained on ({to_iso(trained[0], digits=0)}.."
            f"{to_iso(trained[1], digits=0)}): add a period with --extend-baseline FROM..TO, "
            "or retrain everything with --reprocess"
        )


def _provisional(w, st, allw, proc, out: DeriveOut) -> None:
    t = allw["start_ns"][proc]
    modes = _modes(w, t)
    try:
        ref = build_reference(modes, st.tracking)
    except AnalysisError as exc:
        out.notes.append(f"no provisional reference yet: {exc}")
        return
    tr = track(modes, ref, st.tracking)
    w.write_group(
        "tracks_provisional",
        {
            "time_ns": t,
            "frequency": tr.frequency,
            "damping": tr.damping,
            "mac": tr.mac,
            "shape": tr.shape,
            "ref_frequency": ref.frequency,
            "ref_shape": ref.shape.astype(np.complex64),
        },
        {"mode_ids": json.dumps(list(ref.ids)), "channels": json.dumps(list(st.window.channels))},
    )
    out.tracked_modes = _tracked_summary(ref.ids, tr.frequency)


def _tracked_summary(ids, freq: np.ndarray, counts: np.ndarray | None = None, sums=None):
    n = freq.shape[0]
    found = np.isfinite(freq).sum(axis=0) if counts is None else counts
    total = np.nansum(freq, axis=0) if sums is None else sums
    return [
        {
            "id": i,
            "mean_frequency_hz": float(s / c) if c else None,
            "availability": float(c / n) if n else 0.0,
        }
        for i, c, s in zip(ids, np.asarray(found), np.asarray(total))
    ]


def _train(w, st, allw, bl, out: DeriveOut, now: int) -> dict[str, Any]:
    """Train version 1 of the models on the baseline; return the initial job state."""
    from bshm.analysis.job_models import train_chain

    proc = allw["processed"].astype(bool)
    t = allw["start_ns"][proc]
    env = {k: v[proc] for k, v in allw["env"].items()}
    env_t = dict(env)
    modes = _modes(w, t)
    base = (t >= bl[0]) & (t < bl[1])
    if int(base.sum()) < 10:
        raise AnalysisError(
            f"only {int(base.sum())} processed windows in the baseline period; "
            "extend it (--baseline FROM..TO) or check the data quality"
        )
    ref = build_reference([m for m, b in zip(modes, base) if b], st.tracking)
    tr = track(modes, ref, st.tracking)
    chain = train_chain(t, tr.frequency, tr.mac, env_t, allw["rms"][proc], base, st, out.notes)
    mv = ModelVersion(1, now, [list(map(int, bl))], chain, int(base.sum()))
    w.write_json("model_versions", [mv.to_dict()])
    w.write_model("baseline", list(map(int, bl)))
    w.write_model("reference", ref.to_dict())
    _write_current_models(w, st, mv)
    return {
        "trained": True,
        "baseline": list(map(int, bl)),
        "periods": [list(map(int, bl))],
        "reference": ref.ids,
        "recent": [],
        "hist": [],
        "last_start": None,
        "last_assessable": None,
        "states": {},
        "counts": [0] * len(ref.ids),
        "sums": [0.0] * len(ref.ids),
        "n_judged": 0,
    }


def _write_current_models(w, st, mv: ModelVersion) -> None:
    primary = mv.chain[0]
    w.write_model("compensation", primary.compensation.to_dict())
    w.write_model("novelty", primary.novelty.to_dict())
    far = [persistence_rate(a, st.persistence_k, st.persistence_n) for a in st.novelty_alpha]
    w.write_model(
        "limits",
        {
            "novelty_alpha": list(st.novelty_alpha),
            "false_alarm_rate_with_persistence": far,
            "persistence": [st.persistence_k, st.persistence_n],
            "clear": [st.clear_m, st.clear_n],
            "frequency_shift_pct": list(st.frequency_shift_pct),
            "mac_drop": list(st.mac_drop),
        },
    )
    w.write_model(
        "conditions",
        {"version": mv.version, "chain": {c.name: c.conditions for c in mv.chain}},
    )


def _models_summary(mv: ModelVersion, job: dict[str, Any], st) -> dict[str, Any]:
    p = mv.chain[0]
    return {
        "compensation": p.compensation.kind,
        "quality": p.compensation.quality,
        "baseline_windows": mv.n_windows,
        "false_alarm_rate": [
            persistence_rate(a, st.persistence_k, st.persistence_n) for a in st.novelty_alpha
        ],
        "version": mv.version,
        "chain": mv.names,
        "training_periods": mv.periods,
        "conditions": mv.conditions_text(),
    }


# --------------------------------------------------------------------------- judging
def _judge(w, st, job: dict[str, Any], mv: ModelVersion, new: dict[str, Any], out: DeriveOut):
    """Judge the windows ``new`` (all stored windows after the last judged one)."""
    ref = ReferenceSet.from_dict(
        {k: v for k, v in json.loads(w.f["models"].attrs["reference"]).items()}
    )
    k, n_ch = len(ref.ids), ref.shape.shape[1]
    env_names = list(new["env"])
    proc = new["processed"].astype(bool)
    t_new = new["start_ns"][proc]
    modes = _modes(w, t_new)
    tr = track(modes, ref, st.tracking, recent=job.get("recent") or None)
    job["recent"] = tr.extra["recent"]
    env_new = {n: v[proc] for n, v in new["env"].items()}
    rms_new = new["rms"][proc].astype(float)
    h = job.get("hist", [])
    ht, hf, hm, hs, he, hr = _hist_arrays(h, k, n_ch, env_names)
    n_h = ht.size
    t = np.concatenate([ht, t_new])
    freq = np.vstack([hf, tr.frequency])
    mac = np.vstack([hm, tr.mac])
    shape = np.concatenate([hs, tr.shape])
    env = {n: np.concatenate([he[n], env_new[n]]) for n in env_names}
    rms = np.concatenate([hr, rms_new])
    ix, pred, chosen, inside, why = _indices(t, freq, mac, shape, env, rms, ref, mv, st)
    sel = slice(n_h, None)
    ixn = _slice(ix, sel)
    ch_new, in_new, why_new = chosen[sel], inside[sel], why[n_h:]
    grades = grade_windows(ixn, ref.ids, freq_levels=st.frequency_shift_pct, outside=~in_new)
    level = _feed_states(
        w, st, job, new, proc, ixn, grades, ch_new, in_new, why_new, env_new, mv, ref, out
    )
    base = in_periods(t_new, job["periods"])
    names = mv.names
    if t_new.size:
        w.append_rows(
            "tracks",
            {
                "time_ns": t_new,
                "frequency": tr.frequency,
                "damping": tr.damping,
                "mac": tr.mac,
                "shape": tr.shape,
            },
            {
                "mode_ids": json.dumps(list(ref.ids)),
                "channels": json.dumps(list(st.window.channels)),
            },
        )
        w.append_rows(
            "features",
            {
                "time_ns": t_new,
                "predicted": pred[sel],
                "residual": ixn.freq_shift_pct,
                "extrapolated": ~in_new,
                "baseline": base,
                "compensation": ch_new.astype(np.int8),
                "model_version": np.full(t_new.size, mv.version, np.int16),
            },
            {
                "model": mv.chain[0].compensation.kind,
                "unit": "%",
                "compensation_names": json.dumps(names),
            },
        )
        w.append_rows(
            "indices",
            {
                "time_ns": t_new,
                "freq_shift_pct": ixn.freq_shift_pct,
                "t2": ixn.t2,
                "t2_limits": ixn.t2_limits,
                "n_present": ixn.n_present,
                "mac_drop": ixn.mac_drop,
                "comac": ixn.comac,
                "level": level,
                "t2_avg": ixn.t2_avg,
                "t2_avg_limits": ixn.t2_avg_limits,
                "shift_avg_pct": ixn.shift_avg_pct,
                "window_level": grades.w,
                "clear_level": grades.c,
                "assessable": grades.assessable & (ch_new >= 0),
                "inside": in_new,
                "model_version": np.full(t_new.size, mv.version, np.int16),
                "compensation": ch_new.astype(np.int8),
            },
            {
                "novelty_alpha": json.dumps(list(st.novelty_alpha)),
                "false_alarm_rate": json.dumps(
                    [
                        persistence_rate(a, st.persistence_k, st.persistence_n)
                        for a in st.novelty_alpha
                    ]
                ),
                "frequency_shift_pct": json.dumps(list(st.frequency_shift_pct)),
                "compensation_names": json.dumps(names),
            },
        )
        found = np.isfinite(tr.frequency)
        job["counts"] = (np.asarray(job.get("counts", [0] * k)) + found.sum(axis=0)).tolist()
        job["sums"] = (
            np.asarray(job.get("sums", [0.0] * k)) + np.where(found, tr.frequency, 0).sum(axis=0)
        ).tolist()
        job["n_judged"] = int(job.get("n_judged", 0)) + int(t_new.size)
        rows = h + _hist_rows(t_new, tr.frequency, tr.mac, tr.shape, env_names, env_new, rms_new)
        lag = int(max(st.lags_h, default=0.0) * HOUR_NS)
        job["hist"] = _keep_hist(rows, max(st.average_windows, 5), lag)
    job["last_start"] = int(new["start_ns"].max())
    n_j = max(int(job.get("n_judged", 0)), 1)
    job["tracked_modes"] = [
        {"id": i, "mean_frequency_hz": (s / c) if c else None, "availability": c / n_j}
        for i, c, s in zip(ref.ids, job["counts"], job["sums"])
    ]
    out.judged += int(new["start_ns"].size)


def _indices(t, freq, mac, shape, env, rms, ref, mv: ModelVersion, st):
    """Indices of every row under each chain model; pick per row the first usable model."""
    n, k = freq.shape
    env_t = dict(env)
    env_t["time_ns"] = t
    per = []
    preds = []
    usable = np.zeros((len(mv.chain), n), bool)
    for ci, cm in enumerate(mv.chain):
        model = cm.compensation
        pr, res = model.residual_pct(freq, env_t)
        preds.append(pr)
        ix = compute_indices(
            t,
            res,
            mac,
            shape,
            ref.shape,
            cm.novelty,
            st.novelty_alpha,
            st.mac_drop,
            leverage=model.excess_leverage(freq, env_t, cm.novelty.average),
            model_error=model.extrapolation_error(freq, env_t, cm.novelty.average),
        )
        per.append(ix)
        usable[ci] = (
            np.isfinite(res).any(axis=1) if model.kind == "mlr" else np.isfinite(freq).any(axis=1)
        )
    chosen = np.full(n, -1)
    for ci in range(len(mv.chain) - 1, -1, -1):
        chosen[usable[ci]] = ci
    base = per[0]
    out = DamageIndices(
        base.time_ns,
        np.full((n, k), np.nan),
        np.full(n, np.nan),
        np.full((n, 3), np.nan),
        np.zeros(n, int),
        base.mac_drop,
        base.mac_limits,
        base.comac,
        np.full(n, np.nan),
        np.full((n, k), np.nan),
        np.full((n, 3), np.nan),
    )
    inside = np.zeros(n, bool)
    pred = np.full((n, k), np.nan)
    why: list[list[str]] = [[] for _ in range(n)]
    for ci, ix in enumerate(per):
        rows = chosen == ci
        if not rows.any():
            continue
        pred[rows] = preds[ci][rows]
        out.freq_shift_pct[rows] = ix.freq_shift_pct[rows]
        out.t2[rows] = ix.t2[rows]
        out.t2_limits[rows] = ix.t2_limits[rows]
        out.n_present[rows] = ix.n_present[rows]
        out.t2_avg[rows] = ix.t2_avg[rows]
        out.t2_avg_limits[rows] = ix.t2_avg_limits[rows]
        out.shift_avg_pct[rows] = ix.shift_avg_pct[rows]
        ins, wh = inside_conditions(mv.chain[ci].conditions, env, rms)
        inside[rows] = ins[rows]
        for i in np.flatnonzero(rows):
            why[i] = wh[i]
    return out, pred, chosen, inside, why


def _slice(ix: DamageIndices, sel) -> DamageIndices:
    return DamageIndices(
        ix.time_ns[sel],
        ix.freq_shift_pct[sel],
        ix.t2[sel],
        ix.t2_limits[sel],
        ix.n_present[sel],
        ix.mac_drop[sel],
        ix.mac_limits,
        ix.comac[sel],
        None if ix.t2_avg is None else ix.t2_avg[sel],
        None if ix.shift_avg_pct is None else ix.shift_avg_pct[sel],
        None if ix.t2_avg_limits is None else ix.t2_avg_limits[sel],
    )


# --------------------------------------------------------------------------- alarm states
def _feed_states(w, st, job, new, proc, ixn, grades, chosen, inside, why, env_new, mv, ref, out):
    """Feed the structural, conditions and assessment states in time order; return the
    structural level after each processed window."""

    rule = _rule(st)
    states = _states(job.get("states", {}))
    sv = states.setdefault("structural", SubjectState("structural", "structural"))
    cond = states.setdefault(
        "monitoring:conditions", SubjectState("monitoring:conditions", "monitoring")
    )
    asm = states.setdefault(
        "monitoring:assessment", SubjectState("monitoring:assessment", "monitoring")
    )
    b1 = job["baseline"][1]
    limit = int(st.interrupted_after_s * 1e9)
    level = np.zeros(int(proc.sum()), np.int8)
    pi = -1
    for j in range(new["start_ns"].size):
        t0 = int(new["start_ns"][j])
        t_end = int(new["end_ns"][j])
        ok = False
        if proc[j]:
            pi += 1
            ok = bool(grades.assessable[pi]) and chosen[pi] >= 0
        if t0 < b1:
            if ok:
                level[pi] = sv.level
            continue
        last = job.get("last_assessable")
        if ok:
            job["last_assessable"] = t0
            if asm.level:
                ch = asm.force(t0, 0)
                a = assessment_alarm(ch, st, t0, last)
                asm.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
                out.alarms.append(a)
            c_clear = int(grades.c[pi]) if inside[pi] else NO_CLEAR
            ch = sv.feed(t0, int(grades.w[pi]), c_clear, rule)
            if ch is not None:
                a = structural_alarm(ch, ixn, pi, grades, ref, st, not inside[pi])
                sv.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
                out.alarms.append(a)
            out_flag = 0 if inside[pi] else 1
            ch = cond.feed(t0, out_flag, out_flag, rule)
            if ch is not None:
                a = conditions_alarm(ch, st, mv, env_new, pi, why[pi], chosen[pi], new, proc)
                cond.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
                out.alarms.append(a)
            level[pi] = sv.level
            continue
        if proc[j]:
            level[pi] = sv.level
        since = last if last is not None else b1
        if limit > 0 and asm.level == 0 and t_end - since > limit:
            ch = asm.force(since + limit, 2)
            a = assessment_alarm(ch, st, since + limit, last, str(new["reason"][j]))
            asm.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
            out.alarms.append(a)
    job["states"] = {k: v.to_dict() for k, v in states.items()}
    return level
