"""`bshm export`: UFF 15/55/58 read back with pyuff, trends as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bshm.cli import main
from bshm.store import ChannelMeta, RawWriter, SourceSpec
from bshm.store.results import ResultsWriter, results_path

pyuff = pytest.importorskip("pyuff")

T0 = 1_772_366_400_000_000_000  # 2026-03-01T12:00Z
WIN = 600 * 10**9
N_W = 6
CHANS = ["A1", "A2", "A3", "A4"]
# A4 measures sideways (-y) at the same place as A2: same node, other axis
LOC = {
    "A1": (10.0, 0.0, 0.0),
    "A2": (20.0, 0.0, 0.0),
    "A3": (30.0, 1.5, -0.5),
    "A4": (20.0, 0.0, 0.0),
}
DIRS = {"A1": "z", "A2": "z", "A3": "z", "A4": "-y"}
REF_F = np.array([2.1234567, 6.7890123, 11.25])
REF_Z = np.array([0.0123, 0.0081, 0.02])


def _ref_shapes(rng):
    s = rng.normal(size=(3, 4)) + 0.05j * rng.normal(size=(3, 4))
    return (s / np.linalg.norm(s, axis=1, keepdims=True)).astype(np.complex64)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """A data folder: raw files (geometry, time series) and a results file with known modes."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("export")
    acc = SourceSpec(
        "acc",
        "serial",
        50.0,
        tuple(ChannelMeta(c, "acceleration", "m/s2", LOC[c], DIRS[c]) for c in CHANS),
    )
    env = SourceSpec("env", "serial", 1.0, (ChannelMeta("T1", "temperature", "degC"),))
    raw = rng.normal(size=(3000, 4)).astype(np.float32)
    raw[100:110, 2] = np.nan  # a dropout on A3
    with RawWriter(root, "expo", [acc, env]) as w:
        w.write("acc", raw[:2000], t0_ns=T0)
        w.write("acc", raw[2000:], t0_ns=T0 + 100 * 10**9)  # 60 s gap
        w.write("env", np.full((10, 1), 7.5), t0_ns=T0)
    shapes = _ref_shapes(rng)
    tw = T0 + WIN * np.arange(N_W)
    freq = REF_F * (1 + 0.001 * np.arange(N_W))[:, None]
    freq[2, 1] = np.nan  # M2 not found in window 2
    damp = np.tile(REF_Z, (N_W, 1)) * 1.1
    wshape = np.repeat(shapes[None], N_W, axis=0) * np.exp(0.3j)
    wins = [
        SimpleNamespace(
            start_ns=int(t),
            end_ns=int(t + WIN),
            status="processed",
            reason="",
            rms=1.0,
            env={"T1": 5.0 + k},
            frequencies=freq[k][np.isfinite(freq[k])],
            damping=damp[k][np.isfinite(freq[k])],
            mpc=np.ones(3)[np.isfinite(freq[k])],
            stability=np.ones(3, int)[np.isfinite(freq[k])],
            shapes=shapes.T[:, np.isfinite(freq[k])],
        )
        for k, t in enumerate(tw)
    ]
    res = results_path(root, "expo")
    with ResultsWriter(res, "expo") as w:
        w.append_windows(wins, channels=CHANS, env_names=["T1"])
        w.write_group(
            "tracks",
            {
                "time_ns": tw,
                "frequency": freq,
                "damping": damp,
                "mac": np.ones((N_W, 3)),
                "shape": wshape,
                "ref_frequency": REF_F,
                "ref_shape": shapes,
            },
            {"mode_ids": json.dumps(["M1", "M2", "M3"]), "channels": json.dumps(CHANS)},
        )
        w.write_group(
            "features",
            {"time_ns": tw[2:], "predicted": freq[2:], "residual": np.full((N_W - 2, 3), 0.25)},
        )
        w.write_group(
            "indices",
            {
                "time_ns": tw[2:],
                "t2": np.arange(N_W - 2, dtype=float),
                "level": np.array([0, 0, 1, 2], np.int8),
            },
        )
        w.write_model(
            "reference",
            {"ids": ["M1", "M2", "M3"], "frequency": REF_F.tolist(), "damping": REF_Z.tolist()},
        )
    return SimpleNamespace(
        root=root, res=res, shapes=shapes, raw=raw, tw=tw, freq=freq, damp=damp, wshape=wshape
    )


