"""The Numba quality checks of a window against the plain NumPy reference.

Every case must give the same reasons *and* details (counts, channel
numbers, values) as ``tests/reference/quality.py``: clean, NaN, 1e30,
implausible, flat, stuck, clipped and spiky channels, and windows with too
little excitation.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import quality_kernels as qk
from bshm.analysis.windows import QualitySettings, channel_faults, check_quality
from reference import quality as ref
from scipy.signal import welch

FS = 100.0
Q = QualitySettings()
BAND = (0.5, 15.0)


def _window(rng, n=6000, nc=6):
    """Two lightly damped modes plus noise: a window that passes every check."""
    from scipy.signal import lfilter

    t = np.zeros((n, nc))
    for f, z in ((2.1, 0.01), (6.3, 0.02)):
        om = 2 * np.pi * f
        mu = np.exp((-z * om + 1j * om * np.sqrt(1 - z * z)) / FS)
        q = lfilter([1.0], [1.0, -2 * mu.real, abs(mu) ** 2], rng.standard_normal(n + 500))[500:]
        t += q[:, None] * rng.standard_normal(nc)[None, :]
    return t + 0.02 * t.std() * rng.standard_normal(t.shape)


def _cases(rng):
    x = _window(rng)
    out = {"clean": x}
    y = x.copy()
    y[100, 2] = np.nan
    y[200:210, 4] = np.inf
    out["nan"] = y
    y = x.copy()
    y[3000, 1] = 1e30
    out["1e30"] = y
    y = x.copy()
    y[:, 3] = 0.25
    out["flat"] = y
    y = x.copy()
    y[1000:1150, 5] = y[1000, 5]  # stuck for 1.5 s
    out["stuck"] = y
    y = x.copy()
    y[1000:1099, 0] = y[1000, 0]  # 99 equal samples: just under the limit
    out["almost_stuck"] = y
    y = x.copy()
    lim = 0.6 * np.abs(y[:, 2]).max()
    y[:, 2] = np.clip(y[:, 2], -lim, lim)
    out["clipped"] = y
    y = x.copy()
    top = np.abs(y[:, 4]).max()
    y[[10, 20, 30], 4] = top  # three samples at the top: not clipping (fewer than 4)
    out["three_at_top"] = y
    y = x.copy()
    y[2500, 3] += 50 * y[:, 3].std()
    out["spike"] = y
    y = x.copy()
    y[[700, 2100], 1] -= 30 * y[:, 1].std()
    out["spikes_two"] = y
    out["white_noise"] = rng.standard_normal(x.shape)
    out["tiny"] = 1e-9 * x
    y = np.zeros_like(x)
    y[::2] = 1.0
    out["square"] = y
    return out


@pytest.fixture(scope="module")
def cases():
    return _cases(np.random.default_rng(12))


NAMES = list(_cases(np.random.default_rng(12)))


@pytest.mark.parametrize("name", NAMES)
def test_check_quality_matches_reference(cases, name):
    x = cases[name]
    for q in (Q, QualitySettings(min_rms=1e-3), QualitySettings(spike_z=8.0)):
        want = ref.check_quality_ref(x, FS, q, band=BAND)
        assert check_quality(x, FS, q, band=BAND) == want
        assert check_quality(x, FS, q) == ref.check_quality_ref(x, FS, q)


@pytest.mark.parametrize("name", NAMES)
def test_channel_faults_match_reference(cases, name):
    x = cases[name]
    ranges = [(-5.0, 5.0), None, (-1e6, 1e6), None, (-0.5, 0.5), None]
    for rg in ((), ranges):
        assert channel_faults(x, FS, Q, rg) == ref.channel_faults_ref(x, FS, Q, rg)


def test_the_cases_cover_every_reason(cases):
    got = {ref.check_quality_ref(x, FS, Q, band=BAND)[0] for x in cases.values()}
    assert {"", "nan", "flat", "clipping", "spikes", "low_excitation"} <= got
    faults = {
        r for x in cases.values() for _, r, _ in ref.channel_faults_ref(x, FS, Q, [(-5, 5)] * 6)
    }
    assert {"nan", "implausible", "flat", "clipping"} <= faults


def test_stats_kernel_counts(cases):
    x = cases["nan"]
    st = qk.channel_stats(x, [None, None, None, None, (-0.1, 0.1), None])
    assert st["n_bad"].tolist() == [0, 0, 1, 0, 10, 0]
    assert st["n_off"][4] == int(np.sum(np.abs(x[np.isfinite(x[:, 4]), 4]) > 0.1))
    st = qk.channel_stats(cases["stuck"])
    assert st["longest"][5] == 149
    assert st["flat"].tolist() == [False] * 6
    assert qk.channel_stats(cases["flat"])["flat"][3]


def test_spike_zmax_matches_numpy(cases):
    for name in ("clean", "spike", "white_noise", "square"):
        x = cases[name]
        d2 = x[1:-1] - 0.5 * (x[:-2] + x[2:])
        med = np.median(d2, axis=0)
        mad = 1.4826 * np.median(np.abs(d2 - med), axis=0)
        z = np.abs(d2 - med) / np.where(mad > 0, mad, np.inf)
        assert np.array_equal(qk.spike_zmax(x), z.max(axis=0)), name


@pytest.mark.parametrize("n", [6000, 60_000, 700])
def test_band_ratio_equals_scipy_welch(cases, n):
    from bshm.analysis.windows import _band_ratio

    rng = np.random.default_rng(n)
    x = np.tile(cases["clean"], (max(1, -(-n // 6000)), 1))[:n]
    x = x + 0.1 * rng.standard_normal(x.shape)
    xc = x - x.mean(axis=0)
    nper = int(min(n, max(256, 2 ** int(np.log2(FS * 10)))))
    f, p = welch(xc, fs=FS, nperseg=nper, axis=0)
    p = p.mean(axis=1)
    inb = (f >= BAND[0]) & (f <= BAND[1])
    want = float(p[inb].max() / np.median(p[1:]))
    assert _band_ratio(xc, FS, BAND) == pytest.approx(want, rel=1e-12)


def test_detrend_equals_scipy_and_modes_do_not_move(cases):
    """The closed-form detrend is scipy's line; the identified modes do not move."""
    from bshm.analysis.windows import WindowConfig, _identify
    from reference.decimate import detrend_linear_ref
    from scipy.signal import decimate, detrend

    x = cases["clean"] + np.linspace(-3.0, 5.0, 6000)[:, None] + 7.0
    got = detrend_linear_ref(x)
    want = detrend(x, axis=0, type="linear")
    assert np.max(np.abs(got - want)) < 1e-11 * np.max(np.abs(x))
    assert np.all(np.abs(got.mean(axis=0)) < 1e-12)
    cfg = WindowConfig(data_dir=".", source="acc", channels=tuple(f"A{i}" for i in range(6)))
    fa = _identify(decimate(got, 2, ftype="fir", axis=0, zero_phase=True), 50.0, cfg)
    fb = _identify(decimate(want, 2, ftype="fir", axis=0, zero_phase=True), 50.0, cfg)
    assert fa.frequencies.size == fb.frequencies.size >= 2
    # inputs equal to 3e-16 give modes equal to ~1e-9 only: SSI on a 6000-sample window
    # amplifies rounding ~1e7 (measured 5e-11..1.7e-9 over equally exact variants of the
    # correlation and scaling steps), so 1e-8 still says "the modes do not move"
    np.testing.assert_allclose(fa.frequencies, fb.frequencies, rtol=1e-8)
    np.testing.assert_allclose(fa.damping, fb.damping, rtol=1e-6)
    assert np.min(np.abs(fa.frequencies - 2.1)) < 0.05


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 101, 2048, 4097, 59_998, 60_000])
def test_median_is_numpys(rng, n):
    arrays = [
        rng.standard_normal(n),
        rng.integers(0, 3, n).astype(float),  # many ties
        np.full(n, 2.5),
        np.sort(rng.standard_normal(n)),  # sorted: the strided sample is biased
        np.sin(np.arange(n) * 2 * np.pi / 29.0),  # periodic with the sample's stride
        np.abs(rng.standard_cauchy(n)),  # heavy tail
        np.r_[np.zeros(n - n // 3), 1e300 * np.ones(n // 3)],
    ]
    for a in arrays:
        assert qk.median(a) == np.median(a)


def test_welch_mean_is_scipys_up_to_a_factor(cases):
    x = cases["clean"] - cases["clean"].mean(axis=0)
    f, p = qk.welch_mean(x, FS, 1024)
    fw, pw = welch(x, fs=FS, nperseg=1024, axis=0)
    assert np.array_equal(f, fw)
    ratio = pw.mean(axis=1) / p
    np.testing.assert_allclose(ratio, ratio[1], rtol=1e-12)
