"""Damage indices, novelty detection and graded alarms.

Indices per window (computed from the tracked modes and the compensated
residuals):

``frequency_shift``
    The compensated frequency residual of each mode, in percent (negative =
    softer than expected for the measured conditions). Graded by
    ``AlarmSettings.frequency_shift_pct`` on ``|residual|``.
``t2``
    Hotelling's T^2 of the residual vector against the baseline mean and
    covariance (the Mahalanobis distance squared). With ``p`` modes present
    and ``n`` baseline windows, the control limit for a false-alarm rate
    ``alpha`` per window is the Phase II limit
    ``p (n + 1)(n - 1) / (n (n - p)) F_{1-alpha}(p, n - p)`` (Tracy, Young and
    Mason 1992), evaluated for the modes actually present in each window.
    Outside the baseline conditions the covariance also carries the
    compensation's prediction variance and a possible model error along the
    temperature pattern (``compute_indices(leverage=..., model_error=...)``).
``mac``
    The drop of the MAC between each tracked shape and the reference shape
    below its baseline median. The graded limits are
    ``AlarmSettings.mac_drop`` plus the baseline spread of that mode's MAC
    (median minus 1st percentile), so that noisy shapes of weakly excited
    modes do not alarm.
``comac``
    COMAC per channel over the tracked modes of recent windows against the
    reference: where the shapes changed (used in the messages).

Grading: :func:`grade_windows` gives each window its *raise* level (the
highest level whose limit any index exceeds) and its *clear* level (the
same against lower clear limits); the structural alarm state
(:mod:`bshm.analysis.alarm_state`) turns them into state changes with
hysteresis: raised on ``k`` of ``n`` windows, lowered on ``m`` of ``n``
windows below the clear limits. Under independence the false-alarm rate
per window of level L is about ``C(n, k) alpha^k`` for ``t2``; the moving
mean ``t2_avg`` exceeds in runs, so its limits use smaller rates
(:data:`AVG_ALPHA_FACTOR`).

References
----------
Tracy, N. D., Young, J. C., Mason, R. L. (1992). Multivariate control charts
for individual observations. J. Qual. Technol. 24(2), 88-95.
https://doi.org/10.1080/00224065.1992.11979381
Lieven, N. A. J., Ewins, D. J. (1988). Spatial correlation of mode shapes,
the coordinate modal assurance criterion (COMAC). Proc. IMAC VI, 690-695.
Worden, K., Manson, G., Fieller, N. R. J. (2000). Damage detection using
outlier analysis. J. Sound Vib. 229(3), 647-667.
https://doi.org/10.1006/jsvi.1999.2514
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb
from typing import Any

import numpy as np

from bshm.errors import AnalysisError

__all__ = [
    "DamageIndices",
    "NoveltyModel",
    "comac",
    "compute_indices",
    "fit_novelty",
    "grade_windows",
    "persistence_rate",
    "t2_limit",
]


def t2_limit(alpha: float, p: int, n: int) -> float:
    """Phase II Hotelling T^2 upper control limit.

    Parameters
    ----------
    alpha : float
        False-alarm probability per window.
    p : int
        Number of features.
    n : int
        Number of baseline windows.

    Returns
    -------
    float
    """
    from scipy.stats import f

    if n <= p:
        return np.inf
    return float(p * (n + 1) * (n - 1) / (n * (n - p)) * f.ppf(1.0 - alpha, p, n - p))


def persistence_rate(alpha: float, k: int, n: int) -> float:
    """Probability that at least k of n independent windows exceed a limit of rate alpha."""
    return float(sum(comb(n, i) * alpha**i * (1 - alpha) ** (n - i) for i in range(k, n + 1)))


@dataclass
class NoveltyModel:
    """Baseline statistics of the residuals (JSON-serialisable).

    Attributes
    ----------
    mean : list of float, shape (k,)
    cov : list of list of float, shape (k, k)
    n : int
        Baseline windows with every mode present.
    mac_median, mac_spread : list of float, shape (k,)
    residual_std : list of float, shape (k,)
    average : int
        Windows averaged by the smoothed indices.
    kappa : list of float, shape (k,)
        Variance inflation of the averaged residual over the independent-window
        value ``sigma^2 / m`` (autocorrelation), measured on the baseline, >= 1.
    """

    mean: list[float]
    cov: list[list[float]]
    n: int
    mac_median: list[float]
    mac_spread: list[float]
    residual_std: list[float] = field(default_factory=list)
    average: int = 1
    kappa: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoveltyModel:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**d)


def fit_novelty(
    residual: np.ndarray, mac: np.ndarray, baseline: np.ndarray, average: int = 1
) -> NoveltyModel:
    """Baseline mean/covariance of the residuals and MAC statistics.

    Parameters
    ----------
    residual : ndarray, shape (n_w, k)
        Compensated residuals (%).
    mac : ndarray, shape (n_w, k)
        MAC of each tracked shape to the reference.
    baseline : ndarray of bool, shape (n_w,)
    average : int
        Windows averaged by the smoothed indices (``t2_avg``, frequency shift).

    Returns
    -------
    NoveltyModel

    Raises
    ------
    AnalysisError
        If fewer than k + 3 baseline windows have every mode.
    """
    r = residual[baseline]
    k = r.shape[1]
    fin = np.isfinite(r)
    complete = np.all(fin, axis=1)
    counts = fin.sum(axis=0)
    if k == 0 or counts.min() < 5:
        raise AnalysisError(
            f"novelty model: a tracked mode was found in only {int(counts.min(initial=0))} "
            "baseline windows; extend the baseline"
        )
    mu = np.nanmean(r, axis=0)
    if complete.sum() >= max(k + 3, 0.5 * r.shape[0]):
        cov = np.cov(r[complete], rowvar=False).reshape(k, k)
        n = int(complete.sum())
    else:
        # pairwise covariance from the windows each pair of modes shares,
        # made positive definite; n = the smallest pairwise sample size
        pair = fin.T.astype(float) @ fin.astype(float)
        cov = np.ma.cov(np.ma.masked_invalid(r), rowvar=False).filled(0.0).reshape(k, k)
        w, v = np.linalg.eigh(cov)
        cov = (v * np.maximum(w, 1e-6 * max(w.max(), 1e-12))) @ v.T
        n = int(max(pair[pair > 0].min(), k + 2))
    cov = cov + np.eye(k) * 1e-9 * max(np.trace(cov) / max(k, 1), 1e-12)
    m = mac[baseline]
    med = np.array([np.nanmedian(c) if np.isfinite(c).any() else 1.0 for c in m.T])
    p01 = np.array([np.nanpercentile(c, 1) if np.isfinite(c).any() else 1.0 for c in m.T])
    kappa = np.ones(k)
    if average > 1:
        rb = np.where(baseline[:, None], residual, np.nan)
        mb, cb = moving_mean(rb - mu, average)
        full = baseline & np.all(cb >= max(2, average // 2), axis=1)
        for j in range(k):
            mj = mb[full, j]
            if mj.size >= 5:
                expect = np.diag(cov)[j] * np.mean(1.0 / cb[full, j])
                kappa[j] = max(1.0, float(np.mean(mj**2) / expect))
    return NoveltyModel(
        mu.tolist(),
        cov.tolist(),
        n,
        med.tolist(),
        (med - p01).tolist(),
        np.sqrt(np.diag(cov)).tolist(),
        int(average),
        kappa.tolist(),
    )


def moving_mean(x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Causal mean over the last ``m`` rows, ignoring NaN.

    Each row's sum is accumulated in the same order (oldest row first)
    whatever rows precede the window, so the mean of a row does not depend
    on where the series starts: computing a long series in pieces (with the
    previous ``m - 1`` rows in front of each piece) gives bit-identical values.

    Parameters
    ----------
    x : ndarray, shape (n, k)
    m : int

    Returns
    -------
    mean : ndarray, shape (n, k)
        NaN where no value was available.
    count : ndarray of int, shape (n, k)
    """
    x = np.asarray(x, float)
    m = max(1, int(m))
    n = x.shape[0]
    fin = np.isfinite(x)
    v = np.where(fin, x, 0.0)
    s = np.zeros_like(v)
    c = np.zeros(x.shape, int)
    for lag in range(m - 1, -1, -1):  # oldest first
        if lag >= n:
            continue
        s[lag:] += v[: n - lag]
        c[lag:] += fin[: n - lag]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan), c


