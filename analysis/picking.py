"""Automated mode picking from a stabilization diagram, with no per-dataset tuning.

1. Hard validation: keep poles that are stable against the previous order
   (frequency, damping and MAC), have a damping ratio in ``(0, max_damping)``,
   lie in the frequency band, have MPC >= ``min_mpc`` and MPD <= ``max_mpd``.
2. Hierarchical clustering (average linkage) of those poles on the distance
   ``|f_i - f_j| / max(f_i, f_j) + (1 - MAC_ij)`` (Magalhães et al. 2009),
   cut at a level derived from the data: mean + 2 standard deviations of the
   distances between each validated pole and its match in the previous
   order (Reynders et al. 2012), kept within ``[0.01, 0.05]``.
3. One pole per model order and cluster (the nearest to the cluster's
   median frequency); clusters smaller than ``min_fraction`` of the
   computed orders (and than ``min_fraction`` of the largest cluster) are
   rejected as spurious; of two clusters within 5 % in frequency whose
   shapes agree (MAC > 0.9) only the larger is kept.
4. One representative per cluster: median frequency and damping, the shape
   of the member nearest to them, the standard deviations across members.

References
----------
Magalhães, F., Cunha, Á., Caetano, E. (2009). Online automatic identification
of the modal parameters of a long span arch bridge. Mech. Syst. Signal
Process. 23(2), 316-329. https://doi.org/10.1016/j.ymssp.2008.05.003
Reynders, E., Houbrechts, J., De Roeck, G. (2012). Fully automated
(operational) modal analysis. Mech. Syst. Signal Process. 29, 228-250.
https://doi.org/10.1016/j.ymssp.2012.01.007
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from bshm.analysis.mac import _cluster_distance, _mac_rows
from bshm.analysis.ssi import StabilizationDiagram

__all__ = ["PickedModes", "explain_empty", "pick_modes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PickedModes:
    """Modes chosen from a stabilization diagram (sorted by frequency).

    Attributes
    ----------
    frequencies, damping, freq_std, damping_std, mpc, mpd : ndarray, (n_modes,)
        Hz, ratio, Hz, ratio, 0..1, degrees.
    shapes : ndarray, shape (n_channels, n_modes), complex
    cluster_size : ndarray, shape (n_modes,), int
        Number of poles (one per order) supporting each mode.
    labels : ndarray, shape (n_poles,), int
        Mode index of each pole of the diagram, -1 if none.
    cutoff : float
        Distance level at which the cluster tree was cut.
    funnel : tuple of (str, int)
        How many poles (then clusters) were left after each criterion, in
        the order applied; see :func:`explain_empty`.
    """

    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray
    freq_std: np.ndarray
    damping_std: np.ndarray
    mpc: np.ndarray
    mpd: np.ndarray
    cluster_size: np.ndarray
    labels: np.ndarray
    cutoff: float
    funnel: tuple[tuple[str, int], ...] = ()


def _candidates(
    diag: StabilizationDiagram,
    freq_min: float,
    freq_max: float,
    max_damping: float,
    min_mpc: float,
    max_mpd: float,
) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Poles passing the hard criteria, and the count left after each one."""
    f, z = diag.frequencies, diag.damping
    # poles without a computed shape (NaN, outside the band or damping range:
    # see ssi_cov's shapes_for) count as stable here and fail MPC below
    finite = np.isfinite(f) & np.isfinite(z)
    steps = [
        ("stable", diag.stable & finite),
        (f"in {freq_min:g}..{freq_max:g} Hz", (f >= freq_min) & (f <= freq_max)),
        (f"0 < damping < {max_damping:g}", (z > 0.0) & (z < max_damping)),
        (f"MPC >= {min_mpc:g}", diag.mpc >= min_mpc),
        (f"MPD <= {max_mpd:g} deg", diag.mpd <= max_mpd),
    ]
    ok = np.ones(diag.n_poles, dtype=bool)
    funnel = []
    for label, mask in steps:
        ok &= mask
        funnel.append((label, int(ok.sum())))
    return np.flatnonzero(ok), funnel


