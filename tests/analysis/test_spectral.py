"""Welch CPSD, FDD singular values, peak picking and EFDD."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from bshm.analysis import identify, mac_matrix
from bshm.analysis import spectral as sp
from reference import oma as ref


def test_cpsd_matrix_matches_scipy(rng):
    y = rng.standard_normal((10000, 3)) @ rng.standard_normal((3, 3)) + 2.0
    f, g = sp.cpsd_matrix(y, 50.0, nperseg=256, overlap=0.5)
    for a in range(3):
        for b in range(3):
            f2, pab = scipy.signal.csd(
                y[:, b], y[:, a], fs=50.0, nperseg=256, noverlap=128, detrend="constant"
            )
            np.testing.assert_allclose(f, f2)
            np.testing.assert_allclose(g[:, a, b], pab, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g, np.conj(g.transpose(0, 2, 1)))
    f3, psd = sp.welch_psd(y, 50.0, nperseg=256)
    np.testing.assert_allclose(
        psd[:, 1], scipy.signal.welch(y[:, 1], 50.0, nperseg=256)[1], rtol=1e-9
    )


def test_cpsd_errors(rng):
    y = rng.standard_normal((100, 2))
    with pytest.raises(ValueError, match="nperseg"):
        sp.cpsd_matrix(y, 10.0, nperseg=512)
    with pytest.raises(ValueError, match="overlap"):
        sp.cpsd_matrix(y, 10.0, nperseg=64, overlap=1.0)


def test_fdd_svd_matches_numpy_svd(rng):
    x = rng.standard_normal((20, 4, 4)) + 1j * rng.standard_normal((20, 4, 4))
    g = x @ np.conj(x.transpose(0, 2, 1))
    s, u1 = sp.fdd_svd(g)
    for k in range(20):
        u, sv, _ = np.linalg.svd(g[k])
        np.testing.assert_allclose(s[k], sv, rtol=1e-9)
        assert abs(np.vdot(u[:, 0], u1[k])) == pytest.approx(1.0, abs=1e-9)


@pytest.fixture(scope="module")
def synth():
    x = np.linspace(0.05, 0.95, 5)
    shapes = np.column_stack([np.sin(np.pi * x), np.sin(2 * np.pi * x), np.sin(3 * np.pi * x)])
    y = ref.modal_response(
        np.random.default_rng(5),
        50.0,
        3600.0,
        [1.5, 4.0, 9.0],
        [0.01, 0.015, 0.02],
        shapes,
        noise=0.05,
    )
    return y, shapes


def test_fdd_and_efdd_find_the_modes(synth):
    y, shapes = synth
    fdd = identify(y, 50.0, method="fdd", freq_min_hz=0.5)
    efdd = identify(y, 50.0, method="efdd", freq_min_hz=0.5)
    for res in (fdd, efdd):
        assert res.n_modes == 3
        assert np.all(np.diag(mac_matrix(res.shapes, shapes)) > 0.99)
        np.testing.assert_allclose(res.frequencies, [1.5, 4.0, 9.0], rtol=0.01)
    assert np.isnan(fdd.damping).all()
    np.testing.assert_allclose(efdd.damping, [0.01, 0.015, 0.02], atol=0.003)
    assert not any("dropped" in n for n in efdd.notes)
    assert efdd.spectrum.peaks.size == 3
    assert efdd.spectrum.singular_values.shape[1] == 5
    assert efdd.stabilization is None
    assert efdd.method == "efdd"


def test_efdd_window_correction_reduces_damping_bias(synth):
    y, _ = synth
    nper = 1024  # short segments: strong leakage
    f, g = sp.cpsd_matrix(y, 50.0, nperseg=nper)
    s, u1 = sp.fdd_svd(g)
    k = int(np.argmin(abs(f - 1.5)))
    k = k - 1 + int(np.argmax(s[k - 1 : k + 2, 0]))
    win = scipy.signal.get_window("hann", nper)
    _, z_raw, _, bell = sp.efdd_mode(f, s[:, 0], u1, k)
    _, z_cor, _, _ = sp.efdd_mode(f, s[:, 0], u1, k, window=win)
    assert bell[k]
    assert bell.sum() >= 3
    assert abs(z_cor - 0.01) < abs(z_raw - 0.01)


def test_fdd_peaks_respects_band(synth):
    y, _ = synth
    f, g = sp.cpsd_matrix(y, 50.0, nperseg=4096)
    s, u1 = sp.fdd_svd(g)
    peaks = sp.fdd_peaks(f, s, u1, freq_min=3.0, freq_max=10.0)
    assert np.all((f[peaks] >= 3.0) & (f[peaks] <= 10.0))
    assert peaks.size == 2
