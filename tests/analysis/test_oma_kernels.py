"""Numba kernels of the modal analysis against the plain NumPy references."""

from __future__ import annotations

import pathlib
import re
import sys

import numpy as np
import pytest
from bshm.analysis import mac as macmod
from bshm.analysis import ssi
from reference import oma as ref


def _cshapes(rng, nl, m):
    return rng.standard_normal((nl, m)) + 1j * rng.standard_normal((nl, m))


@pytest.mark.parametrize(("nl", "m", "k"), [(1, 1, 1), (3, 5, 4), (12, 20, 7)])
def test_mac_matrix_matches_reference(rng, nl, m, k):
    a, b = _cshapes(rng, nl, m), _cshapes(rng, nl, k)
    got = macmod.mac_matrix(a, b)
    np.testing.assert_allclose(got, ref.mac_matrix_ref(a, b), rtol=1e-10, atol=1e-13)
    assert got.shape == (m, k)
    assert np.all((got >= 0) & (got <= 1 + 1e-12))


def test_mac_adversarial(rng):
    a = _cshapes(rng, 6, 3)
    a[:, 1] = 0.0  # all-zero shape
    a[2, 2] = np.nan  # dropout
    b = np.real(_cshapes(rng, 6, 2))  # real input is accepted
    got = macmod.mac_matrix(a, b)
    want = ref.mac_matrix_ref(a, b)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert np.all(got[1] == 0.0)
    assert np.all(np.isnan(got[2]))  # NaN propagates (no nnan fastmath)
    # scale and phase invariance, identical shapes give 1
    x = a[:, :1]
    assert macmod.mac(x, (2.5 - 3j) * x) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="channel counts"):
        macmod.mac_matrix(a, b[:5])


@pytest.mark.parametrize("nl", [2, 5, 16])
def test_mpc_mpd_match_reference(rng, nl):
    shapes = _cshapes(rng, nl, 30)
    # add nearly real and exactly real shapes
    shapes[:, 0] = np.real(shapes[:, 0])
    shapes[:, 1] = np.real(shapes[:, 1]) * np.exp(1j * 0.7) + 1e-3j * rng.standard_normal(nl)
    got_mpc, got_mpd = macmod.mpc(shapes), macmod.mpd(shapes)
    want_mpc = [ref.mpc_ref(shapes[:, i]) for i in range(30)]
    want_mpd = [ref.mpd_ref(shapes[:, i]) for i in range(30)]
    np.testing.assert_allclose(got_mpc, want_mpc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_mpd, want_mpd, rtol=1e-7, atol=1e-7)
    assert got_mpc[0] == pytest.approx(1.0)
    assert got_mpd[0] == pytest.approx(0.0, abs=1e-6)
    assert got_mpc[1] > 0.99
    assert got_mpd[1] < 1.0


def test_mpc_mpd_adversarial():
    shapes = np.array([[0, 1, 1, np.nan], [0, 1j, 1, 1], [0, -1, 1, 1]], dtype=complex)
    got_mpc, got_mpd = macmod.mpc(shapes), macmod.mpd(shapes)
    for i in range(4):
        want = ref.mpc_ref(shapes[:, i]), ref.mpd_ref(shapes[:, i])
        if np.isnan(want[0]):
            assert np.isnan(got_mpc[i])
            assert np.isnan(got_mpd[i])
        else:
            assert got_mpc[i] == pytest.approx(want[0], abs=1e-12)
            assert got_mpd[i] == pytest.approx(want[1], abs=1e-9)
    assert got_mpc[0] == 0.0
    assert got_mpd[0] == 90.0


