"""Threshold monitoring of raw channels: graded levels and alarms.

Each channel may carry limits (``bshm.config.Thresholds``): three
increasing limits (levels 1, 2, 3 = advisory, warning, critical; below the
first = normal) for

========= ===================================================================
``peak``   largest ``|x|`` of the window (e.g. acceleration, m/s2)
``rms``    RMS of the window about its mean (vibration level)
``high``   every sample above the limit (strain, temperature, ...)
``low``    every sample below the limit (limits *decrease* with the level)
``change`` every sample's ``|m - baseline(T)|``, ``m`` the running median
           of strain over ``change_window_s`` (60 s: passing vehicles
           removed, they are what ``high``/``low`` are for): the departure
           of the quasi-static strain from its temperature-corrected
           baseline (:class:`StrainBaseline`, fitted on a reference period)
========= ===================================================================

``peak``, ``high``, ``low`` and ``change`` look at every sample of the
window (for strain: every strain sample), not at a window statistic only.
One :class:`bshm.alarms.Alarm` is raised per channel and check whose level
is 1 or more, at the time the highest level was first reached, with the
number of samples over the first limit in its message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KINDS = ("peak", "rms", "high", "low", "change")
_WORDS = {1: "advisory", 2: "warning", 3: "critical"}


def level_of(
    values: Any, limits: Sequence[float] | None, *, decreasing: bool = False
) -> np.ndarray:
    """Level (0..3) of each value against three limits.

    Parameters
    ----------
    values : array_like
    limits : sequence of 3 floats or None
        Increasing limits (or decreasing when ``decreasing``); None -> all 0.
    decreasing : bool
        ``True`` for "below" limits (``low``): level k when value < limit k.

    Returns
    -------
    ndarray of int8, same shape as ``values``; NaN gives 0.
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.int8)
    if limits is None:
        return out
    lim = [float(x) for x in limits]
    if len(lim) != 3:
        raise ValueError(f"threshold limits must be 3 values, got {limits!r}")
    for lv, x in enumerate(lim, start=1):
        with np.errstate(invalid="ignore"):
            hit = v < x if decreasing else v > x
        out[hit] = lv
    return out


@dataclass(frozen=True)
class StrainBaseline:
    """Temperature-corrected strain baseline ``eps0 + k * (T - t_ref)``.

    Attributes
    ----------
    intercept : float
        Strain (gauge unit) at ``t_ref``.
    slope : float
        Strain per degC (thermal sensitivity of the gauge on the structure).
    t_ref : float
        Reference temperature (degC).
    residual_std : float
        Standard deviation of the fit residuals (gauge unit).
    """

    intercept: float
    slope: float
    t_ref: float = 0.0
    residual_std: float = float("nan")

    @classmethod
    def fit(cls, strain: Any, temperature: Any) -> StrainBaseline:
        """Least-squares line of strain against temperature over a reference period.

        Parameters
        ----------
        strain, temperature : array_like, shape (n,)
            Paired values (e.g. window means); NaN pairs are ignored.

        Raises
        ------
        ValueError
            Fewer than 3 valid pairs or no temperature spread.
        """
        e = np.asarray(strain, np.float64).ravel()
        t = np.asarray(temperature, np.float64).ravel()
        if e.shape != t.shape:
            raise ValueError(f"baseline: strain {e.shape} and temperature {t.shape} differ")
        ok = np.isfinite(e) & np.isfinite(t)
        e, t = e[ok], t[ok]
        if e.size < 3 or np.ptp(t) == 0:
            raise ValueError("baseline: need at least 3 points with different temperatures")
        t_ref = float(t.mean())
        k, b = np.polyfit(t - t_ref, e, 1)
        res = e - (b + k * (t - t_ref))
        return cls(float(b), float(k), t_ref, float(res.std(ddof=2) if e.size > 2 else np.nan))

    def predict(self, temperature: Any) -> np.ndarray:
        """Baseline strain at the given temperatures (degC)."""
        return self.intercept + self.slope * (np.asarray(temperature, np.float64) - self.t_ref)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {
            "intercept": self.intercept,
            "slope": self.slope,
            "t_ref": self.t_ref,
            "residual_std": self.residual_std,
        }


