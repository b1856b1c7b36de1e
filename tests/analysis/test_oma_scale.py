"""identify() does not depend on the channels' units, and never lets a NumPy/SciPy error out.

Scaling one channel of the simulated bridge by 1e3 or 1e4 used to end in
``numpy.linalg.LinAlgError`` (``H H^T`` squares the condition number, its
negative eigenvalues were clipped to 0, and the zero columns made the
triangular solve singular); x100 lost mode 1.  Now every channel is divided
by its standard deviation inside and the shapes are scaled back.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, ssi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("bshm.fixtures.bridge")

NAMES = ["A01", "A02", "A04", "A05", "A07", "A08"]


@pytest.fixture(scope="module")
def record():
    from bshm.fixtures.bridge import BridgeModel

    rec = BridgeModel(seed=0).simulate(
        300.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(31)
    )
    return np.ascontiguousarray(rec.acc[:, [0, 1, 3, 4, 6, 7]])


@pytest.fixture(scope="module")
def baseline(record):
    res = identify(record, 100.0, freq_max_hz=20.0, channel_names=NAMES)
    assert res.n_modes >= 5
    return res


def _unscale(shapes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    out = shapes / factors[:, None]
    return out / out[np.abs(out).argmax(axis=0), np.arange(out.shape[1])]


def _same_modes(res, base, factors):
    assert res.n_modes == base.n_modes, (res.frequencies, base.frequencies)
    np.testing.assert_allclose(res.frequencies, base.frequencies, rtol=1e-6)
    np.testing.assert_allclose(res.damping, base.damping, rtol=1e-5)
    np.testing.assert_allclose(_unscale(res.shapes, factors), base.shapes, atol=1e-6)
    np.testing.assert_allclose(res.mpc, base.mpc, atol=1e-6)


@pytest.mark.parametrize("factor", [1e2, 1e3, 1e4, 1e6, 1e-6])
def test_one_channel_in_other_units_changes_nothing(record, baseline, factor):
    y = record.copy()
    y[:, 2] *= factor  # the case: one sensor in mm/s2, or near a support
    res = identify(y, 100.0, freq_max_hz=20.0, channel_names=NAMES)
    factors = np.ones(6)
    factors[2] = factor
    _same_modes(res, baseline, factors)
    # the reported shapes are in the channels' own units
    assert abs(res.shapes[2]).max() > 0.99 if factor > 1 else abs(res.shapes[2]).max() < 1e-3


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exponents=st.lists(st.floats(-6.0, 6.0), min_size=6, max_size=6))
def test_any_channel_scales_give_identical_modes(record, baseline, exponents):
    factors = 10.0 ** np.asarray(exponents)
    res = identify(record * factors, 100.0, freq_max_hz=20.0, channel_names=NAMES)
    _same_modes(res, baseline, factors)


def test_hankel_subspace_uses_the_svd_when_the_gram_route_is_ill_conditioned(rng):
    u0, _ = np.linalg.qr(rng.standard_normal((60, 12)))
    v0, _ = np.linalg.qr(rng.standard_normal((60, 12)))
    s0 = np.logspace(0, -9, 12)  # singular values spanning 1e9: the Gram's span 1e18
    h = (u0 * s0) @ v0.T
    u, sv, route = ssi.hankel_subspace(h, 12)
    assert route == "svd"
    np.testing.assert_allclose(sv, s0, rtol=1e-6)
    assert np.abs(np.abs(np.sum(u * u0, axis=0)) - 1).max() < 1e-6
    u2, sv2, route2 = ssi.hankel_subspace(h, 6)  # the top 6 span 1e5: the Gram is fine
    assert route2 == "gram"
    np.testing.assert_allclose(sv2, s0[:6], rtol=1e-8)
    # tall matrices (few references) use the small Gram and give the same subspace
    tall = h[:, :30]
    ut, st_, _ = ssi.hankel_subspace(tall, 5)
    uu, ss, _ = np.linalg.svd(tall, full_matrices=False)
    np.testing.assert_allclose(st_, ss[:5], rtol=1e-8)
    assert np.abs(np.abs(np.sum(ut * uu[:, :5], axis=0)) - 1).max() < 1e-8


def test_linearly_dependent_channels_drop_the_orders_above_the_rank_with_a_note(record):
    # the same sensor recorded three times (a wiring mistake): the Hankel
    # matrix has rank time_lag = 40 < max_order = 80
    y = np.column_stack([record[:, 0], record[:, 0] * 3.0, -record[:, 0]])
    res = identify(y, 100.0, freq_max_hz=20.0, freq_min_hz=1.0)
    assert any("numerical rank 40" in n and "above 40 dropped" in n for n in res.notes), res.notes
    assert res.stabilization.model_orders.max() == 40
    truth = np.array([2.09, 7.73, 13.32, 15.11, 17.47])  # modes seen at A01 in 5 minutes
    assert np.sum(np.min(abs(res.frequencies[:, None] / truth - 1), axis=1) < 0.01) >= 3


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (1e30, r"channel A04: sample 1234 \(1e\+30\) is .* times the channel's typical amplitude"),
        (np.nan, r"non-finite values in channel\(s\) \[2\] \(A04\)"),
        (np.inf, r"infinite\) in channel\(s\) \[2\] \(A04\)"),
    ],
)
def test_bad_samples_name_the_channel(record, value, match):
    y = record.copy()
    y[1234, 2] = value
    with pytest.raises(ValueError, match=match):
        identify(y, 100.0, channel_names=NAMES)
    if value == 1e30:  # the same in float32, as the store returns it
        with pytest.raises(ValueError, match="channel A04"):
            identify(y.astype(np.float32), 100.0, channel_names=NAMES)


def test_huge_and_tiny_values_are_fine(record, baseline):
    for k in (1e150, 1e-150):
        res = identify(record * k, 100.0, freq_max_hz=20.0, channel_names=NAMES)
        np.testing.assert_allclose(res.frequencies, baseline.frequencies, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(300, 3000),
    nl=st.integers(1, 5),
    kind=st.sampled_from(["white", "integers", "spread", "steps", "sine", "ramp"]),
    options=st.sampled_from(
        [
            {},
            {"weighting": None},
            {"max_order": 6, "time_lag": 7},
            {"method": "fdd"},
            {"method": "efdd"},
            {"refs": [0]},
            {"multi_order": False},
        ]
    ),
)
def test_no_numpy_or_scipy_exception_escapes(seed, n, nl, kind, options):
    r = np.random.default_rng(seed)
    y = r.standard_normal((n, nl))
    if kind == "integers":  # a coarse digitizer: few distinct values
        y = np.round(y * 2.0)
    elif kind == "spread":
        y *= 10.0 ** r.uniform(-200, 200, nl)
    elif kind == "steps":
        y = np.cumsum(r.integers(-1, 2, (n, nl)), axis=0).astype(float)
    elif kind == "sine":
        t = np.arange(n) / 100.0
        y = np.sin(2 * np.pi * r.uniform(1, 20, nl) * t[:, None]) + 1e-12 * y
    elif kind == "ramp":
        y = np.arange(n, dtype=float)[:, None] * (1 + np.arange(nl)) + 1e-9 * y
    y[:, np.all(y == y[0], axis=0)] += r.standard_normal(n)[:, None]  # never constant
    refused = ""
    try:
        res = identify(y, 100.0, **options)
    except ValueError as exc:  # bad input may be refused, with a message
        refused = str(exc) or "empty message"
    if refused:
        assert refused != "empty message"
        return
    assert res.shapes.shape == (nl, res.n_modes)
    assert np.all(np.isfinite(res.frequencies))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"stability": (1,)}, "stability must be 3 numbers"),
        ({"max_damping": "x"}, "max_damping must be a number"),
        ({"min_fraction": "a"}, "min_fraction must be a number"),
        ({"cutoff": "x"}, "cutoff must be a positive number"),
        ({"max_order": "80"}, "max_order, min_order and order_step must be integers"),
        ({"refs": 3}, "refs must be a list of channel indices"),
        ({"weighting_span_s": -1}, "weighting_span_s must be a positive number"),
        ({"method": "fdd", "nperseg": 3}, "nperseg must be an integer"),
        ({"method": "efdd", "overlap": 1.0}, r"overlap must be in \[0, 1\)"),
        ({"freq_max_hz": "high"}, "freq_min_hz and freq_max_hz must be numbers"),
        ({"freq_min_hz": 20.0, "freq_max_hz": 10.0}, r"the band 20..10 Hz is empty"),
    ],
)
def test_bad_options_are_value_errors_naming_the_option(record, options, match):
    with pytest.raises(ValueError, match=match):
        identify(record, 100.0, **options)
