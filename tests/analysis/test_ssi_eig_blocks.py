"""Every order's eigenvalues in one compiled call (LAPACK from Numba): the same as before.

``ssi_eig.leading_blocks_eigen`` does, for the leading blocks ``M[:n, :n]``
of the multi-order matrix, what ``multi_order_eigen`` did order by order
from Python (``hessenberg_q`` + ``dgeev`` without vectors on ``H``), with
LAPACK called from a Numba kernel, ``C_n Q`` by ``dormhr``, and ``dlahqr``
instead of ``dhseqr``'s multishift QR from 75 rows.  Checked against the
Python route (the code it replaces: bit-identical eigenvalues and
Hessenberg forms with ``small_max=0``; eigenvalues to rounding with
``dlahqr``), against ``np.linalg.eigvals``, and, on the simulated bridge,
the identified modes against the Python route: frequencies to 1e-8
relative, damping to 1e-6 relative, MAC > 1 - 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, mac_matrix, ssi, ssi_eig


def _system(rng, nl=6, p=20, n=80, noise=1e-3):
    """The multi-order matrix ``M = S R^-1`` and ``C R^-1`` of a realistic system."""
    ev = 0.97 * np.exp(1j * rng.uniform(0.02, 2.5, n // 2))
    a = np.zeros((n, n))
    for i, mu in enumerate(ev):
        a[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[mu.real, mu.imag], [-mu.imag, mu.real]]
    t = rng.standard_normal((n, n))
    a = t @ a @ np.linalg.inv(t)
    rows = [rng.standard_normal((nl, n))]
    for _ in range(p - 1):
        rows.append(rows[-1] @ a)
    obs = np.vstack(rows) + noise * rng.standard_normal((p * nl, n))
    obs, _ = np.linalg.qr(obs)
    r, s, c = ssi.multi_order_matrices(obs, nl)
    rinv = np.linalg.inv(r)
    return s @ rinv, c @ rinv


def _python_route(m, c, orders):
    """The code it replaces: Hessenberg form + dgeev per order, from Python."""
    out = []
    for n in orders:
        h, q = ssi_eig.hessenberg_q(m[:n, :n])
        out.append((h, c[:, :n] @ q, ssi_eig._eigvals_hessenberg(np.asfortranarray(h))))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_blocks_equal_the_python_route_bit_for_bit_with_dhseqr(seed):
    m, c = _system(np.random.default_rng(seed))
    orders = np.arange(2, 81, 2)
    hs, cq, lam, counts = ssi_eig.leading_blocks_eigen(m, c, orders, small_max=0, compiled_qr=False)
    np.testing.assert_array_equal(counts, orders)
    for k, (h, cqk, w) in enumerate(_python_route(m, c, orders)):
        n = orders[k]
        np.testing.assert_array_equal(hs[k, :n, :n], h)
        np.testing.assert_array_equal(lam[k, :n], w)
        np.testing.assert_allclose(cq[k, :, :n], cqk, rtol=0, atol=1e-12 * np.abs(cqk).max())
        assert np.all(hs[k, n:] == 0) and np.all(lam[k, n:] == 0)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blocks_eigenvalues_with_dlahqr_match_eigvals(seed, compiled):
    m, c = _system(np.random.default_rng(seed))
    orders = np.arange(1, 81)  # every size, 75..80 through dlahqr
    _, _, lam, counts = ssi_eig.leading_blocks_eigen(m, c, orders, compiled_qr=compiled)
    np.testing.assert_array_equal(counts, orders)
    changed = 0
    for k, n in enumerate(orders):
        want = np.sort_complex(np.linalg.eigvals(m[:n, :n]))
        got = np.sort_complex(lam[k, :n])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11 * np.abs(want).max())
        old = _python_route(m, c, [n])[0][2]
        if n >= ssi_eig.HSEQR_NMIN or compiled:
            changed += not np.array_equal(lam[k, :n], old)
        else:  # below 75 rows: the same LAPACK calls as dgeev
            np.testing.assert_array_equal(lam[k, :n], old)
    assert changed > 0  # the dlahqr route was taken


def test_blocks_failed_and_rescaled_orders():
    m, c = _system(np.random.default_rng(3), n=20)
    orders = np.arange(2, 21, 2)
    bad = m.copy()
    bad[13, 2] = np.nan  # orders 14.. see the NaN
    _, _, lam, counts = ssi_eig.leading_blocks_eigen(bad, c, orders)
    np.testing.assert_array_equal(counts, np.where(orders >= 14, 0, orders))
    assert np.all(np.isfinite(lam[orders < 14]))
    # entries beyond dgeev's scaling range: those orders go through dgeev itself
    big = m * 1e160
    hs, cq, lam, counts = ssi_eig.leading_blocks_eigen(big, c, orders)
    np.testing.assert_array_equal(counts, orders)
    for k, (h, cqk, w) in enumerate(_python_route(big, c, orders)):
        n = orders[k]
        np.testing.assert_array_equal(lam[k, :n], w)
        np.testing.assert_array_equal(hs[k, :n, :n], h)
        np.testing.assert_allclose(cq[k, :, :n], cqk, rtol=1e-12, atol=1e-300)


def test_multi_order_eigen_matrix_and_callable_routes_agree():
    m, c = _system(np.random.default_rng(4))
    orders = np.arange(2, 81, 2)
    want = lambda lam: np.abs(lam) > 0.5  # noqa: E731
    a = ssi_eig.multi_order_eigen(lambda k, n: m[:n, :n], c, orders, want)
    b = ssi_eig.multi_order_eigen(m, c, orders, want)
    np.testing.assert_array_equal(a[2], b[2])
    assert a[3] == b[3] == []
    for k, n in enumerate(orders):
        ia = np.lexsort((a[0][k, :n].imag, a[0][k, :n].real))
        ib = np.lexsort((b[0][k, :n].imag, b[0][k, :n].real))
        np.testing.assert_allclose(b[0][k, ib], a[0][k, ia], rtol=0, atol=1e-12)
        pa, pb = a[1][k, ia], b[1][k, ib]
        assert np.array_equal(np.isnan(pa), np.isnan(pb))
        ok = ~np.isnan(pa[:, 0])
        for u, v in zip(pa[ok], pb[ok], strict=True):  # the same shape up to a complex factor
            mac = abs(np.vdot(u, v)) ** 2 / (np.vdot(u, u).real * np.vdot(v, v).real)
            assert mac > 1 - 1e-10
    assert np.isfinite(b[1][:, :, 0]).sum() > 100


@pytest.mark.parametrize("n_ch", [6, 12])
def test_identify_same_modes_as_the_python_route(monkeypatch, n_ch):
    pytest.importorskip("bshm.fixtures.bridge")
    from bshm.fixtures.bridge import BridgeModel, BridgeParams

    xs = tuple(float(x) for x in np.linspace(3.0, 67.0, n_ch))
    rec = BridgeModel(BridgeParams(acc_x=xs), seed=n_ch).simulate(
        600.0, 100.0, temperature_c=12.0, rng=np.random.default_rng(n_ch)
    )
    y = np.ascontiguousarray(rec.acc)
    kw = dict(time_lag=40, max_order=80, freq_min_hz=0.3, freq_max_hz=20.0)
    new = identify(y, 100.0, **kw)
    orig = ssi.multi_order_eigen

    def per_order(system, c, orders, want, iters=3, stability=None):
        if isinstance(system, np.ndarray):
            mat = system
            system = lambda k, n: mat[:n, :n]  # noqa: E731
        return orig(system, c, orders, want, iters, stability)

    monkeypatch.setattr(ssi, "multi_order_eigen", per_order)
    old = identify(y, 100.0, **kw)
    assert old.n_modes >= 5 and new.n_modes == old.n_modes
    np.testing.assert_allclose(new.frequencies, old.frequencies, rtol=1e-8)
    np.testing.assert_allclose(new.damping, old.damping, rtol=1e-6)
    assert np.diag(mac_matrix(new.shapes, old.shapes)).min() > 1 - 1e-10
    np.testing.assert_array_equal(new.n_poles, old.n_poles)

    # the same diagram, up to the order of the poles within a model order
    def canon(d):
        key = np.lexsort((d.damping, d.frequencies, d.orders))
        return d.orders[key], d.frequencies[key], d.mode[key], d.stable[key]

    a, b = canon(old.stabilization), canon(new.stabilization)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(b[1], a[1], rtol=1e-10)
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])


def test_lapack_call_from_numba_is_cacheable():
    # the kernel takes LAPACK's addresses as an argument: nothing process-specific
    # is frozen into the machine code, so Numba may cache it
    from bshm.analysis import _lapack

    addr = _lapack.addresses()
    assert addr.dtype == np.int64 and addr.size == len(_lapack.ROUTINES) and np.all(addr != 0)
    m, c = _system(np.random.default_rng(5), n=10)
    ssi_eig.leading_blocks_eigen(m, c, np.arange(2, 11, 2))
    stats = ssi_eig._blocks_eigen.stats
    assert stats.cache_misses or stats.cache_hits  # not refused ("dynamic globals")
    from pathlib import Path

    assert list(Path(stats.cache_path).glob("ssi_eig._blocks_eigen-*.nbi"))


@pytest.mark.parametrize("seed", [0, 1])
def test_helper_thread_gives_the_numbers_of_one_thread(seed):
    m, c = _system(np.random.default_rng(seed))
    orders = np.arange(2, 81, 2)
    one = ssi_eig.leading_blocks_eigen(m, c, orders, helper=False)
    for _ in range(5):  # whichever thread computes an order, the same LAPACK calls
        two = ssi_eig.leading_blocks_eigen(m, c, orders, helper=True)
        for a, b in zip(one, two, strict=True):
            np.testing.assert_array_equal(a, b)


def test_busy_helper_is_never_waited_for():
    import threading

    from bshm.analysis._threads import helper_pool

    m, c = _system(np.random.default_rng(6))
    orders = np.arange(2, 81, 2)
    one = ssi_eig.leading_blocks_eigen(m, c, orders, helper=False)
    gate = threading.Event()
    blocker = helper_pool().submit(gate.wait, 60)  # the helper is busy elsewhere
    try:
        two = ssi_eig.leading_blocks_eigen(m, c, orders, helper=True)  # returns: not waited
    finally:
        gate.set()
    blocker.result(timeout=60)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_idle_core_reads_the_runnable_count(tmp_path, monkeypatch):
    import os

    from bshm.analysis import _threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    f = tmp_path / "loadavg"
    f.write_text("0.52 0.40 0.31 1/123 4567\n")
    assert _threads.idle_core(str(f)) is True
    f.write_text("3.10 2.40 1.31 2/123 4567\n")
    assert _threads.idle_core(str(f)) is False
    f.write_text("garbage\n")
    assert _threads.idle_core(str(f)) is False
    assert _threads.idle_core(str(tmp_path / "missing")) is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    f.write_text("0.52 0.40 0.31 1/123 4567\n")
    assert _threads.idle_core(str(f)) is False  # one core: never


def _hard_hessenbergs(rng):
    """Matrices the QR must handle: random, reducible, repeated, tiny, zero, companion."""
    # (matrix, tolerance): defective eigenvalues of multiplicity k are only
    # determined to about eps^(1/k), by any method
    out = [(np.triu(rng.standard_normal((n, n)), -1), 1e-10) for n in (1, 2, 3, 7, 30, 80)]
    h = np.triu(rng.standard_normal((12, 12)), -1)
    h[5, 4] = 0.0  # reducible: a zero subdiagonal entry
    out.append((h, 1e-10))
    out.append((np.zeros((6, 6)), 0.0))
    out.append((np.triu(np.ones((9, 9)), -1), 0.05))  # rank-deficient, defective 0
    out.append((np.diag(np.ones(7), -1) + np.eye(8) * 0.5, 0.05))  # a Jordan block of 8
    comp = np.zeros((10, 10))  # companion of z^10 - 1: eigenvalues on the unit circle
    comp[0, -1] = 1.0
    comp[1:, :-1] += np.eye(9)
    out.append((comp, 1e-10))
    d = np.array([[0.9, 0.3], [-0.3, 0.9]])  # close complex pairs
    t, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    blocks = np.kron(np.eye(4), d) + np.diag(np.repeat([0, 1e-4, 2e-4, 3e-4], 2))
    h, _ = ssi_eig.hessenberg_q(t @ blocks @ t.T)
    out.append((h, 1e-10))
    big = np.triu(rng.standard_normal((20, 20)), -1) * np.logspace(-6, 6, 20)[None, :]
    out.append((big, 1e-10))  # badly scaled columns
    return out


def test_compiled_qr_eigenvalues_match_numpy(rng):
    from bshm.analysis.ssi_hqr import hqr_eigvals

    for h, tol in _hard_hessenbergs(rng):
        n = h.shape[0]
        want = np.linalg.eigvals(h)
        wr, wi = np.zeros(n), np.zeros(n)
        info = hqr_eigvals(np.ascontiguousarray(h, dtype=np.float64), 0, n - 1, wr, wi)
        assert info == 0
        got = wr + 1j * wi
        # conjugate pairs: positive imaginary part first, as LAPACK
        pos = np.flatnonzero(wi > 0)
        np.testing.assert_array_equal(wi[pos + 1], -wi[pos])
        scale = max(1.0, np.abs(h).max())
        # each eigenvalue of numpy's is found, to rounding (a defective one to its sensitivity)
        np.testing.assert_allclose(got.sum(), np.trace(h), atol=1e-10 * scale * n)
        for mu in want:
            assert np.abs(got - mu).min() <= tol * scale, (n, mu)
        for mu in got:
            assert np.abs(want - mu).min() <= tol * scale, (n, mu)


def test_compiled_qr_kernel_goes_through_the_project_decorator():
    from bshm.analysis import ssi_hqr
    from bshm.analysis._numba import FASTMATH

    for f in (ssi_hqr.hqr_eigvals, ssi_hqr._lanv2, ssi_hqr._lapy2, ssi_hqr._sign):
        assert type(f._cache).__name__ != "NullCache"
        assert set(f.targetoptions["fastmath"]) == set(FASTMATH)
    assert ssi_eig._blocks_eigen.targetoptions["nogil"] is True  # runs beside the helper