def explain_empty(funnel: Sequence[tuple[str, int]]) -> str:
    """One line saying which criteria removed the stable poles (empty result).

    Parameters
    ----------
    funnel : sequence of (str, int)
        :attr:`PickedModes.funnel`: stable, in band, damping, MPC, MPD (pole
        counts), then clusters (a cluster count).

    Returns
    -------
    str
    """
    if len(funnel) < 2:
        return ""
    if funnel[1][1] == 0:
        if funnel[0][1]:
            return f"no mode: none of the {funnel[0][1]} stable poles lies {funnel[1][0]}"
        return "no mode: no pole is stable from one model order to the next (noise only?)"
    (band_label, band), *rest = funnel[1:]
    parts = []
    prev = band
    for label, c in rest:
        if label.startswith("clusters"):
            if prev:
                parts.append(f"the {prev} left formed no {label}")
            break
        if c < prev:
            parts.append(f"{prev - c} failed {label}")
        prev = c
    return f"no mode: {band} stable poles {band_label}; " + ", ".join(parts)


def _clusters(freq: np.ndarray, rows: np.ndarray, cutoff: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if freq.size == 1:
        return np.zeros(1, dtype=np.int64)
    dist = _cluster_distance(freq, rows)
    tree = linkage(dist, method="average")
    return fcluster(tree, t=cutoff, criterion="distance").astype(np.int64) - 1


def _median(x: np.ndarray) -> np.float64:
    """``np.median`` of a small 1-D array, the same bits, without its overhead.

    ``np.median`` costs ~15 us per call on the few dozen poles of a cluster
    (about 57 calls per ``identify``); a sort and the middle value(s) cost a
    few: the middle element, or ``(a + b) / 2`` of the two middle ones (as
    ``np.median``'s mean of two), NaN when ``x`` holds a NaN.
    """
    s = np.sort(x)
    n = s.size
    if n == 0 or np.isnan(s[-1]):
        return np.float64(np.nan)
    h = n // 2
    return s[h] if n % 2 else (s[h - 1] + s[h]) / 2.0


def _one_per_order(members: np.ndarray, orders: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Keep, for every order, the member nearest to the median frequency."""
    med = _median(freq[members])
    key = np.abs(freq[members] - med)
    idx = members[np.lexsort((key, orders[members]))]
    first = np.ones(idx.size, dtype=bool)
    first[1:] = orders[idx[1:]] != orders[idx[:-1]]
    return idx[first]


def pick_modes(
    diag: StabilizationDiagram,
    *,
    freq_min: float = 0.0,
    freq_max: float = np.inf,
    max_damping: float = 0.1,
    min_mpc: float = 0.8,
    max_mpd: float = 20.0,
    min_fraction: float = 0.3,
    cutoff: float | None = None,
) -> PickedModes:
    """Choose physical modes from all poles of a stabilization diagram.

    Parameters
    ----------
    diag : StabilizationDiagram
        Poles of all model orders (see :func:`bshm.analysis.ssi.ssi_cov`).
    freq_min, freq_max : float
        Frequency band of interest (Hz).
    max_damping : float, default 0.1
        Poles with a larger damping ratio are rejected.
    min_mpc : float, default 0.8
        Poles with a smaller modal phase collinearity are rejected.
    max_mpd : float, default 20
        Poles with a larger mean phase deviation (degrees) are rejected.
    min_fraction : float, default 0.3
        A cluster must hold at least this fraction of the computed model
        orders and of the largest cluster.
    cutoff : float, optional
        Fixed clustering distance (default: derived from the data).

    Returns
    -------
    PickedModes
    """
    nl = diag.shapes.shape[0]
    labels = np.full(diag.n_poles, -1, dtype=np.int64)
    cand, funnel = _candidates(diag, freq_min, freq_max, max_damping, min_mpc, max_mpd)
    if cutoff is None:
        d = diag.match_distance[cand]
        d = d[np.isfinite(d)]
        level = float(d.mean() + 2.0 * d.std()) if d.size > 1 else 0.02
        cutoff = float(np.clip(level, 0.01, 0.05))
    if cand.size == 0:
        return _empty(nl, labels, cutoff, funnel)
    rows = np.ascontiguousarray(diag.shapes[:, cand].T)
    freq = diag.frequencies[cand]
    lab = _clusters(freq, rows, cutoff)
    raw = np.bincount(lab)
    need = max(3.0, min_fraction * diag.model_orders.size)
    # a cluster's size after "one pole per order" is at most its raw size
    clusters = [
        _one_per_order(cand[lab == c], diag.orders, diag.frequencies)
        for c in np.flatnonzero(raw >= need)
    ]
    sizes = np.array([c.size for c in clusters] or [0])
    need = max(need, min_fraction * sizes.max())
    kept = [c for c in clusters if c.size >= need]
    funnel.append((f"clusters of >= {need:.0f} poles (one per order)", len(kept)))
    kept.sort(key=lambda c: float(_median(diag.frequencies[c])))
    kept = _drop_duplicates(diag, kept)
    log.debug(
        "picking: %s candidates, %s clusters, %s kept (cutoff %.4f)",
        cand.size,
        raw.size,
        len(kept),
        cutoff,
    )
    if not kept:
        return _empty(nl, labels, cutoff, funnel)
    return _summarise(diag, kept, labels, cutoff, funnel)


def _drop_duplicates(diag: StabilizationDiagram, kept: list[np.ndarray]) -> list[np.ndarray]:
    """Of two clusters within 5 % in frequency with MAC > 0.9, keep the larger.

    Harmonic or coloured excitation near a mode can produce a second, more
    damped stable cluster with the mode's shape next to it; two genuine modes
    that close with the same shape at the sensors cannot be told apart anyway.
    """

    def rep(c: np.ndarray) -> np.ndarray:
        f = diag.frequencies[c]
        i = c[np.argmin(np.abs(f - _median(f)))]
        return np.ascontiguousarray(diag.shapes[:, i : i + 1].T)

    out: list[np.ndarray] = []
    for c in kept:
        f = _median(diag.frequencies[c])
        dup = False
        for i, o in enumerate(out):
            fo = _median(diag.frequencies[o])
            if abs(f - fo) / fo < 0.05:
                m = _mac_rows(rep(c), rep(o))[0, 0]
                if m > 0.9:
                    dup = True
                    if c.size > o.size:
                        out[i] = c
                    break
        if not dup:
            out.append(c)
    return out


def _summarise(
    diag: StabilizationDiagram,
    kept: list[np.ndarray],
    labels: np.ndarray,
    cutoff: float,
    funnel: list[tuple[str, int]],
) -> PickedModes:
    n = len(kept)
    nl = diag.shapes.shape[0]
    out = {k: np.empty(n) for k in ("f", "z", "fs", "zs", "mpc", "mpd")}
    shapes = np.empty((nl, n), dtype=np.complex128)
    size = np.empty(n, dtype=np.int64)
    for k, c in enumerate(kept):
        f, z = diag.frequencies[c], diag.damping[c]
        fm, zm = _median(f), _median(z)
        rep = c[np.argmin(np.abs(f - fm) / fm + np.abs(z - zm) / zm)]
        out["f"][k], out["z"][k] = fm, zm
        out["fs"][k] = f.std(ddof=1) if c.size > 1 else 0.0
        out["zs"][k] = z.std(ddof=1) if c.size > 1 else 0.0
        out["mpc"][k], out["mpd"][k] = diag.mpc[rep], diag.mpd[rep]
        shapes[:, k] = diag.shapes[:, rep]
        size[k] = c.size
        labels[c] = k
    return PickedModes(
        frequencies=out["f"],
        damping=out["z"],
        shapes=shapes,
        freq_std=out["fs"],
        damping_std=out["zs"],
        mpc=out["mpc"],
        mpd=out["mpd"],
        cluster_size=size,
        labels=labels,
        cutoff=cutoff,
        funnel=tuple(funnel),
    )


def _empty(
    nl: int, labels: np.ndarray, cutoff: float, funnel: list[tuple[str, int]]
) -> PickedModes:
    e = np.empty(0)
    return PickedModes(
        frequencies=e,
        damping=e.copy(),
        shapes=np.empty((nl, 0), dtype=np.complex128),
        freq_std=e.copy(),
        damping_std=e.copy(),
        mpc=e.copy(),
        mpd=e.copy(),
        cluster_size=np.empty(0, dtype=np.int64),
        labels=labels,
        cutoff=cutoff,
        funnel=tuple(funnel),
    )
