"""Environmental compensation: bilinear regression, lags, model choice, PCA."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.compensation import CompensationModel, fit_compensation, lagged

from bshm.errors import AnalysisError

H = 3_600_000_000_000


def series(rng, n=400, frost=True, noise=0.001):
    t = np.arange(n) * 3 * H
    temp = 4.0 + 6.0 * np.sin(2 * np.pi * np.arange(n) / 8) + (0.0 if frost else 8.0)
    temp = temp + 2.0 * np.sin(2 * np.pi * np.arange(n) / 97)
    f0 = np.array([2.1, 4.0, 7.8])
    # softening with temperature, stiffening below 0 degC (bilinear truth)
    fac = 1 - 0.0012 * (temp - 10) + 0.008 * np.maximum(-temp, 0)
    f = f0[None, :] * fac[:, None] * (1 + noise * rng.standard_normal((n, 3)))
    return t, temp, f


def test_bilinear_model_is_chosen_and_removes_the_temperature_effect(rng):
    t, temp, f = series(rng)
    base = np.arange(t.size) < 150
    c = fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"])
    assert c.model.kind == "mlr"
    for j in range(3):
        q = c.model.quality[f"M{j + 1}"]
        assert "min(T1-0,0)" in q["terms"], q
        assert q["r2"] > 0.95
    # residual scatter is the measurement noise (0.1 %), not the 1.5 % temperature swing
    res = c.residual[~base]
    assert np.nanstd(res) < 0.15
    assert abs(np.nanmean(res)) < 0.05
    assert np.nanstd(100 * (f[:, 0] / f[:, 0].mean() - 1)) > 1.0


def test_no_frost_in_baseline_gives_linear_model_and_a_note(rng):
    t, temp, f = series(rng, frost=False)
    base = np.arange(t.size) < 150
    c = fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"])
    assert all(c.model.quality[f"M{j}"]["terms"] == ["1", "T1"] for j in (1, 2, 3))
    assert "frost" in c.model.quality["note"]


def test_lags_are_offered_and_chosen_when_they_help(rng):
    n = 400
    t = np.arange(n) * H
    air = 5 + 6 * np.sin(2 * np.pi * np.arange(n) / 24) + 3 * np.sin(2 * np.pi * np.arange(n) / 150)
    deck = lagged(t, air, 4.0)  # the structure follows the air 4 h late
    f = 2.0 * (1 - 0.0012 * (deck - 10))[:, None] * (1 + 0.0005 * rng.standard_normal((n, 1)))
    base = np.arange(n) < 200
    plain = fit_compensation(t, f, {"T2": air}, base, temperatures=["T2"])
    lag = fit_compensation(t, f, {"T2": air}, base, temperatures=["T2"], lags_h=[4.0])
    assert "T2[-4h]" in lag.model.quality["M1"]["terms"]
    assert np.nanstd(lag.residual[~base]) < 0.5 * np.nanstd(plain.residual[~base])


def test_lagged_interpolates_and_holds_the_first_value():
    t = np.arange(5) * H
    v = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(lagged(t, v, 1.5), [0.0, 0.0, 0.5, 1.5, 2.5])


def test_pca_model_without_temperature(rng):
    t, temp, f = series(rng)
    base = np.arange(t.size) < 150
    c = fit_compensation(t, f, {}, base)
    assert c.model.kind == "pca"
    assert c.model.quality["components"] >= 1
    raw = 100 * (f / np.nanmean(f[base], axis=0) - 1)
    assert np.nanstd(c.residual[~base]) < 0.5 * np.nanstd(raw[~base])
    # a damage-like drop of one mode alone is not explained away
    g = f.copy()
    g[200:, 0] *= 0.99
    c2 = fit_compensation(t, g, {}, base, model=c.model)
    assert np.nanmean(c2.residual[200:, 0]) < -0.3


def test_model_round_trip_and_extrapolation_flag(rng):
    t, temp, f = series(rng)
    base = np.arange(t.size) < 150
    c = fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"])
    m2 = CompensationModel.from_dict(c.model.to_dict())
    hot = temp + 30.0
    c2 = fit_compensation(t, f, {"T1": hot}, base, temperatures=["T1"], model=m2)
    assert c2.extrapolated.all()
    c3 = fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"], model=m2)
    np.testing.assert_allclose(c3.residual, c.residual)


def test_too_short_baseline_is_a_clear_error(rng):
    t, temp, f = series(rng, n=40)
    base = np.zeros(t.size, bool)
    base[:4] = True
    with pytest.raises(AnalysisError, match="baseline"):
        fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"])