@dataclass(frozen=True)
class CheckResult:
    """One check of one channel over one window.

    Attributes
    ----------
    channel, kind : str
        ``kind`` is one of :data:`KINDS`.
    level : int
        0 (normal) .. 3.
    value : float
        The worst value (peak |x|, RMS, max, min, or max |change|).
    threshold : float
        The limit of ``level`` (NaN when level 0).
    time_ns : int
        When the level was first reached (window start for RMS).
    n_exceed : int
        Samples above the first limit (windows for RMS: 0 or 1).
    """

    channel: str
    kind: str
    level: int
    value: float
    threshold: float
    time_ns: int
    n_exceed: int


def _sample_check(
    name: str,
    kind: str,
    values: np.ndarray,
    shown: np.ndarray,
    limits: Sequence[float],
    times: np.ndarray,
    decreasing: bool = False,
) -> CheckResult:
    lv = level_of(values, limits, decreasing=decreasing)
    finite = np.isfinite(values)
    if not finite.any():
        return CheckResult(name, kind, 0, float("nan"), float("nan"), int(times[0]), 0)
    worst = int(np.nanargmin(values) if decreasing else np.nanargmax(values))
    top = int(lv.max())
    at = int(np.argmax(lv == top)) if top else worst
    return CheckResult(
        name,
        kind,
        top,
        float(shown[worst]),
        float(limits[top - 1]) if top else float("nan"),
        int(times[at]),
        int(np.count_nonzero(lv >= 1)),
    )


def _running_median(v: np.ndarray, t: np.ndarray, window_s: float) -> np.ndarray:
    """Running median over ``window_s`` (NaN kept where the input is NaN)."""
    from scipy.ndimage import median_filter

    ok = np.isfinite(v)
    if ok.sum() < 3:
        return v.copy()
    dt = float(np.median(np.diff(t))) * 1e-9 if t.size > 1 else 1.0
    size = max(1, int(round(window_s / dt)) | 1)
    if size >= v.size:
        size = v.size | 1
    idx = np.arange(v.size)
    filled = np.interp(idx, idx[ok], v[ok])
    out = median_filter(filled, size=size, mode="nearest")
    out[~ok] = np.nan
    return out


def check_channel(
    x: Any,
    times_ns: Any,
    name: str,
    thresholds: Any,
    *,
    temperature: Any = None,
    baseline: StrainBaseline | None = None,
    change_window_s: float = 60.0,
) -> list[CheckResult]:
    """Evaluate every configured limit of one channel over one window.

    Parameters
    ----------
    x : array_like, shape (n,)
        Samples (channel unit), NaN for dropouts.
    times_ns : array_like, shape (n,)
        Sample times (int64 ns).
    name : str
        Channel name.
    thresholds : Thresholds-like
        Attributes ``peak, rms, high, low, change`` (each 3 limits or None).
    temperature : float or array_like, optional
        Temperature (degC) at the sample times (scalar or shape (n,)); needed
        with ``baseline`` for the ``change`` check.
    baseline : StrainBaseline, optional
    change_window_s : float
        Running-median length (s) of the ``change`` check.

    Returns
    -------
    list of CheckResult
        One per configured check (the ``change`` check is skipped, with a
        debug log, without a baseline or temperature).
    """
    v = np.asarray(x, dtype=np.float64)
    t = np.asarray(times_ns, dtype=np.int64)
    if v.ndim != 1 or t.shape != v.shape:
        raise ValueError(f"{name}: samples {v.shape} and times {t.shape} must be 1-D and equal")
    if v.size == 0:
        return []
    out = []
    if getattr(thresholds, "peak", None) is not None:
        a = np.abs(v)
        out.append(_sample_check(name, "peak", a, a, thresholds.peak, t))
    if getattr(thresholds, "rms", None) is not None:
        f = v[np.isfinite(v)]
        rms = float(np.sqrt(np.mean((f - f.mean()) ** 2))) if f.size else float("nan")
        lv = int(level_of(rms, thresholds.rms))
        out.append(
            CheckResult(
                name,
                "rms",
                lv,
                rms,
                float(thresholds.rms[lv - 1]) if lv else float("nan"),
                int(t[0]),
                int(lv >= 1),
            )
        )
    if getattr(thresholds, "high", None) is not None:
        out.append(_sample_check(name, "high", v, v, thresholds.high, t))
    if getattr(thresholds, "low", None) is not None:
        out.append(_sample_check(name, "low", v, v, thresholds.low, t, decreasing=True))
    if getattr(thresholds, "change", None) is not None:
        if baseline is None or temperature is None:
            log.debug("%s: no baseline/temperature, change check skipped", name)
        else:
            slow = _running_median(v, t, change_window_s)
            ch = np.abs(slow - baseline.predict(np.broadcast_to(temperature, v.shape)))
            out.append(_sample_check(name, "change", ch, ch, thresholds.change, t))
    return out