def comac(shapes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """COMAC per channel.

    Parameters
    ----------
    shapes : ndarray, shape (k, n_ch), complex
        Current shapes of the k modes (phase-aligned to the reference).
    reference : ndarray, shape (k, n_ch), complex

    Returns
    -------
    ndarray, shape (n_ch,)
        1 = unchanged; lower = the shapes changed at that channel.
    """
    a = np.abs(np.asarray(shapes))
    b = np.abs(np.asarray(reference))
    num = np.sum(a * b, axis=0) ** 2
    den = np.sum(a**2, axis=0) * np.sum(b**2, axis=0)
    return np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)


@dataclass
class DamageIndices:
    """Indices per window.

    Attributes
    ----------
    time_ns : ndarray, shape (n_w,)
    freq_shift_pct : ndarray, shape (n_w, k)
    t2 : ndarray, shape (n_w,)
    t2_limits : ndarray, shape (n_w, 3)
        Limits for the modes present in each window.
    t2_avg : ndarray, shape (n_w,)
        T^2 of the residual averaged over the last ``model.average`` windows,
        against the covariance of such an average (``Sigma / m`` inflated by
        the autocorrelation ``kappa`` calibrated empirically on the baseline,
        plus the compensation's error outside the baseline conditions, which
        does not average out): about the same false-alarm rate (approximate,
        as ``kappa`` is estimated), sqrt(m) times more sensitive to a lasting
        shift.
    shift_avg_pct : ndarray, shape (n_w, k)
        Frequency residual averaged over the same windows (%).
    n_present : ndarray, shape (n_w,)
    mac_drop : ndarray, shape (n_w, k)
    mac_limits : ndarray, shape (k, 3)
    comac : ndarray, shape (n_w, n_ch)
    t2_avg_limits : ndarray, shape (n_w, 3)
        Limits of ``t2_avg``: the same Phase II limits at the smaller rates
        ``AVG_ALPHA_FACTOR * novelty_alpha``. A moving mean exceeds its limit in
        runs of consecutive windows, so the k-of-n persistence does not lower
        its false-alarm rate the way it does for independent windows; its own
        per-window rate has to be small instead.
    """

    time_ns: np.ndarray
    freq_shift_pct: np.ndarray
    t2: np.ndarray
    t2_limits: np.ndarray
    n_present: np.ndarray
    mac_drop: np.ndarray
    mac_limits: np.ndarray
    comac: np.ndarray
    t2_avg: np.ndarray | None = None
    shift_avg_pct: np.ndarray | None = None
    t2_avg_limits: np.ndarray | None = None


