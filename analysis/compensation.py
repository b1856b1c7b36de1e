"""Environmental compensation of tracked natural frequencies.

Two models, both trained on a baseline period:

``mlr``
    Multiple linear regression of each mode's frequency on the measured
    temperature(s), with a bilinear (piecewise-linear) term around freezing
    ``min(T - T0, 0)`` that captures the stiffening of frozen bearings and
    asphalt, and optional lagged temperatures (the temperature ``lag`` hours
    earlier, for thermal inertia). For each mode the candidate designs
    (linear; + bilinear; + lags) are compared by BIC and the best is kept.
``pca``
    Output-only principal component model for stations without temperature:
    the first principal components of the standardised baseline frequencies
    are taken as the environmental subspace, and the residual is what lies
    outside it.

The residual is expressed in percent of the predicted frequency, so a
residual of -0.5 means "0.5 % lower than expected for these conditions".

References
----------
Peeters, B., De Roeck, G. (2001). One-year monitoring of the Z24-Bridge:
environmental effects versus damage events. Earthq. Eng. Struct. Dyn. 30(2),
149-171. https://doi.org/10.1002/1096-9845(200102)30:2<149::AID-EQE1>3.0.CO;2-Z
Yan, A.-M., Kerschen, G., De Boe, P., Golinval, J.-C. (2005). Structural
damage diagnosis under varying environmental conditions, part I: a linear
analysis. Mech. Syst. Signal Process. 19(4), 847-864.
https://doi.org/10.1016/j.ymssp.2004.12.002
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bshm.errors import AnalysisError

__all__ = ["CompensationModel", "Compensated", "fit_compensation", "lagged"]

FREEZING_C = 0.0


@dataclass
class CompensationModel:
    """A trained compensation model (JSON-serialisable via :meth:`to_dict`).

    Attributes
    ----------
    kind : str
        ``"mlr"`` or ``"pca"``.
    env_names : list of str
        Temperature variables used (mlr).
    coefs : list of list of float
        Per mode, the regression coefficients (mlr).
    terms : list of list of str
        Per mode, the names of the design columns (mlr).
    mean, std, components : list
        Standardisation and retained principal directions (pca).
    quality : dict
        Fit quality per mode (``r2``, ``rmse_pct``, ``n``) and the model choice.
    t_range : list of float
        Baseline range of the first temperature [min, max] (degC).
    xtx_inv : list of list of list of float
        Per mode, ``(X^T X)^-1`` of its baseline design (mlr): the
        parameter uncertainty of the regression, for prediction variances.
    leverage_max : list of float
        Per mode, the largest leverage ``x^T (X^T X)^-1 x`` of a baseline
        window (mlr).
    """

    kind: str
    env_names: list[str] = field(default_factory=list)
    lags_h: list[float] = field(default_factory=list)
    hinge_c: float = FREEZING_C
    coefs: list[list[float]] = field(default_factory=list)
    terms: list[list[str]] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    components: list[list[float]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    t_range: list[float] = field(default_factory=list)
    xtx_inv: list[list[list[float]]] = field(default_factory=list)
    leverage_max: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompensationModel:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**d)

    def predict(self, freq: np.ndarray, env: dict[str, np.ndarray]) -> np.ndarray:
        """Expected frequencies for the conditions, shape (n_w, k) (NaN where unknown)."""
        if self.kind == "mlr":
            cols = _columns(env, self.env_names, self.lags_h, self.hinge_c)
            n = next(iter(cols.values())).shape[0]
            out = np.full((n, len(self.coefs)), np.nan)
            for j, (b, names) in enumerate(zip(self.coefs, self.terms)):
                x = np.column_stack([cols[t] for t in names])
                out[:, j] = x @ np.asarray(b)
            return out
        mu, sd = np.asarray(self.mean), np.asarray(self.std)
        comp = np.asarray(self.components).reshape(-1, mu.size)
        z = (freq - mu) / sd
        z_fill = np.where(np.isfinite(z), z, 0.0)
        # project the available coordinates onto the environmental subspace
        rec = np.zeros_like(z_fill)
        for i in range(z.shape[0]):
            ok = np.isfinite(z[i])
            if not ok.any() or comp.size == 0:
                continue
            a = comp[:, ok].T
            coef, *_ = np.linalg.lstsq(a, z_fill[i, ok], rcond=None)
            rec[i] = coef @ comp
        return rec * sd + mu

    def excess_leverage(
        self, freq: np.ndarray, env: dict[str, np.ndarray], average: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prediction-variance factor of the regression beyond the baseline's, per window.

        The regression's prediction error at a window with design row ``x``
        has variance ``sigma^2 x^T (X^T X)^-1 x`` (the leverage ``h``): small
        inside the training conditions, growing quadratically outside them.
        Inside, the cross-validated baseline residuals already carry it; the
        excess ``max(h - h_max, 0)`` over the largest baseline leverage is
        what they do not. For the mean of the last ``average`` windows the
        design rows are averaged first: the regression's error is common to
        all windows and does not average out, unlike the noise.

        Parameters
        ----------
        freq : ndarray, shape (n_w, k)
            Tracked frequencies (Hz), NaN where missing.
        env : dict of str to ndarray, shape (n_w,)
            Environmental variables and ``time_ns``.
        average : int
            Windows of the moving mean.

        Returns
        -------
        single, averaged : ndarray, shape (n_w, k)
            Excess leverage (dimensionless, >= 0) of each window and of the
            mean of the last ``average`` windows; zeros for the PCA model or a
            model stored without ``xtx_inv``.
        """
        freq = np.asarray(freq, float)
        n, k = freq.shape
        single, avg = np.zeros((n, k)), np.zeros((n, k))
        if self.kind != "mlr" or len(self.xtx_inv) != k or len(self.leverage_max) != k:
            return single, avg
        from bshm.analysis.damage import moving_mean

        cols = _columns(env, self.env_names, self.lags_h, self.hinge_c)
        for j, names in enumerate(self.terms):
            a = np.asarray(self.xtx_inv[j], float)
            x = np.column_stack([cols[t] for t in names])
            ok = np.isfinite(freq[:, j]) & np.all(np.isfinite(x), axis=1)
            x = np.where(ok[:, None], x, np.nan)
            xm, _ = moving_mean(x, max(1, int(average)))
            hmax = float(self.leverage_max[j])
            for out, rows in ((single, x), (avg, xm)):
                h = np.einsum("ij,jk,ik->i", np.nan_to_num(rows), a, np.nan_to_num(rows))
                out[:, j] = np.where(np.all(np.isfinite(rows), axis=1), np.maximum(h - hmax, 0), 0)
        return single, avg

    def extrapolation_error(
        self, freq: np.ndarray, env: dict[str, np.ndarray], average: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale of the possible model error outside the baseline temperature range (%).

        Beyond the range the regression extrapolates its edge slope, but the
        temperature effect may bend there (the frost knee is such a bend, and
        a smooth one biases the edge slopes). The slope actually followed is
        taken as uncertain by its own size: the error scale of window ``i``
        and mode ``j`` is ``u_ij = g_ij d_i`` with ``g_ij`` the model's
        sensitivity to the temperature (% per degC) and ``d_i`` the distance
        (degC) of the first temperature outside the baseline range. The
        error is common to the modes (one temperature effect) and to the
        windows (the same slope), so the covariance of a residual gains the
        rank-one ``u u^T`` and the mean of the last ``average`` windows gains
        that of the averaged ``u``.

        Parameters
        ----------
        freq : ndarray, shape (n_w, k)
            Tracked frequencies (Hz), NaN where missing.
        env : dict of str to ndarray, shape (n_w,)
            Environmental variables and ``time_ns``.
        average : int
            Windows of the moving mean.

        Returns
        -------
        single, averaged : ndarray, shape (n_w, k)
            ``u`` per window and averaged over the last ``average`` windows
            where the mode is present (%); zeros inside the range, for the
            PCA model or without ``t_range``.
        """
        freq = np.asarray(freq, float)
        n, k = freq.shape
        zero = (np.zeros((n, k)), np.zeros((n, k)))
        if self.kind != "mlr" or not self.t_range or not self.env_names:
            return zero
        from bshm.analysis.damage import moving_mean

        t = np.asarray(env[self.env_names[0]], float)
        d = np.maximum(np.maximum(self.t_range[0] - t, t - self.t_range[1]), 0.0)
        if not np.any(d > 0):
            return zero
        up, dn = dict(env), dict(env)
        for name in self.env_names:
            up[name] = np.asarray(env[name], float) + 0.5
            dn[name] = np.asarray(env[name], float) - 0.5
        pred = self.predict(freq, env)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = 100.0 * (self.predict(freq, up) - self.predict(freq, dn)) / pred
        u = np.abs(g) * d[:, None]
        u = np.where(np.isfinite(freq) & np.isfinite(u), u, np.nan)
        um, _ = moving_mean(u, max(1, int(average)))
        return np.nan_to_num(u), np.nan_to_num(um)

    def residual_pct(
        self, freq: np.ndarray, env: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(predicted, residual)``; residual = 100 (f - f_pred) / f_pred, shape (n_w, k)."""
        pred = self.predict(freq, env)
        with np.errstate(invalid="ignore", divide="ignore"):
            res = 100.0 * (freq - pred) / pred
        return pred, res


@dataclass
class Compensated:
    """Output of :func:`fit_compensation` applied to all windows."""

    model: CompensationModel
    predicted: np.ndarray
    residual: np.ndarray
    extrapolated: np.ndarray


def lagged(time_ns: np.ndarray, values: np.ndarray, lag_h: float) -> np.ndarray:
    """Value of a series ``lag_h`` hours earlier.

    Linear interpolation; times before the start take the first value.
    """
    t = np.asarray(time_ns, np.int64)
    v = np.asarray(values, float)
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return np.full(t.shape, np.nan)
    tq = t - int(lag_h * 3600e9)
    return np.interp(tq.astype(float), t[ok].astype(float), v[ok])


def _columns(
    env: dict[str, np.ndarray], names: Sequence[str], lags_h: Sequence[float], hinge_c: float
) -> dict[str, np.ndarray]:
    t = env["time_ns"]
    cols = {"1": np.ones(t.shape[0])}
    for name in names:
        x = np.asarray(env[name], float)
        cols[name] = x
        cols[f"min({name}-{hinge_c:g},0)"] = np.minimum(x - hinge_c, 0.0)
        for lag in lags_h:
            cols[f"{name}[-{lag:g}h]"] = lagged(t, x, lag)
    return cols


def _bic(rss: float, n: int, p: int) -> float:
    return n * np.log(max(rss, 1e-300) / n) + p * np.log(n)


def _fit_mlr(freq, env, base, names, lags_h, hinge_c, min_frost=8):
    cols = _columns(env, names, lags_h, hinge_c)
    first = np.asarray(env[names[0]], float)
    frost_n = int(np.sum(base & (first < hinge_c)))
    coefs, terms, qual, xinv, hmax = [], [], {}, [], []
    for j in range(freq.shape[1]):
        y = freq[:, j]
        ok = (
            base
            & np.isfinite(y)
            & np.all(np.isfinite(np.column_stack(list(cols.values()))), axis=1)
        )
        n = int(ok.sum())
        if n < 6:
            raise AnalysisError(
                f"compensation: mode {j + 1} was found in only {n} baseline "
                "windows; extend the baseline (--baseline FROM..TO)"
            )
        cands = [["1"] + list(names)]
        if frost_n >= min_frost:
            cands.append(cands[0] + [f"min({nm}-{hinge_c:g},0)" for nm in names])
        for lag in lags_h:
            cands.append(cands[-1] + [f"{nm}[-{lag:g}h]" for nm in names])
        best = None
        for c in cands:
            if len(c) >= n - 2:
                continue
            x = np.column_stack([cols[t][ok] for t in c])
            b, *_ = np.linalg.lstsq(x, y[ok], rcond=None)
            rss = float(np.sum((y[ok] - x @ b) ** 2))
            score = _bic(rss, n, len(c))
            if best is None or score < best[0] - 1e-9:
                best = (score, c, b, rss)
        assert best is not None
        _, c, b, rss = best
        tss = float(np.sum((y[ok] - y[ok].mean()) ** 2))
        pred = np.column_stack([cols[t][ok] for t in c]) @ b
        qual[f"M{j + 1}"] = {
            "terms": c,
            "n": n,
            "r2": 1 - rss / tss if tss > 0 else 0.0,
            "rmse_pct": float(100 * np.sqrt(rss / n) / np.mean(pred)),
        }
        coefs.append([float(v) for v in b])
        terms.append(c)
        x = np.column_stack([cols[t][ok] for t in c])
        a = np.linalg.pinv(x.T @ x)
        xinv.append(a.tolist())
        hmax.append(float(np.max(np.einsum("ij,jk,ik->i", x, a, x))))
    qual["frost_windows_in_baseline"] = frost_n
    if frost_n < min_frost:
        qual["note"] = (
            f"only {frost_n} baseline windows below {hinge_c:g} degC: the "
            "bilinear frost term could not be trained"
        )
    t_range = [float(np.nanmin(first[base])), float(np.nanmax(first[base]))]
    return CompensationModel(
        "mlr",
        list(names),
        list(lags_h),
        hinge_c,
        coefs,
        terms,
        quality=qual,
        t_range=t_range,
        xtx_inv=xinv,
        leverage_max=hmax,
    )


def _fit_pca(freq, base, var_frac):
    y = freq[base]
    complete = np.all(np.isfinite(y), axis=1)
    if complete.sum() < max(6, y.shape[1] + 2):
        raise AnalysisError(
            f"compensation (PCA): only {int(complete.sum())} baseline windows "
            "have every tracked mode; extend the baseline"
        )
    y = y[complete]
    mu, sd = y.mean(axis=0), y.std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    z = (y - mu) / sd
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    ev = s**2 / np.sum(s**2)
    q = int(np.searchsorted(np.cumsum(ev), var_frac) + 1)
    q = min(q, max(1, y.shape[1] - 1))
    model = CompensationModel("pca", mean=mu.tolist(), std=sd.tolist(), components=vt[:q].tolist())
    _, res = model.residual_pct(y, {})
    model.quality = {
        "n": int(y.shape[0]),
        "components": q,
        "explained_variance": float(np.sum(ev[:q])),
        "rmse_pct": np.sqrt(np.nanmean(res**2, axis=0)).tolist(),
    }
    return model


def fit_compensation(
    time_ns: np.ndarray,
    freq: np.ndarray,
    env: dict[str, np.ndarray],
    baseline: np.ndarray,
    *,
    temperatures: Sequence[str] = (),
    lags_h: Sequence[float] = (),
    hinge_c: float = FREEZING_C,
    pca_variance: float = 0.9,
    model: CompensationModel | None = None,
) -> Compensated:
    """Train (or reuse) a compensation model and compute residuals for every window.

    Parameters
    ----------
    time_ns : ndarray, shape (n_w,)
        Window times (ns).
    freq : ndarray, shape (n_w, k)
        Tracked frequencies (Hz), NaN where missing.
    env : dict of str to ndarray, shape (n_w,)
        Environmental variables per window (degC), by name.
    baseline : ndarray of bool, shape (n_w,)
        Windows of the training period.
    temperatures : sequence of str
        Names in ``env`` to regress on; empty selects the PCA model.
    lags_h : sequence of float
        Optional lags (hours) of the temperatures to offer as regressors.
    hinge_c : float
        Knee of the bilinear term (degC), default 0.
    pca_variance : float
        Fraction of variance the environmental subspace must explain (pca).
    model : CompensationModel, optional
        A model trained earlier, reused as is.

    Returns
    -------
    Compensated

    Raises
    ------
    bshm.errors.AnalysisError
        If the baseline is too short to train the model.
    """
    env = dict(env)
    env["time_ns"] = np.asarray(time_ns, np.int64)
    freq = np.asarray(freq, float)
    base = np.asarray(baseline, bool)
    temps = [t for t in temperatures if t in env and np.isfinite(env[t][base]).sum() >= 6]
    if model is None:
        if temps:
            model = _fit_mlr(freq, env, base, temps, list(lags_h), hinge_c)
        else:
            model = _fit_pca(freq, base, pca_variance)
        model.quality["model"] = model.kind
    pred, res = model.residual_pct(freq, env)
    extrap = np.zeros(freq.shape[0], bool)
    if model.kind == "mlr" and model.t_range:
        t = np.asarray(env[model.env_names[0]], float)
        extrap = (t < model.t_range[0] - 2.0) | (t > model.t_range[1] + 2.0)
    return Compensated(model, pred, res, extrap)