def to_alarm(r: CheckResult, *, unit: str = "", station: str | None = None) -> Any:
    """A :class:`bshm.alarms.Alarm` for a check at level >= 1."""
    from bshm.alarms import Alarm

    what = {
        "peak": "peak |value|",
        "rms": "RMS",
        "high": "value",
        "low": "value",
        "change": "change from the temperature-corrected baseline",
    }[r.kind]
    side = "below" if r.kind == "low" else "above"
    u = f" {unit}" if unit else ""
    count = f" ({r.n_exceed} samples over the first limit)" if r.kind != "rms" else ""
    msg = (
        f"{r.channel}: {what} {r.value:.4g}{u} {side} the {_WORDS[r.level]} limit "
        f"{r.threshold:.4g}{u}{count}"
    )
    return Alarm(
        time_ns=r.time_ns,
        level=r.level,
        index=r.kind,
        value=r.value,
        threshold=r.threshold,
        mode=None,
        message=msg,
        channel=r.channel,
        station=station,
        kind="threshold",
        subject=f"threshold:{r.channel}:{r.kind}",
    )


@dataclass(frozen=True)
class WindowThresholds:
    """Threshold results of one window: every check and the alarms raised."""

    results: list[CheckResult]
    alarms: list[Any]

    @property
    def max_level(self) -> int:
        """Highest level of the window (0 if none)."""
        return max((r.level for r in self.results), default=0)


def evaluate_window(
    data: Any,
    times_ns: Any,
    channels: Sequence[Any],
    thresholds: Mapping[str, Any],
    *,
    station: str | None = None,
    temperature: Any = None,
    baselines: Mapping[str, StrainBaseline] | None = None,
) -> WindowThresholds:
    """Threshold checks of every channel of a window (entry point for ``bshm analyze``).

    Parameters
    ----------
    data : array_like, shape (n, n_channels)
        Samples of one source for the window (e.g. ``Record.data``).
    times_ns : array_like, shape (n,)
        Sample times (``Record.times_ns``).
    channels : sequence of ChannelMeta-like
        ``name`` and ``unit`` per column.
    thresholds : mapping
        Channel name -> Thresholds (``bshm.config.Channel.thresholds``);
        channels not in it are not checked. See :func:`thresholds_of`.
    station : str, optional
        Written into the alarms.
    temperature : float, array_like (n,) or (times_ns, values), optional
        Structural temperature for the ``change`` check: a window mean, one
        value per sample, or a time series interpolated at the sample times.
    baselines : mapping, optional
        Channel name -> :class:`StrainBaseline`.

    Returns
    -------
    WindowThresholds
    """
    arr = np.asarray(data, dtype=np.float64)
    t = np.asarray(times_ns, dtype=np.int64)
    if arr.ndim != 2 or arr.shape != (t.size, len(channels)):
        raise ValueError(f"expected data ({t.size}, {len(channels)}), got {arr.shape}")
    temp = temperature
    if isinstance(temperature, tuple) and len(temperature) == 2:
        tt, tv = (np.asarray(a, np.float64) for a in temperature)
        ok = np.isfinite(tv)
        temp = np.interp(t.astype(np.float64), tt[ok], tv[ok]) if ok.any() else None
    results: list[CheckResult] = []
    alarms = []
    for j, c in enumerate(channels):
        th = thresholds.get(c.name)
        if th is None:
            continue
        base = (baselines or {}).get(c.name)
        for r in check_channel(arr[:, j], t, c.name, th, temperature=temp, baseline=base):
            results.append(r)
            if r.level >= 1:
                alarms.append(to_alarm(r, unit=getattr(c, "unit", ""), station=station))
    return WindowThresholds(results, alarms)


