"""``bshm inspect``: text and JSON summaries of raw files and folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from store_helpers import HOUR, T0, acc_spec, env_spec

from bshm.cli import main
from bshm.store import RawWriter
from bshm.store.inspect import summarize
from bshm.timeutil import to_iso


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "raw"
    with RawWriter(d, "bridge1", [acc_spec(), env_spec()]) as w:
        w.write("acc", np.zeros((1000, 3)), t0_ns=T0 + HOUR - 5 * 10**9)  # 2 files
        w.write("acc", np.zeros((100, 3)), t0_ns=T0 + HOUR + 60 * 10**9)  # after a pause
        w.write("env", np.ones((3, 2)), times_ns=T0 + HOUR + np.array([0, 10**9, 2 * 10**9]))
        w.add_gap("acc", T0 + HOUR + 5 * 10**9, T0 + HOUR + 7 * 10**9, "device silent")
        w.add_gap("acc", T0 + HOUR + 6 * 10**9, T0 + HOUR + 8 * 10**9, "CRC errors")
        w.count("acc", "frames_ok", 11)
        w.count("acc", "frames_bad", 2)
    return d


def test_json_contract(folder, capsys):
    assert main(["inspect", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema_version"] == 1
    assert out["station"] == "bridge1"
    assert [Path(f).name for f in out["files"]] == ["bridge1_20260301T105955Z.h5",
                                                    "bridge1_20260301T110000Z.h5"]
    acc, env = out["sources"]
    for s in (acc, env):
        assert {"name", "kind", "fs", "samples", "start_ns", "end_ns", "gaps", "counters",
                "channels"} <= set(s)
    assert acc["name"] == "acc"
    assert acc["kind"] == "simulated"
    assert acc["fs"] == 100.0
    assert acc["samples"] == 1100
    assert acc["start_ns"] == T0 + HOUR - 5 * 10**9
    assert acc["end_ns"] == T0 + HOUR + 60 * 10**9 + 99 * 10**7
    assert acc["start"] == to_iso(acc["start_ns"])
    assert acc["gaps"] == 2
    assert acc["gap_total_s"] == pytest.approx(3.0)
    assert acc["counters"]["frames_ok"] == 11
    assert acc["counters"]["frames_bad"] == 2
    assert acc["records"] == 2
    assert acc["channels"][0] == {"name": "A01", "quantity": "acceleration", "unit": "m/s2",
                                  "location": [6.0, 0.0, 0.0], "direction": "z",
                                  "calibration": "scale=1e-06 offset=0"}
    assert env["timing"] == "timestamped"
    assert env["samples"] == 3
    assert env["gaps"] == 0
    assert [c["unit"] for c in env["channels"]] == ["degC", "degC"]


def test_text_summary(folder, capsys):
    assert main(["inspect", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "station   bridge1" in text
    assert "files     2" in text
    assert "bridge1_20260301T110000Z.h5" in text
    assert "source acc  (simulated, regular, 100 Hz, 3 channels)" in text
    assert "A01 [m/s2], A02 [m/s2], A03 [m/s2]" in text
    assert "samples   1100  2026-03-01T10:59:55.000000Z .. 2026-03-01T11:01:00.990000Z" in text
    assert "gaps      2  (3 s in total)" in text
    assert "records   2 contiguous run(s)" in text
    assert "frames_ok=11 frames_bad=2" in text
    assert "source env  (modbus-tcp, timestamped, 1 Hz, 2 channels)" in text


def test_single_file_and_live_part(tmp_path, capsys):
    w = RawWriter(tmp_path, "b", [acc_spec()])
    w.write("acc", np.zeros((10, 3)), t0_ns=T0)
    w.flush()
    part = w.current_path
    assert main(["inspect", str(part), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file_info"][0]["live"] is True
    assert out["sources"][0]["samples"] == 10
    w.close()
    s = summarize(tmp_path / part.name.removesuffix(".part"))
    assert s["sources"][0]["samples"] == 10


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"nope")
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bshm: error: ")
    assert "bad.h5" in err
    assert err.count("\n") == 1
    assert main(["inspect", str(tmp_path / "none")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    v = tmp_path / "v.h5"
    with h5py.File(v, "w") as f:
        f.attrs["bshm_schema_version"] = 5
        f.attrs["bshm_kind"] = "raw"
    assert main(["inspect", str(v)]) == 1
    assert "newer than this bshm reads" in capsys.readouterr().err


def test_results_file_is_delegated(tmp_path, capsys):
    results = pytest.importorskip("bshm.store.results")
    if not hasattr(results, "append_alarms") or not hasattr(results, "summarize"):
        pytest.skip("bshm.store.results has no append_alarms/summarize yet")
    p = tmp_path / "x_results.h5"
    results.append_alarms(p, [], station="x")
    s = summarize(p)
    assert s["kind"] == "results"
    assert s["station"] == "x"
    assert main(["inspect", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "results"
    assert main(["inspect", str(p)]) == 0
    assert "station: x" in capsys.readouterr().out


def test_installed_command(folder):
    exe = Path(sys.executable).parent / "bshm"
    res = subprocess.run([str(exe), "inspect", str(folder), "--json"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["sources"][0]["samples"] == 1100


def test_store_package_import_is_cheap():
    code = ("import sys, bshm.store\n"
            "from bshm.store import ChannelMeta, SourceSpec, Record, Gap, SCHEMA_VERSION\n"
            "assert 'h5py' not in sys.modules, 'bshm.store must not import h5py eagerly'\n"
            "from bshm.store import open_raw, RawWriter, RawReader\n"
            "assert 'h5py' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_skipped_files_are_listed(folder, capsys):
    (folder / "bridge1_20260301T130000Z.h5").write_bytes(b"not hdf5")
    assert main(["inspect", str(folder), "--no-records"]) == 0
    text = capsys.readouterr().out
    assert "DAMAGED   " in text  # not HDF5 at all: a damaged (or foreign) file
    assert "bridge1_20260301T130000Z.h5" in text
    assert "records" not in text
    assert main(["inspect", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [Path(s["path"]).name for s in out["skipped"]] == ["bridge1_20260301T130000Z.h5"]
    assert [Path(s["file"]).name for s in out["damaged"]] == ["bridge1_20260301T130000Z.h5"]
    assert len(out["files"]) == 2


def _three_hours(d):
    from store_helpers import det_block

    with RawWriter(d, "bridge1", [acc_spec()]) as w:
        for h in range(3):
            w.write("acc", det_block(h * 20_000, 20_000, 3), t0_ns=T0 + h * HOUR)
    return sorted(d.glob("*.h5"))


def test_verify_clean_folder_exit_0(tmp_path, capsys):
    _three_hours(tmp_path / "raw")
    assert main(["inspect", str(tmp_path / "raw"), "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("verified 3 file(s), ") and "no damage found" in out
    assert main(["inspect", str(tmp_path / "raw"), "--verify", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is True and rep["damaged"] == [] and rep["unverifiable"] == []
    assert all(f["chunks"] > 0 and f["checksums"] for f in rep["files"])


def test_verify_reports_the_damaged_chunk_with_its_time_span(tmp_path, capsys):
    from store_helpers import chunk_offset, flip_byte

    files = _three_hours(tmp_path / "raw")
    flip_byte(files[2], chunk_offset(files[2], "sources/acc/data", 2) + 99)
    assert main(["inspect", str(tmp_path / "raw"), "--verify", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is False
    [d] = rep["damaged"]
    with h5py.File(files[2], "r") as f:
        rows = f["sources/acc/data"].chunks[0]
    assert d["file"] == str(files[2]) and d["dataset"] == "sources/acc/data"
    assert d["rows"] == [2 * rows, 3 * rows - 1] and d["source"] == "acc"
    assert d["start_ns"] == T0 + 2 * HOUR + 2 * rows * 10_000_000
    assert d["end_ns"] == T0 + 2 * HOUR + 3 * rows * 10_000_000
    assert main(["inspect", str(tmp_path / "raw"), "--verify"]) == 1
    text = capsys.readouterr().out
    assert "1 damaged file(s)" in text and f"DAMAGED {files[2].name}: sources/acc/data" in text


def test_verify_lists_files_without_checksums(tmp_path, capsys):
    from store_helpers import strip_checksums

    files = _three_hours(tmp_path / "raw")
    strip_checksums(files[0], tmp_path / "old.h5")
    files[0].unlink()
    (tmp_path / "old.h5").rename(files[0])
    assert main(["inspect", str(tmp_path / "raw"), "--verify", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is True and rep["unverifiable"] == [str(files[0])]


def test_damaged_single_file_json_names_it_and_exits_1(tmp_path, capsys):
    from store_helpers import flip_byte, header_offset

    files = _three_hours(tmp_path / "raw")
    flip_byte(files[1], header_offset(files[1], "sources/acc") + 12)
    assert main(["inspect", str(files[1]), "--json"]) == 1
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["damaged"][0]["file"] == str(files[1]) and doc["files"] == []
    assert cap.err.count("\n") == 1 and "checksum" in cap.err
    # the folder: the other two summarised, the damaged one listed
    assert main(["inspect", str(tmp_path / "raw"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["files"]) == 2 and [d["file"] for d in doc["damaged"]] == [str(files[1])]
    assert doc["sources"][0]["samples"] == 40_000
