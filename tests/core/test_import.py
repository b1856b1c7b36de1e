"""`bshm import`: CSV files into the raw store."""

from __future__ import annotations

import numpy as np
import pytest

from bshm.cli import main
from bshm.importer import CsvImportError, import_csv, start_from_name
from bshm.store import open_raw
from bshm.timeutil import parse_time


def _write(path, t_rel, data, names=("A1", "T"), iso_start=None):
    lines = ["time," + ",".join(names)]
    for t, row in zip(t_rel, data, strict=True):
        if iso_start is None:
            tt = f"{t:.3f}"
        else:
            ns = iso_start + int(round(t * 1e9))
            sec, frac = divmod(ns, 10**9)
            import datetime as dt

            tt = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
        lines.append(tt + "," + ",".join(repr(float(x)) for x in row))
    path.write_text("\n".join(lines) + "\n")


def test_start_from_name(tmp_path):
    assert start_from_name(tmp_path / "rec_2026-03-01T12-00-00.csv") == parse_time("2026-03-01T12:00:00Z")
    assert start_from_name(tmp_path / "20260301T120000.csv") == parse_time("2026-03-01T12:00:00Z")
    assert start_from_name(tmp_path / "data.csv") is None


def test_folder_of_records_round_trip(tmp_path, rng):
    src = tmp_path / "csv"
    src.mkdir()
    fs, n = 50.0, 500
    t = np.arange(n) / fs
    written = []
    for name in ["rec_2026-03-01T12-00-00.csv", "rec_2026-03-01T12-00-10.csv",
                 "rec_2026-03-01T13-00-00.csv"]:
        d = rng.normal(size=(n, 2)).astype(np.float32)
        _write(src / name, t, d)
        written.append(d)
    summary = import_csv([src], tmp_path / "raw", station="imp",
                         channels={}, fs=None)
    assert summary["files"] == 3 and summary["fs"] == pytest.approx(fs)
    assert summary["gaps"] == 1  # files 1-2 are contiguous; 12:00:20 -> 13:00 is a hole
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        assert np.array_equal(rec.data, np.concatenate(written))
        assert rec.times_ns[0] == parse_time("2026-03-01T12:00:00Z")
        assert rec.times_ns[n] == parse_time("2026-03-01T12:00:10Z")
        assert len(r.gaps("import")) == 1


def test_iso_times_and_channel_info(tmp_path, rng):
    start = parse_time("2026-05-01T00:00:00Z")
    d = rng.normal(size=(200, 2))
    _write(tmp_path / "a.csv", np.arange(200) / 100.0, d, iso_start=start)
    rc = main(["import", str(tmp_path / "a.csv"), "--out", str(tmp_path / "raw"), "--station", "s",
               "--quantity", "A1=acceleration", "--unit", "A1=m/s2", "--quantity", "T=temperature",
               "--unit", "T=degC"])
    assert rc == 0
    with open_raw(tmp_path / "raw") as r:
        info = r.sources["import"]
        assert info.fs == pytest.approx(100.0)
        assert [(c.name, c.quantity, c.unit) for c in info.channels] == [
            ("A1", "acceleration", "m/s2"), ("T", "temperature", "degC")]
        assert r.read("import").times_ns[0] == start


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("time,A1\n0.0,1\n0.01,x\n", "a.csv:3: column 'A1': 'x' is not a number"),
        ("time,A1\n0.0,1\n0.01,1,2\n", "a.csv:3: 3 columns, the header has 2"),
        ("t,A1\n0.0,1\n", "a.csv:1: the header must start with a 'time' column"),
        ("time,A1\n0.0,1\n0.01,2\n0.005,3\n", "a.csv:4: time does not increase"),
        ("time,A1\n0.0,1\n0.01,2\n0.02,3\n0.05,4\n", "a.csv:5: sampling is irregular"),
        ("time,A1\nnoon,1\n1,2\n", "is neither ISO 8601"),
        ("", "empty file"),
    ],
)
def test_malformed_files_name_file_and_line_and_write_nothing(tmp_path, content, fragment):
    p = tmp_path / "rec_2026-03-01T12-00-00.csv"
    p.write_text(content)
    good = tmp_path / "rec_2026-03-01T11-00-00.csv"
    good.write_text("time,A1\n0.0,1\n0.01,2\n0.02,3\n")
    out = tmp_path / "raw"
    with pytest.raises(CsvImportError) as info:
        import_csv([good, p], out, station="s")
    assert fragment.replace("a.csv", p.name) in str(info.value)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_relative_time_without_start_is_explained(tmp_path, capsys):
    p = tmp_path / "data.csv"
    p.write_text("time,A1\n0.0,1\n0.01,2\n")
    rc = main(["import", str(p), "--out", str(tmp_path / "raw"), "--station", "s"])
    err = capsys.readouterr().err
    assert rc == 1 and "give --start" in err and "Traceback" not in err
    assert main(["import", str(p), "--out", str(tmp_path / "raw"), "--station", "s",
                 "--start", "2026-01-01T00:00:00Z"]) == 0
    assert main(["import", str(p), "--out", str(tmp_path / "r2"), "--station", "s",
                 "--start", "2026-01-01", "--quantity", "A1=accel"]) == 2
