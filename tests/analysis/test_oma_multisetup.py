"""Multi-setup (roving sensor) OMA: global shapes through shared references (PoSER)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bshm.analysis import identify_multi_setup, mac_matrix

pytest.importorskip("bshm.fixtures.bridge")

REFS = ["A01", "A08"]  # the bridge ends: no mode has a node there
ROVING = [["A02", "A03"], ["A04", "A05"], ["A06", "A07"]]


@pytest.fixture(scope="module")
def campaign():
    """Three setups of the simulated bridge, each its own 20-minute record."""
    from bshm.fixtures.bridge import BridgeModel

    model = BridgeModel(seed=0)
    names = list(model.sensor_names)
    setups = []
    for k, pair in enumerate(ROVING):
        rec = model.simulate(
            1200.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(60 + k)
        )
        cols = [names.index(c) for c in REFS + pair]
        setups.append((rec.acc[:, cols], REFS + pair))
    locations = {n: (float(x), 0.0, 0.0) for n, x in zip(names, model.sensor_x)}
    return setups, rec.truth, names, locations


def test_three_setups_two_references_give_the_global_modes(campaign):
    setups, truth, names, locations = campaign
    res = identify_multi_setup(setups, 100.0, REFS, freq_max_hz=20.0, locations=locations)
    assert res.method == "ssi-cov multi-setup (PoSER)"
    assert set(res.channel_names) == set(names)
    assert res.shapes.shape == (8, truth.frequencies.size)
    np.testing.assert_allclose(res.frequencies, truth.frequencies, rtol=0.005)
    order = [res.channel_names.index(n) for n in names]
    mac = np.diag(mac_matrix(res.shapes[order], truth.shapes))
    assert mac.min() > 0.99, mac
    assert np.all(res.mpc > 0.99)
    assert np.all(abs(res.damping - truth.damping) < 0.005)
    # easy to draw: names, locations, one value per point and mode
    np.testing.assert_allclose(res.locations[order, 0], [locations[n][0] for n in names])
    assert np.all(np.isfinite(res.shapes))
    assert len(res.options["setups"]) == 3
    assert all(len(s["frequencies_hz"]) == res.n_modes for s in res.options["setups"])
    json.dumps(res.to_dict(), allow_nan=False)  # strict JSON


def test_the_setups_scale_does_not_matter(campaign):
    setups, truth, names, _ = campaign
    base = identify_multi_setup(setups, 100.0, REFS, freq_max_hz=20.0)
    scaled = [(d * k, n) for (d, n), k in zip(setups, (1.0, 50.0, 0.02))]  # wind changed
    res = identify_multi_setup(scaled, 100.0, REFS, freq_max_hz=20.0)
    np.testing.assert_allclose(res.frequencies, base.frequencies, rtol=1e-6)
    assert np.diag(mac_matrix(res.shapes, base.shapes)).min() > 0.99999


def test_a_mode_missing_in_one_setup_is_reported_or_kept_partial(campaign):
    setups, truth, names, _ = campaign
    d2, n2 = setups[2]
    spec = np.fft.rfft(d2, axis=0)
    spec[np.fft.rfftfreq(d2.shape[0], 0.01) > 14.0] = 0  # a sensor that sees nothing above 14 Hz
    blind = [setups[0], setups[1], (np.fft.irfft(spec, d2.shape[0], axis=0), n2)]
    high = truth.frequencies > 14.0  # 15.1 and 17.5 Hz: not in setup 2 any more
    res = identify_multi_setup(blind, 100.0, REFS, freq_max_hz=20.0)
    np.testing.assert_allclose(res.frequencies, truth.frequencies[~high], rtol=0.005)
    left_out = [n for n in res.notes if "found in 2 of 3 setups: left out (min_setups=3)" in n]
    assert len(left_out) == high.sum(), res.notes
    part = identify_multi_setup(blind, 100.0, REFS, freq_max_hz=20.0, min_setups=2)
    assert part.n_modes == truth.frequencies.size
    k = np.flatnonzero(part.frequencies > 14.0)
    missing = [part.channel_names.index(c) for c in n2 if c not in REFS]
    assert np.all(np.isnan(part.shapes[np.ix_(missing, k)]))
    seen = [i for i in range(8) if i not in missing]
    assert np.all(np.isfinite(part.shapes[np.ix_(seen, k)]))
    order = [part.channel_names.index(n) for n in names]
    sub = [i for i, n in enumerate(names) if n not in n2 or n in REFS]
    kk = [int(np.argmin(abs(truth.frequencies - part.frequencies[j]))) for j in k]
    got = part.shapes[np.array(order)[sub]][:, k]
    assert np.diag(mac_matrix(got, truth.shapes[sub][:, kk])).min() > 0.99
    d = part.to_dict()
    assert d["shapes"][missing[0]][k[0]] is None
    json.dumps(d, allow_nan=False)
    with pytest.raises(ValueError, match="min_setups must be in 1..3"):
        identify_multi_setup(blind, 100.0, REFS, min_setups=4)


def test_errors_name_the_setup(campaign):
    setups, _, _, _ = campaign
    with pytest.raises(ValueError, match=r"setup 1: reference channel\(s\) A01 not in"):
        identify_multi_setup([setups[0], (setups[1][0][:, 1:], setups[1][1][1:])], 100.0, REFS)
    bad = setups[0][0].copy()
    bad[10, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"setup 0: .*non-finite values in channel\(s\) \[2\] \(A02\)"
    ):
        identify_multi_setup([(bad, setups[0][1]), setups[1]], 100.0, REFS)
    with pytest.raises(ValueError, match="references must be a non-empty list"):
        identify_multi_setup(setups, 100.0, [])
    with pytest.raises(ValueError, match="2 sampling rates given for 3 setups"):
        identify_multi_setup(setups, [100.0, 100.0], REFS)
    with pytest.raises(ValueError, match="expected a \\(data, channel_names\\) pair"):
        identify_multi_setup([setups[0][0]], 100.0, REFS)


def test_references_at_a_node_are_reported():
    from bshm.fixtures.bridge import BridgeModel

    model = BridgeModel(seed=0)
    names = list(model.sensor_names)
    refs = ["A03", "A06"]  # mode 6 (15.1 Hz) has nodes at both
    setups = []
    for k, pair in enumerate([["A01", "A02"], ["A07", "A08"]]):
        rec = model.simulate(
            900.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(70 + k)
        )
        cols = [names.index(c) for c in refs + pair]
        setups.append((rec.acc[:, cols], refs + pair))
    res = identify_multi_setup(setups, 100.0, refs, freq_max_hz=16.0, min_setups=1)
    weak = [n for n in res.notes if "the references carry only" in n]
    assert weak, res.notes
    assert all(n.startswith("mode at 15.") for n in weak), weak
