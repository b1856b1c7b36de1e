"""`bshm import` of UFF 58 time series written by pyuff, and of Campbell TOA5 tables."""

from __future__ import annotations

import numpy as np
import pytest

from bshm.cli import main
from bshm.store import open_raw
from bshm.timeutil import parse_time, to_iso

pyuff = pytest.importorskip("pyuff")

T0 = parse_time("2026-03-01T12:00:00Z")


def _uff58(path, rows, binary=0):
    """rows: (name, node, dir, t0_ns or None, fs, data)"""
    u = pyuff.UFF(str(path))
    for name, node, d, t0, fs, data in rows:
        x = np.arange(len(data)) / fs
        ds = pyuff.prepare_58(
            binary=binary,
            func_type=1,
            rsp_node=node,
            rsp_dir=d,
            ref_node=0,
            ref_dir=0,
            data=np.asarray(data, float),
            x=x,
            id1=name,
            id4="NONE" if t0 is None else f"start {to_iso(t0)}",
            rsp_ent_name=name[:10],
            ref_ent_name="NONE",
            abscissa_spacing=1,
            abscissa_spec_data_type=17,
            ordinate_spec_data_type=12,
            orddenom_spec_data_type=0,
            z_axis_spec_data_type=0,
            ordinate_axis_units_lab="m/s2",
            abscissa_axis_units_lab="s",
        )
        u.write_sets(ds, "add")


def test_uff58_records_round_trip_with_a_gap(tmp_path, rng):
    fs, n = 128.0, 1024
    t1 = T0 + 20 * 10**9  # 12 s after the first record ends
    a = rng.normal(size=(2, n, 2))
    path = tmp_path / "test.uff"
    _uff58(
        path,
        [
            ("P1z", 1, 3, T0, fs, a[0, :, 0]),
            ("P2y", 2, 2, T0, fs, a[0, :, 1]),
            ("P1z", 1, 3, t1, fs, a[1, :, 0]),
            ("P2y", 2, 2, t1, fs, a[1, :, 1]),
        ],
    )
    out = tmp_path / "raw"
    assert main(["import", str(path), "--out", str(out), "--station", "br"]) == 0
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.channel_names == ("P1z", "P2y")
        assert [c.direction for c in rec.channels] == ["z", "y"]
        assert [c.quantity for c in rec.channels] == ["acceleration"] * 2
        assert rec.channels[0].unit == "m/s2"
        np.testing.assert_allclose(rec.data, np.vstack(a).astype(np.float32), rtol=1e-6)
        assert rec.times_ns[0] == T0 and rec.times_ns[n] == t1
        assert rec.fs == fs
        (gap,) = r.gaps("import")
        assert gap.start_ns == T0 + n * 10**9 // 128 and gap.end_ns == t1


# pyuff 2.5.8 leaves a file handle open when it writes a binary dataset 58 (its bug,
# in the test's writer, not in bshm's reader)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_uff58_binary_and_relative_start(tmp_path, capsys):
    path = tmp_path / "rel.unv"
    _uff58(path, [("acc", 5, -1, None, 50.0, np.arange(100.0))], binary=1)
    assert main(["import", str(path), "--out", str(tmp_path / "raw"), "--station", "br"]) == 1
    err = capsys.readouterr().err
    assert "--start" in err and "rel.unv" in err
    assert (
        main(
            [
                "import",
                str(path),
                "--out",
                str(tmp_path / "raw"),
                "--station",
                "br",
                "--start",
                "2026-04-01T00:00:00Z",
            ]
        )
        == 0
    )
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        assert rec.times_ns[0] == parse_time("2026-04-01T00:00:00Z")
        assert rec.channels[0].direction == "-x"
        np.testing.assert_array_equal(rec.data[:, 0], np.arange(100.0))


def test_uff_without_time_series(tmp_path, capsys):
    path = tmp_path / "geom.unv"
    u = pyuff.UFF(str(path))
    u.write_sets(
        pyuff.prepare_15(
            node_nums=[1, 2],
            def_cs=[0, 0],
            disp_cs=[0, 0],
            color=[1, 1],
            x=[0.0, 1.0],
            y=[0.0, 0.0],
            z=[0.0, 0.0],
        ),
        "add",
    )
    assert main(["import", str(path), "--out", str(tmp_path / "raw"), "--station", "br"]) == 1
    err = capsys.readouterr().err
    assert "no time series" in err and "[15]" in err


TOA5_HEAD = (
    '"TOA5","Bridge7","CR1000X","12345","CR1000X.Std.05.00","CPU:bridge.CR1X","2034","Fast"\n'
    '"TIMESTAMP","RECORD","Acc_1","Temp_Deck","Strain(1)"\n'
    '"TS","RN","m/s^2","Deg C","microstrain"\n'
    '"","","Smp","Avg","Smp"\n'
)


def _toa5(path, times, rows, head=TOA5_HEAD):
    lines = [head]
    for rec, (t, row) in enumerate(zip(times, rows, strict=True)):
        txt = ",".join("NAN" if v is None else repr(float(v)) for v in row)
        lines.append(f'"{t}",{rec},{txt}\n')
    path.write_text("".join(lines), encoding="utf-8")


def _stamp(t_ns):
    return to_iso(t_ns, digits=2)[:-1].replace("T", " ")


