"""Analysis windows: planning and data-quality checks (each reason), on real raw files."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.windows import (
    QualitySettings,
    WindowConfig,
    check_quality,
    plan_windows,
    process_batch,
)
from scipy.signal import lfilter

S = 1_000_000_000
Q = QualitySettings()


def response(rng, n=6000, fs=50.0, n_ch=4):
    """Random response of two lightly damped resonances (2.1 and 4.6 Hz) plus noise."""
    out = np.zeros((n, n_ch))
    for f0, zeta in ((2.1, 0.01), (4.6, 0.012)):
        w = 2 * np.pi * f0 / fs
        r = np.exp(-zeta * w)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], rng.standard_normal(n))
        out += np.outer(y, rng.uniform(0.5, 1.0, n_ch)) * 1e-3
    return out + 1e-5 * rng.standard_normal((n, n_ch))


def test_plan_windows_cuts_runs_with_overlap():
    runs = [(0, 600 * S), (3600 * S, 3600 * S + 1500 * S)]
    w = plan_windows(runs, 600.0)
    assert w == [(0, 600 * S), (3600 * S, 4200 * S), (4200 * S, 4800 * S)]
    w = plan_windows(runs, 600.0, overlap=0.5)
    assert [a // S for a, _ in w] == [0, 3600, 3900, 4200, 4500]
    assert plan_windows([(0, 599 * S)], 600.0) == []
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(runs, 600.0, overlap=1.0)


def test_clean_window_passes(rng):
    assert check_quality(response(rng), 50.0, Q, band=(1.0, 15.0)) == ("", "")


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("nan", "nan"),
        ("flat", "flat"),
        ("stuck", "flat"),
        ("clip", "clipping"),
        ("spike", "spikes"),
        ("noise", "low_excitation"),
    ],
)
def test_each_defect_gives_its_reason(rng, defect, reason):
    x = response(rng)
    if defect == "nan":
        x[100, 1] = np.nan
    elif defect == "flat":
        x[:, 2] = 0.25
    elif defect == "stuck":
        x[1000:1100, 0] = x[1000, 0]  # 2 s stuck at one value
    elif defect == "clip":
        m = 0.5 * np.abs(x[:, 3]).max()
        x[:, 3] = np.clip(x[:, 3], -m, m)
    elif defect == "spike":
        x[3000, 1] += 50 * x[:, 1].std()
    elif defect == "noise":
        x = 1e-5 * rng.standard_normal(x.shape)
    got, detail = check_quality(x, 50.0, Q, band=(1.0, 15.0))
    assert got == reason, detail
    assert detail


def test_min_rms(rng):
    x = response(rng)
    got, _ = check_quality(x, 50.0, QualitySettings(min_rms=1.0), band=(1.0, 15.0))
    assert got == "low_excitation"


def _write(tmp_path, rng, *, gap=False, nan=False):
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    chans = tuple(ChannelMeta(f"A{i}", "acceleration", "m/s2") for i in range(4))
    env = (ChannelMeta("T1", "temperature", "degC"),)
    specs = [SourceSpec("acc", "simulated", 50.0, chans), SourceSpec("env", "simulated", 1.0, env)]
    t0 = 1_767_225_600 * S
    with RawWriter(tmp_path, "st", specs) as w:
        for k in range(3):
            x = response(rng).astype(np.float32)
            if nan and k == 1:
                x[10, 0] = np.nan
            w.write("acc", x, t0_ns=t0 + k * 200 * S)
            w.write("env", np.full((120, 1), 5.0 + k, np.float32), t0_ns=t0 + k * 200 * S)
        if gap:
            w.add_gap("acc", t0 + 210 * S, t0 + 211 * S, "device silent")
    return t0


def test_process_batch_on_raw_files(tmp_path, rng):
    t0 = _write(tmp_path, rng, gap=True, nan=False)
    cfg = WindowConfig(
        str(tmp_path),
        "acc",
        ("A0", "A1", "A2", "A3"),
        (("env", "T1"),),
        window_s=120.0,
        freq_min_hz=1.0,
        freq_max_hz=10.0,
        max_order=30,
        time_lag=25,
    )
    wins = [(t0 + k * 200 * S, t0 + k * 200 * S + 120 * S) for k in range(3)]
    res = process_batch(cfg, wins)
    assert [r.status for r in res] == ["processed", "skipped", "processed"]
    assert res[1].reason == "gap"
    assert res[0].env["T1"] == pytest.approx(5.0)
    assert res[2].env["T1"] == pytest.approx(7.0)
    f = res[0].frequencies
    assert np.any(np.abs(f - 2.1) < 0.05), f
    assert np.any(np.abs(f - 4.6) < 0.1), f
    assert res[0].shapes.shape == (4, f.size)
    assert res[0].rms > 0


def test_nan_window_is_skipped_not_identified(tmp_path, rng):
    t0 = _write(tmp_path, rng, nan=True)
    cfg = WindowConfig(
        str(tmp_path),
        "acc",
        ("A0", "A1"),
        window_s=120.0,
        freq_min_hz=1.0,
        freq_max_hz=10.0,
        max_order=20,
        time_lag=20,
    )
    res = process_batch(cfg, [(t0 + 200 * S, t0 + 320 * S)])
    assert (res[0].status, res[0].reason) == ("skipped", "nan")
