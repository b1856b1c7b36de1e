"""Fatigue of steel details from measured strain: S-N curves, Miner damage,
range-mean histograms, cumulative damage and remaining life.

The chain, per strain gauge and per analysis window::

    strain (gauge unit) --modulus--> stress (MPa) --rainflow--> cycles
        --S-N curve--> Palmgren-Miner damage   --histograms--> report

The rainflow residue is carried from window to window
(:class:`~bshm.analysis.rainflow.RainflowCounter`), so the damage of a long
record counted window by window equals the damage of the record counted
whole. :class:`GaugeFatigue` holds everything that must survive between runs
of the job; :meth:`GaugeFatigue.to_state` / :meth:`GaugeFatigue.from_state`
turn it into JSON-ready plain data (stored as an attribute of the gauge's
group in the results file, see :func:`save_fatigue`).

References
----------
EN 1993-1-9:2005, *Eurocode 3: Design of steel structures - Part 1-9:
Fatigue*, section 7 (S-N curves, figure 7.1).
M. A. Miner (1945), Cumulative damage in fatigue, J. Appl. Mech. 12,
A159-A164, doi:10.1115/1.4009458.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SECONDS_PER_YEAR = 365.25 * 86400.0

#: Detail categories of EN 1993-1-9 tables 8.1-8.10 (delta sigma_C, MPa).
EN1993_CATEGORIES = (
    160.0,
    140.0,
    125.0,
    112.0,
    100.0,
    90.0,
    80.0,
    71.0,
    63.0,
    56.0,
    50.0,
    45.0,
    40.0,
    36.0,
)

_STRAIN_FACTORS = {  # unit -> factor to m/m
    "um/m": 1e-6,
    "µm/m": 1e-6,
    "ustrain": 1e-6,
    "microstrain": 1e-6,
    "ue": 1e-6,
    "µε": 1e-6,
    "mm/m": 1e-3,
    "m/m": 1.0,
    "strain": 1.0,
    "": 1.0,
}

DEFAULT_RANGE_EDGES = np.arange(0.0, 202.0, 2.0)  # MPa, 100 bins
DEFAULT_MEAN_EDGES = np.arange(-100.0, 110.0, 10.0)  # MPa, 20 bins


# ------------------------------------------------------------------ S-N curves
@dataclass(frozen=True)
class SNCurve:
    """A multi-slope S-N curve with an optional cut-off limit.

    ``N = ref_cycles * (ref_range / (gamma_mf * S))**slopes[0]`` down to the
    first knee (at ``knees[0]`` cycles), then each further segment continues
    from the previous knee with its own slope; stress ranges whose life
    exceeds ``cutoff_cycles`` do no damage.

    Parameters
    ----------
    name : str
        Label for reports.
    ref_range : float
        Reference stress range (MPa) at ``ref_cycles`` (EN 1993: the detail
        category delta sigma_C at 2e6 cycles).
    ref_cycles : float
        Cycles at the reference point; must lie on the first segment.
    slopes : tuple of float
        Inverse slopes m of the segments (``len(knees) + 1`` values).
    knees : tuple of float
        Cycle counts where the slope changes, increasing.
    cutoff_cycles : float or None
        Cycles at the cut-off limit; ``None`` extends the last slope forever.
    gamma_mf : float
        Partial factor for fatigue strength (EN 1993-1-9 table 3.1), >= 1.
    """

    name: str
    ref_range: float
    ref_cycles: float = 2e6
    slopes: tuple[float, ...] = (3.0, 5.0)
    knees: tuple[float, ...] = (5e6,)
    cutoff_cycles: float | None = 1e8
    gamma_mf: float = 1.0

    def __post_init__(self) -> None:
        if not (self.ref_range > 0 and self.ref_cycles > 0):
            raise ValueError(f"S-N curve {self.name!r}: ref_range and ref_cycles must be > 0")
        if len(self.slopes) != len(self.knees) + 1 or any(m <= 0 for m in self.slopes):
            raise ValueError(
                f"S-N curve {self.name!r}: need len(knees) + 1 positive slopes, "
                f"got slopes={self.slopes} knees={self.knees}"
            )
        if list(self.knees) != sorted(self.knees) or (
            self.knees and self.knees[0] < self.ref_cycles
        ):
            raise ValueError(
                f"S-N curve {self.name!r}: knees must increase and start at or after ref_cycles"
            )
        last = self.knees[-1] if self.knees else self.ref_cycles
        if self.cutoff_cycles is not None and self.cutoff_cycles < last:
            raise ValueError(f"S-N curve {self.name!r}: cutoff_cycles before the last knee")
        if self.gamma_mf < 1.0:
            raise ValueError(f"S-N curve {self.name!r}: gamma_mf must be >= 1")

    @property
    def knee_ranges(self) -> tuple[float, ...]:
        """Stress ranges (MPa, unfactored) at the knees (EN 1993: delta sigma_D)."""
        out = []
        s, n = self.ref_range, self.ref_cycles
        for m, k in zip(self.slopes, self.knees):
            s = s * (n / k) ** (1.0 / m)
            n = k
            out.append(s)
        return tuple(out)

    @property
    def cutoff_range(self) -> float:
        """Stress range (MPa, unfactored) of the cut-off limit (0 if none)."""
        if self.cutoff_cycles is None:
            return 0.0
        s = self.knee_ranges[-1] if self.knees else self.ref_range
        n = self.knees[-1] if self.knees else self.ref_cycles
        return s * (n / self.cutoff_cycles) ** (1.0 / self.slopes[-1])

    def cycles_to_failure(self, ranges: Any) -> np.ndarray:
        """Endurance N for each stress range.

        Parameters
        ----------
        ranges : array_like
            Stress ranges (MPa), any shape.

        Returns
        -------
        ndarray, same shape, float64
            Cycles to failure; ``inf`` below the cut-off and for zero ranges.
        """
        s = self.gamma_mf * np.abs(np.asarray(ranges, dtype=np.float64))
        n = np.full(s.shape, np.inf)
        seg_s = [self.ref_range, *self.knee_ranges]
        seg_n = [self.ref_cycles, *self.knees]
        bounds = [*self.knee_ranges, self.cutoff_range]
        upper = np.inf
        with np.errstate(divide="ignore"):
            for j, m in enumerate(self.slopes):
                lower = bounds[j]
                sel = (s >= lower) & (s < upper) & (s > 0)
                n[sel] = seg_n[j] * (seg_s[j] / s[sel]) ** m
                upper = lower
        return n

    def damage(self, ranges: Any, counts: Any) -> float:
        """Palmgren-Miner damage sum ``sum(counts / N(ranges))`` (dimensionless)."""
        c = np.asarray(counts, dtype=np.float64)
        n = self.cycles_to_failure(ranges)
        return float(np.sum(c / n))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "ref_range": self.ref_range,
            "ref_cycles": self.ref_cycles,
            "slopes": list(self.slopes),
            "knees": list(self.knees),
            "cutoff_cycles": self.cutoff_cycles,
            "gamma_mf": self.gamma_mf,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SNCurve:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(d["name"]),
            ref_range=float(d["ref_range"]),
            ref_cycles=float(d["ref_cycles"]),
            slopes=tuple(d["slopes"]),
            knees=tuple(d["knees"]),
            cutoff_cycles=d.get("cutoff_cycles"),
            gamma_mf=float(d.get("gamma_mf", 1.0)),
        )


def en1993_curve(detail_category: float, gamma_mf: float = 1.0) -> SNCurve:
    """EN 1993-1-9 direct-stress S-N curve of a detail category.

    m = 3 up to 5e6 cycles (constant-amplitude fatigue limit delta sigma_D
    = 0.737 delta sigma_C), m = 5 up to 1e8 cycles (cut-off limit delta
    sigma_L = 0.549 delta sigma_D), no damage below.

    Parameters
    ----------
    detail_category : float
        delta sigma_C (MPa) at 2e6 cycles, e.g. 71.
    gamma_mf : float
        Partial factor for fatigue strength (1.0 to 1.35).

    Raises
    ------
    ValueError
        Non-positive category.
    """
    if not detail_category > 0:
        raise ValueError(f"detail_category must be > 0 MPa, got {detail_category!r}")
    return SNCurve(
        name=f"EN 1993-1-9 detail {detail_category:g}",
        ref_range=float(detail_category),
        ref_cycles=2e6,
        slopes=(3.0, 5.0),
        knees=(5e6,),
        cutoff_cycles=1e8,
        gamma_mf=float(gamma_mf),
    )


def strain_to_stress(strain: Any, unit: str, modulus_gpa: float) -> np.ndarray:
    """Uniaxial stress (MPa) from strain: ``sigma = E * epsilon``.

    Parameters
    ----------
    strain : array_like
        Strain in ``unit``.
    unit : str
        ``"um/m"`` (microstrain; also ``ustrain``, ``ue``), ``"mm/m"`` or ``"m/m"``.
    modulus_gpa : float
        Young's modulus of the gauge's material (GPa; steel 210).

    Raises
    ------
    ValueError
        Unknown unit or non-positive modulus.
    """
    key = unit.strip().lower()
    if key not in _STRAIN_FACTORS:
        raise ValueError(f"unknown strain unit {unit!r}; use one of um/m, mm/m, m/m")
    if not modulus_gpa > 0:
        raise ValueError(f"modulus_gpa must be > 0, got {modulus_gpa!r}")
    return np.asarray(strain, dtype=np.float64) * (_STRAIN_FACTORS[key] * modulus_gpa * 1e3)


def range_mean_histogram(
    ranges: Any, means: Any, counts: Any, range_edges: Any, mean_edges: Any
) -> np.ndarray:
    """Range-mean (Markov) histogram of rainflow cycles.

    Cycles outside the edges are put in the outermost bins, so no cycle is
    lost: the last range bin means "at least its lower edge".

    Returns
    -------
    ndarray, shape (len(range_edges) - 1, len(mean_edges) - 1)
        Cycle counts (half cycles count 0.5).
    """
    re = np.asarray(range_edges, dtype=np.float64)
    me = np.asarray(mean_edges, dtype=np.float64)
    r = np.clip(np.asarray(ranges, np.float64), re[0], re[-1])
    m = np.clip(np.asarray(means, np.float64), me[0], me[-1])
    h, _, _ = np.histogram2d(r, m, bins=(re, me), weights=np.asarray(counts, np.float64))
    return h


def remaining_life_years(damage: float, monitored_s: float, prior_damage: float = 0.0) -> float:
    """Years until Miner's sum reaches 1 at the monitored damage rate.

    Parameters
    ----------
    damage : float
        Damage accumulated over the monitored time.
    monitored_s : float
        Duration actually monitored (s).
    prior_damage : float
        Damage consumed before monitoring started (estimate), default 0.

    Returns
    -------
    float
        ``(1 - prior - damage) / rate``; ``inf`` when no damage was measured,
        0 when the sum already reached 1.
    """
    if monitored_s <= 0 or damage <= 0:
        return math.inf
    rate = damage / (monitored_s / SECONDS_PER_YEAR)
    return max(0.0, (1.0 - prior_damage - damage) / rate)


# ------------------------------------------------------------- per-gauge state
@dataclass(frozen=True)
class WindowFatigue:
    """Fatigue result of one gauge for one window.

    Attributes
    ----------
    gauge : str
    window_start_ns, window_end_ns : int
    n_valid : int
        Finite samples used (NaN dropouts are removed and the rest joined).
    range_counts : ndarray, shape (n_range_bins,)
        Cycles closed in this window per stress-range bin.
    damage : float
        Miner damage of the cycles closed in this window.
    cumulative_damage : float
        Damage of all closed cycles so far plus the current residue counted
        as half cycles (provisional part).
    damage_rate_per_year : float
    remaining_life_years : float
    max_range_mpa : float
        Largest closed-cycle stress range of the window (0 if none).
    stats : dict
        Strain statistics of the window: ``min, max, mean, std, p01, p99`` (gauge unit).
    """

    gauge: str
    window_start_ns: int
    window_end_ns: int
    n_valid: int
    range_counts: np.ndarray
    damage: float
    cumulative_damage: float
    damage_rate_per_year: float
    remaining_life_years: float
    max_range_mpa: float
    stats: dict[str, float] = field(default_factory=dict)


class GaugeFatigue:
    """Running fatigue account of one strain gauge (saveable).

    Parameters
    ----------
    gauge : str
        Channel name.
    unit : str
        Strain unit of the channel.
    curve : SNCurve
    modulus_gpa : float
    range_edges, mean_edges : array_like, optional
        Histogram bin edges (MPa); default 0-200 MPa by 2, -100-100 MPa by 10.
    prior_damage : float
        Damage consumed before monitoring (for the remaining life).
    """

    def __init__(
        self,
        gauge: str,
        unit: str,
        curve: SNCurve,
        modulus_gpa: float = 210.0,
        *,
        range_edges: Any = None,
        mean_edges: Any = None,
        prior_damage: float = 0.0,
    ) -> None:
        from bshm.analysis.rainflow import RainflowCounter

        strain_to_stress(0.0, unit, modulus_gpa)  # validates unit and modulus
        self.gauge, self.unit, self.curve, self.modulus_gpa = gauge, unit, curve, float(modulus_gpa)
        self.range_edges = np.asarray(
            DEFAULT_RANGE_EDGES if range_edges is None else range_edges, np.float64
        )
        self.mean_edges = np.asarray(
            DEFAULT_MEAN_EDGES if mean_edges is None else mean_edges, np.float64
        )
        for nm, e in (("range_edges", self.range_edges), ("mean_edges", self.mean_edges)):
            if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
                raise ValueError(f"{gauge}: {nm} must be increasing with at least 2 edges")
        self.prior_damage = float(prior_damage)
        self.counter = RainflowCounter()
        self.histogram = np.zeros((self.range_edges.size - 1, self.mean_edges.size - 1))
        self.damage_closed = 0.0
        self.monitored_s = 0.0
        self.last_end_ns: int | None = None
        self.first_start_ns: int | None = None

    # ------------------------------------------------------------------ use
    def process(self, strain: Any, start_ns: int, end_ns: int) -> WindowFatigue | None:
        """Count one window of strain.

        Parameters
        ----------
        strain : array_like, shape (n,)
            Strain samples (gauge unit); NaN dropouts are removed.
        start_ns, end_ns : int
            Window limits (ns). A window ending at or before the last one
            processed is skipped (returns None): reruns are harmless.

        Raises
        ------
        ValueError
            The window overlaps the last one counted (its cycles would be
            counted twice).

        Returns
        -------
        WindowFatigue or None
        """
        if self.last_end_ns is not None and end_ns <= self.last_end_ns:
            log.debug("%s: window ending %s already counted", self.gauge, end_ns)
            return None
        if self.last_end_ns is not None and start_ns < self.last_end_ns:
            raise ValueError(
                f"{self.gauge}: window starting {start_ns} overlaps the last one counted "
                f"(ended {self.last_end_ns}); windows must follow each other in time"
            )
        eps = np.asarray(strain, dtype=np.float64).ravel()
        ok = np.isfinite(eps)
        eps = eps[ok]
        stress = strain_to_stress(eps, self.unit, self.modulus_gpa)
        cyc = self.counter.feed(stress)
        d = self.curve.damage(cyc.range, cyc.count)
        self.damage_closed += d
        h = range_mean_histogram(cyc.range, cyc.mean, cyc.count, self.range_edges, self.mean_edges)
        self.histogram += h
        self.monitored_s += (end_ns - start_ns) * 1e-9 * (ok.mean() if ok.size else 0.0)
        self.last_end_ns = int(end_ns)
        if self.first_start_ns is None:
            self.first_start_ns = int(start_ns)
        cum = self.cumulative_damage()
        rate = cum / (self.monitored_s / SECONDS_PER_YEAR) if self.monitored_s > 0 else 0.0
        return WindowFatigue(
            gauge=self.gauge,
            window_start_ns=int(start_ns),
            window_end_ns=int(end_ns),
            n_valid=int(eps.size),
            range_counts=h.sum(axis=1),
            damage=d,
            cumulative_damage=cum,
            damage_rate_per_year=rate,
            remaining_life_years=remaining_life_years(cum, self.monitored_s, self.prior_damage),
            max_range_mpa=float(cyc.range.max()) if len(cyc) else 0.0,
            stats=strain_stats(eps),
        )

    def cumulative_damage(self) -> float:
        """Damage of the closed cycles plus the residue as half cycles."""
        tail = self.counter.residue_cycles()
        return self.damage_closed + self.curve.damage(tail.range, tail.count)

    # ---------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """JSON-ready state (lists and numbers)."""
        st = self.counter.state()
        st["residue_values"] = st["residue_values"].tolist()
        st["residue_indices"] = st["residue_indices"].tolist()
        return {
            "gauge": self.gauge,
            "unit": self.unit,
            "modulus_gpa": self.modulus_gpa,
            "curve": self.curve.to_dict(),
            "range_edges": self.range_edges.tolist(),
            "mean_edges": self.mean_edges.tolist(),
            "prior_damage": self.prior_damage,
            "rainflow": st,
            "histogram": self.histogram.tolist(),
            "damage_closed": self.damage_closed,
            "monitored_s": self.monitored_s,
            "last_end_ns": self.last_end_ns,
            "first_start_ns": self.first_start_ns,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GaugeFatigue:
        """Rebuild from :meth:`to_state` output (e.g. after ``json.loads``).

        Raises
        ------
        ValueError
            Missing keys or inconsistent shapes.
        """
        from bshm.analysis.rainflow import RainflowCounter

        try:
            g = cls(
                state["gauge"],
                state["unit"],
                SNCurve.from_dict(state["curve"]),
                state["modulus_gpa"],
                range_edges=state["range_edges"],
                mean_edges=state["mean_edges"],
                prior_damage=state.get("prior_damage", 0.0),
            )
            g.counter = RainflowCounter.from_state(state["rainflow"])
            h = np.asarray(state["histogram"], np.float64)
            if h.shape != g.histogram.shape:
                raise ValueError(f"histogram shape {h.shape} does not match the edges")
            g.histogram = h
            g.damage_closed = float(state["damage_closed"])
            g.monitored_s = float(state["monitored_s"])
            g.last_end_ns = state.get("last_end_ns")
            g.first_start_ns = state.get("first_start_ns")
        except KeyError as exc:
            raise ValueError(f"fatigue state: missing key {exc}") from exc
        return g


def strain_stats(x: np.ndarray) -> dict[str, float]:
    """``min, max, mean, std, p01, p99`` of the finite samples (NaN if none)."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return dict.fromkeys(("min", "max", "mean", "std", "p01", "p99"), math.nan)
    p01, p99 = np.percentile(x, [1, 99])
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean()),
        "std": float(x.std()),
        "p01": float(p01),
        "p99": float(p99),
    }


