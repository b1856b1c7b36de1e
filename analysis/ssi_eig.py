"""Eigenvalues of every model order, eigenvectors only where they can matter.

``np.linalg.eig`` of the 40 system matrices of a stabilization diagram
(orders 2..80) spends about half its time on eigenvectors, yet only the
poles that can become modes need one: in the analysis band, with a damping
ratio the picking accepts, stable in frequency and damping, and their
matches in the previous order.  :func:`multi_order_eigen` does, per model
order, one Hessenberg reduction ``M_n = Q H Q^T`` (LAPACK ``gehrd`` +
``orghr``) and the eigenvalues of ``H`` alone (``geev`` without vectors:
the reduction inside ``geev`` finds ``H`` already reduced and skips its
reflectors); then one Numba call computes, for the selected eigenvalues
of every order, an inverse iteration on ``H`` (``O(n^2)`` per vector) and
the shape ``C_n Q x``.  Measured on the 6-channel 10-minute window, one
thread, loaded machine: the poles of the 40 orders 17 ms against 23.6 ms
with ``eig`` (the eigenvalue iterations alone, ``hseqr``, about 11 ms).

The references (``tests/reference/ssi_eig.py``) take eigenvectors from the
SVD null space of ``A - lambda I``; ``tests/analysis/test_ssi_eig.py``
also compares the whole route with ``np.linalg.eig``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.lapack as lapack
from bshm.analysis._lapack import fcall, fence
from bshm.analysis._numba import kernel
from bshm.analysis.ssi_hqr import hqr_eigvals

__all__ = ["hessenberg_q", "hessenberg_vectors", "leading_blocks_eigen", "multi_order_eigen"]


@kernel
def _inverse_iteration(h, n, mu, tiny, a, mult, piv, x, iters):  # type: ignore[no-untyped-def]
    """Eigenvector ``x`` (largest component 1) of ``h[:n, :n]`` (upper Hessenberg) for ``mu``.

    Inverse iteration: ``(H - mu I) = P L U`` by Gaussian elimination with
    partial pivoting between neighbouring rows (``O(n^2)``, the
    Hessenberg structure is kept), a zero pivot replaced by ``eps * ||H||``
    (``mu`` is an eigenvalue, so ``U`` is singular to rounding: that is
    what makes the solve amplify the eigenvector), then up to ``iters``
    solves starting from ``U x = 1`` (as LAPACK ``hsein``), each normalised
    to a largest component of 1; converged (as ``hsein``'s test) once a
    solve amplifies by ``0.1 / (sqrt(n) eps ||H||)``, i.e. ``mu`` is an
    eigenvalue to rounding.  Non-finite ``mu`` gives NaN.  ``tiny``: see
    :func:`_pivot_floor`.  ``a`` (n, n) complex, ``mult`` and ``x`` (n,)
    complex, ``piv`` (n,) bool: work space.
    """
    if not (np.isfinite(mu.real) and np.isfinite(mu.imag)):
        for i in range(n):
            x[i] = np.nan
        return
    grow = 0.1 / np.sqrt(max(n, 1))
    for i in range(n):  # only the Hessenberg part is ever read
        for j in range(max(0, i - 1), n):
            a[i, j] = h[i, j]
        a[i, i] -= mu
    for j in range(n - 1):
        piv[j] = abs(a[j + 1, j]) > abs(a[j, j])
        if piv[j]:
            for c in range(j, n):
                t = a[j, c]
                a[j, c] = a[j + 1, c]
                a[j + 1, c] = t
        if a[j, j] == 0.0:
            a[j, j] = tiny
        lj = a[j + 1, j] / a[j, j]
        mult[j] = lj
        for c in range(j + 1, n):
            a[j + 1, c] -= lj * a[j, c]
    if a[n - 1, n - 1] == 0.0:
        a[n - 1, n - 1] = tiny
    for i in range(n):
        x[i] = 1.0
    for it in range(iters):
        if it > 0:  # apply P and L^-1 (the first solve is U x = 1)
            for j in range(n - 1):
                if piv[j]:
                    t = x[j]
                    x[j] = x[j + 1]
                    x[j + 1] = t
                x[j + 1] -= mult[j] * x[j]
        for i in range(n - 1, -1, -1):
            s = x[i]
            for c in range(i + 1, n):
                s -= a[i, c] * x[c]
            x[i] = s / a[i, i]
            if abs(x[i]) > 1e150:  # keep the growth finite (the direction is what counts)
                for c in range(i, n):
                    x[c] *= 1e-150
        big = 0.0
        for i in range(n):
            big = max(big, abs(x[i]))
        if big > 0.0 and np.isfinite(big):
            for i in range(n):
                x[i] /= big
        if big * tiny >= grow:  # amplified to rounding level: converged (as hsein)
            break


@kernel
def _pivot_floor(h, n):  # type: ignore[no-untyped-def]
    """``eps * max|H|`` of ``h[:n, :n]`` (a zero pivot's replacement); 1 when ``H = 0``."""
    hnorm = 0.0
    for i in range(n):
        for j in range(max(0, i - 1), n):
            hnorm = max(hnorm, abs(h[i, j]))
    # H = 0: every vector is an eigenvector, the unit pivot returns U x = 1
    return hnorm * 2.220446049250313e-16 if hnorm > 0.0 else 1.0


@kernel
def _hessenberg_vectors(h, lam, iters):  # type: ignore[no-untyped-def]
    """Eigenvectors of upper Hessenberg ``h`` (n, n) for ``lam`` (m,): (n, m) complex."""
    n = h.shape[0]
    m = lam.shape[0]
    out = np.empty((n, m), dtype=np.complex128)
    a = np.empty((n, n), dtype=np.complex128)
    mult = np.empty(n, dtype=np.complex128)
    piv = np.zeros(n, dtype=np.bool_)
    x = np.empty(n, dtype=np.complex128)
    tiny = _pivot_floor(h, n)
    for k in range(m):
        _inverse_iteration(h, n, lam[k], tiny, a, mult, piv, x, iters)
        for i in range(n):
            out[i, k] = x[i]
    return out


@kernel
def _selected_shapes(hs, cq, lam, mask, counts, iters):  # type: ignore[no-untyped-def]
    """Shapes ``C_n Q_n x`` of the masked eigenvalues of every order, NaN elsewhere.

    hs (K, N, N) Hessenberg forms, cq (K, l, N) = ``C_n Q_n``, lam and mask
    (K, N), counts (K,) -> (K, N, l) complex.
    """
    k_tot, nmax, _ = hs.shape
    nl = cq.shape[1]
    phi = np.full((k_tot, nmax, nl), complex(np.nan, np.nan))
    a = np.empty((nmax, nmax), dtype=np.complex128)
    mult = np.empty(nmax, dtype=np.complex128)
    piv = np.zeros(nmax, dtype=np.bool_)
    x = np.empty(nmax, dtype=np.complex128)
    for k in range(k_tot):
        n = counts[k]
        tiny = _pivot_floor(hs[k], n)
        for i in range(n):
            if not mask[k, i]:
                continue
            _inverse_iteration(hs[k], n, lam[k, i], tiny, a, mult, piv, x, iters)
            for c in range(nl):
                acc = 0.0j
                for j in range(n):
                    acc += cq[k, c, j] * x[j]
                phi[k, i, c] = acc
    return phi


def hessenberg_vectors(h: np.ndarray, lam: np.ndarray, iters: int = 3) -> np.ndarray:
    """Eigenvectors (columns, largest component 1) of Hessenberg ``h`` for ``lam``.

    Parameters
    ----------
    h : ndarray, shape (n, n), float64
        Upper Hessenberg (entries below the first subdiagonal are ignored).
    lam : ndarray, shape (m,), complex
        Eigenvalues of ``h``.
    iters : int, default 3
        Largest number of inverse iterations (the first solves ``U x = 1``;
        one is usually enough, see :func:`_hessenberg_vectors`).

    Returns
    -------
    ndarray, shape (n, m), complex128
    """
    return _hessenberg_vectors(
        np.ascontiguousarray(h, dtype=np.float64),
        np.ascontiguousarray(lam, dtype=np.complex128),
        int(iters),
    )


def hessenberg_q(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a = Q H Q^T`` with ``H`` upper Hessenberg and ``Q`` orthogonal (LAPACK).

    Parameters
    ----------
    a : ndarray, shape (n, n), float64, finite

    Returns
    -------
    h, q : ndarray, shape (n, n)

    Raises
    ------
    numpy.linalg.LinAlgError
        LAPACK reported an error.
    """
    n = a.shape[0]
    if n < 2:
        return np.array(a, dtype=np.float64), np.eye(n)
    work = max(1, 32 * n)
    hq, tau, info = lapack.dgehrd(
        np.array(a, dtype=np.float64, order="F"), lo=0, hi=n - 1, lwork=work, overwrite_a=1
    )
    if info != 0:
        raise np.linalg.LinAlgError(f"dgehrd failed (info {info})")
    q, info = lapack.dorghr(hq, tau, lo=0, hi=n - 1, lwork=work)
    if info != 0:
        raise np.linalg.LinAlgError(f"dorghr failed (info {info})")
    return np.triu(hq, -1), q


@kernel
def _matched_fz(lam, counts, mask, fs, tol_f, tol_d):  # type: ignore[no-untyped-def]
    """Masked poles that are stable in frequency and damping, and their matches.

    The poles and their matching are those of ``ssi._extract_poles`` and
    ``ssi._stability`` (positive imaginary part, finite; nearest frequency
    among the previous non-empty order's poles).  A masked pole within
    ``tol_f`` and ``tol_d`` of its match is marked, and so is the match when
    it is masked: those are the only poles whose shape can change a
    stability flag or the picking (a pole unstable in frequency or damping
    is unstable whatever its shape).
    """
    k_tot, nmax = lam.shape
    f = np.zeros((k_tot, nmax))
    z = np.zeros((k_tot, nmax))
    ok = np.zeros((k_tot, nmax), dtype=np.bool_)
    for k in range(k_tot):
        for i in range(counts[k]):
            mu = lam[k, i]
            if mu.imag > 0.0 and abs(mu) > 0.0 and np.isfinite(abs(mu)):
                lc = np.log(mu) * fs
                wn = abs(lc)
                f[k, i] = wn / (2.0 * np.pi)
                z[k, i] = -lc.real / wn
                ok[k, i] = True
    need = np.zeros((k_tot, nmax), dtype=np.bool_)
    prev = -1
    for k in range(k_tot):
        any_pole = False
        for i in range(counts[k]):
            if not ok[k, i]:
                continue
            any_pole = True
            if prev < 0 or not mask[k, i]:
                continue
            best = -1
            bdf = np.inf
            for j in range(counts[prev]):
                if ok[prev, j]:
                    df = abs(f[k, i] - f[prev, j]) / f[k, i]
                    if df < bdf:
                        bdf = df
                        best = j
            if best < 0:
                continue
            if bdf <= tol_f and abs(z[k, i] - z[prev, best]) <= tol_d * abs(z[prev, best]):
                need[k, i] = True
                if mask[prev, best]:
                    need[prev, best] = True
        if any_pole:
            prev = k
    return need


def _eigvals_hessenberg(h: np.ndarray) -> np.ndarray:
    """Eigenvalues of a Hessenberg matrix (LAPACK ``dgeev`` without vectors)."""
    wr, wi, _, _, info = lapack.dgeev(h, compute_vl=0, compute_vr=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dgeev failed to converge (info {info})")
    return wr + 1j * wi


#: From this size on LAPACK ``dhseqr`` leaves the double-shift QR (``dlahqr``)
#: for the multishift QR with aggressive early deflation (``dlaqr0``, its
#: ``NMIN`` of 75), made for large matrices: 2x slower at 76-80 rows here
#: (1.23 against 0.63 ms at 76 and 74 rows).  :func:`leading_blocks_eigen`
#: calls ``dlahqr`` itself up to :data:`SMALL_QR_MAX` rows.
HSEQR_NMIN = 75
#: Largest size whose eigenvalues :func:`leading_blocks_eigen` computes by
#: ``dlahqr`` directly (above: ``dhseqr``, as ``dgeev``).
SMALL_QR_MAX = 160


@kernel
def _order_eigen(m, c, k, n, addr, small_max, compiled_qr, hs, cq, lam, work_f, work_i):  # type: ignore[no-untyped-def]
    """Hessenberg form, ``C_n Q`` and eigenvalues of ``m[:n, :n]`` into row ``k``.

    LAPACK through :func:`bshm.analysis._lapack.fcall` (``addr``: the
    addresses of ``_lapack.ROUTINES``).  ``H`` by ``dgehrd``, ``C_n Q`` by
    applying its reflectors to ``C_n`` (``dormhr``; ``Q`` is never formed).
    The eigenvalues are those of ``dgeev`` without vectors on ``H``
    (``dgebal``, ``dgehrd``, ``dhseqr`` 'E'), except that from
    ``HSEQR_NMIN`` to ``small_max`` rows ``dlahqr`` is called instead of
    ``dhseqr`` (which would use ``dlaqr0``; it still does when ``dlahqr``
    fails); with ``compiled_qr``, :func:`bshm.analysis.ssi_hqr.hqr_eigvals`
    replaces both (``dhseqr`` if it fails).  Returns the count: ``n``, 0
    when LAPACK fails or ``m[:n, :n]`` is not finite, -1 when the largest
    entry of ``H`` is outside the range where ``dgeev`` would not rescale it
    (the caller then uses ``dgeev``).
    ``work_f``, ``work_i``: see :func:`_blocks_eigen`.
    """
    nmax = hs.shape[1]
    nl = c.shape[0]
    nn = max(nmax * nmax, 1)
    nv = max(nmax, 1)
    lwork = work_f.size - 2 * nn - 5 * nv - max(nl * nmax, 1) - 1
    a = work_f[:nn]
    b = work_f[nn : 2 * nn]
    tau = work_f[2 * nn : 2 * nn + nv]
    scale = work_f[2 * nn + nv : 2 * nn + 2 * nv]
    wr = work_f[2 * nn + 2 * nv : 2 * nn + 3 * nv]
    wi = work_f[2 * nn + 3 * nv : 2 * nn + 4 * nv]
    cw = work_f[2 * nn + 4 * nv : 2 * nn + 4 * nv + max(nl * nmax, 1)]
    z = work_f[2 * nn + 4 * nv + max(nl * nmax, 1) : 2 * nn + 4 * nv + max(nl * nmax, 1) + 1]
    work = work_f[work_f.size - lwork :]
    ni = work_i[0:1]
    one = work_i[1:2]
    ilo = work_i[2:3]
    ihi = work_i[3:4]
    lw = work_i[4:5]
    info = work_i[5:6]
    false = work_i[6:7]
    nlv = work_i[7:8]
    ni[0] = n
    one[0] = 1
    lw[0] = lwork
    false[0] = 0
    nlv[0] = nl
    job_b = np.full(1, 66, dtype=np.uint8)  # 'B'
    job_e = np.full(1, 69, dtype=np.uint8)  # 'E'
    job_n = np.full(1, 78, dtype=np.uint8)  # 'N'
    side_r = np.full(1, 82, dtype=np.uint8)  # 'R'
    # dgeev rescales a matrix whose largest entry is outside [sqrt(tiny)/eps, its inverse]
    smlnum = np.sqrt(2.2250738585072014e-308) / 2.220446049250313e-16
    bignum = 1.0 / smlnum
    for j in range(n):
        for i in range(n):
            v = m[i, j]
            if not np.isfinite(v):
                return 0
            a[i + j * n] = v
    ilo[0] = 1
    ihi[0] = n
    fcall(addr[0], (ni, ilo, ihi, a, ni, tau, work, lw, info))  # dgehrd
    if info[0] != 0:
        return 0
    big = 0.0
    for j in range(n):
        for i in range(min(j + 2, n)):
            v = a[i + j * n]
            hs[k, i, j] = v
            big = max(big, abs(v))
    if big > 0.0 and (big < smlnum or big > bignum):
        return -1
    for j in range(n):
        for ch in range(nl):
            cw[ch + j * nl] = c[ch, j]
    fcall(addr[5], (side_r, job_n, nlv, ni, ilo, ihi, a, ni, tau, cw, nlv, work, lw, info))
    if info[0] != 0:  # dormhr: C_n Q
        return 0
    for ch in range(nl):
        for j in range(n):
            cq[k, ch, j] = cw[ch + j * nl]
    # the eigenvalues of H as dgeev computes them without vectors
    for attempt in range(2):
        for j in range(n):
            for i in range(n):
                b[i + j * n] = hs[k, i, j]
        fcall(addr[2], (job_b, ni, b, ni, ilo, ihi, scale, info))  # dgebal
        fcall(addr[0], (ni, ilo, ihi, b, ni, tau, work, lw, info))  # dgehrd (no-op on H)
        if attempt == 0 and (compiled_qr or HSEQR_NMIN <= n <= small_max):
            for i in range(ilo[0] - 1):  # eigenvalues isolated by dgebal
                wr[i] = b[i + i * n]
                wi[i] = 0.0
            for i in range(ihi[0], n):
                wr[i] = b[i + i * n]
                wi[i] = 0.0
        if attempt == 0 and compiled_qr:
            hc = work_f[:nn][: n * n].reshape(n, n)  # a is free by now: H by rows
            for i in range(n):
                for j in range(n):
                    hc[i, j] = b[i + j * n]
            info[0] = hqr_eigvals(hc, ilo[0] - 1, ihi[0] - 1, wr, wi)
            if info[0] == 0:
                break
            continue  # a rare failure: dhseqr on a fresh copy
        if attempt == 0 and HSEQR_NMIN <= n <= small_max:
            fcall(addr[4], (false, false, ni, ilo, ihi, b, ni, wr, wi, one, ni, z, one, info))
            if info[0] == 0:  # dlahqr
                break
            continue  # a rare failure: dhseqr (dlaqr0) on a fresh copy
        fcall(addr[3], (job_e, job_n, ni, ilo, ihi, b, ni, wr, wi, z, one, work, lw, info))
        break  # dhseqr
    if info[0] != 0:
        return 0
    for i in range(n):
        lam[k, i] = complex(wr[i], wi[i])
    return n


@kernel(nogil=True)
def _blocks_eigen(
    m, c, orders, addr, small_max, compiled_qr, hs, cq, lam, counts, state, direction
):  # type: ignore[no-untyped-def]
    """:func:`_order_eigen` for the orders, alone or shared with a helper thread.

    ``direction`` 0: every order.  -1 (the calling thread): from the largest
    order down, claiming each (``state[k] = 1``) and stopping at the first
    that the helper has finished (``state[k] == 2``); then ``state[K] = 1``
    tells the helper to stop.  +1 (the helper, same ``state``, its own
    output arrays): from the smallest order up while ``state[K] == 0`` and
    the order is not claimed, marking each finished one ``state[k] = 2``.
    Neither waits for the other: an order both start is computed twice
    (the caller keeps its own).  Returns the lowest order index computed
    (``K`` if none): with -1, the helper's results hold every order below.
    ``hs``, ``cq``, ``lam`` are zero-filled (K, N, N), (K, l, N), (K, N).
    """
    k_tot = orders.size
    nmax = hs.shape[1]
    nl = c.shape[0]
    lwork = max(64 * nmax, 1024)
    work_f = np.empty(2 * max(nmax * nmax, 1) + 5 * max(nmax, 1) + max(nl * nmax, 1) + 1 + lwork)
    work_i = np.zeros(8, dtype=np.int32)
    lowest = k_tot
    for idx in range(k_tot):
        k = k_tot - 1 - idx if direction < 0 else idx
        if direction != 0:
            fence()
            if direction < 0:
                if state[k] == 2:
                    break
                state[k] = 1
            elif state[k_tot] != 0 or state[k] == 1:
                break
            fence()
        lowest = k
        counts[k] = _order_eigen(
            m, c, k, orders[k], addr, small_max, compiled_qr, hs, cq, lam, work_f, work_i
        )
        if direction > 0:
            fence()
            state[k] = 2
    if direction < 0:
        fence()
        state[k_tot] = 1
        fence()
    return lowest


#: The eigenvalues by the compiled double-shift QR (:mod:`bshm.analysis.ssi_hqr`)
#: rather than LAPACK's ``dlahqr``/``dhseqr`` (see :func:`leading_blocks_eigen`).
COMPILED_QR = True
#: Share the orders with a helper thread when a core is idle (see
#: :func:`leading_blocks_eigen`); False: never.
HELPER_THREAD = True
#: Below this many matrix entries summed over the orders (``sum n^2``) the
#: helper thread is not worth starting.
HELPER_MIN_WORK = 20_000


def leading_blocks_eigen(
    m: np.ndarray,
    c: np.ndarray,
    orders: np.ndarray,
    small_max: int | None = None,
    helper: bool | None = None,
    compiled_qr: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hessenberg forms, ``C_n Q_n`` and eigenvalues of the leading blocks ``m[:n, :n]``.

    One compiled call for every order (LAPACK called from Numba, no Python
    between the orders): per order ``n`` in ``orders``, ``m[:n, :n] = Q H
    Q^T`` (``dgehrd``), ``C_n Q`` (``dormhr``) and the eigenvalues of ``H``,
    which are those of ``dgeev`` without vectors (balancing, ``dhseqr``)
    except from 75 to ``small_max`` rows, where ``dlahqr`` (the double-shift
    QR that ``dhseqr`` uses below 75 rows) replaces the multishift QR of
    ``dhseqr`` (see :data:`HSEQR_NMIN`); by default (``compiled_qr``) the
    balanced ``H`` goes through ``dlahqr`` compiled by Numba instead.  An
    order whose largest Hessenberg entry would make ``dgeev`` rescale goes
    through ``dgeev`` itself.

    When a core is idle right now (:func:`bshm.analysis._threads.idle_core`)
    a helper thread takes orders from the smallest up while this thread
    takes them from the largest down; neither ever waits for the other (an
    order both start is computed twice), so on a busy machine this is not
    slower than one thread, and every order's numbers are the ones one
    thread computes (the same LAPACK calls on the same input).

    Parameters
    ----------
    m : ndarray, shape (N, N), float64
        ``N >= orders[-1]``.
    c : ndarray, shape (n_channels, >= orders[-1])
    orders : ndarray of int, ascending
    small_max : int, optional
        Largest size for ``dlahqr`` (default :data:`SMALL_QR_MAX`; 0:
        ``dhseqr`` everywhere, i.e. exactly the eigenvalues of ``dgeev``).
    compiled_qr : bool, optional
        The eigenvalues of the balanced ``H`` by :func:`bshm.analysis.ssi_hqr.hqr_eigvals`
        (``dlahqr`` compiled by Numba, 1.8x faster; ``dhseqr`` if it fails)
        instead of LAPACK: default :data:`COMPILED_QR`.
    helper : bool, optional
        Share the orders with the helper thread: default when
        :data:`HELPER_THREAD`, the work is at least :data:`HELPER_MIN_WORK`
        and a core is idle.

    Returns
    -------
    hs : ndarray, shape (K, n_max, n_max)
    cq : ndarray, shape (K, n_channels, n_max)
    lam : ndarray, shape (K, n_max), complex
    counts : ndarray, shape (K,), int64
        Eigenvalues per order (0 where LAPACK failed or ``m[:n, :n]`` is not finite).
    """
    from bshm.analysis._lapack import addresses
    from bshm.analysis._threads import helper_pool, idle_core

    orders = np.ascontiguousarray(orders, dtype=np.int64)
    k_tot = orders.size
    nmax = int(orders[-1]) if k_tot else 0
    nl = c.shape[0]
    hs = np.zeros((k_tot, nmax, nmax))
    cq = np.zeros((k_tot, nl, nmax))
    lam = np.zeros((k_tot, nmax), dtype=np.complex128)
    counts = orders.copy()
    m = np.ascontiguousarray(m, dtype=np.float64)
    c = np.ascontiguousarray(c[:, :nmax], dtype=np.float64)
    small = SMALL_QR_MAX if small_max is None else int(small_max)
    cqr = COMPILED_QR if compiled_qr is None else bool(compiled_qr)
    addr = addresses()
    state = np.zeros(k_tot + 1, dtype=np.int64)
    if helper is None:
        helper = HELPER_THREAD and int(np.sum(orders**2)) >= HELPER_MIN_WORK and idle_core()
    pool = helper_pool() if helper and k_tot > 1 else None
    if pool is None:
        _blocks_eigen(m, c, orders, addr, small, cqr, hs, cq, lam, counts, state, 0)
    else:
        # the helper's own outputs (it may still be computing the order both started
        # after this thread has returned: it only ever writes these)
        mine = (np.zeros_like(hs), np.zeros_like(cq), np.zeros_like(lam), orders.copy())
        pool.submit(_blocks_eigen, m, c, orders, addr, small, cqr, *mine, state, 1)
        low = _blocks_eigen(m, c, orders, addr, small, cqr, hs, cq, lam, counts, state, -1)
        if low > 0:
            hs[:low], cq[:low], lam[:low], counts[:low] = (x[:low] for x in mine)
    for k in np.flatnonzero(counts < 0):  # dgeev would rescale: let it
        n = int(orders[k])
        try:
            h, q = hessenberg_q(m[:n, :n])
            lam[k, :n] = _eigvals_hessenberg(np.asfortranarray(h))
        except (np.linalg.LinAlgError, ValueError):
            counts[k] = 0
            continue
        hs[k, :n, :n] = h
        cq[k, :, :n] = c[:, :n] @ q
        counts[k] = n
    return hs, cq, lam, counts


def multi_order_eigen(
    system: object,
    c: np.ndarray,
    orders: np.ndarray,
    want: object,
    iters: int = 3,
    stability: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Eigenvalues of every order's system matrix, shapes of the selected poles.

    Parameters
    ----------
    system : callable or ndarray
        ``system(k, n)`` -> the ``n x n`` system matrix of ``orders[k] == n``;
        or one matrix whose leading ``n x n`` blocks are the system matrices
        (the multi-order form): then every order is done in one compiled
        call, see :func:`leading_blocks_eigen`.
    c : ndarray, shape (n_channels, >= orders[-1])
        Output matrix in the same basis (``C_n = c[:, :n]``).
    orders : ndarray of int
    want : callable
        ``want(lam) -> bool mask`` over an array of eigenvalues (any shape).
    iters : int
        Largest number of inverse iterations per vector.
    stability : (fs, tol_f, tol_d), optional
        Further restrict the shapes to the selected poles that are stable in
        frequency and damping against the previous order, and their matches
        (:func:`_matched_fz`, tolerances widened by 1e-9 against rounding):
        no other pole's shape can change a stability flag or the picking.

    Returns
    -------
    lam : ndarray, shape (K, n_max), complex
        Eigenvalues (order ``k`` in ``lam[k, :counts[k]]``).
    phi : ndarray, shape (K, n_max, n_channels), complex
        ``C_n v`` of the selected eigenvalues, NaN for the others.
    counts : ndarray, shape (K,), int64
        Eigenvalues per order (0 where the eigenproblem failed).
    failed : list of int
        The orders whose eigenproblem failed.
    """
    k_tot = orders.size
    nmax = int(orders[-1])
    nl = c.shape[0]
    if isinstance(system, np.ndarray):
        hs, cq, lam, counts = leading_blocks_eigen(system, c, orders)
        failed = [int(n) for n, got in zip(orders, counts) if got == 0]
        lam, phi = _shapes_of(hs, cq, lam, counts, want, iters, stability)
        return lam, phi, counts, failed
    hs = np.zeros((k_tot, nmax, nmax))
    cq = np.zeros((k_tot, nl, nmax))
    lam = np.zeros((k_tot, nmax), dtype=np.complex128)
    counts = orders.astype(np.int64)
    failed = []
    for k, n in enumerate(map(int, orders)):
        try:
            a = np.asarray(system(k, n), dtype=np.float64)  # type: ignore[operator]
            if not np.all(np.isfinite(a)):
                raise ValueError("non-finite system matrix")
            h, q = hessenberg_q(a)
            hs[k, :n, :n] = h
            lam[k, :n] = _eigvals_hessenberg(np.asfortranarray(h))
        except (np.linalg.LinAlgError, ValueError):
            counts[k] = 0
            failed.append(n)
            continue
        cq[k, :, :n] = c[:, :n] @ q
    lam, phi = _shapes_of(hs, cq, lam, counts, want, iters, stability)
    return lam, phi, counts, failed


def _shapes_of(  # type: ignore[no-untyped-def]
    hs: np.ndarray,
    cq: np.ndarray,
    lam: np.ndarray,
    counts: np.ndarray,
    want,
    iters: int,
    stability: tuple[float, float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, phi)``: the selected poles' shapes (see :func:`multi_order_eigen`)."""
    nmax = lam.shape[1]
    live = np.arange(nmax)[None, :] < counts[:, None]
    mask = np.asarray(want(lam), dtype=np.bool_) & live
    if stability is not None:
        fs, tol_f, tol_d = map(float, stability)
        mask &= _matched_fz(lam, counts, mask, fs, tol_f * (1 + 1e-9), tol_d * (1 + 1e-9))
    phi = _selected_shapes(hs, cq, lam, mask, counts, int(iters))
    return lam, phi
