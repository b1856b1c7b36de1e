"""The fused Numba channel health check against the plain NumPy reference.

Every case must give the same status, reasons and check values as
``tests/reference/health.py`` (the formulas before the kernel): clean, NaN,
1e30, flat, stuck, clipped, spiky, drifting, dead and tiny channels, spikes at
the window's edges, overflowing differences, float32 samples, even spike
windows and quantised temperatures.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import health_kernels as hk
from bshm.analysis.health import HealthSettings, check_channel, check_record
from reference.health import check_channel_ref

FS = 100.0


def _signal(rng, n=6000):
    """A lightly damped mode plus noise (m/s2): a channel that passes every check."""
    from scipy.signal import lfilter

    om = 2 * np.pi * 2.1
    mu = np.exp((-0.01 * om + 1j * om * np.sqrt(1 - 1e-4)) / FS)
    q = lfilter([1.0], [1.0, -2 * mu.real, abs(mu) ** 2], rng.standard_normal(n + 500))[500:]
    q = 0.01 * q / q.std()
    return q + 0.002 * rng.standard_normal(n)


def _cases(rng):
    x = _signal(rng)
    s = x.std()
    out = {"clean": x, "white": rng.standard_normal(6000)}
    y = x.copy()
    y[100:400] = np.nan
    y[900] = np.inf
    out["nan"] = y
    y = x.copy()
    y[3000] = 1e30
    out["1e30"] = y
    y = x.copy()
    y[::7] = -1e30
    out["1e30_many"] = y
    out["flat"] = np.full(6000, 0.25)
    y = x.copy()
    y[1000:1300] = y[1000]
    out["stuck"] = y
    y = x.copy()
    y[1000:1150] = y[1000]  # 1.5 s: under the limit
    out["almost_stuck"] = y
    lim = 0.5 * np.abs(x).max()
    out["clipped"] = np.clip(x, -lim, lim)
    y = x.copy()
    y[[10, 20]] = x.max()  # the top reached three times, no run: not clipping
    out["three_at_top"] = y
    y = x.copy()
    y[[500, 501]] = x.max() + s  # a run of two at the top
    out["pair_at_top"] = y
    y = x.copy()
    y[2500] += 60 * s
    y[4000] -= 40 * s
    out["spikes"] = y
    y = x.copy()
    y[[1, 3, 5995, 5998]] += 80 * s  # in the edge windows of the running median
    out["spikes_at_edges"] = y
    y = x.copy()
    y[rng.choice(6000, 80, replace=False)] += 100 * s
    out["spikes_many"] = y
    out["drift"] = x + np.linspace(0.0, 30 * s, x.size)
    out["dead"] = 1e-7 * rng.standard_normal(6000)
    out["tiny"] = 1e-300 * x
    out["square"] = np.tile([0.0, 1.0], 3000)
    out["quantised"] = np.round(x / (0.3 * s)) * 0.3 * s
    out["three"] = x[:3].copy()
    out["two"] = x[:2].copy()
    out["empty"] = np.zeros(0)
    out["all_nan"] = np.full(600, np.nan)
    return out


NAMES = list(_cases(np.random.default_rng(5)))


@pytest.fixture(scope="module")
def cases():
    return _cases(np.random.default_rng(5))


def _same(new, ref) -> None:
    assert new.status == ref.status
    assert new.reasons == ref.reasons
    assert list(new.checks) == list(ref.checks)
    for key, (value, status) in ref.checks.items():
        assert new.checks[key][1] == status, key
        # the sums are NumPy's (pairwise) and the drift line uses NumPy's dot:
        # the values are the reference's, bit for bit
        assert new.checks[key][0] == value or (np.isnan(value) and np.isnan(new.checks[key][0])), (
            key
        )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("quantity", "valid_range"),
    [("acceleration", (-50.0, 50.0)), ("other", None), ("temperature", (-60.0, 80.0))],
)
def test_check_channel_matches_reference(cases, name, quantity, valid_range) -> None:
    x = cases[name]
    for gap in (0.0, 0.1):
        new = check_channel(
            x, FS, name="A", quantity=quantity, gap_fraction=gap, valid_range=valid_range
        )
        ref = check_channel_ref(
            x, FS, name="A", quantity=quantity, gap_fraction=gap, valid_range=valid_range
        )
        _same(new, ref)


@pytest.mark.parametrize("name", ["clean", "spikes", "spikes_at_edges", "nan", "clipped"])
def test_float32_samples_match_reference(cases, name) -> None:
    """Recorded samples are float32: the kernel reads them without a float64 copy."""
    x = cases[name].astype(np.float32)
    _same(
        check_channel(x, FS, quantity="acceleration"),
        check_channel_ref(x, FS, quantity="acceleration"),
    )


@pytest.mark.parametrize("window", [3, 4, 50, 51, 7001])
@pytest.mark.parametrize("k", [3.0, 30.0])
def test_spike_windows_and_limits_match_reference(cases, window, k) -> None:
    s = HealthSettings(spike_window=window, spike_k=k)
    for name in ("spikes", "spikes_many", "spikes_at_edges", "white", "quantised"):
        x = cases[name]
        _same(
            check_channel(x, FS, quantity="acceleration", settings=s),
            check_channel_ref(x, FS, quantity="acceleration", settings=s),
        )


def test_overflowing_differences_match_reference() -> None:
    """Finite samples near the float limit: their differences overflow to inf."""
    x = np.tile([1.7e308, -1.7e308, 1.0, 2.0], 100)
    with np.errstate(over="ignore", invalid="ignore"):  # both overflow in the drift line
        _same(check_channel(x, FS, quantity="other"), check_channel_ref(x, FS, quantity="other"))


def test_spike_counts_on_random_noise_match_reference() -> None:
    """Many small windows of heavy-tailed noise: the prefilter never drops a spike."""
    rng = np.random.default_rng(3)
    s = HealthSettings(spike_k=4.0, spike_window=9)
    total = 0
    for _ in range(200):
        x = rng.standard_t(1.5, size=int(rng.integers(3, 400)))
        new = check_channel(x, FS, quantity="other", settings=s)
        ref = check_channel_ref(x, FS, quantity="other", settings=s)
        _same(new, ref)
        total += int(ref.checks["spikes"][0])
    assert total > 50  # the cases do contain spikes


def test_check_record_reads_float32_columns() -> None:
    from dataclasses import dataclass

    @dataclass
    class Ch:
        name: str
        quantity: str = "acceleration"
        unit: str = "m/s2"

    rng = np.random.default_rng(8)
    data = (0.01 * rng.standard_normal((3000, 3))).astype(np.float32)
    data[100, 1] = 60.0  # out of the default range
    out = check_record(data, FS, [Ch("A"), Ch("B"), Ch("C")])
    for j, h in enumerate(out):
        _same(
            h,
            check_channel_ref(
                data[:, j], FS, name=h.channel, quantity="acceleration", valid_range=(-50.0, 50.0)
            ),
        )
    assert out[1].checks["range"][1] == "suspect"


def test_pairwise_sum_is_numpys() -> None:
    rng = np.random.default_rng(0)
    for n in [*range(0, 260), 1000, 4097, 60000]:
        a = rng.standard_normal(n) * rng.exponential(size=n)
        assert hk._pairwise_sum(a, 0, n) == np.add.reduce(a)


@pytest.mark.parametrize(("k", "window"), [(0.0, 51), (-1.0, 51), (np.nan, 51), (30.0, 0)])
def test_spike_settings_out_of_range_are_refused(cases, k, window) -> None:
    with pytest.raises(ValueError, match="spike_k must be > 0 and spike_window >= 1"):
        check_channel(
            cases["clean"], FS, name="A1", settings=HealthSettings(spike_k=k, spike_window=window)
        )


def test_spike_kernel_without_a_positive_limit_takes_the_exact_medians(cases) -> None:
    """The kernel itself never divides by a zero limit (exact medians instead)."""
    x = cases["spikes"]
    v = np.ascontiguousarray(x, np.float64)
    ad = np.abs(np.diff(v))
    amax = float(np.abs(v).max())
    n0 = hk._n_spikes(v, ad, 51, 0.0, amax, np.empty(51))
    d = np.diff(v)
    extrema = int(
        np.count_nonzero(np.sign(d[:-1]) == -np.sign(d[1:])) - np.count_nonzero(d[:-1] == 0)
    )
    assert n0 == extrema  # every out-and-back jump exceeds 0 x the step