def _read(path):
    sets = pyuff.UFF(str(path)).read_sets()
    return [sets] if isinstance(sets, dict) else sets


def _node_values(ds55, geo_nodes, chans):
    """Channel values of a dataset-55 shape, through the file's own node table."""
    r = np.vstack([ds55["r1"], ds55["r2"], ds55["r3"]])
    idx = {int(n): i for i, n in enumerate(ds55["node_nums"])}
    out = []
    for c in chans:
        node, comp, sign = geo_nodes[c]
        out.append(sign * r[comp, idx[node]])
    return np.array(out)


def _geo_from_15(ds15):
    """channel -> (node, component, sign) by matching coordinates and directions."""
    coords = {
        int(n): (x, y, z)
        for n, x, y, z in zip(ds15["node_nums"], ds15["x"], ds15["y"], ds15["z"], strict=True)
    }
    out = {}
    for c in CHANS:
        (node,) = [n for n, xyz in coords.items() if np.allclose(xyz, LOC[c])]
        d = DIRS[c]
        out[c] = (node, "xyz".index(d[-1]), -1.0 if d.startswith("-") else 1.0)
    return out


def _expected_real(shape):
    k = np.argmax(np.abs(shape))
    r = (shape * np.exp(-1j * np.angle(shape[k]))).real
    return r / np.abs(r).max()


def test_reference_modes_round_trip_through_pyuff(station, tmp_path, capsys):
    out = tmp_path / "modes.unv"
    assert main(["export", str(station.root), "--out", str(out)]) == 0
    assert "3 modes (reference modal set)" in capsys.readouterr().out
    sets = _read(out)
    assert [s["type"] for s in sets] == [15, 55, 55, 55]
    ds15 = sets[0]
    assert len(ds15["node_nums"]) == 3  # A2 and A4 share a node
    geo = _geo_from_15(ds15)
    assert geo["A2"][0] == geo["A4"][0]
    for j, ds in enumerate(sets[1:]):
        assert ds["analysis_type"] == 2
        assert ds["freq"] == pytest.approx(REF_F[j], rel=5e-6)
        assert ds["modal_damp_vis"] == pytest.approx(REF_Z[j], rel=5e-5)
        got = _node_values(ds, geo, CHANS)
        np.testing.assert_allclose(got, _expected_real(station.shapes[j]), atol=1e-5)
        assert f"M{j + 1}" in ds["id1"]


def test_complex_modes_keep_frequency_damping_and_phase(station, tmp_path):
    out = tmp_path / "cmodes.uff"
    assert main(["export", str(station.res), "--out", str(out), "--complex"]) == 0
    sets = _read(out)
    geo = _geo_from_15(sets[0])
    for j, ds in enumerate(sets[1:]):
        assert ds["analysis_type"] == 3
        lam = ds["eig"]
        assert abs(lam) / (2 * np.pi) == pytest.approx(REF_F[j], rel=1e-5)
        assert -lam.real / abs(lam) == pytest.approx(REF_Z[j], rel=1e-4)
        got = _node_values(ds, geo, CHANS)
        s = station.shapes[j].astype(complex)
        expect = s / s[np.argmax(np.abs(s))]
        np.testing.assert_allclose(got, expect, atol=2e-5)


def test_one_window_exports_the_modes_found_there(station, tmp_path, capsys):
    out = tmp_path / "w.unv"
    at = station.tw[2] + 123 * 10**9
    assert main(["export", str(station.root), "--out", str(out), "--time", str(at)]) == 0
    sets = _read(out)
    modes = [s for s in sets if s["type"] == 55]
    assert len(modes) == 2  # M2 was not found in that window
    assert [m["freq"] for m in modes] == pytest.approx(station.freq[2][[0, 2]], rel=5e-6)
    assert [m["modal_damp_vis"] for m in modes] == pytest.approx(station.damp[2][[0, 2]], rel=5e-5)
    assert "window" in modes[0]["id3"]
    capsys.readouterr()
    assert (
        main(
            [
                "export",
                str(station.root),
                "--out",
                str(out),
                "--time",
                str(station.tw[-1] + WIN + 1),
            ]
        )
        == 2
    )
    assert "not in a processed window" in capsys.readouterr().err