def test_cluster_distance_matches_reference(rng):
    m, nl = 40, 7
    rows = _cshapes(rng, nl, m).T.copy()
    freq = rng.uniform(0.5, 20, m)
    freq[3] = freq[4]  # ties
    rows[5] = 0.0
    got = macmod._cluster_distance(freq, rows)
    np.testing.assert_allclose(got, ref.cluster_distance_ref(freq, rows), rtol=1e-10, atol=1e-12)
    assert got.shape == (m * (m - 1) // 2,)
    rows[6, 0] = np.nan
    assert np.isnan(macmod._cluster_distance(freq, rows)).sum() == m - 1


def _random_obs(rng, nl, p, n_max):
    """An observability matrix of a random stable system (so poles are meaningful)."""
    n = n_max
    mu = 0.97 * np.exp(1j * rng.uniform(0.05, 3.0, n // 2))
    blocks = [np.array([[z.real, -z.imag], [z.imag, z.real]]) for z in mu]
    a = np.zeros((n, n))
    for i, b in enumerate(blocks):
        a[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = b
    t = rng.standard_normal((n, n))
    a = t @ a @ np.linalg.inv(t)
    c = rng.standard_normal((nl, n))
    rows = [c]
    for _ in range(p - 1):
        rows.append(rows[-1] @ a)
    return np.vstack(rows) + 1e-3 * rng.standard_normal((p * nl, n))


def _pole_set(order, freq, damp, shapes):
    return sorted(zip(order.tolist(), np.round(freq, 6).tolist(), np.round(damp, 6).tolist()))


@pytest.mark.parametrize("expo", [None, [0, 1, 2, -1]])
def test_extract_poles_matches_reference(rng, expo):
    nl, p, fs = 4, 8, 50.0
    obs = _random_obs(rng, nl, p, 12)
    orders = np.arange(2, 13, 2)
    e = None if expo is None else np.array(expo)
    order, freq, damp, shapes = ssi.poles_of_orders(
        obs, nl, orders, fs, multi_order=False, expo=e
    )
    want = ref.poles_ref(obs, nl, orders, fs, expo=e)
    assert len(want) == order.size
    got_sorted = sorted(zip(order, freq, damp, range(order.size)))
    want_sorted = sorted(((n, f, z, s) for n, f, z, s in want), key=lambda r: (r[0], r[1]))
    for (n1, f1, z1, i), (n2, f2, z2, s2) in zip(got_sorted, want_sorted, strict=True):
        assert n1 == n2
        assert f1 == pytest.approx(f2, rel=1e-8)
        assert z1 == pytest.approx(z2, rel=1e-6, abs=1e-10)
        np.testing.assert_allclose(shapes[i], s2, rtol=1e-6, atol=1e-8)
        assert abs(shapes[i]).max() == pytest.approx(1.0)


def test_extract_poles_skips_non_finite_eigenvalues():
    lam = np.array([[np.exp(0.1j), complex(np.inf, 1.0), complex(np.nan, np.nan), 0.5 + 0.5j]])
    phi = np.ones((1, 4, 2), dtype=np.complex128)
    order, freq, damp, shapes = ssi._extract_poles(
        lam, phi, np.array([4]), np.array([4]), 10.0, np.zeros(2, dtype=np.int64)
    )
    assert order.size == 2
    assert np.all(np.isfinite(freq)) and np.all(np.isfinite(shapes))


def test_fast_multi_order_equals_per_order_least_squares(rng):
    nl, p = 6, 20
    obs = _random_obs(rng, nl, p, 40)
    orders = np.arange(2, 41, 2)
    fast = ssi.poles_of_orders(obs, nl, orders, 100.0, multi_order=True)
    slow = ssi.poles_of_orders(obs, nl, orders, 100.0, multi_order=False)
    assert fast[0].size == slow[0].size
    for k in orders:
        a, b = fast[0] == k, slow[0] == k
        np.testing.assert_allclose(np.sort(fast[1][a]), np.sort(slow[1][b]), rtol=1e-8)
        np.testing.assert_allclose(np.sort(fast[2][a]), np.sort(slow[2][b]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_stability_matches_reference(seed):
    r = np.random.default_rng(seed)
    orders = np.repeat(np.arange(2, 22, 2), r.integers(0, 6, 10))
    m = orders.size
    freq = r.choice([1.0, 2.0, 3.0], m) * (1 + 0.01 * r.standard_normal(m))
    damp = 0.02 * (1 + 0.1 * r.standard_normal(m))
    base = _cshapes(r, 5, 3)
    idx = np.rint(freq).astype(int) - 1
    shapes = (base[:, idx] + 0.05 * _cshapes(r, 5, m)).T.copy()
    got = ssi._stability(orders, freq, damp, shapes, 0.01, 0.05, 0.02)
    want = ref.stability_ref(orders, freq, damp, shapes, 0.01, 0.05, 0.02)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)
    assert got[1].sum() <= got[0].sum()


def test_stability_adversarial_empty_and_single():
    e = np.empty(0)
    st_f, st, d = ssi._stability(
        np.empty(0, np.int64), e, e, np.empty((0, 3), complex), 0.01, 0.05, 0.02
    )
    assert st_f.size == st.size == d.size == 0
    one = ssi._stability(
        np.array([2]), np.array([1.0]), np.array([0.01]), np.ones((1, 3), complex), 0.01, 0.05, 0.02
    )
    assert not one[1][0]
    assert np.isinf(one[2][0])


def test_kernels_are_cached_and_fastmath_keeps_nan_semantics():
    from bshm.analysis._numba import FASTMATH

    assert not {"nnan", "ninf", "fast"} & FASTMATH
    kernels = [
        macmod._mac_rows,
        macmod._mpc_rows,
        macmod._mpd_rows,
        macmod._cluster_distance,
        ssi._extract_poles,
        ssi._stability,
    ]
    for k in kernels:
        assert type(k._cache).__name__ != "NullCache", k
        assert set(k.targetoptions["fastmath"]) == set(FASTMATH), k


def test_no_hard_coded_fastmath_true_in_analysis():
    root = pathlib.Path(__file__).parents[2] / "analysis"
    pattern = re.compile(r"fastmath\s*=\s*True")
    offenders = [p.name for p in root.glob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert offenders == [], f"use bshm.analysis._numba.kernel instead: {offenders}"


def test_import_bshm_analysis_is_cheap():
    import subprocess

    code = (
        "import sys, bshm.analysis as a; "
        "print(sorted(m for m in ('numba', 'scipy', 'bshm.analysis.ssi') if m in sys.modules)); "
        "a.identify; print('bshm.analysis.modal' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True"


def test_singular_r_skips_only_the_orders_it_touches(rng):
    nl, p = 4, 8
    obs = _random_obs(rng, nl, p, 12)
    obs[:-nl, 6] = 0.0  # O_up loses a direction: R[6, 6] = 0
    orders = np.arange(2, 13, 2)
    notes: list[str] = []
    order, freq, _, _ = ssi.poles_of_orders(obs, nl, orders, 50.0, notes=notes)
    assert set(order.tolist()) <= {2, 4, 6}
    assert {4, 6} <= set(order.tolist())  # (order 2 may have only real eigenvalues)
    assert notes and "3 model order(s) (8, 10, 12)" in notes[0]
    assert np.all(np.isfinite(freq))
