"""`bshm import` of NI TDMS files written by npTDMS itself."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from bshm.cli import main
from bshm.store import open_raw
from bshm.timeutil import parse_time

nptdms = pytest.importorskip("nptdms")
from nptdms import ChannelObject, GroupObject, RootObject, TdmsWriter  # noqa: E402

T0 = parse_time("2026-03-01T12:00:00.250000Z")


def _dt64(t_ns: int) -> np.datetime64:
    return np.datetime64(t_ns // 1000, "us")  # npTDMS writes µs-resolution start times


def _waveforms(path, t0_ns, data, fs, group="Acc", names=("A1", "A2"), unit="m/s^2"):
    props = {"wf_start_time": _dt64(t0_ns), "wf_increment": 1.0 / fs, "unit_string": unit}
    objs = [RootObject({"name": "logger"}), GroupObject(group)]
    objs += [ChannelObject(group, n, data[:, j], properties=props) for j, n in enumerate(names)]
    with TdmsWriter(str(path)) as w:
        w.write_segment(objs)


def _import(*args) -> int:
    return main(["import", *map(str, args)])


def test_waveform_files_round_trip_values_times_and_gap(tmp_path, rng, capsys):
    fs, n = 200.0, 3000
    a = rng.normal(size=(n, 2))
    b = rng.normal(size=(n, 2))
    t1 = T0 + 60 * 10**9  # second file starts 45 s after the first ends: a gap
    _waveforms(tmp_path / "daq_1.tdms", T0, a, fs)
    # written in two segments, as a logger appends
    props = {"wf_start_time": _dt64(t1), "wf_increment": 1.0 / fs, "unit_string": "m/s^2"}
    with TdmsWriter(str(tmp_path / "daq_2.tdms")) as w:
        w.write_segment(
            [GroupObject("Acc")]
            + [
                ChannelObject("Acc", nm, b[: n // 2, j], properties=props)
                for j, nm in enumerate(("A1", "A2"))
            ]
        )
        w.write_segment(
            [ChannelObject("Acc", nm, b[n // 2 :, j]) for j, nm in enumerate(("A1", "A2"))]
        )
    out = tmp_path / "raw"
    assert (
        _import(
            tmp_path / "daq_1.tdms",
            tmp_path / "daq_2.tdms",
            "--out",
            out,
            "--station",
            "br",
            "--json",
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == 2 and summary["gaps"] == 1 and summary["fs"] == fs
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.channel_names == ("A1", "A2")
        assert [c.unit for c in rec.channels] == ["m/s2", "m/s2"]
        assert [c.quantity for c in rec.channels] == ["acceleration"] * 2
        assert rec.channels[0].calibration == "imported from TDMS"
        np.testing.assert_array_equal(rec.data, np.vstack([a, b]).astype(np.float32))
        assert rec.times_ns[0] == T0
        assert rec.times_ns[n - 1] == T0 + round((n - 1) * 1e9 / fs)
        assert rec.times_ns[n] == t1
        (gap,) = r.gaps("import")
        assert gap.start_ns == T0 + n * 5_000_000 and gap.end_ns == t1


def test_time_channel_group_with_a_gap_inside_the_file(tmp_path):
    k = np.r_[np.arange(50), np.arange(80, 130)]  # 3 s missing after sample 49
    t = T0 + k * 100_000_000
    temp = 10.0 + 0.01 * k
    strain = np.where(k % 7 == 0, np.nan, 3.0 * k)  # NaN dropouts are kept as NaN
    times = np.array([np.datetime64(int(x), "ns") for x in t], dtype="datetime64[ns]")
    with TdmsWriter(str(tmp_path / "slow.tdms")) as w:
        w.write_segment(
            [
                GroupObject("Slow"),
                ChannelObject("Slow", "Time", times.astype("datetime64[us]")),
                ChannelObject("Slow", "T1", temp, properties={"unit_string": "°C"}),
                ChannelObject("Slow", "S1", strain, properties={"unit_string": "µm/m"}),
            ]
        )
    out = tmp_path / "raw"
    assert _import(tmp_path / "slow.tdms", "--out", out, "--station", "br") == 0
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.channel_names == ("T1", "S1")
        assert [c.quantity for c in rec.channels] == ["temperature", "strain"]
        assert [c.unit for c in rec.channels] == ["degC", "um/m"]
        np.testing.assert_array_equal(rec.times_ns, t)
        np.testing.assert_allclose(rec.data[:, 0], temp.astype(np.float32))
        assert np.array_equal(np.isnan(rec.data[:, 1]), np.isnan(strain))
        (gap,) = r.gaps("import")
        assert gap.start_ns == T0 + 50 * 100_000_000 and gap.end_ns == T0 + 80 * 100_000_000
        assert "slow.tdms" in gap.reason


def test_groups_of_different_rates_need_group(tmp_path, capsys):
    path = tmp_path / "two.tdms"
    with TdmsWriter(str(path)) as w:
        w.write_segment(
            [
                GroupObject("Acc"),
                ChannelObject(
                    "Acc",
                    "A1",
                    np.zeros(100),
                    properties={"wf_start_time": _dt64(T0), "wf_increment": 0.01},
                ),
                GroupObject("Env"),
                ChannelObject(
                    "Env",
                    "T1",
                    np.ones(10),
                    properties={"wf_start_time": _dt64(T0), "wf_increment": 1.0},
                ),
            ]
        )
    out = tmp_path / "raw"
    assert _import(path, "--out", out, "--station", "br") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--source" in err and "two.tdms" in err
    assert not out.exists() or not list(out.glob("*.h5*"))
    assert (
        _import(
            path, "--out", out, "--station", "br", "--group", "Env", "--quantity", "T1=temperature"
        )
        == 0
    )
    with open_raw(out) as r:
        assert r.read("import").channel_names == ("T1",)
        assert r.read("import").fs == 1.0
    assert _import(path, "--out", tmp_path / "r2", "--station", "br", "--group", "Nope") == 1
    assert "groups: Acc, Env" in capsys.readouterr().err


def test_relative_waveform_needs_start(tmp_path, capsys):
    path = tmp_path / "rel.tdms"
    with TdmsWriter(str(path)) as w:
        w.write_segment(
            [
                GroupObject("G"),
                ChannelObject("G", "A1", np.arange(10.0), properties={"wf_increment": 0.5}),
            ]
        )
    assert _import(path, "--out", tmp_path / "raw", "--station", "br") == 1
    assert "--start" in capsys.readouterr().err
    assert (
        _import(
            path, "--out", tmp_path / "raw", "--station", "br", "--start", "2026-03-02T00:00:00Z"
        )
        == 0
    )
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        assert rec.times_ns[0] == parse_time("2026-03-02T00:00:00Z")
        assert rec.fs == 2.0


def test_huge_and_missing_values(tmp_path, caplog):
    v = np.array([1.0, np.nan, 1e30, 1e40, -np.inf, 2.0])
    _waveforms(tmp_path / "odd.tdms", T0, np.column_stack([v, v]), 100.0)
    assert _import(tmp_path / "odd.tdms", "--out", tmp_path / "raw", "--station", "br") == 0
    with open_raw(tmp_path / "raw") as r:
        d = r.read("import").data[:, 0]
    assert d[0] == 1.0 and d[5] == 2.0 and d[2] == np.float32(1e30)
    assert np.isnan(d[[1, 3, 4]]).all()  # beyond float32 / infinite: a dropout, not inf
    assert "beyond float32" in caplog.text


def test_damaged_file_writes_nothing(tmp_path, rng, capsys):
    _waveforms(tmp_path / "good.tdms", T0, rng.normal(size=(100, 2)), 100.0)
    good = (tmp_path / "good.tdms").read_bytes()
    (tmp_path / "bad.tdms").write_bytes(good[: len(good) // 3] + b"\x00garbage" * 5)
    out = tmp_path / "raw"
    assert (
        _import(tmp_path / "good.tdms", tmp_path / "bad.tdms", "--out", out, "--station", "br") == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.tdms" in err and "Traceback" not in err
    assert not out.exists() or not list(out.glob("*.h5*"))


def test_missing_library_names_the_extra(tmp_path, monkeypatch, capsys):
    _waveforms(tmp_path / "a.tdms", T0, np.zeros((10, 2)), 100.0)
    monkeypatch.setitem(sys.modules, "nptdms", None)  # import nptdms -> ImportError
    assert _import(tmp_path / "a.tdms", "--out", tmp_path / "raw", "--station", "br") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "npTDMS" in err and "bshm[formats]" in err
