"""Covariance-driven stochastic subspace identification (SSI-COV, SSI-COV/ref).

Pipeline: output correlations up to lag ``2p - 1`` (block FFT, exact and
unbiased, optionally with causal weights: :mod:`bshm.analysis.ssi_corr`),
block Hankel matrix of ``p`` block rows, its leading left singular subspace
(the observability matrix; Gram eigenproblem or SVD depending on the
conditioning), and the system matrices of *every* model order from a single
QR factorisation (Döhler & Mevel 2012), then the poles of each order, their
MPC/MPD, and their stability against the previous order.

References
----------
Peeters, B., De Roeck, G. (1999). Reference-based stochastic subspace
identification for output-only modal analysis. Mech. Syst. Signal Process.
13(6), 855-878. https://doi.org/10.1006/mssp.1999.1249
Döhler, M., Mevel, L. (2012). Fast multi-order computation of system matrices
in subspace-based system identification. Control Eng. Pract. 20(9), 882-894.
https://doi.org/10.1016/j.conengprac.2012.05.005
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from bshm.analysis._numba import kernel
from bshm.analysis.mac import _mpc_rows, _mpd_rows
from bshm.analysis.ssi_corr import output_correlations
from bshm.analysis.ssi_eig import multi_order_eigen

__all__ = [
    "StabilizationDiagram",
    "block_hankel",
    "hankel_subspace",
    "multi_order_matrices",
    "observability",
    "output_correlations",
    "ssi_cov",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StabilizationDiagram:
    """Every pole of every model order, for plotting and for mode picking.

    Attributes
    ----------
    orders : ndarray, shape (n_poles,), int
        Model order each pole came from.
    frequencies : ndarray, shape (n_poles,)
        Undamped natural frequency (Hz).
    damping : ndarray, shape (n_poles,)
        Damping ratio (1 = critical; negative for unstable poles).
    shapes : ndarray, shape (n_channels, n_poles), complex
        Mode shapes, largest component scaled to 1.
    mpc, mpd : ndarray, shape (n_poles,)
        Modal phase collinearity (0..1) and mean phase deviation (degrees).
    stable_frequency : ndarray, shape (n_poles,), bool
        Frequency within the tolerance of a pole of the previous order.
    stable : ndarray, shape (n_poles,), bool
        Frequency, damping and MAC all within tolerance of that pole (for a
        pole without a computed shape, NaN in ``shapes``: frequency and
        damping only; see ``shapes_for`` of :func:`ssi_cov`).
    match_distance : ndarray, shape (n_poles,)
        ``|df|/f + 1 - MAC`` to the nearest pole of the previous order
        (``inf`` for the first order).
    mode : ndarray, shape (n_poles,), int
        Index of the identified mode this pole supports, or -1.
    model_orders : ndarray, int
        The model orders that were computed.
    fs : float
        Sampling rate (Hz) of the data the poles come from.
    notes : tuple of str
        Numerical events (ill-conditioned Hankel matrix, dropped orders).

    Shapes, MPC and MPD are those of the data as the SSI saw them: each
    channel divided by its standard deviation (unit-free, so the picking
    does not depend on the channels' units) and, for mixed sensor
    quantities, with the phases brought to one quantity.
    """

    orders: np.ndarray
    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray
    mpc: np.ndarray
    mpd: np.ndarray
    stable_frequency: np.ndarray
    stable: np.ndarray
    match_distance: np.ndarray
    mode: np.ndarray
    model_orders: np.ndarray
    fs: float
    notes: tuple[str, ...] = ()

    @property
    def n_poles(self) -> int:
        """Number of poles in the diagram."""
        return int(self.orders.size)

    def at_order(self, order: int) -> np.ndarray:
        """Indices of the poles of one model order."""
        return np.flatnonzero(self.orders == order)


# --------------------------------------------------------------------------
# Hankel matrix and its subspace
# --------------------------------------------------------------------------


def block_hankel(corr: np.ndarray, time_lag: int) -> np.ndarray:
    """Block Hankel matrix ``H[i, j] = R_{i + j + 1}`` of ``time_lag`` block rows.

    Parameters
    ----------
    corr : ndarray, shape (>= 2 * time_lag, n_channels, n_refs)
        Correlations from lag 0.
    time_lag : int
        Number of block rows and columns ``p``.

    Returns
    -------
    ndarray, shape (p * n_channels, p * n_refs)
    """
    p = time_lag
    _, nl, nr = corr.shape
    idx = np.arange(p)[:, None] + np.arange(p)[None, :] + 1
    return corr[idx].transpose(0, 2, 1, 3).reshape(p * nl, p * nr)


#: Below this ratio of the smallest to the largest retained eigenvalue of the
#: Gram matrix (singular value ratio 1e-6), the Gram route's smallest
#: eigenvalues approach its rounding level (about 1e-16 x size x largest: it
#: squares the condition number): use the SVD of H.
GRAM_RATIO_MIN = 1e-12
#: Gram matrices with at least this many rows solve for the ``n_max`` largest
#: eigenpairs only (LAPACK ``syevr``, index range: 1.4-1.5x faster than all of
#: them for 720 and 960 rows, one thread); smaller ones for all by divide and
#: conquer (``syevd``: 2x faster at 240 rows, even at 480, where the
#: tridiagonal reduction both share is ~80 % of the time).  Measured in
#: docs/bench/oma.md ("Gram step").
GRAM_SUBSET_MIN_ROWS = 600
#: Singular values below this fraction of the largest are numerically zero.
RANK_TOL = 1e-12


def hankel_subspace(hankel: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Orthonormal basis of the ``n_max`` leading left singular directions of ``H``.

    The fast route solves the symmetric eigenproblem of the smaller Gram
    matrix (``H H^T``, or ``H^T H`` when ``H`` is tall, as with few reference
    channels) and keeps its ``n_max`` largest eigenpairs: all of them by
    LAPACK ``syevd`` below ``GRAM_SUBSET_MIN_ROWS`` rows (240 and 480 rows:
    as fast as or faster than a subset by ``syevr``, and 2-3x faster than a
    full SVD of ``H``, one thread), only the ``n_max`` largest by ``syevr``
    from there on (720 and 960 rows: 1.4-1.5x faster).  A Gram
    matrix squares the condition number, so when the retained eigenvalues
    span more than ``1 / GRAM_RATIO_MIN`` (singular values more than 1e6),
    or the eigensolver fails, the SVD of ``H`` itself is used (``gesdd``,
    then ``gesvd``).

    Parameters
    ----------
    hankel : ndarray, shape (m, k), finite
    n_max : int
        Number of directions, ``<= min(m, k)``.

    Returns
    -------
    u : ndarray, shape (m, n_max)
        Orthonormal columns (the observability matrix is ``u * sqrt(sv)``).
    sv : ndarray, shape (n_max,)
        Singular values of ``H``, descending (>= 0).
    route : str
        ``"gram"`` or ``"svd"``.
    """
    m, k = hankel.shape
    tall = m > k
    gram = hankel.T @ hankel if tall else hankel @ hankel.T
    try:
        w, v = _gram_top(gram, n_max)
        ok = bool(np.all(np.isfinite(w))) and w[-1] > GRAM_RATIO_MIN * w[0] > 0.0
    except (np.linalg.LinAlgError, ValueError):
        ok = False
    if ok:
        sv = np.sqrt(w)
        u = (hankel @ v) / sv if tall else v
        return u, sv, "gram"
    try:
        u, sv, _ = scipy.linalg.svd(
            hankel, full_matrices=False, check_finite=False, lapack_driver="gesdd"
        )
    except np.linalg.LinAlgError:
        u, sv, _ = scipy.linalg.svd(
            hankel, full_matrices=False, check_finite=False, lapack_driver="gesvd"
        )
    return u[:, :n_max], sv[:n_max], "svd"


def _gram_top(gram: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_max`` largest eigenpairs of a symmetric matrix, descending (overwrites it)."""
    size = gram.shape[0]
    if size >= GRAM_SUBSET_MIN_ROWS and n_max < size:
        # tridiagonal form, the top eigenvalues by MRRR, only their vectors back-transformed
        w, v = scipy.linalg.eigh(
            gram,
            subset_by_index=[size - n_max, size - 1],
            driver="evr",
            check_finite=False,
            overwrite_a=True,
        )
        return w[::-1], v[:, ::-1]
    w, v = scipy.linalg.eigh(gram, driver="evd", check_finite=False, overwrite_a=True)
    return w[::-1][:n_max], v[:, ::-1][:, :n_max]


def observability(hankel: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Observability matrix ``U_n S_n^{1/2}`` of the ``n_max`` leading directions.

    See :func:`hankel_subspace` for how the subspace is computed.
    (:func:`ssi_cov` works on ``U_n`` itself: the poles are the same, since
    the two differ by the column scaling ``S_n^{1/2}``, a similarity of every
    system matrix, but ``U_n`` has no near-zero columns when singular values
    vanish.)

    Returns
    -------
    obs : ndarray, shape (n_rows, n_max)
    sv : ndarray, shape (n_max,)
        Singular values of ``H``, descending.
    """
    u, sv, _ = hankel_subspace(hankel, n_max)
    return u * np.sqrt(sv), sv


def multi_order_matrices(
    obs: np.ndarray, n_channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One QR for all orders (Döhler & Mevel 2012).

    With ``O_up = Q R`` (the observability matrix without its last block row)
    and ``S = Q^T O_down``, the least-squares system matrix of order ``n`` is
    ``A_n = R[:n, :n]^{-1} S[:n, :n]``, because the leading ``n`` columns of a
    QR factorisation are the QR factorisation of the leading ``n`` columns.

    Returns
    -------
    r : ndarray, shape (n_max, n_max)
        Upper-triangular factor.
    s : ndarray, shape (n_max, n_max)
    c : ndarray, shape (n_channels, n_max)
        Output matrix of the largest order (``C_n = c[:, :n]``).
    """
    q, r = np.linalg.qr(obs[:-n_channels])
    s = q.T @ obs[n_channels:]
    return r, s, obs[:n_channels]


# --------------------------------------------------------------------------
# poles
# --------------------------------------------------------------------------


@kernel
def _extract_poles(lam, phi, counts, orders, fs, expo):  # type: ignore[no-untyped-def]
    """Continuous-time poles with positive imaginary part, shapes max-normalised.

    lam (K, n_max) complex discrete eigenvalues, phi (K, n_max, l) complex
    shapes C v, counts (K,) eigenvalues per order, orders (K,), expo (l,)
    int: channel ``c`` of each shape is multiplied by ``(lambda / |lambda|) **
    expo[c]`` (the phase of ``lambda ** expo[c]``, which turns a velocity
    channel's component into an acceleration's when ``expo = 1``, etc.).
    Non-finite eigenvalues are skipped.
    """
    k_tot, _ = lam.shape
    nl = phi.shape[2]
    m = 0
    for k in range(k_tot):
        for i in range(counts[k]):
            mu = lam[k, i]
            if mu.imag > 0.0 and abs(mu) > 0.0 and np.isfinite(abs(mu)):
                m += 1
    order = np.empty(m, dtype=np.int64)
    freq = np.empty(m)
    damp = np.empty(m)
    shapes = np.empty((m, nl), dtype=np.complex128)
    j = 0
    for k in range(k_tot):
        for i in range(counts[k]):
            mu = lam[k, i]
            if not (mu.imag > 0.0 and abs(mu) > 0.0 and np.isfinite(abs(mu))):
                continue
            lc = np.log(mu) * fs
            wn = abs(lc)
            order[j] = orders[k]
            freq[j] = wn / (2.0 * np.pi)
            damp[j] = -lc.real / wn
            ang = np.arctan2(lc.imag, lc.real)
            big = 0
            bmax = -1.0
            for c in range(nl):
                v = phi[k, i, c]
                if expo[c] != 0:
                    v = v * complex(np.cos(expo[c] * ang), np.sin(expo[c] * ang))
                shapes[j, c] = v
                a = abs(v)
                if a > bmax:
                    bmax = a
                    big = c
            ref = shapes[j, big]
            for c in range(nl):
                if bmax > 0.0:
                    shapes[j, c] = shapes[j, c] / ref
                elif bmax < 0.0:  # every component NaN: no eigenvector computed
                    shapes[j, c] = complex(np.nan, np.nan)
                else:
                    shapes[j, c] = 0.0
            j += 1
    return order, freq, damp, shapes


@kernel
def _stability(order, freq, damp, shapes, tol_f, tol_d, tol_mac):  # type: ignore[no-untyped-def]
    """Match each pole to the nearest-frequency pole of the previous order.

    Poles must be grouped by ascending order.  Returns (stable_freq, stable,
    distance) where distance = |df|/f + 1 - MAC to the match.
    """
    m, nl = shapes.shape
    st_f = np.zeros(m, dtype=np.bool_)
    st = np.zeros(m, dtype=np.bool_)
    dist = np.full(m, np.inf)
    prev0 = 0
    prev1 = 0
    i = 0
    while i < m:
        cur1 = i
        while cur1 < m and order[cur1] == order[i]:
            cur1 += 1
        for a in range(i, cur1):
            best = -1
            bdf = np.inf
            for b in range(prev0, prev1):
                df = abs(freq[a] - freq[b]) / freq[a]
                if df < bdf:
                    bdf = df
                    best = b
            if best < 0:
                continue
            na = 0.0
            nb = 0.0
            acc = 0.0j
            for c in range(nl):
                na += shapes[a, c].real ** 2 + shapes[a, c].imag ** 2
                nb += shapes[best, c].real ** 2 + shapes[best, c].imag ** 2
                acc += shapes[a, c].conjugate() * shapes[best, c]
            if na * nb > 0.0:
                mac = (acc.real**2 + acc.imag**2) / (na * nb)
            else:  # NaN when the match has no shape (unknown), 0 for a zero shape
                mac = np.nan if np.isnan(na * nb) else 0.0
            ok_f = bdf <= tol_f
            st_f[a] = ok_f
            dd = abs(damp[a] - damp[best])
            ok_d = dd <= tol_d * abs(damp[best])
            if np.isnan(na):  # no shape computed for this pole: frequency and damping only
                dist[a] = bdf
                st[a] = ok_f and ok_d
            else:
                dist[a] = bdf + 1.0 - mac
                st[a] = ok_f and ok_d and mac >= 1.0 - tol_mac
        prev0 = i
        prev1 = cur1
        i = cur1
    return st_f, st, dist


def shape_mask(
    lam: np.ndarray,
    fs: float,
    freq_min: float,
    freq_max: float,
    max_damping: float,
    tol_f: float,
    tol_d: float,
) -> np.ndarray:
    """Discrete poles whose shape the picking can use (needs an eigenvector).

    A pole can become a mode when it lies in ``freq_min..freq_max`` with a
    damping ratio in ``(0, max_damping)``, and it must then be stable: its
    previous-order match lies within ``tol_f`` in frequency and ``tol_d``
    (relative) in damping, i.e. in ``freq_min (1 - tol_f)..freq_max (1 +
    tol_f)`` with a damping in ``(0, max_damping / (1 - tol_d))``.  The mask
    keeps that wider set (with the margins doubled against rounding), and
    only poles with a positive imaginary part (one of each conjugate pair).

    Parameters
    ----------
    lam : ndarray, complex
        Discrete-time eigenvalues.
    fs : float
    freq_min, freq_max, max_damping, tol_f, tol_d : float

    Returns
    -------
    ndarray of bool
    """
    with np.errstate(all="ignore"):
        lc = np.log(lam) * fs
        wn = np.abs(lc)
        f = wn / (2.0 * np.pi)
        z = -lc.real / wn
    zmax = max_damping / (1.0 - 2.0 * tol_d) if 2.0 * tol_d < 1.0 else np.inf
    return (
        (lam.imag > 0.0)
        & np.isfinite(lc)
        & (f >= freq_min * (1.0 - 2.0 * tol_f))
        & (f <= freq_max * (1.0 + 2.0 * tol_f))
        & (z > 0.0)
        & (z < zmax)
    )


def _mask_of(fs: float, fmin: float, fmax: float, zmax: float, tol_f: float, tol_d: float):  # type: ignore[no-untyped-def]
    return lambda w: shape_mask(w, fs, fmin, fmax, zmax, tol_f, tol_d)


def _orders(min_order: int, max_order: int, order_step: int) -> np.ndarray:
    first = max(min_order, order_step)
    return np.arange(first, max_order + 1, order_step, dtype=np.int64)


def poles_of_orders(
    obs: np.ndarray,
    n_channels: int,
    orders: np.ndarray,
    fs: float,
    *,
    multi_order: bool = True,
    expo: np.ndarray | None = None,
    notes: list[str] | None = None,
    shapes_for: tuple[float, float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Poles of every model order in ``orders`` from one observability matrix.

    Parameters
    ----------
    obs : ndarray, shape (p * n_channels, n_max)
        Observability matrix (or any basis of its column space).
    n_channels : int
    orders : ndarray of int
        Model orders (ascending, each <= n_max).
    fs : float
        Sampling rate (Hz).
    multi_order : bool, default True
        Use the single QR of Döhler & Mevel; ``False`` solves one least-squares
        problem per order (the straightforward way, for comparison).
    expo : ndarray of int, shape (n_channels,), optional
        Per-channel phase exponents (see :func:`_extract_poles`); default 0.
    notes : list of str, optional
        Receives one line per model order whose eigenproblem failed (that
        order is skipped instead of failing the whole identification).
    shapes_for : (freq_min, freq_max, max_damping, tol_f, tol_d), optional
        Compute eigenvectors only for the poles that can become modes or be
        the previous-order match of one (see :func:`shape_mask`), and of
        those only the poles stable in frequency and damping and their
        matches (the others are unstable whatever their shape); the other
        poles get NaN shapes.  Eigenvalues come from a Hessenberg reduction
        per order and the vectors from inverse iteration
        (:mod:`bshm.analysis.ssi_eig`): 17 ms against 23.6 ms with ``eig`` for
        the 40 orders of a 6-channel window (one thread).
        Default: every pole's shape, by ``np.linalg.eig``.

    Returns
    -------
    order, frequency (Hz), damping, shapes (n_poles, n_channels) complex
    """
    n_max = int(orders[-1])
    lam = np.zeros((orders.size, n_max), dtype=np.complex128)
    phi = np.zeros((orders.size, n_max, n_channels), dtype=np.complex128)
    counts = orders.astype(np.int64)
    if multi_order:
        # A_n = R_n^-1 S_n is similar (by R_n) to M_n = S_n R_n^-1, the leading
        # n x n block of M = S R^-1 (R^-1 is upper triangular); its eigenvectors
        # w give the shapes C_n R_n^-1 w = G[:, :n] w with G = C R^-1: one
        # triangular inverse for all orders instead of one solve per order
        r, s, c = multi_order_matrices(obs[:, :n_max], n_channels)
        try:
            rinv = scipy.linalg.solve_triangular(r, np.eye(n_max), check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            rinv = np.full((n_max, n_max), np.nan)
        if np.all(np.isfinite(rinv)):
            m_all, c = s @ rinv, c @ rinv
        else:  # a singular R: solve order by order, the orders that fail are skipped
            m_all = None
    else:
        c = obs[:n_channels, :n_max]
    failed = []
    if shapes_for is not None:
        want = _mask_of(fs, *map(float, shapes_for))

        def system(k: int, n: int) -> np.ndarray:
            if multi_order and m_all is not None:
                return m_all[:n, :n]
            if multi_order:
                return scipy.linalg.solve_triangular(r[:n, :n], s[:n, :n], check_finite=False)
            return np.linalg.lstsq(obs[:-n_channels, :n], obs[n_channels:, :n], rcond=None)[0]

        tols = (float(fs), float(shapes_for[3]), float(shapes_for[4]))
        blocks = m_all if multi_order and m_all is not None else system
        lam, phi, counts, failed = multi_order_eigen(blocks, c, orders, want, stability=tols)
    for k, n in enumerate(orders if shapes_for is None else ()):
        try:
            if multi_order and m_all is not None:
                a = m_all[:n, :n]
            elif multi_order:
                a = scipy.linalg.solve_triangular(r[:n, :n], s[:n, :n], check_finite=False)
            else:
                a = np.linalg.lstsq(obs[:-n_channels, :n], obs[n_channels:, :n], rcond=None)[0]
            w, v = np.linalg.eig(a)
        except (np.linalg.LinAlgError, ValueError):
            counts[k] = 0
            failed.append(int(n))
            continue
        lam[k, :n] = w
        phi[k, :n] = (c[:, :n] @ v).T
    if failed and notes is not None:
        notes.append(
            f"ssi-cov: the system matrix of {len(failed)} model order(s) "
            f"({', '.join(map(str, failed[:5]))}{', ...' if len(failed) > 5 else ''}) "
            "could not be solved; those orders were skipped"
        )
    e = np.zeros(n_channels, dtype=np.int64) if expo is None else np.asarray(expo, np.int64)
    return _extract_poles(lam, phi, counts, orders, float(fs), e)


def ssi_cov(
    data: np.ndarray,
    fs: float,
    *,
    time_lag: int = 40,
    max_order: int = 80,
    min_order: int = 2,
    order_step: int = 2,
    refs: np.ndarray | None = None,
    multi_order: bool = True,
    stability: tuple[float, float, float] = (0.01, 0.2, 0.02),
    weighting: str | None = "energy",
    span_s: float = 0.25,
    expo: np.ndarray | None = None,
    center: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    shapes_for: tuple[float, float, float] | None = None,
) -> StabilizationDiagram:
    """SSI-COV poles of all model orders, with their stability.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
        Validated, finite data (see :func:`bshm.analysis.identify` for checks).
    fs : float
        Sampling rate (Hz).
    time_lag : int, default 40
        Block rows ``p`` of the Hankel matrix; correlations up to lag ``2p-1``.
    max_order, min_order, order_step : int
        Model orders ``min_order, min_order + order_step, ..., max_order``.
        Orders above the numerical rank of the Hankel matrix are dropped
        (noted in ``notes``).
    refs : array of int, optional
        Reference channels (SSI-COV/ref); default all.
    multi_order : bool, default True
        Fast multi-order system matrices (see :func:`multi_order_matrices`).
    stability : (float, float, float)
        Tolerances: relative frequency, relative damping, ``1 - MAC``.
    weighting : {"energy", None}
        Causal weighting of the correlations (see
        :func:`bshm.analysis.ssi_corr.output_correlations`).
    span_s : float
        Time constant of the weighting's power average (s).
    expo : ndarray of int, shape (n_channels,), optional
        Per-channel phase exponents of the shapes (mixed sensor quantities).
    center, scale : ndarray, shape (n_channels,), optional
        The data are taken as ``(data - center) / scale`` (unit-free
        channels, no copy; see :func:`bshm.analysis.preprocess.channel_scales`).
    shapes_for : (freq_min, freq_max, max_damping), optional
        Mode shapes only for the poles that the picking can use (in the band
        and damping range, and their possible previous-order matches; see
        :func:`shape_mask`): the other poles get NaN shapes, MPC and MPD,
        and their ``stable`` flag uses frequency and damping only.  The
        picked modes are the same as with every shape computed; ``identify``
        passes its band.  Default: every pole's shape.

    Returns
    -------
    StabilizationDiagram
    """
    n, nl = data.shape
    notes: list[str] = []
    corr = output_correlations(
        data,
        2 * time_lag - 1,
        refs,
        weighting=weighting,
        span=max(1, int(span_s * fs)),
        center=center,
        scale=scale,
    )
    hank = block_hankel(corr, time_lag)
    if not np.all(np.isfinite(hank)):
        raise FloatingPointError("the output correlations are not finite")
    orders = _orders(min_order, max_order, order_step)
    u, sv, route = hankel_subspace(hank, int(orders[-1]))
    if route == "svd":
        notes.append(
            "ssi-cov: the Hankel matrix is ill-conditioned (singular values span "
            f"{sv[0] / max(sv[-1], np.finfo(float).tiny):.2g}): its SVD was used"
        )
    rank = int(np.sum(sv > RANK_TOL * sv[0])) if sv[0] > 0 else 0
    if rank < orders[-1]:
        keep = orders[orders <= rank]
        if keep.size == 0:
            raise FloatingPointError(f"the Hankel matrix has numerical rank {rank}")
        notes.append(
            f"ssi-cov: the Hankel matrix has numerical rank {rank} (noise-free or "
            f"linearly dependent channels?): model orders above {int(keep[-1])} dropped"
        )
        orders = keep
    sel = None
    if shapes_for is not None:
        f_lo, f_hi, z_max = map(float, shapes_for)
        sel = (f_lo, f_hi, z_max, float(stability[0]), float(stability[1]))
    order, freq, damp, shapes = poles_of_orders(
        u, nl, orders, fs, multi_order=multi_order, expo=expo, notes=notes, shapes_for=sel
    )
    st_f, st, dist = _stability(order, freq, damp, shapes, *map(float, stability))
    log.debug("ssi-cov: %s poles from %s orders", order.size, orders.size)
    return StabilizationDiagram(
        orders=order,
        frequencies=freq,
        damping=damp,
        shapes=np.ascontiguousarray(shapes.T),
        mpc=_mpc_rows(shapes),
        mpd=_mpd_rows(shapes),
        stable_frequency=st_f,
        stable=st,
        match_distance=dist,
        mode=np.full(order.size, -1, dtype=np.int64),
        model_orders=orders,
        fs=float(fs),
        notes=tuple(notes),
    )
