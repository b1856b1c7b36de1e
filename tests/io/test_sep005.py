"""The SEP005 bridge: stored records out, SEP005 channels in, checked with sdypy-sep005."""

from __future__ import annotations

import numpy as np
import pytest

from bshm.importer import CsvImportError, import_parsed
from bshm.io import from_sep005, to_sep005
from bshm.store import ChannelMeta, RawWriter, SourceSpec, open_raw
from bshm.timeutil import parse_time

sep = pytest.importorskip("sdypy_sep005")

T0 = parse_time("2026-03-01T12:00:00.123456789Z")  # ns precision beyond ISO's µs


def _check(signals):
    for s in signals:
        sep.Sep005Data.model_validate(s)


@pytest.fixture
def stored(tmp_path, rng):
    spec = SourceSpec(
        "acc",
        "serial",
        50.0,
        (
            ChannelMeta("A1", "acceleration", "m/s2", (1.0, 0.0, 0.0), "z"),
            ChannelMeta("T1", "temperature", "degC"),
        ),
    )
    a = rng.normal(size=(500, 2)).astype(np.float32)
    b = rng.normal(size=(300, 2)).astype(np.float32)
    a[10, 0] = np.nan  # a dropout stays a dropout
    t1 = T0 + 60 * 10**9
    with RawWriter(tmp_path / "src", "st", [spec]) as w:
        w.write("acc", a, t0_ns=T0)
        w.add_gap("acc", T0 + 10 * 10**9, t1, "device silent")
        w.write("acc", b, t0_ns=t1)
    with open_raw(tmp_path / "src") as r:
        return r.read("acc"), a, b, t1


def test_to_sep005_is_compliant_and_splits_at_gaps(stored):
    rec, a, b, t1 = stored
    sig = to_sep005(rec)
    _check(sig)
    assert len(sig) == 4  # 2 channels x 2 runs
    assert [s["name"] for s in sig] == ["A1", "T1", "A1", "T1"]
    assert sig[0]["quantity"] == "a" and sig[1]["bshm_quantity"] == "temperature"
    assert sig[0]["start_timestamp"] == "2026-03-01T12:00:00.123456Z"
    assert sig[2]["start_ns"] == t1 and sig[0]["fs"] == 50.0
    np.testing.assert_array_equal(sig[0]["data"][:20], a[:20, 0].astype(np.float64))
    assert sig[0]["unit_str"] == "m/s2" and sig[0]["group"] == "acc"


def test_round_trip_through_sep005_into_a_new_store(stored, tmp_path):
    rec, a, b, t1 = stored
    parsed = from_sep005(to_sep005(rec))
    assert len(parsed) == 2
    s = import_parsed(parsed, tmp_path / "dst", station="st2", source="acc")
    assert s["gaps"] == 1 and s["samples"] == 800
    with open_raw(tmp_path / "dst") as r:
        back = r.read("acc")
        np.testing.assert_array_equal(back.times_ns, rec.times_ns)  # exact, to the ns
        np.testing.assert_array_equal(np.isnan(back.data), np.isnan(rec.data))
        np.testing.assert_array_equal(np.nan_to_num(back.data), np.nan_to_num(rec.data))
        assert [c.quantity for c in back.channels] == ["acceleration", "temperature"]
        assert [c.unit for c in back.channels] == ["m/s2", "degC"]
        assert [(g.start_ns, g.end_ns) for g in r.gaps("acc")] == [(T0 + 500 * 20_000_000, t1)]


def test_third_party_signals_with_iso_start_and_missing_values(tmp_path):
    n = 400
    signals = [
        {
            "data": [0.1 * i if i != 5 else None for i in range(n)],
            "name": "acc_z",
            "unit_str": "m/s²",
            "fs": 200,
            "quantity": "a",
            "start_timestamp": "2026-05-01T08:00:00+02:00",
        },
        {
            "data": np.linspace(0, 1, n),
            "name": "strain_1",
            "unit_str": "µε",
            "fs": 200,
            "quantity": "e",
            "start_timestamp": "2026-05-01T08:00:00+02:00",
        },
    ]
    _check(signals)
    parsed = from_sep005(signals)
    import_parsed(parsed, tmp_path / "raw", station="wt")
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        assert rec.times_ns[0] == parse_time("2026-05-01T06:00:00Z")
        assert [c.unit for c in rec.channels] == ["m/s2", "ue"]
        assert [c.quantity for c in rec.channels] == ["acceleration", "strain"]
        assert np.isnan(rec.data[5, 0]) and rec.data[6, 0] == np.float32(0.6)


def test_time_vector_channels_with_a_gap(tmp_path):
    t = np.r_[np.arange(100), np.arange(150, 200)] * 0.1
    signals = [
        {
            "data": np.sin(t),
            "name": "x",
            "unit_str": "mm",
            "time": t.tolist(),
            "start_timestamp": "2026-05-01T00:00:00Z",
        },
        {
            "data": np.cos(t),
            "name": "y",
            "unit_str": "mm",
            "time": t.tolist(),
            "start_timestamp": "2026-05-01T00:00:00Z",
        },
    ]
    _check(signals)
    parsed = from_sep005(signals)
    assert [p.data.shape for p in parsed] == [(100, 2), (50, 2)]
    assert parsed[0].fs == 10.0 and parsed[1].times_ns[0] == parse_time("2026-05-01T00:00:15Z")
    assert parsed[0].meta["x"].quantity == "displacement"


@pytest.mark.parametrize(
    ("signal", "expect"),
    [
        ({"data": [1, 2], "name": "a", "fs": 1.0}, "SEP005 channel 1: has no 'unit_str'"),
        ({"data": [1, 2], "name": "a", "unit_str": "g", "fs": 1.0}, "no start_timestamp"),
        (
            {"data": [1, 2], "name": "a", "unit_str": "g", "fs": 1.0, "start_timestamp": "x"},
            "'x' is not ISO 8601",
        ),
        (
            {
                "data": [1, 2],
                "name": "a",
                "unit_str": "g",
                "fs": -1,
                "start_timestamp": "2026-01-01",
            },
            "fs -1 is not a positive",
        ),
        (
            {"data": [1, 2], "name": "a", "unit_str": "g", "start_timestamp": "2026-01-01"},
            "neither 'fs' nor 'time'",
        ),
    ],
)
def test_bad_signals_are_named(signal, expect):
    with pytest.raises(CsvImportError, match=expect):
        from_sep005([signal])
