"""The Gram step keeps only the ``n_max`` largest eigenpairs: same subspace, same modes.

``hankel_subspace`` solves the Gram eigenproblem for the ``n_max`` largest
eigenpairs only (LAPACK ``syevr`` with an index range) when the Gram matrix
is large enough for that to pay (``ssi.GRAM_SUBSET_MIN_ROWS`` rows), and
for all of them by divide and conquer (``syevd``) below.  Both must give the same
poles and modes as the full solve: frequencies to 1e-8 relative, damping to
1e-6 relative, MAC to 1 - 1e-10, on the simulated bridge with 6, 12 and 24
channels (Gram matrices of 240, 480 and 960 rows at time lag 40).
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, mac_matrix, ssi

pytest.importorskip("bshm.fixtures.bridge")

FS = 50.0


def _record(n_ch: int, seed: int) -> np.ndarray:
    from bshm.fixtures.bridge import BridgeModel, BridgeParams

    xs = tuple(float(x) for x in np.linspace(3.0, 67.0, n_ch))
    rec = BridgeModel(BridgeParams(acc_x=xs), seed=seed).simulate(
        600.0, FS, temperature_c=8.0, traffic=False, rng=np.random.default_rng(seed + 40)
    )
    return np.ascontiguousarray(rec.acc)


def _hankel(y: np.ndarray) -> np.ndarray:
    from bshm.analysis.ssi_corr import output_correlations

    z = (y - y.mean(axis=0)) / y.std(axis=0)
    return ssi.block_hankel(output_correlations(z, 2 * 40 - 1), 40)


def _full(h: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: every eigenpair of the Gram matrix by numpy (LAPACK syevd), top n_max."""
    g = h @ h.T
    w, v = np.linalg.eigh(g)
    return np.sqrt(w[::-1][:n_max]), v[:, ::-1][:, :n_max]


def _identify(y: np.ndarray):
    return identify(y, FS, time_lag=40, max_order=80, freq_min_hz=0.5, freq_max_hz=15.0)


@pytest.mark.parametrize("n_ch", [6, 12, 24])
def test_the_subset_route_keeps_the_same_subspace_as_every_eigenpair(n_ch, monkeypatch):
    monkeypatch.setattr(ssi, "GRAM_SUBSET_MIN_ROWS", 0)  # the subset route at every size
    h = _hankel(_record(n_ch, 3))
    assert h.shape == (40 * n_ch, 40 * n_ch)
    u, sv, route = ssi.hankel_subspace(h, 80)
    assert route == "gram"
    s0, u0 = _full(h, 80)
    np.testing.assert_allclose(sv, s0, rtol=1e-9)
    # orthonormal, and the same directions (up to sign) as the full solve
    np.testing.assert_allclose(u.T @ u, np.eye(80), atol=1e-10)
    cos = np.abs(np.sum(u * u0, axis=0))
    # well-separated leading directions match one by one; the whole subspace too
    sep = np.r_[np.inf, -np.diff(s0)] / s0
    sep = np.minimum(sep, np.r_[-np.diff(s0), np.inf] / s0)
    assert cos[sep > 1e-3].min() > 1 - 1e-10
    proj = u0.T @ u  # the retained subspace: all its principal angles ~ 0
    np.testing.assert_allclose(np.linalg.svd(proj, compute_uv=False), 1.0, atol=1e-9)


@pytest.mark.parametrize("n_ch", [6, 12, 24])
def test_identify_gives_the_same_modes_with_either_gram_route(n_ch, monkeypatch):
    y = _record(n_ch, 5)
    monkeypatch.setattr(ssi, "GRAM_SUBSET_MIN_ROWS", 0)  # the top 80 eigenpairs (syevr)
    subset = _identify(y)
    assert subset.n_modes >= 4
    monkeypatch.setattr(ssi, "GRAM_SUBSET_MIN_ROWS", 10**9)  # every eigenpair (syevd)
    full = _identify(y)
    assert full.n_modes == subset.n_modes
    np.testing.assert_allclose(subset.frequencies, full.frequencies, rtol=1e-8)
    np.testing.assert_allclose(subset.damping, full.damping, rtol=1e-6)
    assert np.diag(mac_matrix(subset.shapes, full.shapes)).min() > 1 - 1e-10
    np.testing.assert_array_equal(subset.n_poles, full.n_poles)


def test_the_route_follows_the_size_of_the_gram_matrix():
    assert 480 < ssi.GRAM_SUBSET_MIN_ROWS <= 960  # 12 ch: every eigenpair; 24 ch: the top ones


def test_both_routes_fall_back_to_the_svd_when_the_gram_is_ill_conditioned(rng, monkeypatch):
    # singular values spanning 1e9 (the Gram's 1e18) on a matrix large enough for
    # the subset route: the retained eigenvalues are checked the same way
    m, k = 600, 24
    u0, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v0, _ = np.linalg.qr(rng.standard_normal((m, k)))
    s0 = np.logspace(0, -9, k)
    h = (u0 * s0) @ v0.T
    for limit in (0, 10**9):
        monkeypatch.setattr(ssi, "GRAM_SUBSET_MIN_ROWS", limit)
        u, sv, route = ssi.hankel_subspace(h, k)
        assert route == "svd"
        np.testing.assert_allclose(sv, s0, rtol=1e-6)
        assert np.abs(np.abs(np.sum(u * u0, axis=0)) - 1).max() < 1e-6
        u2, sv2, route2 = ssi.hankel_subspace(h, 10)  # top 10 span 1e3.4: the Gram is fine
        assert route2 == "gram"
        np.testing.assert_allclose(sv2, s0[:10], rtol=1e-8)
        assert np.abs(np.abs(np.sum(u2 * u0[:, :10], axis=0)) - 1).max() < 1e-8
