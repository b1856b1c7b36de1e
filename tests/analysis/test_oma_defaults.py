"""Defaults that work from 1 to 100 channels (no hand tuning), and say what they chose.

Before: one channel refused the default ``max_order=80``, the largest
accepted value (38) found 2 modes, and a short window or many channels
needed hand-picked ``time_lag``/orders.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, mac_matrix

pytest.importorskip("bshm.fixtures.bridge")

BAND = {"freq_min_hz": 0.5, "freq_max_hz": 15.0}  # the sample station's analysis band


@pytest.fixture(scope="module")
def ambient():
    from bshm.fixtures.bridge import BridgeModel

    return BridgeModel(seed=0).simulate(
        1200.0, 100.0, temperature_c=8.0, traffic=False, rng=np.random.default_rng(1003)
    )


def _in_band(truth):
    keep = (truth.frequencies >= BAND["freq_min_hz"]) & (truth.frequencies <= BAND["freq_max_hz"])
    return truth.frequencies[keep]


@pytest.mark.parametrize(("cols", "lag"), [([0], 81), ([0, 3], 41)])
def test_one_and_two_channels_find_the_band_modes_with_defaults(ambient, cols, lag):
    res = identify(ambient.acc[:, cols], 100.0, **BAND)
    want = _in_band(ambient.truth)  # 2.09, 3.94, 4.62, 7.73, 13.32 Hz
    assert res.n_modes == want.size, res.frequencies
    np.testing.assert_allclose(res.frequencies, want, rtol=0.01)
    assert np.all(abs(res.damping - ambient.truth.damping[: want.size]) < 0.006)
    assert res.options["time_lag"] == lag and res.options["max_order"] == 80
    assert any(f"time_lag={lag}, max_order=80" in n for n in res.notes), res.notes


@pytest.mark.slow
def test_a_hundred_channels_with_defaults():
    from bshm.fixtures.bridge import BridgeModel, BridgeParams

    model = BridgeModel(BridgeParams(acc_x=tuple(np.linspace(1.0, 69.0, 100))), seed=0)
    rec = model.simulate(
        600.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(7)
    )
    res = identify(rec.acc, 100.0, freq_max_hz=20.0)
    assert res.n_modes == rec.truth.frequencies.size
    np.testing.assert_allclose(res.frequencies, rec.truth.frequencies, rtol=0.005)
    assert np.diag(mac_matrix(res.shapes, rec.truth.shapes)).min() > 0.99
    # 12 references chosen automatically, spread over the deck
    refs = np.array(res.options["refs"])
    assert refs.size == 12
    assert refs.min() < 10 and refs.max() > 90
    assert any("100 channel(s)" in n and "refs=" in n for n in res.notes)


def test_a_short_window_lowers_the_lag_instead_of_failing(ambient):
    y = ambient.acc[:1500, :3]  # 15 s: too short for time_lag=40 (needs 1600 samples)
    res = identify(y, 100.0, freq_min_hz=1.0)
    assert res.options["time_lag"] == 37
    assert res.options["max_order"] <= 36 * 3
    assert any("time_lag=37" in n for n in res.notes)
    with pytest.raises(ValueError, match="too short for time_lag=40"):
        identify(y, 100.0, time_lag=40)


def test_an_oversampled_record_is_decimated_for_its_band(ambient):
    from scipy.signal import resample_poly

    y = resample_poly(ambient.acc[:30000, :6], 5, 1, axis=0)  # 500 Hz
    res = identify(y, 500.0, freq_max_hz=20.0)
    assert res.fs == pytest.approx(80.0)
    assert any("decimated automatically" in n for n in res.notes), res.notes
    keep = identify(y, 500.0, freq_max_hz=20.0, decimate_to_hz=False, time_lag=40)
    assert keep.fs == 500.0
    base = identify(ambient.acc[:30000, :6], 100.0, freq_max_hz=20.0)
    close = np.min(abs(res.frequencies[:, None] / base.frequencies - 1), axis=1)
    assert res.n_modes >= base.n_modes - 1 and close.max() < 0.01
