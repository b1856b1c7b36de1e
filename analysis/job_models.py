"""Model versions of the monitoring job: compensation chain, novelty, trained conditions.

A *model version* is everything that judges a window once the baseline is
complete:

* the reference modal set (trained once, on the first baseline: mode ids
  never change);
* a **compensation chain**: a regression on the configured temperature
  channel, one on each other temperature channel, then the output-only PCA
  model. A window is compensated by the first model of the chain whose
  inputs are valid for it (a failed temperature probe reads NaN or an
  implausible value, which the window mean leaves out), so a sensor fault
  degrades the compensation instead of stopping or fooling it;
* per chain model, its novelty model (baseline mean and covariance of the
  cross-validated residuals) and its **trained conditions**: the range of
  each input temperature over the training windows and the range of the
  excitation (the median acceleration RMS of a window: traffic and wind).

Training periods grow with ``bshm analyze --extend-baseline FROM..TO``: each
extension trains a new version on the union of the periods; earlier
versions are kept (``/state/model_versions``) and every judged window
records the version that judged it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bshm.analysis.compensation import CompensationModel, fit_compensation
from bshm.analysis.damage import NoveltyModel, fit_novelty

from bshm.errors import AnalysisError

log = logging.getLogger(__name__)

#: Margin (degC) around the trained temperature range still counted as inside.
TEMPERATURE_MARGIN_C = 1.0
#: Factor around the trained excitation (RMS) range still counted as inside.
EXCITATION_FACTOR = 3.0


@dataclass
class ChainModel:
    """One compensation model of the chain with its novelty model and conditions."""

    name: str
    compensation: CompensationModel
    novelty: NoveltyModel
    conditions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "compensation": self.compensation.to_dict(),
            "novelty": self.novelty.to_dict(),
            "conditions": self.conditions,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChainModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["name"],
            CompensationModel.from_dict(d["compensation"]),
            NoveltyModel.from_dict(d["novelty"]),
            dict(d.get("conditions", {})),
        )


@dataclass
class ModelVersion:
    """A version of the models (see the module docstring)."""

    version: int
    trained_ns: int
    periods: list[list[int]]
    chain: list[ChainModel]
    n_windows: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "version": self.version,
            "trained_ns": self.trained_ns,
            "periods": [list(map(int, p)) for p in self.periods],
            "chain": [c.to_dict() for c in self.chain],
            "n_windows": self.n_windows,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["version"]),
            int(d["trained_ns"]),
            [list(map(int, p)) for p in d["periods"]],
            [ChainModel.from_dict(c) for c in d["chain"]],
            int(d.get("n_windows", 0)),
            str(d.get("note", "")),
        )

    @property
    def names(self) -> list[str]:
        """Names of the chain models (``mlr:T1``, ``mlr:T2``, ``pca``)."""
        return [c.name for c in self.chain]

    def conditions_text(self) -> str:
        """The trained conditions of the first chain model, for messages."""
        c = self.chain[0].conditions
        parts = [f"{k} {v[0]:.1f}..{v[1]:.1f} degC" for k, v in c.get("vars", {}).items()]
        if c.get("rms"):
            parts.append(f"excitation RMS {c['rms'][0]:.3g}..{c['rms'][1]:.3g}")
        return ", ".join(parts)


def in_periods(t: np.ndarray, periods: list[list[int]]) -> np.ndarray:
    """Windows whose time lies in one of the periods ``[start, end)``."""
    t = np.asarray(t, np.int64)
    out = np.zeros(t.shape, bool)
    for a, b in periods:
        out |= (t >= a) & (t < b)
    return out


def conditions_of(
    env: dict[str, np.ndarray], rms: np.ndarray, base: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """Trained conditions: the range of each input over the training windows."""
    out: dict[str, Any] = {"vars": {}, "rms": None}
    for n in names:
        v = np.asarray(env[n], float)[base]
        v = v[np.isfinite(v)]
        if v.size:
            out["vars"][n] = [float(v.min()), float(v.max())]
    r = np.asarray(rms, float)[base]
    r = r[np.isfinite(r) & (r > 0)]
    if r.size >= 5:
        out["rms"] = [float(np.percentile(r, 0.5)), float(np.percentile(r, 99.5))]
    return out


def inside_conditions(
    cond: dict[str, Any], env: dict[str, np.ndarray], rms: np.ndarray
) -> tuple[np.ndarray, list[list[str]]]:
    """Per window: inside the trained conditions, and why not (names of the inputs outside)."""
    n = np.asarray(rms).shape[0]
    inside = np.ones(n, bool)
    why: list[list[str]] = [[] for _ in range(n)]
    for name, (lo, hi) in cond.get("vars", {}).items():
        v = np.asarray(env.get(name, np.full(n, np.nan)), float)
        with np.errstate(invalid="ignore"):
            out = (v < lo - TEMPERATURE_MARGIN_C) | (v > hi + TEMPERATURE_MARGIN_C)
        for i in np.flatnonzero(out):
            why[i].append(name)
        inside &= ~out
    if cond.get("rms"):
        lo, hi = cond["rms"]
        r = np.asarray(rms, float)
        with np.errstate(invalid="ignore"):
            out = (r < lo / EXCITATION_FACTOR) | (r > hi * EXCITATION_FACTOR)
        for i in np.flatnonzero(out):
            why[i].append("excitation")
        inside &= ~out
    return inside, why


def train_chain(
    t: np.ndarray,
    freq: np.ndarray,
    mac: np.ndarray,
    env: dict[str, np.ndarray],
    rms: np.ndarray,
    base: np.ndarray,
    st: Any,
    notes: list[str],
) -> list[ChainModel]:
    """Train the compensation chain on the windows ``base`` (see the module docstring).

    Raises
    ------
    AnalysisError
        When no model of the chain can be trained.
    """
    from bshm.analysis.job_derive import cv_residual

    temps = list(st.temperatures)
    if temps:
        temps += [n for n in st.window.env_names if n not in temps]
    chain: list[ChainModel] = []
    errors = []
    for name in [*temps, None]:
        use = [name] if name else []
        label = f"mlr:{name}" if name else "pca"
        if name is not None and np.isfinite(np.asarray(env[name], float)[base]).sum() < 6:
            errors.append(f"{label}: fewer than 6 baseline windows with a valid {name}")
            continue
        try:
            comp = fit_compensation(t, freq, env, base, temperatures=use, lags_h=st.lags_h)
            if name is not None and comp.model.kind != "mlr":
                continue
            nov = fit_novelty(
                cv_residual(t, freq, env, base, use, st.lags_h, comp.residual),
                mac,
                base,
                st.average_windows,
            )
        except AnalysisError as exc:
            errors.append(f"{label}: {exc}")
            continue
        chain.append(ChainModel(label, comp.model, nov, conditions_of(env, rms, base, use)))
    if not chain:
        raise AnalysisError("; ".join(errors) or "no compensation model could be trained")
    if errors and temps:
        notes.append("compensation fallbacks not trained: " + "; ".join(errors))
    return chain
