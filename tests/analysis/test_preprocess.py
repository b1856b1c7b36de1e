"""Window preprocessing: checks, gap policy, detrend, filters, decimation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from bshm.analysis import preprocess as pp


def test_check_window_accepts_and_converts(rng):
    y = rng.integers(-100, 100, (500, 3))
    arr, fs = pp.check_window(y, 50)
    assert arr.dtype == np.float64
    assert fs == 50.0
    y32 = rng.standard_normal((500, 3)).astype(np.float32)
    arr32, _ = pp.check_window(y32, 50.0)
    assert arr32.dtype == np.float32
    assert np.shares_memory(arr32, y32)


@pytest.mark.parametrize(
    ("data", "fs", "match"),
    [
        (np.zeros((10, 3, 2)), 10.0, "2-D"),
        (np.zeros((3, 10)), 10.0, "pass data.T"),
        (np.array([["a", "b"]] * 5), 10.0, "real numbers"),
        (np.zeros((10, 2)), -1.0, "fs must be"),
        (np.zeros((10, 2)), float("nan"), "fs must be"),
        (np.zeros((10, 2)), "fast", "fs must be a number"),
    ],
)
def test_check_window_errors(data, fs, match):
    with pytest.raises(ValueError, match=match):
        pp.check_window(data, fs)


def test_nan_refused_by_default_and_repaired_on_request(rng):
    y = rng.standard_normal((1000, 3))
    y[10:15, 1] = np.nan
    with pytest.raises(ValueError, match=r"5 non-finite values in channel\(s\) \[1\]"):
        pp.prepare(y, 100.0)
    out = pp.prepare(y, 100.0, nan_policy="repair", channel_names=["a", "b", "c"])
    assert np.isfinite(out.data).all()
    assert out.notes == ("b: interpolated 5 NaN samples in 1 gap(s)",)
    # linear interpolation between the neighbours
    np.testing.assert_allclose(out.data[10:15, 1], np.linspace(y[9, 1], y[15, 1], 7)[1:-1])
    np.testing.assert_array_equal(out.data[:, 0], y[:, 0])


def test_long_gap_and_empty_channel_refused(rng):
    y = rng.standard_normal((1000, 2))
    y[100:200, 0] = np.nan  # 1 s at 100 Hz
    with pytest.raises(ValueError, match="channel ch0: a gap of 1 s at sample 100 exceeds"):
        pp.prepare(y, 100.0, nan_policy="repair", max_gap_s=0.5)
    y[:, 1] = np.nan
    with pytest.raises(ValueError, match="no valid sample"):
        pp.repair_gaps(y, 100.0, ["a", "b"], max_gap_s=10.0)
    with pytest.raises(ValueError, match="nan_policy"):
        pp.prepare(y, 100.0, nan_policy="zero")


def test_constant_channel_refused(rng):
    y = rng.standard_normal((1000, 3))
    y[:, 2] = 4.0
    with pytest.raises(ValueError, match="constant channel.*x3"):
        pp.prepare(y, 100.0, channel_names=["x1", "x2", "x3"])
    out = pp.prepare(y, 100.0, channel_names=["x1", "x2", "x3"], channels=["x2", 0])
    assert out.channels == ("x2", "x1")
    np.testing.assert_array_equal(out.data, y[:, [1, 0]])


def test_select_channels_errors(rng):
    y = rng.standard_normal((100, 2))
    with pytest.raises(ValueError, match="unknown channel 'z'; have a, b"):
        pp.select_channels(y, ("a", "b"), ["z"])
    with pytest.raises(ValueError, match="out of range"):
        pp.select_channels(y, ("a", "b"), [2])
    with pytest.raises(ValueError, match="no channels"):
        pp.select_channels(y, ("a", "b"), [])


def test_detrend_removes_lines(rng):
    t = np.arange(2000)[:, None]
    y = 3.0 + 0.01 * t + rng.standard_normal((2000, 2))
    lin = pp.detrend(y, "linear")
    assert abs(np.polyfit(t[:, 0], lin[:, 0], 1)[0]) < 1e-12
    assert abs(pp.detrend(y, "constant").mean()) < 1e-12
    with pytest.raises(ValueError, match="detrend"):
        pp.detrend(y, "quadratic")


def test_bandpass_passes_band_and_stops_outside():
    fs = 100.0
    t = np.arange(20000) / fs
    inside = np.sin(2 * np.pi * 5.0 * t)
    outside = np.sin(2 * np.pi * 0.05 * t) + np.sin(2 * np.pi * 40.0 * t)
    y = np.column_stack([inside + outside, inside])
    out = pp.bandpass(y, fs, 1.0, 20.0)
    mid = slice(2000, -2000)
    np.testing.assert_allclose(out[mid, 0], inside[mid], atol=0.02)
    np.testing.assert_allclose(out[mid, 1], inside[mid], atol=0.02)  # zero phase
    low = pp.bandpass(y, fs, None, 20.0)
    assert np.std(low[mid, 0] - inside[mid]) > 0.5  # the 0.05 Hz part is kept
    with pytest.raises(ValueError, match="empty"):
        pp.bandpass(y, fs, 20.0, 10.0)
    with pytest.raises(ValueError, match="high corner"):
        pp.bandpass(y, fs, None, 60.0)


def test_decimate_keeps_in_band_removes_alias(rng):
    fs = 200.0
    t = np.arange(40000) / fs
    keep = np.sin(2 * np.pi * 17.0 * t)
    alias = np.sin(2 * np.pi * 80.0 * t)  # would fold onto 20 Hz at 50 Hz
    y = np.column_stack([keep + alias, keep])
    out, fs2 = pp.decimate(y, fs, 50.0)
    assert fs2 == 50.0
    assert out.shape == (10000, 2)
    mid = slice(500, -500)
    np.testing.assert_allclose(out[mid, 0], keep[::4][mid], atol=0.01)
    f, p = scipy.signal.welch(out[:, 0], fs2, nperseg=1000)
    assert p[np.argmin(abs(f - 20.0))] < 1e-6 * p.max()
    out2, fs3 = pp.decimate(y, 100.0, 40.0)  # rational 2/5
    assert fs3 == 40.0
    assert out2.shape[0] == 16000
    same, fs4 = pp.decimate(y, fs, fs)
    assert fs4 == fs
    assert same.shape == y.shape
    with pytest.raises(ValueError, match="decimate_to_hz"):
        pp.decimate(y, fs, 400.0)


def test_prepare_records_every_step(rng):
    y = rng.standard_normal((20000, 2)) + 1.0
    out = pp.prepare(y, 100.0, detrend_kind="linear", band_hz=(0.5, None), decimate_to_hz=50.0)
    assert out.fs == 50.0
    assert out.data.shape == (10000, 2)
    assert out.notes == ("detrend linear", "band-pass 0.5..None Hz", "decimated 100 -> 50 Hz")
