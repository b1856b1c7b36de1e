"""Channel health on simulated faults built into real simulated-bridge signals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from bshm.analysis.health import (
    FAILED,
    OK,
    SUSPECT,
    HealthSettings,
    check_channel,
    check_record,
    gap_fraction,
)

FS = 100.0


@dataclass(frozen=True)
class _Meta:
    name: str
    quantity: str
    unit: str = ""


@pytest.fixture(scope="module")
def sim() -> tuple[np.ndarray, np.ndarray]:
    from bshm.fixtures.bridge import BridgeModel

    rec = BridgeModel(seed=3).simulate(60.0, FS, temperature_c=12.0, rng=np.random.default_rng(7))
    return rec.acc.astype(np.float32).astype(np.float64), rec.strain.astype(np.float64)


def test_healthy_channels_are_ok(sim) -> None:
    acc, strain = sim
    chans = [_Meta(f"A{i + 1:02d}", "acceleration") for i in range(8)]
    chans += [_Meta(f"S{i + 1}", "strain") for i in range(4)]
    res = check_record(np.hstack([acc, strain]), FS, chans)
    bad = [(h.channel, h.reasons) for h in res if h.status != OK]
    assert bad == []
    assert {h.checks["dead"][1] for h in res} == {OK}


def test_dead_sensor(sim) -> None:
    acc, _ = sim
    const = np.full(acc.shape[0], 0.0123)
    h = check_channel(const, FS, name="A03", quantity="acceleration")
    assert h.status == FAILED
    assert any("constant" in r for r in h.reasons)
    # a dead accelerometer that still shows ADC noise far below any vibration
    quiet = np.random.default_rng(1).normal(0, 1e-7, acc.shape[0])
    h = check_channel(quiet, FS, name="A03", quantity="acceleration")
    assert h.status == FAILED
    assert h.reasons[0].startswith("dead:")
    h = check_channel(np.full(100, np.nan), FS, name="A03", quantity="acceleration")
    assert h.status == FAILED


def test_spike(sim) -> None:
    acc, _ = sim
    x = acc[:, 1].copy()
    x[4000] += 40 * x.std()
    h = check_channel(x, FS, name="A02", quantity="acceleration")
    assert h.status == SUSPECT
    assert h.checks["spikes"] == (1.0, SUSPECT)
    assert "1 isolated spike" in h.reasons[0]


def test_drift(sim) -> None:
    _, strain = sim
    x = strain[:, 2] + np.linspace(0, 12 * strain[:, 2].std(), strain.shape[0])
    h = check_channel(x, FS, name="S3", quantity="strain")
    assert h.status == SUSPECT
    assert h.checks["drift"][1] == SUSPECT
    # the same trend on a temperature channel is not a fault
    t = 12.0 + np.linspace(0, 1.0, 1000) + np.random.default_rng(2).normal(0, 0.01, 1000)
    assert check_channel(t, 1.0, name="T1", quantity="temperature").status == OK


def test_flat_line_and_clipping(sim) -> None:
    acc, _ = sim
    x = acc[:, 4].copy()
    x[3000:3500] = x[3000]  # frozen for 5 s
    h = check_channel(x, FS, name="A05", quantity="acceleration")
    assert h.checks["flat"][1] == SUSPECT
    assert h.status == SUSPECT
    # a few samples at the peaks: suspect; a sensor pinned at its range: failed
    y = acc[:, 4].copy()
    y[2000:2008] = 1.2 * np.abs(y).max()  # 8 samples pinned at the top once
    h = check_channel(y, FS, name="A05", quantity="acceleration")
    assert h.checks["clipping"][1] == SUSPECT
    lim = 0.5 * np.abs(acc[:, 4]).max()
    y = np.clip(acc[:, 4], -lim, lim)
    h = check_channel(y, FS, name="A05", quantity="acceleration")
    assert h.checks["clipping"][1] == FAILED
    assert h.checks["clipping"][0] >= 0.01 * y.size
    assert h.status == FAILED


@pytest.mark.parametrize(
    ("quantity", "unit", "bad", "ok"),
    [
        ("temperature", "degC", 1e30, 12.0),
        ("strain", "um/m", 250.0 * 1e30, 250.0),
        ("acceleration", "m/s2", 0.01 * 1e30, 0.01),
        ("acceleration", "g", 6.0, 1.0),
    ],
)
def test_implausible_values_fail_the_channel(rng, quantity, unit, bad, ok) -> None:
    from bshm.analysis.health import default_valid_range

    vr = default_valid_range(quantity, unit)
    assert vr is not None and vr[0] < ok < vr[1]
    x = ok * (1 + 0.01 * rng.standard_normal(2000))
    assert check_channel(x, 20.0, quantity=quantity, valid_range=vr).checks["range"][1] == OK
    y = x.copy()
    y[5] = bad  # one glitch: suspect
    h = check_channel(y, 20.0, name="C1", quantity=quantity, valid_range=vr)
    assert h.checks["range"][1] == SUSPECT
    y = x * (bad / ok)  # the whole window implausible: failed, named
    h = check_channel(y, 20.0, name="C1", quantity=quantity, valid_range=vr)
    assert h.status == FAILED
    assert h.checks["range"] == (1.0, FAILED)
    assert any("plausible range" in r for r in h.reasons)
    assert default_valid_range("tilt", "deg") is None
    assert default_valid_range("strain", "mV/V") is None


def test_nan_dropouts_and_gaps(sim) -> None:
    acc, _ = sim
    x = acc[:, 0].copy()
    x[100:250] = np.nan  # 2.5 %
    h = check_channel(x, FS, name="A01", quantity="acceleration")
    assert h.checks["dropouts"][1] == SUSPECT
    assert h.checks["dropouts"][0] == pytest.approx(150 / x.size)
    x[:4000] = np.nan
    assert check_channel(x, FS, name="A01", quantity="acceleration").status == FAILED

    @dataclass
    class _G:
        start_ns: int
        end_ns: int

    assert gap_fraction([_G(0, 25), _G(90, 200)], 0, 100) == pytest.approx(0.35)
    h = check_channel(acc[:, 0], FS, name="A01", quantity="acceleration", gap_fraction=0.6)
    assert h.status == FAILED


def test_rows_and_settings(sim) -> None:
    acc, _ = sim
    x = acc[:, 1].copy()
    x[500] += 50 * x.std()
    h = check_channel(
        x, FS, name="A02", quantity="acceleration", settings=HealthSettings(spike_k=1e9)
    )
    assert h.status == OK
    rows = check_channel(x, FS, name="A02", quantity="acceleration").rows(123)
    spike = [r for r in rows if r["check"] == "spikes"][0]
    assert spike["status"] == SUSPECT
    assert spike["time_ns"] == 123
    assert spike["message"]
    with pytest.raises(ValueError, match="1-D"):
        check_channel(np.zeros((3, 3)), FS)


def test_quantised_temperature_is_not_dead() -> None:
    t = np.full(600, 12.5)  # 0.1 degC probe on a calm day: one value for 10 min
    h = check_channel(t, 1.0, name="T1", quantity="temperature")
    assert h.status == OK, h.reasons