def thresholds_of(station: Any) -> dict[str, Any]:
    """Channel name -> Thresholds for every channel of a station with a limit set."""
    out = {}
    for src in station.sources:
        for ch in src.channels:
            if ch.thresholds.any():
                out[ch.name] = ch.thresholds
    return out


# ------------------------------------------------------------ raw-data job
def monitor_raw(*args: Any, **kwargs: Any) -> Any:
    """The strain part of the job (see :func:`bshm.analysis.strain_job.monitor_raw`)."""
    from bshm.analysis.strain_job import monitor_raw as run

    return run(*args, **kwargs)


def _windows(runs: Sequence[tuple[int, int]], window_ns: int) -> list[tuple[int, int]]:
    """Full windows on a grid from each run's start, plus each run's tail,
    except the tail of the last run (it may still grow)."""
    out = []
    for k, (s, e) in enumerate(runs):
        t = s
        while t + window_ns <= e:
            out.append((t, t + window_ns))
            t += window_ns
        if t < e and k < len(runs) - 1:
            out.append((t, e))
    return out


def _temperature_channel(reader: Any, station: Any) -> tuple[str, str] | None:
    want = getattr(getattr(station, "analysis", None), "temperature", None)
    for src, info in reader.sources.items():
        for c in info.channels:
            if (want and c.name == want) or (not want and c.quantity == "temperature"):
                return src, c.name
    return None


def _mean_temperature(reader: Any, tch: tuple[str, str] | None, a: int, b: int) -> float:
    if tch is None:
        return float("nan")
    rec = reader.read(tch[0], a, b, channels=[tch[1]])
    v = rec.data[:, 0].astype(np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _fit_baselines(
    reader: Any, names: Sequence[str], tch: tuple[str, str], wns: int, days: float
) -> dict[str, StrainBaseline]:
    """Fit strain-vs-temperature baselines on the first ``days`` of data, if complete."""
    out = {}
    for src, info in reader.sources.items():
        mine = [c.name for c in info.channels if c.name in names]
        if not mine:
            continue
        first, last = reader.span(src)
        end = first + int(days * 86400e9)
        if last < end:
            log.info("strain baseline: the first %.1f days are not complete yet", days)
            continue
        means, temps = [], []
        for a, b in _windows(reader.records(src), wns):
            if a >= end:
                break
            rec = reader.read(src, a, b, channels=mine)
            means.append(np.nanmean(rec.data.astype(np.float64), axis=0))
            temps.append(_mean_temperature(reader, tch, a, b))
        if len(means) < 3:
            continue
        m = np.asarray(means)
        for j, n in enumerate(mine):
            try:
                out[n] = StrainBaseline.fit(m[:, j], temps)
            except ValueError as exc:
                log.warning("strain baseline of %s not fitted: %s", n, exc)
    return out
