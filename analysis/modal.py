"""``identify``: natural frequencies, damping and mode shapes of one window.

The public entry point of the modal analysis: validation and preprocessing
(:mod:`bshm.analysis.preprocess`), then SSI-COV with automated picking
(:mod:`bshm.analysis.ssi`, :mod:`bshm.analysis.picking`) or FDD/EFDD
(:mod:`bshm.analysis.spectral`).  See ``docs/modal-analysis.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bshm.analysis.oma_options import METHODS

__all__ = ["METHODS", "ModalResult", "identify"]

log = logging.getLogger(__name__)

#: Exceptions of the numerical stage that become a note instead of escaping.
_NUMERICAL = (
    np.linalg.LinAlgError,
    FloatingPointError,
    ZeroDivisionError,
    OverflowError,
    ValueError,
)


@dataclass(frozen=True)
class ModalResult:
    """Identified modes of one window, sorted by frequency.

    Attributes
    ----------
    frequencies : ndarray, shape (n_modes,)
        Natural frequencies (Hz).
    damping : ndarray, shape (n_modes,)
        Damping ratios (1 = critical); NaN where the method gives none (FDD).
    shapes : ndarray, shape (n_channels, n_modes), complex
        Mode shapes in the channels' units (brought to one quantity when
        the channels measure different ones, see ``quantities``), largest
        component 1.
    freq_std, damping_std : ndarray, shape (n_modes,)
        Spread (standard deviation) across the poles supporting each mode
        (SSI-COV); for FDD the bin width / sqrt(12) and NaN.
    mpc : ndarray, shape (n_modes,)
        Modal phase collinearity (0..1, 1 = real mode) of the unit-free
        shape (each channel divided by its standard deviation), so it does
        not depend on the channels' units.
    mpd : ndarray, shape (n_modes,)
        Mean phase deviation (degrees), likewise unit-free.
    n_poles : ndarray, shape (n_modes,), int
        Stable poles (one per model order) supporting each mode (0 for FDD).
    stabilization : StabilizationDiagram or None
        All poles of all model orders (SSI-COV), with ``mode`` labels.
    spectrum : FDDSpectrum or None
        Singular values of the CPSD matrix (FDD/EFDD).
    method : str
    fs : float
        Sampling rate (Hz) the identification ran at (after decimation).
    channels : tuple of str
        Channel names, one per row of ``shapes`` (also ``channel_names``).
    notes : tuple of str
        What preprocessing did to the data, which settings were chosen
        automatically, numerical events, and why no mode survived.
    options : dict
        The options used (defaults filled in).
    locations : ndarray, shape (n_channels, 3), optional
        Position of each channel on the structure (m; NaN where unknown),
        when known (multi-setup results from a campaign).
    """

    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray
    freq_std: np.ndarray
    damping_std: np.ndarray
    mpc: np.ndarray
    mpd: np.ndarray
    n_poles: np.ndarray
    stabilization: Any = None
    spectrum: Any = None
    method: str = "ssi-cov"
    fs: float = float("nan")
    channels: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    locations: np.ndarray | None = None

    @property
    def n_modes(self) -> int:
        """Number of identified modes."""
        return int(self.frequencies.size)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names, one per row of ``shapes`` (same as ``channels``)."""
        return self.channels

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (strict JSON: NaN becomes null).

        Shapes are ``[re, im]`` pairs per channel (row) and mode (column),
        ``null`` where a channel has no value (multi-setup, mode not found in
        that channel's setup).
        """

        def num(values: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in np.ravel(values)]

        return {
            "method": self.method,
            "fs": self.fs,
            "channels": list(self.channels),
            "frequencies_hz": num(self.frequencies),
            "damping": num(self.damping),
            "freq_std_hz": num(self.freq_std),
            "damping_std": num(self.damping_std),
            "mpc": num(self.mpc),
            "mpd_deg": num(self.mpd),
            "n_poles": [int(v) for v in self.n_poles],
            "shapes": [
                [[float(v.real), float(v.imag)] if np.isfinite(v) else None for v in row]
                for row in self.shapes
            ],
            "notes": list(self.notes),
            "locations": None if self.locations is None else [num(row) for row in self.locations],
        }


def identify(data: Any, fs: float, *, method: str = "ssi-cov", **options: Any) -> ModalResult:
    """Identify natural frequencies, damping ratios and mode shapes of a window.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
        Responses of one window (accelerations, velocities, displacements,
        strains, in any units and gains); float32 or float64.
    fs : float
        Sampling rate (Hz).
    method : {"ssi-cov", "fdd", "efdd"}
        SSI-COV with automated mode picking (default), or FDD / enhanced FDD.
    **options
        Preprocessing (all methods): ``channel_names`` (sequence of str),
        ``channels`` (names or indices to keep), ``quantities`` (one per
        column: "acceleration", "velocity", "displacement", "strain",
        "tilt", or "other"/None for unknown; mixed quantities give shapes
        brought to one quantity), ``shape_quantity`` (that quantity; default
        the common one, else acceleration), ``nan_policy`` ("refuse" |
        "repair"), ``max_gap_s`` (0.5), ``detrend`` (None | "linear" |
        "constant"), ``band_hz`` ((low, high) zero-phase Butterworth),
        ``decimate_to_hz`` (default: to 4 ``freq_max_hz`` when the record is
        sampled 10 times faster than ``freq_max_hz``; False: never),
        ``freq_min_hz`` (0) and ``freq_max_hz`` (default 0.45 fs) bound the
        reported modes.

        SSI-COV: ``time_lag`` (block rows; correlations to lag 2 p - 1),
        ``max_order``, ``refs`` (reference channel indices, SSI-COV/ref):
        chosen from the channel count, window, band and fs when not given
        (see ``notes``); ``min_order`` (2), ``order_step`` (2),
        ``stability`` ((0.01, 0.2, 0.02): relative frequency, relative
        damping, 1 - MAC), ``max_damping`` (0.1), ``min_mpc`` (0.8),
        ``max_mpd`` (20 degrees), ``min_fraction`` (0.3), ``cutoff`` (None =
        from the data), ``multi_order`` (True), ``weighting`` ("energy":
        each reference sample weighted by the inverse of the recent power,
        causally, so traffic bursts do not dominate and the damping is not
        biased; None: plain estimate), ``weighting_span_s`` (time constant
        of that power average: 0.25 s or half the period of the data's
        zero-crossing frequency, whichever is longer).

        FDD/EFDD: ``nperseg`` (about 100 s), ``overlap`` (0.5),
        ``prominence`` (0.5 decades), ``mac_threshold`` (0.8, EFDD bell).

    Returns
    -------
    ModalResult
        The results do not depend on the channels' units: each channel is
        divided by its standard deviation before the identification and the
        shapes are scaled back.  Numerical trouble (an ill-conditioned or
        rank-deficient Hankel matrix, a failed eigenproblem) is reported in
        ``notes``, never raised.

    Raises
    ------
    ValueError
        Wrong shape or dtype, non-finite data (unless ``nan_policy="repair"``
        and the gaps are short), a gross outlier (naming the channel and
        sample), a constant channel, a window too short for ``time_lag``,
        orders the Hankel matrix cannot support, unknown options or
        quantities.

    Examples
    --------
    >>> res = identify(acc, 100.0, decimate_to_hz=50, freq_max_hz=20)  # doctest: +SKIP
    >>> res.frequencies, res.damping, res.shapes.shape                  # doctest: +SKIP
    """
    from bshm.analysis._threads import blas_limited

    with blas_limited(), np.errstate(all="ignore"):
        return _identify(data, fs, method, options)


def _identify(data: Any, fs: float, method: str, options: dict[str, Any]) -> ModalResult:
    from bshm.analysis.oma_options import check_fdd, check_ssi, choose_ssi_settings, merge_options
    from bshm.analysis.preprocess import channel_scales, prepare
    from bshm.analysis.quantities import plan_quantities

    opt = merge_options(method, options)
    decim, auto_note = _auto_decimation(fs, opt)
    prep = prepare(
        data,
        fs,
        channel_names=opt["channel_names"],
        channels=opt["channels"],
        nan_policy=opt["nan_policy"],
        max_gap_s=opt["max_gap_s"],
        detrend_kind=opt["detrend"],
        band_hz=opt["band_hz"],
        decimate_to_hz=decim,
        quantities=opt["quantities"],
    )
    plan = plan_quantities(prep.quantities, prep.channels, opt["shape_quantity"])
    center, scales = channel_scales(prep.data, prep.channels)
    n, nl = prep.data.shape
    fmin, fmax = _band(opt, prep.fs)
    notes = list(prep.notes) + ([auto_note] if auto_note and prep.fs != fs else [])
    notes += list(plan.notes)
    ctx = {
        "prep": prep,
        "center": center,
        "scales": scales,
        "plan": plan,
        "fmin": fmin,
        "fmax": fmax,
    }
    if method == "ssi-cov":
        opt, chosen = choose_ssi_settings(prep.data, center, scales, prep.fs, opt)
        notes += chosen
        check_ssi(n, nl, prep.fs, opt)
        run = _identify_ssi
    else:
        check_fdd(opt)
        run = _identify_fdd
    try:
        return run(ctx, opt, notes, method)
    except _NUMERICAL as exc:
        log.warning(
            "identify: numerical failure (%s: %s)",
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        notes.append(f"numerical failure, no mode identified: {type(exc).__name__}: {exc}")
        return _empty_result(ctx, opt, notes, method)


def _band(opt: dict[str, Any], fs: float) -> tuple[float, float]:
    """``freq_min_hz`` and ``freq_max_hz`` (default 0.45 fs), checked."""
    try:
        fmin = float(opt["freq_min_hz"] or 0.0)
        fmax = float(opt["freq_max_hz"] or 0.45 * fs)
    except (TypeError, ValueError):
        raise ValueError(
            "freq_min_hz and freq_max_hz must be numbers in Hz, got "
            f"{opt['freq_min_hz']!r} and {opt['freq_max_hz']!r}"
        ) from None
    if not (np.isfinite(fmin) and np.isfinite(fmax) and fmin < fmax):
        raise ValueError(f"the band {fmin:g}..{fmax:g} Hz is empty: give freq_min_hz < freq_max_hz")
    return fmin, fmax


#: A record sampled this many times faster than ``freq_max_hz`` is decimated
#: automatically (to ``AUTO_DECIMATE_TO`` times ``freq_max_hz``).
AUTO_DECIMATE_ABOVE = 10.0
AUTO_DECIMATE_TO = 4.0


def _auto_decimation(fs: Any, opt: dict[str, Any]) -> tuple[float | None, str]:
    """The decimation to apply: the option, or automatic for oversampled records."""
    dec = opt["decimate_to_hz"]
    if dec is False:
        return None, ""
    fmax = opt["freq_max_hz"]
    try:
        ratio = float(fs) / float(fmax) if dec is None and fmax else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return dec, ""  # prepare() reports the bad value
    if ratio >= AUTO_DECIMATE_ABOVE:
        return AUTO_DECIMATE_TO * float(fmax), (
            f"decimated automatically: freq_max_hz={float(fmax):g} is below fs/"
            f"{AUTO_DECIMATE_ABOVE:g} (pass decimate_to_hz=False to keep the rate)"
        )
    return dec, ""


def _empty_result(
    ctx: dict[str, Any], opt: dict[str, Any], notes: list[str], method: str
) -> ModalResult:
    e = np.empty(0)
    nl = ctx["prep"].data.shape[1]
    return ModalResult(
        frequencies=e,
        damping=e.copy(),
        shapes=np.empty((nl, 0), dtype=np.complex128),
        freq_std=e.copy(),
        damping_std=e.copy(),
        mpc=e.copy(),
        mpd=e.copy(),
        n_poles=np.empty(0, dtype=np.int64),
        method=method,
        fs=ctx["prep"].fs,
        channels=ctx["prep"].channels,
        notes=tuple(notes),
        options={**opt, "freq_min_hz": ctx["fmin"], "freq_max_hz": ctx["fmax"]},
    )


def _identify_ssi(
    ctx: dict[str, Any], opt: dict[str, Any], notes: list[str], method: str
) -> ModalResult:
    from dataclasses import replace

    from bshm.analysis.picking import explain_empty, pick_modes
    from bshm.analysis.quantities import to_physical
    from bshm.analysis.ssi import ssi_cov

    prep, plan = ctx["prep"], ctx["plan"]
    refs = None if opt["refs"] is None else np.asarray(opt["refs"], dtype=np.intp)
    diag = ssi_cov(
        prep.data,
        prep.fs,
        time_lag=int(opt["time_lag"]),
        max_order=int(opt["max_order"]),
        min_order=int(opt["min_order"]),
        order_step=int(opt["order_step"]),
        refs=refs,
        multi_order=bool(opt["multi_order"]),
        weighting=opt["weighting"],
        span_s=float(opt["weighting_span_s"]),
        stability=tuple(opt["stability"]),
        expo=plan.expo,
        center=ctx["center"],
        scale=ctx["scales"],
        shapes_for=(ctx["fmin"], ctx["fmax"], float(opt["max_damping"])),
    )
    notes += diag.notes
    picked = pick_modes(
        diag,
        freq_min=ctx["fmin"],
        freq_max=ctx["fmax"],
        max_damping=float(opt["max_damping"]),
        min_mpc=float(opt["min_mpc"]),
        max_mpd=float(opt["max_mpd"]),
        min_fraction=float(opt["min_fraction"]),
        cutoff=opt["cutoff"],
    )
    diag = replace(diag, mode=picked.labels)
    if picked.frequencies.size == 0:
        why = explain_empty(picked.funnel)
        if prep.quantities is None and "MPC" in why:
            why += (
                " (complex shapes: if the channels measure different quantities, pass quantities=)"
            )
        notes.append(why)
    log.debug("identify ssi-cov: %s modes", picked.frequencies.size)
    return ModalResult(
        frequencies=picked.frequencies,
        damping=picked.damping,
        shapes=to_physical(picked.shapes, ctx["scales"], plan.expo, picked.frequencies),
        freq_std=picked.freq_std,
        damping_std=picked.damping_std,
        mpc=picked.mpc,
        mpd=picked.mpd,
        n_poles=picked.cluster_size,
        stabilization=diag,
        method="ssi-cov",
        fs=prep.fs,
        channels=prep.channels,
        notes=tuple(notes),
        options={
            **opt,
            "refs": None if refs is None else refs.tolist(),
            "freq_min_hz": ctx["fmin"],
            "freq_max_hz": ctx["fmax"],
            "cutoff": picked.cutoff,
            "shape_quantity": plan.target,
        },
    )


def _identify_fdd(
    ctx: dict[str, Any], opt: dict[str, Any], notes: list[str], method: str
) -> ModalResult:
    from bshm.analysis.mac import mpc, mpd
    from bshm.analysis.quantities import to_physical
    from bshm.analysis.spectral import fdd

    prep, plan = ctx["prep"], ctx["plan"]
    enhanced = method == "efdd"
    z = (np.asarray(prep.data, dtype=np.float64) - ctx["center"]) / ctx["scales"]
    modes, spec = fdd(
        z,
        prep.fs,
        enhanced=enhanced,
        nperseg=opt["nperseg"],
        overlap=float(opt["overlap"]),
        freq_min=ctx["fmin"],
        freq_max=ctx["fmax"],
        prominence=float(opt["prominence"]),
        mac_threshold=float(opt["mac_threshold"]),
    )
    if enhanced:  # a peak whose bell gives no decaying correlation is not a mode
        bad = np.isnan(modes["damping"]) | ~(modes["damping"] > 0)
        notes += [f"efdd: dropped peak at {f:.4g} Hz (no decay)" for f in modes["frequencies"][bad]]
        modes = {k: (v[:, ~bad] if v.ndim == 2 else v[~bad]) for k, v in modes.items()}
    nm = modes["frequencies"].size
    # a singular vector at frequency f: channel c carries (i 2 pi f)^-e_c; align the phases
    unit = np.asarray(modes["shapes"], dtype=np.complex128) * (1j**plan.expo)[:, None]
    return ModalResult(
        frequencies=modes["frequencies"],
        damping=modes["damping"],
        shapes=to_physical(unit, ctx["scales"], plan.expo, modes["frequencies"]),
        freq_std=modes["freq_std"],
        damping_std=np.full(nm, np.nan),
        mpc=mpc(unit),
        mpd=mpd(unit),
        n_poles=np.zeros(nm, dtype=np.int64),
        spectrum=spec,
        method=method,
        fs=prep.fs,
        channels=prep.channels,
        notes=tuple(notes),
        options={
            **opt,
            "freq_min_hz": ctx["fmin"],
            "freq_max_hz": ctx["fmax"],
            "shape_quantity": plan.target,
        },
    )
