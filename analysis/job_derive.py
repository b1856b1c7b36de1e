"""Derived results of the job: tracking, compensation, indices and alarms.

Recomputed from every stored window at each run (cheap next to the
identification), with the models trained once on the baseline and stored.
Tracking is causal, so the result of a window never depends on later ones:
processing a history in one run or in many gives the same results.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bshm.analysis.compensation import CompensationModel, fit_compensation
from bshm.analysis.damage import (
    NoveltyModel,
    compute_indices,
    fit_novelty,
    grade_alarms,
    persistence_rate,
)
from bshm.analysis.tracking import ReferenceSet, WindowModes, build_reference, track

from bshm.errors import AnalysisError

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 1_000_000_000


@dataclass
class DeriveOut:
    """What :func:`derive` produced."""

    alarms: list[Any] = field(default_factory=list)
    tracked_modes: list[dict[str, Any]] = field(default_factory=list)
    baseline: tuple[int, int] | None = None
    baseline_complete: bool = False
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _load(w) -> tuple[np.ndarray, list[WindowModes], dict[str, np.ndarray]]:
    f = w.f
    if "windows" not in f:
        return np.zeros(0, np.int64), [], {}
    starts = f["windows/start_ns"][()]
    processed = f["windows/processed"][()].astype(bool)
    names = json.loads(f["environment"].attrs["names"])
    envv = f["environment/values"][()]
    order = np.argsort(starts, kind="stable")
    order = order[processed[order]]
    t = starts[order]
    env = {n: envv[order, i] for i, n in enumerate(names)}
    env["rms"] = f["windows/rms"][()][order]
    modes = []
    if "modes" in f:
        ws = f["modes/window_start_ns"][()]
        srt = np.argsort(ws, kind="stable")
        ws_s = ws[srt]
        fr, dp, sh = (
            f["modes/frequency"][()][srt],
            f["modes/damping"][()][srt],
            f["modes/shape"][()][srt],
        )
        lo = np.searchsorted(ws_s, t, "left")
        hi = np.searchsorted(ws_s, t, "right")
        for ti, a, b in zip(t.tolist(), lo.tolist(), hi.tolist()):
            modes.append(WindowModes(ti, fr[a:b], dp[a:b], sh[a:b].T))
    else:
        modes = [WindowModes(ti, np.zeros(0), np.zeros(0), np.zeros((0, 0))) for ti in t.tolist()]
    return t, modes, env


def _models(w) -> dict[str, Any]:
    if "models" not in w.f:
        return {}
    return {k: json.loads(v) for k, v in w.f["models"].attrs.items()}


def derive(w, st, *, planned_end: int | None) -> DeriveOut:
    """Recompute tracks, features, indices and alarms inside an open ResultsWriter.

    Parameters
    ----------
    w : bshm.store.results.ResultsWriter
    st : bshm.analysis.job_config.JobSettings
    planned_end : int or None
        End (ns) of the latest window of the raw store.

    Returns
    -------
    DeriveOut
    """
    out = DeriveOut()
    t, modes, env = _load(w)
    if t.size == 0:
        out.notes.append("no processed window yet")
        return out
    stored = _models(w)
    fp = st.fingerprint()
    if "settings" in stored and stored["settings"] != fp:
        from bshm.errors import ConfigError

        raise ConfigError(
            f"{w.path}: the window/identification settings changed since these "
            "results were computed; run with --reprocess to start again"
        )
    w.write_model("settings", fp)
    starts_all = w.f["windows/start_ns"][()]
    b0 = st.baseline[0] if st.baseline[0] is not None else int(starts_all.min())
    b1 = st.baseline[1] if st.baseline[1] is not None else b0 + int(st.baseline_days * DAY_NS)
    out.baseline = (b0, b1)
    latest = max(int(w.f["windows/end_ns"][()].max()), planned_end or 0)
    out.baseline_complete = latest >= b1
    base = (t >= b0) & (t < b1)
    old = stored.get("baseline")
    trained = old is not None and tuple(old) == (b0, b1) and "reference" in stored
    if trained:
        ref = ReferenceSet.from_dict(stored["reference"])
    else:
        use = [m for m, b in zip(modes, base) if b] if out.baseline_complete else modes
        ref = build_reference(use, st.tracking)
    tr = track(modes, ref, st.tracking)
    out.tracked_modes = [
        {
            "id": i,
            "mean_frequency_hz": float(np.nanmean(c)) if np.isfinite(c).any() else None,
            "availability": float(a),
        }
        for i, c, a in zip(tr.ids, tr.frequency.T, tr.availability)
    ]
    w.write_group(
        "tracks",
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
    if not out.baseline_complete:
        from bshm.timeutil import to_iso

        out.notes.append(
            f"baseline incomplete (until {to_iso(b1, digits=0)}): modes are "
            "tracked against a provisional reference; no damage indices yet"
        )
        return out
    if int(base.sum()) < 10:
        raise AnalysisError(
            f"only {int(base.sum())} processed windows in the baseline period; "
            "extend it (--baseline FROM..TO) or check the data quality"
        )
    comp_model = CompensationModel.from_dict(stored["compensation"]) if trained else None
    comp = fit_compensation(
        t, tr.frequency, env, base, temperatures=st.temperatures, lags_h=st.lags_h, model=comp_model
    )
    nov = (
        NoveltyModel.from_dict(stored["novelty"])
        if trained
        else fit_novelty(
            _cv_residual(t, tr.frequency, env, base, st, comp.residual),
            tr.mac,
            base,
            st.average_windows,
        )
    )
    if not trained:
        w.write_model("baseline", [b0, b1])
        w.write_model("reference", ref.to_dict())
        w.write_model("compensation", comp.model.to_dict())
        w.write_model("novelty", nov.to_dict())
    far = [persistence_rate(a, st.persistence_k, st.persistence_n) for a in st.novelty_alpha]
    w.write_model(
        "limits",
        {
            "novelty_alpha": list(st.novelty_alpha),
            "false_alarm_rate_with_persistence": far,
            "persistence": [st.persistence_k, st.persistence_n],
            "frequency_shift_pct": list(st.frequency_shift_pct),
            "mac_drop": list(st.mac_drop),
        },
    )
    out.models = {
        "compensation": comp.model.kind,
        "quality": comp.model.quality,
        "baseline_windows": int(base.sum()),
        "false_alarm_rate": far,
    }
    w.write_group(
        "features",
        {
            "time_ns": t,
            "predicted": comp.predicted,
            "residual": comp.residual,
            "extrapolated": comp.extrapolated,
            "baseline": base,
        },
        {"model": comp.model.kind, "unit": "%"},
    )
    env_t = dict(env)
    env_t["time_ns"] = t
    ix = compute_indices(
        t,
        comp.residual,
        tr.mac,
        tr.shape,
        ref.shape,
        nov,
        st.novelty_alpha,
        st.mac_drop,
        leverage=comp.model.excess_leverage(tr.frequency, env_t, nov.average),
        model_error=comp.model.extrapolation_error(tr.frequency, env_t, nov.average),
    )
    # alarms only after the baseline: the baseline is normal by definition
    after = t >= b1
    alarms, level = grade_alarms(
        _slice(ix, after),
        ref.ids,
        ref.frequency,
        st.window.channels,
        freq_levels=st.frequency_shift_pct,
        novelty_alpha=st.novelty_alpha,
        k=st.persistence_k,
        n=st.persistence_n,
        station=st.station,
        channel_x=st.channel_x or None,
        n_avg=nov.average,
    )
    lv = np.zeros(t.size, np.int8)
    lv[after] = level
    w.write_group(
        "indices",
        {
            "time_ns": t,
            "freq_shift_pct": ix.freq_shift_pct,
            "t2": ix.t2,
            "t2_limits": ix.t2_limits,
            "n_present": ix.n_present,
            "mac_drop": ix.mac_drop,
            "mac_limits": ix.mac_limits,
            "comac": ix.comac,
            "level": lv,
            "t2_avg": ix.t2_avg,
            "shift_avg_pct": ix.shift_avg_pct,
        },
        {
            "novelty_alpha": json.dumps(list(st.novelty_alpha)),
            "false_alarm_rate": json.dumps(far),
            "frequency_shift_pct": json.dumps(list(st.frequency_shift_pct)),
        },
    )
    out.alarms = alarms
    return out


def _cv_residual(t, freq, env, base, st, in_sample, folds: int = 4):
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
            c = fit_compensation(
                t, freq, env, train, temperatures=st.temperatures, lags_h=st.lags_h
            )
        except AnalysisError:
            continue
        out[block] = c.residual[block]
    return out


def _slice(ix, mask):
    from bshm.analysis.damage import DamageIndices

    return DamageIndices(
        ix.time_ns[mask],
        ix.freq_shift_pct[mask],
        ix.t2[mask],
        ix.t2_limits[mask],
        ix.n_present[mask],
        ix.mac_drop[mask],
        ix.mac_limits,
        ix.comac[mask],
        ix.t2_avg[mask],
        ix.shift_avg_pct[mask],
    )