# ------------------------------------------------------------ job entry points
def process_strain_window(
    data: Any,
    channels: Sequence[Any],
    *,
    start_ns: int,
    end_ns: int,
    settings: Any = None,
    state: dict[str, GaugeFatigue] | None = None,
    curve: SNCurve | None = None,
    range_edges: Any = None,
    mean_edges: Any = None,
    moduli: Mapping[str, float] | None = None,
) -> tuple[list[WindowFatigue], dict[str, GaugeFatigue]]:
    """Fatigue of every gauge for one window (entry point for ``bshm analyze``).

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
        The strain source's samples for the window (e.g. ``Record.data``).
    channels : sequence of ChannelMeta-like
        One per column, with ``name``, ``quantity`` and ``unit``.
    start_ns, end_ns : int
        Window limits (ns).
    settings : FatigueSettings, optional
        ``gauges`` (empty: every strain channel; configured gauges that are
        not among ``channels`` belong to another source and are ignored
        here), ``modulus_gpa``, ``detail_category``. Defaults: all strain
        channels, 210 GPa, 71 MPa.
    state : dict, optional
        Gauge name -> :class:`GaugeFatigue` from earlier windows (e.g. from
        :func:`load_fatigue_state`); updated in place and returned.
    curve : SNCurve, optional
        Overrides the EN 1993-1-9 curve of ``settings.detail_category``.
    range_edges, mean_edges : array_like, optional
        Histogram edges (MPa) for gauges seen for the first time.
    moduli : mapping, optional
        Gauge name -> Young's modulus (GPa) where it differs from
        ``settings.modulus_gpa`` (e.g. a gauge on a stainless part).

    Returns
    -------
    (results, state)
        One :class:`WindowFatigue` per gauge that counted this window, and
        the updated state.

    Raises
    ------
    ValueError
        Shapes disagree. (A gauge whose unit is not a strain unit is skipped
        with a warning naming it; the other gauges are counted.)
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(channels):
        raise ValueError(f"strain data: expected (n, {len(channels)}) samples, got {arr.shape}")
    names = [c.name for c in channels]
    configured = tuple(getattr(settings, "gauges", ()) or ())
    if configured:
        wanted = tuple(g for g in configured if g in names)
    else:
        wanted = tuple(c.name for c in channels if c.quantity == "strain")
    modulus = float(getattr(settings, "modulus_gpa", 210.0))
    sn = curve or en1993_curve(float(getattr(settings, "detail_category", 71.0)))
    state = {} if state is None else state
    out = []
    for g in wanted:
        j = names.index(g)
        if g not in state:
            try:
                state[g] = GaugeFatigue(
                    g,
                    channels[j].unit,
                    sn,
                    float((moduli or {}).get(g, modulus)),
                    range_edges=range_edges,
                    mean_edges=mean_edges,
                )
            except ValueError as exc:  # e.g. a strain channel in mV/V: skip it, keep the others
                log.warning("fatigue of gauge %s skipped: %s", g, exc)
                continue
        res = state[g].process(arr[:, j], start_ns, end_ns)
        if res is not None:
            out.append(res)
    return out, state


def save_fatigue(
    results_path: Any,
    results: Sequence[WindowFatigue],
    state: Mapping[str, GaugeFatigue],
    *,
    station: str = "",
    writer: Any = None,
) -> int:
    """Write window results and the gauges' state to the results file.

    Uses :func:`bshm.store.results.append_fatigue` (one row per window; the
    state, S-N curve and cumulative range-mean histogram go into the gauge
    group's attributes), or ``writer.append_fatigue`` when an open
    :class:`bshm.store.results.ResultsWriter` is given (one transaction for
    many writes). Returns the number of rows added.
    """
    from bshm.store import results as rs

    def append(gauge: str, **kw: Any) -> int:
        if writer is not None:
            return int(writer.append_fatigue(gauge, **kw))
        return rs.append_fatigue(results_path, gauge, station=station, **kw)

    added = 0
    by_gauge: dict[str, list[WindowFatigue]] = {}
    for r in results:
        by_gauge.setdefault(r.gauge, []).append(r)
    for g, rows in by_gauge.items():
        acc = state[g]
        added += append(
            g,
            window_start_ns=[r.window_start_ns for r in rows],
            window_end_ns=[r.window_end_ns for r in rows],
            range_edges=acc.range_edges,
            counts=np.vstack([r.range_counts for r in rows]),
            miner_damage=[r.damage for r in rows],
            unit="MPa",
            attrs={
                "state": json.dumps(acc.to_state()),
                "curve": json.dumps(acc.curve.to_dict()),
                "modulus_gpa": acc.modulus_gpa,
                "strain_unit": acc.unit,
            },
        )
    return added


def load_fatigue_state(fatigue: Mapping[str, Mapping[str, Any]]) -> dict[str, GaugeFatigue]:
    """Gauge states from ``ResultsReader.fatigue()`` output (empty if none saved)."""
    out = {}
    for g, d in fatigue.items():
        raw = d.get("state")
        if raw is None:
            continue
        if isinstance(raw, bytes):
            raw = raw.decode()
        out[g] = GaugeFatigue.from_state(json.loads(raw))
    return out
