"""Mixed sensor quantities: velocity, displacement and acceleration channels in one record.

Velocity channels are made from the simulated bridge's accelerations by
integration in the frequency domain (exactly what a vibrometer or geophone
records of the same motion), in mm/s while the accelerations stay in m/s2.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import identify, mac_matrix
from bshm.analysis.quantities import plan_quantities, to_physical

pytest.importorskip("bshm.fixtures.bridge")

VEL = [1, 4, 6]  # A02, A05, A07 become velocity channels


def integrate(x: np.ndarray, fs: float, times: int = 1) -> np.ndarray:
    """Integrate ``times`` times in the frequency domain, above 0.5 Hz.

    Below 0.5 Hz (no mode there) the bins are zeroed, as a real velocity or
    displacement sensor of the deck does not drift with the integrated
    accelerometer noise.
    """
    n = x.shape[0]
    spec = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(n, 1 / fs)
    low = f < 0.5
    spec[~low] /= (2j * np.pi * f[~low, None]) ** times
    spec[low] = 0
    return np.fft.irfft(spec, n, axis=0)


@pytest.fixture(scope="module")
def bridge():
    from bshm.fixtures.bridge import BridgeModel

    rec = BridgeModel(seed=0).simulate(
        900.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(41)
    )
    return rec.acc, rec.truth


def _mixed(acc):
    y = acc.copy()
    y[:, VEL] = integrate(acc[:, VEL], 100.0) * 1e3  # mm/s
    q = ["acceleration"] * 8
    for i in VEL:
        q[i] = "velocity"
    return y, q


def test_without_quantities_mixed_sensors_lose_modes_and_the_notes_say_why(bridge):
    acc, truth = bridge
    y, _ = _mixed(acc)
    # the components of the two kinds are 90 degrees apart: most poles fail MPC
    res = identify(y, 100.0, freq_max_hz=20.0)
    assert res.n_modes < truth.frequencies.size - 2
    strict = identify(y, 100.0, freq_max_hz=20.0, min_mpc=0.99, max_mpd=5.0)
    assert strict.n_modes == 0
    assert strict.stabilization.stable.sum() > 100
    why = [n for n in strict.notes if n.startswith("no mode")]
    assert len(why) == 1, strict.notes
    assert "stable poles in 0..20 Hz" in why[0]
    assert "failed MPC >= 0.99" in why[0]
    assert "pass quantities=" in why[0]


def test_quantities_give_real_comparable_shapes(bridge):
    acc, truth = bridge
    y, q = _mixed(acc)
    res = identify(y, 100.0, freq_max_hz=20.0, quantities=q)
    assert res.n_modes == truth.frequencies.size
    np.testing.assert_allclose(res.frequencies, truth.frequencies, rtol=0.005)
    assert np.all(res.mpc > 0.99)
    assert np.all(res.mpd < 5.0)
    # shapes in acceleration: velocity channels in mm/s -> mm/s2; back to m/s2
    shapes = res.shapes.copy()
    shapes[VEL] /= 1e3
    mac = np.diag(mac_matrix(shapes, truth.shapes))
    assert mac.min() > 0.99, mac
    # the same modes as the all-acceleration record
    ref = identify(acc, 100.0, freq_max_hz=20.0)
    np.testing.assert_allclose(res.frequencies, ref.frequencies, rtol=0.003)
    assert any("velocity" in n and "acceleration" in n for n in res.notes)
    assert res.options["shape_quantity"] == "acceleration"


def test_displacement_channels_and_a_displacement_target(bridge):
    acc, truth = bridge
    y = acc.copy()
    y[:, [0, 7]] = integrate(acc[:, [0, 7]], 100.0, times=2)
    q = ["acceleration"] * 8
    q[0] = q[7] = "displacement"
    res = identify(
        y, 100.0, freq_min_hz=1.0, freq_max_hz=20.0, quantities=q, shape_quantity="displacement"
    )
    assert res.n_modes == truth.frequencies.size
    assert np.diag(mac_matrix(res.shapes, truth.shapes)).min() > 0.99
    assert np.all(res.mpc > 0.99)


def test_fdd_with_quantities(bridge):
    acc, truth = bridge
    y, q = _mixed(acc)
    res = identify(y, 100.0, method="fdd", freq_min_hz=1.0, freq_max_hz=20.0, quantities=q)
    shapes = res.shapes.copy()
    shapes[VEL] /= 1e3
    m = mac_matrix(shapes, truth.shapes)
    assert res.n_modes >= 5
    assert np.sort(m.max(axis=1))[-5:].min() > 0.95


def test_all_velocity_needs_no_conversion(bridge):
    acc, truth = bridge
    v = integrate(acc, 100.0)
    res = identify(v, 100.0, freq_min_hz=1.0, freq_max_hz=20.0, quantities=["velocity"] * 8)
    assert res.options["shape_quantity"] == "velocity"
    assert not any("brought to" in n for n in res.notes)
    assert np.diag(mac_matrix(res.shapes, truth.shapes)).min() > 0.99


def test_the_job_passes_the_stations_quantities():
    import inspect

    from bshm.analysis import windows

    src = inspect.getsource(windows.process_window)
    assert "quantity" in src


def test_plan_quantities_rules_and_errors():
    names = ["a", "b", "c", "d"]
    p = plan_quantities(["acceleration", "velocity", "displacement", "strain"], names)
    assert p.target == "acceleration"
    np.testing.assert_array_equal(p.expo, [0, 1, 2, 2])
    p = plan_quantities(["velocity"] * 4, names)
    assert p.target == "velocity" and not p.mixed
    p = plan_quantities(["velocity", "other", None, "velocity"], names)
    assert p.target == "velocity"
    np.testing.assert_array_equal(p.expo, 0)
    assert "quantity unknown for b, c" in p.notes[0]
    p = plan_quantities(None, names, "displacement")
    assert p.target == "displacement" and not p.mixed
    with pytest.raises(ValueError, match="channel b: quantity 'acceleraton'"):
        plan_quantities(["velocity", "acceleraton", None, None], names)
    with pytest.raises(ValueError, match="shape_quantity"):
        plan_quantities(None, names, "jerk")
    with pytest.raises(ValueError, match="3 quantities given for 4 data columns"):
        identify(
            np.random.default_rng(0).standard_normal((5000, 4)), 100.0, quantities=["velocity"] * 3
        )


def test_to_physical_scales_and_normalises():
    shapes = np.array([[1.0 + 0j, 0.5], [0.5, 1.0]])
    out = to_physical(shapes, np.array([2.0, 1.0]), np.array([1, 0]), np.array([1.0, 2.0]))
    w = 2 * np.pi * np.array([1.0, 2.0])
    want = shapes * np.array([[2.0], [1.0]]) * np.array([w, [1.0, 1.0]])
    want /= want[np.abs(want).argmax(axis=0), [0, 1]]
    np.testing.assert_allclose(out, want)
    assert to_physical(
        np.empty((2, 0), complex), np.ones(2), np.zeros(2, int), np.empty(0)
    ).shape == (2, 0)
