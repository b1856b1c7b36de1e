"""The compiled detrend + FIR decimation of a window against SciPy's.

``bshm.analysis.decimate_kernels.detrend_decimate`` must give the numbers of
``reference.decimate.detrend_linear_ref`` followed by ``scipy.signal.decimate(..., ftype="fir",
zero_phase=True)`` up to rounding, and the modes identified on the simulated
bridge must not move.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.decimate_kernels import detrend_decimate, fir_taps
from bshm.analysis.windows import WindowConfig, _identify, _preprocess
from reference.decimate import detrend_linear_ref
from scipy.signal import decimate


def _scipy(x: np.ndarray, q: int) -> np.ndarray:
    y = detrend_linear_ref(np.asarray(x, np.float64))
    return decimate(y, q, ftype="fir", axis=0, zero_phase=True) if q > 1 else y


@pytest.mark.parametrize("q", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n", [1, 2, 7, 40, 41, 42, 101, 1000, 6001])
def test_matches_scipy(rng, q, n) -> None:
    x = rng.standard_normal((n, 4)) + np.linspace(-2.0, 3.0, n)[:, None] + 5.0
    for data in (x, x.astype(np.float32)):
        got = detrend_decimate(data, q)
        want = _scipy(data, q)
        assert got.shape == want.shape
        scale = max(1.0, float(np.max(np.abs(want))))
        assert np.max(np.abs(got - want), initial=0.0) < 1e-13 * scale


def test_column_subset_and_strided_input(rng) -> None:
    x = rng.standard_normal((3000, 6)).astype(np.float32)
    cols = [0, 2, 5]
    got = detrend_decimate(x, 2, np.asarray(cols))
    want = _scipy(x[:, cols], 2)
    assert np.max(np.abs(got - want)) < 1e-13 * np.max(np.abs(want))
    fortran = np.asfortranarray(x)
    assert np.array_equal(detrend_decimate(fortran, 2, np.asarray(cols)), got)


def test_taps_are_scipys() -> None:
    from scipy.signal import firwin

    assert np.array_equal(fir_taps(2), firwin(41, 0.5, window="hamming"))
    assert not fir_taps(2).flags.writeable


def test_rejects_a_vector() -> None:
    with pytest.raises(ValueError, match="n_channels"):
        detrend_decimate(np.zeros(10), 2)


def test_modes_on_the_simulated_bridge_do_not_move() -> None:
    """Identified from the recorded float32 samples, both ways: same modes."""
    from bshm.fixtures.bridge import BridgeModel

    rec = BridgeModel(seed=4).simulate(
        600.0, 100.0, temperature_c=10.0, rng=np.random.default_rng(11)
    )
    acc = rec.acc.astype(np.float32)
    names = tuple(f"A{i}" for i in range(acc.shape[1]))
    cfg = WindowConfig(data_dir=".", source="acc", channels=names)
    keep = list(range(acc.shape[1]))
    x_new, fs_new = _preprocess(acc, 100.0, 50.0, keep)
    x_old = _scipy(acc, 2)
    assert fs_new == 50.0
    assert np.max(np.abs(x_new - x_old)) < 1e-13 * np.max(np.abs(x_old))
    a = _identify(x_new, fs_new, cfg)
    b = _identify(x_old, 50.0, cfg)
    assert a.frequencies.size == b.frequencies.size >= 3
    np.testing.assert_allclose(a.frequencies, b.frequencies, rtol=1e-8)
    np.testing.assert_allclose(a.damping, b.damping, rtol=1e-5)
    truth = BridgeModel(seed=4).modal_truth(10.0).frequencies
    for f in a.frequencies[:3]:
        assert np.min(np.abs(truth - f) / truth) < 0.02