#: Rates of the limits of the averaged T^2 relative to ``novelty_alpha`` (see
#: :class:`DamageIndices`): with 1e-2, 1e-3, 1e-4 they are 5e-4, 5e-5, 5e-6 per
#: window, about 1e-4, 1e-5, 1e-6 raises per window once the runs of
#: exceedances of a 12-window mean are counted (``benchmarks/bench_alarm_rules.py``).
AVG_ALPHA_FACTOR = 0.05


def compute_indices(
    time_ns: np.ndarray,
    residual: np.ndarray,
    mac: np.ndarray,
    shapes: np.ndarray,
    ref_shape: np.ndarray,
    model: NoveltyModel,
    novelty_alpha: Sequence[float],
    mac_drop: Sequence[float],
    comac_windows: int = 5,
    leverage: tuple[np.ndarray, np.ndarray] | None = None,
    model_error: tuple[np.ndarray, np.ndarray] | None = None,
) -> DamageIndices:
    """Damage indices of every window.

    Parameters
    ----------
    time_ns : ndarray, shape (n_w,)
    residual : ndarray, shape (n_w, k)
        Compensated residuals (%).
    mac : ndarray, shape (n_w, k)
    shapes : ndarray, shape (n_w, k, n_ch), complex
        Tracked shapes (zeros where missing).
    ref_shape : ndarray, shape (k, n_ch), complex
    model : NoveltyModel
    novelty_alpha : sequence of 3 float
        False-alarm rate per window of each level's T^2 limit.
    mac_drop : sequence of 3 float
        Graded MAC drops.
    comac_windows : int
        Windows averaged for the COMAC.
    leverage : (ndarray, ndarray), each shape (n_w, k), optional
        Excess leverage of the compensation regression for each window and
        for the mean of the last ``model.average`` windows
        (:meth:`CompensationModel.excess_leverage`). The regression's
        prediction error, ``Sigma_ab sqrt(h_a h_b)``, is added to the
        covariance of ``t2`` and ``t2_avg``: outside the baseline conditions
        the expected frequency is less certain, and that uncertainty is shared
        by all averaged windows. None: no addition.
    model_error : (ndarray, ndarray), each shape (n_w, k), optional
        Scale ``u`` (%) of a possible compensation error common to all modes
        for each window and for the mean of the last ``model.average``
        windows (:meth:`CompensationModel.extrapolation_error`), added as
        ``u u^T`` to the covariances. None: no addition.

    Returns
    -------
    DamageIndices
    """
    n_w, k = residual.shape
    mu = np.asarray(model.mean)
    cov = np.asarray(model.cov).reshape(k, k)
    t2 = np.full(n_w, np.nan)
    lim = np.full((n_w, 3), np.nan)
    npres = np.isfinite(residual).sum(axis=1)
    if leverage is None:
        h1 = ha = np.zeros((n_w, k))
    else:
        h1, ha = (np.sqrt(np.maximum(np.asarray(h, float), 0.0)) for h in leverage)
    if model_error is None:
        u1 = ua = np.zeros((n_w, k))
    else:
        u1, ua = (np.nan_to_num(np.asarray(u, float)) for u in model_error)
    cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(n_w):
        ok = np.isfinite(residual[i])
        if not ok.any():
            continue
        key = tuple(ok)
        if key not in cache:
            sub = cov[np.ix_(ok, ok)]
            cache[key] = (
                np.linalg.inv(sub),
                np.array([t2_limit(a, int(ok.sum()), model.n) for a in novelty_alpha]),
            )
        inv, limits = cache[key]
        d = residual[i, ok] - mu[ok]
        s, u = h1[i, ok], u1[i, ok]
        if s.any() or u.any():
            sub = cov[np.ix_(ok, ok)] * (1 + np.outer(s, s)) + np.outer(u, u)
            t2[i] = float(d @ np.linalg.solve(sub, d))
        else:
            t2[i] = float(d @ inv @ d)
        lim[i] = limits
    m = max(1, int(model.average))
    ravg, cnt = moving_mean(residual, m)
    t2a = np.full(n_w, np.nan)
    lim_a = np.full((n_w, 3), np.nan)
    avg_cache: dict[int, np.ndarray] = {}
    kap = np.sqrt(np.asarray(model.kappa if model.kappa else np.ones(k)))
    fin = np.isfinite(residual)
    for i in range(n_w):
        ok = np.isfinite(ravg[i])
        if not ok.any():
            continue
        lo = max(0, i - m + 1)
        f = fin[lo : i + 1][:, ok].astype(float)
        nab = f.T @ f
        na = cnt[i, ok].astype(float)
        sub = cov[np.ix_(ok, ok)] * nab / np.outer(na, na) * np.outer(kap[ok], kap[ok])
        sub = sub + cov[np.ix_(ok, ok)] * np.outer(ha[i, ok], ha[i, ok])
        sub = sub + np.outer(ua[i, ok], ua[i, ok])
        d = ravg[i, ok] - mu[ok]
        try:
            t2a[i] = float(d @ np.linalg.solve(sub, d))
        except np.linalg.LinAlgError:
            continue
        p = int(ok.sum())
        if p not in avg_cache:
            avg_cache[p] = np.array(
                [t2_limit(a * AVG_ALPHA_FACTOR, p, model.n) for a in novelty_alpha]
            )
        lim_a[i] = avg_cache[p]
    drop = np.asarray(model.mac_median)[None, :] - mac
    mlim = np.asarray(mac_drop)[None, :] + np.asarray(model.mac_spread)[:, None]
    n_ch = ref_shape.shape[1]
    cm = np.ones((n_w, n_ch))
    for i in range(n_w):
        lo = max(0, i - comac_windows + 1)
        a = np.abs(shapes[lo : i + 1])  # (m, k, n_ch); NaN: channel excluded in that window
        fin = np.isfinite(a)
        present = np.nansum(a, axis=2) > 0  # (m, k)
        if not present.any():
            continue
        use = fin & present[:, :, None]
        cnt = use.sum(axis=0)  # (k, n_ch)
        avg = np.where(cnt > 0, np.where(use, a, 0.0).sum(axis=0) / np.maximum(cnt, 1), 0.0)
        keep = present.any(axis=0)
        seen = cnt[keep].all(axis=0)  # channels known for every kept mode
        if seen.any():
            cm[i, seen] = comac(avg[keep][:, seen], ref_shape[keep][:, seen])
    return DamageIndices(
        np.asarray(time_ns, np.int64),
        residual.copy(),
        t2,
        lim,
        npres,
        drop,
        mlim,
        cm,
        t2a,
        ravg,
        lim_a,
    )