def test_toa5_round_trip_with_nan_gap_and_recollected_rows(tmp_path, rng):
    k = np.r_[np.arange(300), np.arange(500, 800)]  # 2 s missing at 100 Hz
    t = T0 + k * 10_000_000
    data = rng.normal(size=(k.size, 3)).round(5)
    rows = [list(r) for r in data]
    rows[7][1] = None  # the logger's NAN
    times = [_stamp(x) for x in t]
    # LoggerNet collected rows 100..119 twice
    times2 = times[:120] + times[100:120] + times[120:]
    rows2 = rows[:120] + rows[100:120] + rows[120:]
    path = tmp_path / "CR1000X_Fast.dat"
    _toa5(path, times2, rows2)
    out = tmp_path / "raw"
    assert (
        main(["import", str(path), "--out", str(out), "--station", "br", "--utc-offset", "1"]) == 0
    )
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.channel_names == ("Acc_1", "Temp_Deck", "Strain(1)")
        assert [c.quantity for c in rec.channels] == ["acceleration", "temperature", "strain"]
        assert [c.unit for c in rec.channels] == ["m/s2", "Deg C", "microstrain"]
        np.testing.assert_array_equal(rec.times_ns, t - 3600 * 10**9)  # UTC+1 clock
        expect = data.astype(np.float32)
        expect[7, 1] = np.nan
        np.testing.assert_array_equal(rec.data, expect)
        (gap,) = r.gaps("import")
        hour = 3600 * 10**9
        assert (gap.start_ns, gap.end_ns) == (T0 + 300 * 10**7 - hour, T0 + 500 * 10**7 - hour)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda lines: lines.__setitem__(9, lines[9].replace(",0.5,", ",x.5,")),
            "CR.dat:10: field 'Acc_1'",
        ),
        (
            lambda lines: lines.__setitem__(9, lines[9].rsplit(",", 1)[0] + "\n"),
            "CR.dat:10: 4 fields",
        ),
        (lambda lines: lines.__setitem__(0, '"TOB1","x"\n'), "not a TOA5 file"),
        (
            lambda lines: lines.__setitem__(9, lines[9].replace(":00.05", ":00.055")),
            "CR.dat: line 10: sampling is irregular",
        ),
        (
            lambda lines: lines.__setitem__(9, '"2026-03-01 11:00:00",5,1,2,3\n'),
            "CR.dat: line 10: time 2026-03-01T11:00:00",
        ),
    ],
)
def test_toa5_faults_name_file_and_line(tmp_path, capsys, mutate, expect):
    t = [_stamp(T0 + i * 10_000_000) for i in range(20)]
    path = tmp_path / "CR.dat"
    _toa5(path, t, [[0.5, 1.5, 2.5]] * 20)
    lines = path.read_text().splitlines(keepends=True)
    mutate(lines)
    path.write_text("".join(lines))
    out = tmp_path / "raw"
    assert main(["import", str(path), "--out", str(out), "--station", "br"]) == 1
    err = capsys.readouterr().err.strip()
    assert expect in err and len(err.splitlines()) == 1, err
    assert not out.exists() or not list(out.glob("*.h5*"))


def test_unknown_and_dewesoft_files_are_usage_errors(tmp_path, capsys):
    (tmp_path / "a.xyz").write_text("1")
    (tmp_path / "run.dxd").write_bytes(b"\x00" * 10)
    assert (
        main(["import", str(tmp_path / "a.xyz"), "--out", str(tmp_path / "r"), "--station", "br"])
        == 2
    )
    assert "--format" in capsys.readouterr().err
    assert (
        main(["import", str(tmp_path / "run.dxd"), "--out", str(tmp_path / "r"), "--station", "br"])
        == 2
    )
    err = capsys.readouterr().err
    assert "DEWESoft" in err and "docs/interop.md" in err


def test_folder_of_one_format_and_mixed_folder(tmp_path, capsys, caplog):
    d = tmp_path / "logger"
    d.mkdir()
    for i in range(2):
        t = [_stamp(T0 + (i * 40 + j) * 10_000_000) for j in range(40)]
        _toa5(d / f"CR_{i}.dat", t, [[float(i), 1.0, 2.0]] * 40)
    assert main(["import", str(d), "--out", str(tmp_path / "raw"), "--station", "br"]) == 0
    with open_raw(tmp_path / "raw") as r:
        assert r.n_samples("import") == 80 and not r.gaps("import")
    _uff58(d / "x.uff", [("a", 1, 3, T0, 10.0, np.zeros(10))])
    assert main(["import", str(d), "--out", str(tmp_path / "raw2"), "--station", "br"]) == 2
    assert "several formats" in capsys.readouterr().err
    assert (
        main(
            [
                "import",
                str(d),
                "--format",
                "toa5",
                "--out",
                str(tmp_path / "raw2"),
                "--station",
                "br",
            ]
        )
        == 0
    )
    (d / "rec_2026-03-01T12-00-00.csv").write_text("time,A1\n0.0,1\n0.1,2\n0.2,3\n")
    assert main(["import", str(d), "--out", str(tmp_path / "raw3"), "--station", "br"]) == 0
    assert "importing the CSV files only" in caplog.text and "2 toa5" in caplog.text
