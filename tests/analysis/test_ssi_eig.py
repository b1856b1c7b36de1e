"""Eigenvalues of every order, eigenvectors only where the picking can use them."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, ssi, ssi_eig
from bshm.analysis.picking import pick_modes
from reference import oma as ref
from reference import ssi_eig as eref


def _mac(a, b):
    return ref.mac_matrix_ref(a[:, None], b[:, None])[0, 0]


@pytest.mark.parametrize("n", [1, 2, 3, 8, 40, 80])
def test_hessenberg_q_reduces_and_reconstructs(rng, n):
    a = rng.standard_normal((n, n))
    h, q = ssi_eig.hessenberg_q(a)
    assert np.allclose(np.tril(h, -2), 0.0)
    np.testing.assert_allclose(q @ q.T, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(q @ h @ q.T, a, atol=1e-11 * max(1.0, np.abs(a).max()))


@pytest.mark.parametrize("n", [2, 5, 20, 60])
def test_hessenberg_vectors_match_reference(rng, n):
    a = rng.standard_normal((n, n))
    h, q = ssi_eig.hessenberg_q(a)
    lam = np.linalg.eigvals(h)
    v = q @ ssi_eig.hessenberg_vectors(h, lam)
    assert np.allclose(np.abs(v).max(axis=0) > 0, True)
    for k, mu in enumerate(lam):
        want = eref.eigvec_ref(a, mu)
        assert _mac(v[:, k], want) > 1 - 1e-9, (n, k, mu)
        res = np.abs(a @ v[:, k] - mu * v[:, k]).max() / np.abs(v[:, k]).max()
        assert res < 1e-10 * np.abs(a).max() * n


def test_hessenberg_vectors_close_and_repeated_eigenvalues(rng):
    # two modes 0.1 % apart (a close pair), and an exactly repeated real eigenvalue
    d = np.array([0.9 + 0.3j, 0.9 + 0.3j, 0.9009 + 0.3003j, 0.9009 + 0.3003j, 0.5, 0.5])
    blocks = np.zeros((6, 6))
    for i in (0, 2):
        re, im = d[i].real, d[i].imag
        blocks[i : i + 2, i : i + 2] = [[re, im], [-im, re]]
    blocks[4, 4] = blocks[5, 5] = 0.5
    t = rng.standard_normal((6, 6))
    a = t @ blocks @ np.linalg.inv(t)
    h, q = ssi_eig.hessenberg_q(a)
    lam = np.linalg.eigvals(h)
    v = q @ ssi_eig.hessenberg_vectors(h, lam)
    for k, mu in enumerate(lam):
        assert np.all(np.isfinite(v[:, k]))
        res = np.abs(a @ v[:, k] - mu * v[:, k]).max() / np.abs(v[:, k]).max()
        assert res < 1e-8, (k, mu, res)


def test_hessenberg_vectors_non_finite_eigenvalue_gives_nan_column(rng):
    h, _ = ssi_eig.hessenberg_q(rng.standard_normal((5, 5)))
    lam = np.linalg.eigvals(h)
    lam = np.concatenate([lam[:1], [np.nan + 0j, complex(np.inf, 0)]])
    v = ssi_eig.hessenberg_vectors(h, lam)
    assert np.all(np.isfinite(v[:, 0]))
    assert np.all(np.isnan(v[:, 1])) and np.all(np.isnan(v[:, 2]))


def test_hessenberg_q_refuses_nothing_silently_on_zero_matrix():
    h, q = ssi_eig.hessenberg_q(np.zeros((4, 4)))
    assert np.all(h == 0) and np.allclose(q @ q.T, np.eye(4))
    # a zero matrix: every eigenvalue 0, the solve meets zero pivots and still returns vectors
    v = ssi_eig.hessenberg_vectors(h, np.zeros(4, complex))
    assert np.all(np.isfinite(v))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shape_mask_matches_reference(seed):
    r = np.random.default_rng(seed)
    lam = r.uniform(0.2, 1.05, 200) * np.exp(1j * r.uniform(-np.pi, np.pi, 200))
    lam[:5] = [0, np.nan, 1.0, -0.5, np.inf]
    got = ssi.shape_mask(lam, 100.0, 0.3, 20.0, 0.1, 0.01, 0.2)
    want = eref.shape_mask_ref(lam, 100.0, 0.3, 20.0, 0.1, 0.01, 0.2)
    np.testing.assert_array_equal(got, want)
    assert 0 < got.sum() < got.size


@pytest.mark.parametrize("seed", [0, 1])
def test_stability_with_missing_shapes_matches_reference(seed):
    r = np.random.default_rng(seed)
    orders = np.repeat(np.arange(2, 22, 2), r.integers(1, 6, 10))
    m = orders.size
    freq = r.choice([1.0, 2.0, 3.0], m) * (1 + 0.01 * r.standard_normal(m))
    damp = 0.02 * (1 + 0.1 * r.standard_normal(m))
    shapes = r.standard_normal((m, 5)) + 1j * r.standard_normal((m, 5))
    shapes[freq > 2.5] = np.nan  # "out of band": no shape computed
    got = ssi._stability(orders, freq, damp, shapes, 0.01, 0.05, 0.02)
    want = ref.stability_ref(orders, freq, damp, shapes, 0.01, 0.05, 0.02)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)
    assert got[1][freq > 2.5].any()  # judged on frequency and damping


def _random_obs(rng, nl, p, n):
    """A realistic observability basis: from a random stable system."""
    ev = 0.97 * np.exp(1j * rng.uniform(0.02, 2.5, n // 2))
    a = np.zeros((n, n))
    for i, mu in enumerate(ev):
        a[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[mu.real, mu.imag], [-mu.imag, mu.real]]
    t = rng.standard_normal((n, n))
    a = t @ a @ np.linalg.inv(t)
    c = rng.standard_normal((nl, n))
    rows = [c]
    for _ in range(p - 1):
        rows.append(rows[-1] @ a)
    return np.vstack(rows) + 1e-6 * rng.standard_normal((p * nl, n))


@pytest.mark.parametrize("multi_order", [True, False])
def test_selected_shapes_equal_full_eig(rng, multi_order):
    nl, p, fs = 5, 16, 100.0
    x = np.linspace(0.1, 0.9, nl)
    modes = np.column_stack([np.sin(k * np.pi * x) for k in (1, 2, 3, 4)])
    y = ref.modal_response(
        rng, fs, 300.0, [3.0, 7.5, 12.0, 30.0], [0.01, 0.02, 0.015, 0.01], modes, noise=0.05
    )
    corr = ssi.output_correlations(y, 2 * p - 1)
    obs, _, _ = ssi.hankel_subspace(ssi.block_hankel(corr, p), 30)
    orders = np.arange(2, 31, 2)
    sel = (2.0, 25.0, 0.1, 0.01, 0.2)
    full = ssi.poles_of_orders(obs, nl, orders, fs, multi_order=multi_order)
    part = ssi.poles_of_orders(obs, nl, orders, fs, multi_order=multi_order, shapes_for=sel)
    np.testing.assert_array_equal(full[0], part[0])
    # the eigenvalues of one order may come in another order: sort by frequency within each
    key = lambda out: np.lexsort((out[1], out[0]))  # noqa: E731
    full = tuple(x[key(full)] for x in full)
    part = tuple(x[key(part)] for x in part)
    np.testing.assert_allclose(part[1], full[1], rtol=1e-9)
    np.testing.assert_allclose(part[2], full[2], rtol=1e-6, atol=1e-10)
    has = np.all(np.isfinite(part[3]), axis=1)
    want = ssi.shape_mask(
        np.exp(
            (
                -part[2] * 2 * np.pi * part[1]
                + 1j * 2 * np.pi * part[1] * np.sqrt(np.maximum(0.0, 1 - part[2] ** 2))
            )
            / fs
        ),
        fs,
        *sel,
    )
    assert has.sum() > 10 and (~has).sum() > 10
    assert not (has & ~want).any()  # shapes only inside the selection
    assert np.all(np.isnan(part[3][~has]))
    np.testing.assert_allclose(part[3][has], full[3][has], atol=1e-8)
    # inside the selection, every stability flag is the one of the full computation
    st_full = ssi._stability(*full, 0.01, 0.2, 0.02)
    st_part = ssi._stability(*part, 0.01, 0.2, 0.02)
    np.testing.assert_array_equal(st_part[0], st_full[0])
    np.testing.assert_array_equal(st_part[1][want], st_full[1][want])
    assert st_full[1][want].sum() > 5
    assert np.all(has[want & st_full[1]])  # every stable selected pole has its shape


def test_identify_shapes_for_band_gives_the_same_modes_as_every_shape(rng):
    from bshm.analysis.preprocess import channel_scales

    x = np.linspace(0.1, 0.9, 5)
    shapes = np.column_stack([np.sin(k * np.pi * x) for k in (1, 2, 3, 4)])
    y = ref.modal_response(
        rng, 100.0, 600.0, [1.5, 4.0, 4.06, 11.0], [0.01, 0.02, 0.015, 0.01], shapes, noise=0.05
    )
    center, scale = channel_scales(y, [f"c{i}" for i in range(5)])
    kw = dict(time_lag=30, max_order=50, center=center, scale=scale)
    full = ssi.ssi_cov(y, 100.0, **kw)
    part = ssi.ssi_cov(y, 100.0, shapes_for=(0.5, 12.0, 0.1), **kw)
    np.testing.assert_array_equal(full.stable_frequency, part.stable_frequency)
    has = np.all(np.isfinite(part.shapes), axis=0)
    assert 0 < has.sum() < has.size
    np.testing.assert_array_equal(full.stable[has], part.stable[has])
    a = pick_modes(full, freq_min=0.5, freq_max=12.0)
    b = pick_modes(part, freq_min=0.5, freq_max=12.0)
    assert a.frequencies.size == 4
    np.testing.assert_allclose(b.frequencies, a.frequencies, rtol=1e-12)
    np.testing.assert_allclose(b.damping, a.damping, rtol=1e-9)
    np.testing.assert_allclose(np.abs(b.shapes), np.abs(a.shapes), atol=1e-9)
    np.testing.assert_array_equal(a.labels, b.labels)
    # and identify() uses the band: out-of-band poles have no shape
    res = identify(y, 100.0, time_lag=30, max_order=50, freq_min_hz=0.5, freq_max_hz=12.0)
    d = res.stabilization
    inside = (d.frequencies > 0.6) & (d.frequencies < 11.5) & (d.damping > 0) & (d.damping < 0.09)
    assert np.all(np.isfinite(d.shapes[:, inside & d.stable]))  # every possible mode pole
    assert np.any(np.isnan(d.shapes[:, inside & ~d.stable_frequency]))  # unstable: none needed
    assert np.all(np.isnan(d.shapes[:, d.frequencies > 13.0]))
    # (identify chooses its own weighting span: the same modes, not the same rounding)
    np.testing.assert_allclose(res.frequencies, a.frequencies, rtol=1e-8)


def test_kernel_goes_through_the_project_decorator():
    from bshm.analysis._numba import FASTMATH

    k = ssi_eig._hessenberg_vectors
    assert type(k._cache).__name__ != "NullCache"
    assert set(k.targetoptions["fastmath"]) == set(FASTMATH)