def _grade(values: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Highest level whose limit each value exceeds; values (n,), limits (n, 3)."""
    lv = np.zeros(values.size, np.int8)
    for L in range(3):
        with np.errstate(invalid="ignore"):
            lv[np.nan_to_num(values, nan=-np.inf) > limits[:, L]] = L + 1
    return lv


@dataclass
class WindowGrades:
    """Graded levels of each window, for the structural alarm state.

    Attributes
    ----------
    w : ndarray of int8, shape (n_w,)
        Highest level whose raise limit any index of the window exceeds.
    c : ndarray of int8, shape (n_w,)
        Highest level whose *clear* limit (``clear_ratio`` x the raise limit
        for the frequency shift and the MAC drop, ``clear_ratio**2`` x for
        the squared T^2 distances) any index exceeds; ``c >= w``.
    assessable : ndarray of bool, shape (n_w,)
        At least one index could be computed.
    driver : list of (str, str or None, float, float)
        Per window: the index with the highest level (ties: the largest
        ratio to its level-1 limit), its mode, value and the limit of its
        level (or of level 1 when below it).
    """

    w: np.ndarray
    c: np.ndarray
    assessable: np.ndarray
    driver: list[tuple[str, str | None, float, float]]


def grade_windows(
    ix: DamageIndices,
    ids: Sequence[str],
    *,
    freq_levels: Sequence[float],
    clear_ratio: float = 0.7,
    outside: np.ndarray | None = None,
) -> WindowGrades:
    """Raise and clear levels of every window from its indices.

    Indices graded: the frequency shift of each mode (the averaged one when
    present) against ``freq_levels`` (%), the MAC drop of each mode against
    ``ix.mac_limits``, ``t2`` against ``ix.t2_limits`` and ``t2_avg`` against
    ``ix.t2_avg_limits``. NaN
    indices carry no evidence. For windows ``outside`` the trained
    conditions the frequency shift is not graded: it is a residual of a
    compensation that extrapolates there, with fixed limits, while the T^2
    indices carry the compensation's extrapolation error in their covariance.

    Parameters
    ----------
    ix : DamageIndices
    ids : sequence of str
        Tracked mode ids (columns of the per-mode indices).
    freq_levels : sequence of 3 float
    clear_ratio : float
        Clear limits as a fraction of the raise limits (0 < ratio <= 1).
    outside : ndarray of bool, shape (n_w,), optional
        Windows outside the trained conditions.

    Returns
    -------
    WindowGrades
    """
    n_w = ix.t2.size
    shift = ix.shift_avg_pct if ix.shift_avg_pct is not None else ix.freq_shift_pct
    if outside is not None and np.any(outside):
        shift = np.where(np.asarray(outside, bool)[:, None], np.nan, shift)
    fl = np.tile(np.asarray(freq_levels, float), (n_w, 1))
    entries: list[tuple[str, str | None, np.ndarray, np.ndarray, float]] = []
    for j, mid in enumerate(ids):
        entries.append(("frequency_shift", mid, np.abs(shift[:, j]), fl, clear_ratio))
        entries.append(
            ("mac", mid, ix.mac_drop[:, j], np.tile(ix.mac_limits[j], (n_w, 1)), clear_ratio)
        )
    entries.append(("t2", None, ix.t2, ix.t2_limits, clear_ratio**2))
    if ix.t2_avg is not None:
        lim_a = ix.t2_avg_limits if ix.t2_avg_limits is not None else ix.t2_limits
        entries.append(("t2_avg", None, ix.t2_avg, lim_a, clear_ratio**2))
    w = np.zeros(n_w, np.int8)
    c = np.zeros(n_w, np.int8)
    best = np.full(n_w, -np.inf)
    pick = np.full(n_w, -1)
    lvl_of = []
    assessable = np.zeros(n_w, bool)
    for e, (_, _, v, lim, cr) in enumerate(entries):
        v = np.asarray(v, float)
        lv = _grade(v, lim)
        lvl_of.append(lv)
        w = np.maximum(w, lv)
        c = np.maximum(c, _grade(v, lim * cr))
        fin = np.isfinite(v)
        assessable |= fin
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(fin, lv * 1e6 + v / lim[:, 0], -np.inf)
        better = score > best
        best[better] = score[better]
        pick[better] = e
    driver: list[tuple[str, str | None, float, float]] = []
    for i in range(n_w):
        if pick[i] < 0:
            driver.append(("", None, float("nan"), float("nan")))
            continue
        name, mid, vals, lims, _ = entries[pick[i]]
        top = int(lvl_of[pick[i]][i])
        driver.append((name, mid, float(vals[i]), float(lims[i, max(top, 1) - 1])))
    return WindowGrades(w, c, assessable, driver)


def window_fields(ix: DamageIndices, i: int, ids: Sequence[str], grades: WindowGrades) -> dict:
    """The indices of window ``i`` that drove a state change (JSON-ready ``fields``)."""

    def num(x: Any) -> float | None:
        x = float(x)
        return round(x, 6) if np.isfinite(x) else None

    shift = ix.shift_avg_pct if ix.shift_avg_pct is not None else ix.freq_shift_pct
    out: dict[str, Any] = {
        "t2": num(ix.t2[i]),
        "t2_avg": num(ix.t2_avg[i]) if ix.t2_avg is not None else None,
        "t2_limits": [num(x) for x in ix.t2_limits[i]],
        "t2_avg_limits": (
            [num(x) for x in ix.t2_avg_limits[i]] if ix.t2_avg_limits is not None else None
        ),
        "freq_shift_pct": {m: num(shift[i, j]) for j, m in enumerate(ids)},
        "mac_drop": {m: num(ix.mac_drop[i, j]) for j, m in enumerate(ids)},
        "window_level": int(grades.w[i]),
        "driver": grades.driver[i][0],
    }
    return out


def structural_message(
    lv: int,
    event: str,
    ix: DamageIndices,
    i: int,
    ids: Sequence[str],
    ref_frequency: np.ndarray,
    channels: Sequence[str],
    grades: WindowGrades,
    *,
    k: int,
    n: int,
    m: int,
    n_clear: int,
    channel_x: Sequence[float] | None = None,
    n_avg: int = 1,
    outside: bool = False,
) -> str:
    """Plain-language message of a structural state change at window ``i``."""
    from bshm.alarms import LEVEL_NAMES

    name, mid, value, thr = grades.driver[i]
    shift = ix.shift_avg_pct if ix.shift_avg_pct is not None else ix.freq_shift_pct
    contrib = np.nan_to_num(shift[i])
    top = np.argsort(-np.abs(contrib))[:3]
    parts = ", ".join(f"{ids[t]} {contrib[t]:+.2f} %" for t in top if contrib[t] != 0)
    avg_txt = f" (mean of the last {n_avg} windows)" if n_avg > 1 else ""
    t2a = ix.t2_avg[i] if ix.t2_avg is not None else np.nan
    lim_a = ix.t2_avg_limits[i] if ix.t2_avg_limits is not None else ix.t2_limits[i]
    idx_txt = (
        f"T^2 = {ix.t2[i]:.1f} (limits {'/'.join(f'{x:.1f}' for x in ix.t2_limits[i])}), "
        f"T^2{avg_txt} = {t2a:.1f} (limits {'/'.join(f'{x:.1f}' for x in lim_a)}); "
        f"frequency residuals{avg_txt}: {parts or 'none'}"
    )
    if lv == 0:
        return (
            f"Structural state back to normal: every index below its clear limit in at "
            f"least {m} of the last {n_clear} assessable windows ({idx_txt})."
        )
    j = list(ids).index(mid) if mid is not None and mid in ids else -1
    soft = name == "frequency_shift" and j >= 0 and shift[i, j] < 0
    if name == "frequency_shift" and j >= 0:
        what = (
            f"mode {mid} ({float(ref_frequency[j]):.3f} Hz) natural frequency {abs(value):.2f} % "
            f"{'lower' if soft else 'higher'} than expected for the measured "
            f"temperature{avg_txt}"
        )
    elif name == "mac":
        what = f"mode {mid} shape differs from the reference (MAC lower by {value:.3f})"
    elif name in ("t2", "t2_avg"):
        what = f"novelty index T^2{avg_txt if name == 't2_avg' else ''} = {value:.1f}"
    else:
        what = name
    verb = {
        "raised": "departs from the baseline",
        "escalated": "departs further from the baseline",
        "de-escalated": "is closer to the baseline but not back to it",
    }.get(event, "changed")
    msg = (
        f"The bridge's vibration behaviour {verb}: level {lv} '{LEVEL_NAMES[lv]}'. "
        + (
            f"Driven by {what} (limit {thr:.4g}), in at least {k} of the last {n} "
            f"assessable windows. "
            if event != "de-escalated"
            else f"Below the level-{lv + 1} clear limit in {m} of the last {n_clear} "
            "assessable windows. "
        )
        + f"Indices: {idx_txt}."
        + (" A loss of stiffness is a possible cause." if soft else "")
        + _where(ix, i, channels, channel_x)
        + (
            " This window lies outside the conditions the models were trained on."
            if outside
            else ""
        )
    )
    return msg


def _where(ix: DamageIndices, i: int, channels: Sequence[str], channel_x) -> str:
    c = int(np.argmin(ix.comac[i]))
    if ix.comac[i, c] > 0.999:
        return ""
    pos = ""
    if channel_x is not None and len(channel_x) > c and np.isfinite(channel_x[c]):
        pos = f", x = {channel_x[c]:g} m"
    return f" The mode shapes changed most near {channels[c]}{pos} (COMAC {ix.comac[i, c]:.3f})."
