"""``bshm import``: idempotent (the same samples twice are skipped, said clearly;
partial overlaps handled sample-exactly), conflicts refused before anything is
written, and every fault one line with the right exit code. Real files, real
``bshm`` processes where a crash at exit must show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bshm.cli import main
from bshm.importer import import_csv
from bshm.store import open_raw
from bshm.timeutil import parse_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from fs_faults import fill, remount_read_only, tiny_tmpfs, tree  # noqa: E402

BSHM = str(Path(sys.executable).with_name("bshm"))
T0 = parse_time("2026-03-01T12:00:00Z")


def _csv(path: Path, t_s, values) -> Path:
    """A CSV with ISO times (fs from the times) and one channel A1."""
    import datetime as dt

    lines = ["time,A1"]
    for t, v in zip(t_s, values, strict=True):
        ns = T0 + int(round(t * 1e9))
        sec, frac = divmod(ns, 10**9)
        iso = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{iso}.{frac:09d}Z,{float(v)!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _series(a: int, b: int, fs: float = 100.0):
    k = np.arange(a, b)
    return k / fs, np.sin(k / 7.0)


def _errline(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip() and " WARNING " not in x
             and " INFO " not in x]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_importing_the_same_file_twice_adds_nothing(tmp_path, capsys):
    f = _csv(tmp_path / "a.csv", *_series(0, 200))
    out = tmp_path / "raw"
    assert main(["import", str(f), "--out", str(out), "--station", "s"]) == 0
    capsys.readouterr()
    files = sorted(out.iterdir())
    assert main(["import", str(f), "--out", str(out), "--station", "s"]) == 0
    text = capsys.readouterr().out
    assert "nothing new: all 200 samples of the 1 file(s) are already in" in text
    assert sorted(out.iterdir()) == files  # no new file
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.n_samples == 200 and r.excluded == [] and r.skipped == []


def test_partial_overlap_adds_only_the_new_samples(tmp_path, capsys):
    out = tmp_path / "raw"
    t, v = _series(0, 300)
    import_csv([_csv(tmp_path / "a.csv", t[:200], v[:200])], out, station="s")
    s = import_csv([_csv(tmp_path / "b.csv", t[100:], v[100:])], out, station="s")
    assert (s["samples"], s["skipped_samples"]) == (100, 100)
    # a third import in the middle of both: nothing new at all
    s = import_csv([_csv(tmp_path / "c.csv", t[50:250], v[50:250])], out, station="s")
    assert (s["samples"], s["skipped_samples"], s["written"]) == (0, 200, [])
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.n_samples == 300
        assert np.array_equal(rec.data[:, 0], v.astype(np.float32))
        assert np.all(np.diff(rec.times_ns) == 10_000_000)
        assert r.excluded == [] and rec.gaps == ()


def test_filling_a_hole_between_earlier_imports(tmp_path):
    out = tmp_path / "raw"
    t, v = _series(0, 600)
    import_csv([_csv(tmp_path / "a.csv", t[:200], v[:200]),
                _csv(tmp_path / "c.csv", t[400:], v[400:])], out, station="s")
    s = import_csv([_csv(tmp_path / "b.csv", t[150:450], v[150:450])], out, station="s")
    assert (s["samples"], s["skipped_samples"]) == (200, 100)
    with open_raw(out) as r:
        rec = r.read("import")
        assert np.array_equal(rec.data[:, 0], v.astype(np.float32))
        assert r.records("import") == [(T0, T0 + 6 * 10**9)]


@pytest.mark.parametrize("how", ["other values", "other time grid"])
def test_conflicting_samples_are_refused_before_writing(tmp_path, capsys, how):
    out = tmp_path / "raw"
    t, v = _series(0, 200)
    import_csv([_csv(tmp_path / "a.csv", t, v)], out, station="s")
    before = tree(out)
    if how == "other values":
        f = _csv(tmp_path / "b.csv", t[150:] + 0.0, v[150:] + 1.0)
    else:  # the same rate, half a period later: interleaved samples
        f = _csv(tmp_path / "b.csv", t[100:] + 0.005, v[100:])
    good = _csv(tmp_path / "z.csv", *_series(1000, 1100))  # fine on its own
    assert main(["import", str(good), str(f), "--out", str(out), "--station", "s"]) == 1
    line = _errline(capsys)
    assert "b.csv" in line and "conflict with samples of source 'import'" in line
    assert "nothing imported" in line
    assert tree(out) == before  # not even the good file


def test_other_station_or_channels_in_the_folder_exit_2(tmp_path, capsys):
    out = tmp_path / "raw"
    f = _csv(tmp_path / "a.csv", *_series(0, 100))
    import_csv([f], out, station="north")
    assert main(["import", str(f), "--out", str(out), "--station", "south"]) == 2
    assert "holds the files of station 'north'" in _errline(capsys)
    g = tmp_path / "b.csv"
    g.write_text("time,A1,A2\n" + "".join(f"{i * 0.01:.2f},{i},{i}\n" for i in range(50)))
    assert main(["import", str(g), "--out", str(out), "--station", "north",
                 "--start", "2026-03-01T13:00:00Z"]) == 2
    assert "import under another --source name" in _errline(capsys)


@pytest.mark.parametrize(("station", "why"), [
    ("x" * 101, "101 bytes long"),
    ("../evil", "is not usable in a file name"),
    ("a/b", "is not usable in a file name"),
])
def test_unsafe_station_names_exit_2(tmp_path, capsys, station, why):
    f = _csv(tmp_path / "a.csv", *_series(0, 100))
    assert main(["import", str(f), "--out", str(tmp_path / "raw"), "--station", station]) == 2
    line = _errline(capsys)
    assert "--station" in line and why in line
    assert not (tmp_path / "raw").exists() or tree(tmp_path / "raw") == []
    assert tree(tmp_path) == ["a.csv"]


def test_time_in_year_9999_names_file_and_line(tmp_path, capsys):
    p = tmp_path / "a.csv"
    p.write_text("time,A1\n2026-03-01T12:00:00Z,1\n9999-03-01T12:00:00.01Z,2\n")
    assert main(["import", str(p), "--out", str(tmp_path / "raw"), "--station", "s"]) == 1
    line = _errline(capsys)
    assert f"{p}:3" in line and "outside the times bshm can store" in line
    q = tmp_path / "b.csv"  # relative seconds that overflow int64 ns
    q.write_text("time,A1\n0,1\n1e300,2\n")
    assert main(["import", str(q), "--out", str(tmp_path / "raw"), "--station", "s",
                 "--start", "2026-01-01T00:00:00Z"]) == 1
    assert f"{q}:3" in _errline(capsys)


def test_non_utf8_csv_names_the_file_exit_1(tmp_path, capsys):
    p = tmp_path / "latin1.csv"
    p.write_bytes("time,Température\n0,1\n0.01,2\n".encode("latin-1"))
    assert main(["import", str(p), "--out", str(tmp_path / "raw"), "--station", "s",
                 "--start", "2026-01-01T00:00:00Z"]) == 1
    line = _errline(capsys)
    assert str(p) in line and "not a UTF-8 text file" in line


def test_bad_fs_option_exit_2(tmp_path, capsys):
    f = _csv(tmp_path / "a.csv", *_series(0, 100))
    for bad in ("nan", "0", "1e300"):
        assert main(["import", str(f), "--out", str(tmp_path / "raw"), "--station", "s",
                     "--fs", bad]) == 2
        assert "--fs" in _errline(capsys)


def _bshm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BSHM, *args], capture_output=True, text=True, timeout=600)


def _one(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip() and " WARNING " not in x
             and " INFO " not in x]
    assert len(lines) == 1, err
    return lines[0]


def test_full_disk_import_leaves_nothing(tmp_path):
    src = tmp_path / "csv"
    src.mkdir()
    rng = np.random.default_rng(5)
    for h in range(3):  # three hours of 8 noisy channels: far more than the space left
        lines = ["time," + ",".join(f"C{i}" for i in range(8))]
        x = rng.normal(size=(20_000, 8))
        lines += [f"{k * 0.01:.2f}," + ",".join(f"{a:.6f}" for a in row)
                  for k, row in enumerate(x)]
        (src / f"rec_2026-03-01T1{h}-00-00.csv").write_text("\n".join(lines) + "\n")
    with tiny_tmpfs(tmp_path / "mnt", "2m") as mnt:
        fill(mnt, leave=600 * 1024)
        r = _bshm("import", str(src), "--out", str(mnt / "raw"), "--station", "s")
        assert r.returncode == 1, r.stderr  # (a negative code would be a crash)
        line = _one(r.stderr)
        assert "the disk is full" in line and str(mnt / "raw") in line
        assert tree(mnt / "raw") == []  # nothing half-written: run it again later


def test_read_only_output_folder_import_and_new_station(tmp_path):
    f = _csv(tmp_path / "a.csv", *_series(0, 100))
    with tiny_tmpfs(tmp_path / "mnt") as mnt:
        remount_read_only(mnt)
        r = _bshm("import", str(f), "--out", str(mnt / "raw"), "--station", "s")
        assert r.returncode == 1, r.stderr
        assert "read-only" in _one(r.stderr) and str(mnt / "raw") in r.stderr
        r = _bshm("new-station", str(mnt / "st"))
        assert r.returncode == 1, r.stderr
        assert "read-only" in _one(r.stderr)
        assert tree(mnt) == []


def test_full_disk_new_station_leaves_no_partial_file(tmp_path):
    with tiny_tmpfs(tmp_path / "mnt", "64k") as mnt:
        (mnt / "st").mkdir()
        fill(mnt)
        r = _bshm("new-station", str(mnt / "st"), "--simulated")
        assert r.returncode == 1, r.stderr
        line = _one(r.stderr)
        assert "the disk is full" in line and "station.toml" in line
        assert tree(mnt) == []


def test_overlapping_files_of_one_import(tmp_path, capsys):
    t, v = _series(0, 300)
    a = _csv(tmp_path / "a.csv", t[:200], v[:200])
    b = _csv(tmp_path / "b.csv", t[150:], v[150:])  # the same samples where they overlap
    s = import_csv([a, b], tmp_path / "raw", station="s")
    assert (s["samples"], s["skipped_samples"]) == (300, 50)
    c = _csv(tmp_path / "c.csv", t[150:], v[150:] * 2)  # other values: refused
    assert main(["import", str(a), str(c), "--out", str(tmp_path / "r2"),
                 "--station", "s"]) == 1
    line = _errline(capsys)
    assert "c.csv" in line and "conflict with the samples of a.csv in this import" in line
    assert not (tmp_path / "r2").exists() or tree(tmp_path / "r2") == []