def test_time_series_round_trip_through_pyuff_and_back_into_bshm(station, tmp_path):
    out = tmp_path / "acc.uff"
    span = f"{T0}..{T0 + 200 * 10**9}"
    assert main(["export", "--raw", str(station.root), "--time", span, "--out", str(out)]) == 0
    sets = _read(out)
    s58 = [s for s in sets if s["type"] == 58]
    # A3 has a dropout in the first run: 3 runs for it, 2 for the others
    assert len(s58) == 2 + 2 + 3 + 2
    a1 = [s for s in s58 if s["id1"] == "A1"]
    np.testing.assert_allclose(
        np.concatenate([s["data"] for s in a1]), station.raw[:, 0], rtol=1e-9
    )
    assert a1[1]["id4"] == "start 2026-03-01T12:01:40.000000Z"
    assert a1[0]["abscissa_inc"] == pytest.approx(0.02)
    assert a1[0]["ordinate_spec_data_type"] == 12 and a1[0]["ordinate_axis_units_lab"] == "m/s2"
    # bshm's own UFF reader brings it back: same values, times, gap and NaN dropout
    assert main(["import", str(out), "--out", str(tmp_path / "back"), "--station", "b"]) == 0
    from bshm.store import open_raw

    with open_raw(station.root) as r0, open_raw(tmp_path / "back") as r1:
        a, b = r0.read("acc"), r1.read("import")
        assert b.channel_names == a.channel_names
        np.testing.assert_array_equal(b.times_ns, a.times_ns)
        np.testing.assert_array_equal(np.isnan(b.data), np.isnan(a.data))
        np.testing.assert_allclose(np.nan_to_num(b.data), np.nan_to_num(a.data), rtol=1e-6)
        assert len(r1.gaps("import")) == 1
        assert [c.direction for c in b.channels] == [DIRS[c] for c in CHANS]


def test_trends_csv_and_json(station, tmp_path, capsys):
    out = tmp_path / "trends.csv"
    assert main(["export", str(station.root), "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == N_W
    assert list(rows[0])[:3] == ["time", "time_ns", "T1"]
    assert rows[0]["time"] == "2026-03-01T12:00:00.000000Z" and rows[0]["T1"] == "5.0"
    assert float(rows[1]["M1_frequency_hz"]) == pytest.approx(station.freq[1, 0])
    assert float(rows[1]["M3_damping"]) == pytest.approx(station.damp[1, 2])
    assert rows[2]["M2_frequency_hz"] == ""  # not found
    assert rows[0]["M1_change_pct"] == "" and rows[2]["M1_change_pct"] == "0.25"
    assert [r["level"] for r in rows] == ["", "", "0", "0", "1", "2"]
    assert rows[5]["t2"] == "3.0"
    capsys.readouterr()
    assert main(["export", str(station.res), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["modes"] == ["M1", "M2", "M3"] and len(doc["windows"]) == N_W
    w2 = doc["windows"][2]
    assert w2["modes"]["M2"]["frequency_hz"] is None and w2["level"] == 0
    assert w2["environment"] == {"T1": 7.0}
    assert math.isclose(w2["modes"]["M3"]["change_pct"], 0.25)
    assert main(["export", str(station.res), "--out", str(tmp_path / "t.json")]) == 0
    assert json.loads((tmp_path / "t.json").read_text()) == doc


def test_usage_errors_are_one_line(station, tmp_path, capsys):
    cases = [
        ["export", str(station.root)],
        ["export", str(station.root), "--out", str(tmp_path / "x.txt")],
        ["export", "--raw", str(station.root), "--out", str(tmp_path / "x.unv")],
        [
            "export",
            "--raw",
            str(station.root),
            "--time",
            f"{T0}..{T0 - 1}",
            "--out",
            str(tmp_path / "x.unv"),
        ],
        [
            "export",
            "--raw",
            str(station.root),
            "--time",
            f"{T0}..{T0 + 10**9}",
            "--source",
            "nope",
            "--out",
            str(tmp_path / "x.unv"),
        ],
    ]
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("x.*"))
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "m.unv")]) == 1
    assert "no results file" in capsys.readouterr().err


def test_missing_geometry_is_said_not_invented(tmp_path, station, capsys, caplog):
    import shutil

    d = tmp_path / "only_results"
    (d / "results").mkdir(parents=True)
    shutil.copy2(station.res, d / "results" / Path(station.res).name)
    assert main(["export", str(d), "--out", str(tmp_path / "m.unv")]) == 0
    assert "no location" in caplog.text and "no sensing direction" in caplog.text
    sets = _read(tmp_path / "m.unv")
    assert len(sets[0]["node_nums"]) == 4  # one node per channel along x
