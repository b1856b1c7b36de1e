"""Eigenvalues of every model order, eigenvectors only where they can matter.

``np.linalg.eig`` of the 40 system matrices of a stabilization diagram
(orders 2..80) spends about half its time on eigenvectors, yet only the
poles that can become modes need one: in the analysis band, with a damping
ratio the picking accepts, and their matches in the previous order (which
lie within the stability tolerances of them).  Per model order this module
does one Hessenberg reduction ``M_n = Q H Q^T`` (LAPACK ``gehrd`` +
``orghr``), the eigenvalues of ``H`` alone (``geev`` without vectors: the
reduction inside ``geev`` finds ``H`` already reduced and skips its
reflectors), and one inverse iteration on ``H`` per selected eigenvalue
(:func:`_hessenberg_vectors`, ``O(n^2)`` per vector); the eigenvector of
``M_n`` is ``Q x``.  Measured on the 6-channel 10-minute window, one
thread: ``eig`` of the 40 orders 21 ms, this route about 13 ms plus well
under 1 ms of inverse iterations.

The reference (:mod:`tests.reference.ssi_eig`) takes eigenvectors from
``np.linalg.eig``; the test compares shapes by MAC and eigenvalues.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.lapack as lapack
from bshm.analysis._numba import kernel

__all__ = ["hessenberg_q", "hessenberg_vectors", "order_eigen"]


@kernel
def _hessenberg_vectors(h, lam, iters):  # type: ignore[no-untyped-def]
    """Eigenvectors of the upper Hessenberg matrix ``h`` for the eigenvalues ``lam``.

    Inverse iteration: ``(H - mu I) = P L U`` by Gaussian elimination with
    partial pivoting between neighbouring rows (``O(n^2)``, the
    Hessenberg structure is kept), a zero pivot replaced by ``eps * ||H||``
    (``mu`` is an eigenvalue, so ``U`` is singular to rounding: that is
    what makes the solve amplify the eigenvector), then up to ``iters``
    solves starting from ``U x = 1`` (as LAPACK ``hsein``), each normalised
    to a largest component of 1; converged (as ``hsein``'s test) once a
    solve amplifies by ``0.1 / (sqrt(n) eps ||H||)``, i.e. ``mu`` is an
    eigenvalue to rounding.  Non-finite ``mu`` gives a NaN column.

    h (n, n) float64, lam (m,) complex128 -> (n, m) complex128.
    """
    n = h.shape[0]
    m = lam.shape[0]
    out = np.empty((n, m), dtype=np.complex128)
    a = np.empty((n, n), dtype=np.complex128)
    mult = np.empty(n, dtype=np.complex128)
    piv = np.zeros(n, dtype=np.bool_)
    x = np.empty(n, dtype=np.complex128)
    hnorm = 0.0
    for i in range(n):
        for j in range(max(0, i - 1), n):
            hnorm = max(hnorm, abs(h[i, j]))
    # H = 0: every vector is an eigenvector, the unit pivot returns U x = 1
    tiny = hnorm * 2.220446049250313e-16 if hnorm > 0.0 else 1.0
    grow = 0.1 / np.sqrt(max(n, 1))
    for k in range(m):
        mu = lam[k]
        if not (np.isfinite(mu.real) and np.isfinite(mu.imag)):
            for i in range(n):
                out[i, k] = np.nan
            continue
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
        for i in range(n):
            out[i, k] = x[i]
    return out


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


def order_eigen(a: np.ndarray, want: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues of ``a`` and eigenvectors of those that ``want`` selects.

    Parameters
    ----------
    a : ndarray, shape (n, n), float64, finite
    want : callable
        ``want(w) -> bool mask`` over the eigenvalues ``w``.

    Returns
    -------
    w : ndarray, shape (n,), complex
        All eigenvalues.
    sel : ndarray of int
        Indices of the selected eigenvalues.
    v : ndarray, shape (n, sel.size), complex
        Their eigenvectors (largest component 1).

    Raises
    ------
    numpy.linalg.LinAlgError
        The reduction or the eigenvalue iteration failed.
    """
    h, q = hessenberg_q(a)
    w = np.linalg.eigvals(h).astype(np.complex128, copy=False)
    sel = np.flatnonzero(want(w))  # type: ignore[operator]
    if sel.size == 0:
        return w, sel, np.empty((a.shape[0], 0), dtype=np.complex128)
    return w, sel, q @ hessenberg_vectors(h, w[sel])
