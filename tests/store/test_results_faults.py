"""Results files on a full or read-only disk, and damaged results files:
one clear error, the previous file untouched, no temporary file left, and
no HDF5 crash when the process exits (each case runs in a child process)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap

import h5py
import pytest
from fs_faults import fill, remount_read_only, tiny_tmpfs, tree
from store_helpers import flip_byte

from bshm.cli import main
from bshm.errors import DamagedFileError
from bshm.store import results as rs

CHILD = textwrap.dedent('''
    import sys, json, numpy as np
    from bshm.analysis.windows import WindowResult
    from bshm.errors import StoreError
    from bshm.store.results import ResultsWriter
    path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(first)
    ws = []
    for k in range(first, first + count):
        t = 1_767_225_600_000_000_000 + k * 600_000_000_000
        m = 40
        ws.append(WindowResult(t, t + 600_000_000_000, "processed", "", 0.01, {"T1": 1.0},
                               np.sort(rng.uniform(1, 10, m)), np.full(m, 0.01),
                               rng.standard_normal((16, m)) + 1j * rng.standard_normal((16, m)),
                               np.ones(m), np.arange(m, dtype=np.int32)))
    try:
        with ResultsWriter(path, "st") as w:
            w.append_windows(ws, channels=[f"A{i}" for i in range(16)], env_names=["T1"])
        print(json.dumps({"ok": True}))
    except StoreError as exc:
        print(json.dumps({"error": type(exc).__name__, "errno": getattr(exc, "errno", None),
                          "message": str(exc)}))
''')


def _append(path, first: int, count: int) -> dict:
    """Append windows in a child process; a crash at exit shows as a negative code."""
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(first), str(count)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    return json.loads(r.stdout)


@pytest.mark.parametrize("leave", [0, 96 * 1024])  # copy fails / copy fits, write fails
def test_full_disk_keeps_the_old_results_and_leaves_no_temp(tmp_path, leave):
    with tiny_tmpfs(tmp_path / "mnt", "1m") as mnt:
        p = mnt / "results" / "st_results.h5"
        assert _append(p, 0, 2) == {"ok": True}
        before = p.read_bytes()
        fill(mnt, leave=leave)
        out = _append(p, 2, 400)  # far more than fits
        assert out["error"] == "DiskFullError" and out["errno"] == errno.ENOSPC
        assert out["message"] == f"cannot write {p}: the disk is full"
        assert p.read_bytes() == before  # the previous complete file, untouched
        assert tree(mnt) == ["results/st_results.h5", "results/st_results.h5.lock"]
        with rs.open_results(p) as r:
            assert r.windows()["start_ns"].size == 2


def test_read_only_results_folder_is_one_clear_error(tmp_path):
    with tiny_tmpfs(tmp_path / "mnt") as mnt:
        (mnt / "results").mkdir()
        remount_read_only(mnt)
        out = _append(mnt / "results" / "st_results.h5", 0, 1)
        assert out["error"] == "DiskFullError" and out["errno"] == errno.EROFS
        assert "read-only" in out["message"] and "\n" not in out["message"]
        assert tree(mnt) == []


def _good_results(tmp_path):
    p = tmp_path / "results" / "st_results.h5"
    assert _append(p, 0, 30) == {"ok": True}
    return p


def test_numeric_results_datasets_carry_checksums(tmp_path):
    p = _good_results(tmp_path)
    with h5py.File(p, "r") as f:
        for name in ("windows/start_ns", "windows/rms", "modes/frequency", "modes/shape",
                     "environment/values"):
            assert f[name].fletcher32, name


def test_checksum_error_in_results_is_one_line(tmp_path, capsys):
    p = _good_results(tmp_path)
    with h5py.File(p, "r") as f:
        off = f["modes/shape"].id.get_chunk_info(0).byte_offset
    flip_byte(p, off + 40)
    with rs.open_results(p) as r:
        assert r.windows()["start_ns"].size == 30  # other datasets still read
        with pytest.raises(DamagedFileError, match="damaged results file") as ei:
            r.modes()
    assert str(p) in str(ei.value) and "\n" not in str(ei.value)
    # appending (which does not read that chunk) keeps the damage detectable
    assert _append(p, 30, 1) == {"ok": True}
    assert not p.with_name(p.name + ".tmp").exists()
    with rs.open_results(p) as r, pytest.raises(DamagedFileError):
        r.modes()
    # inspect names the file in one line
    assert main(["inspect", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged results file" in err and str(p) in err


def test_verify_finds_the_damaged_results_chunk(tmp_path, capsys):
    p = _good_results(tmp_path)
    assert main(["inspect", str(tmp_path), "--verify"]) == 0
    assert "no damage found" in capsys.readouterr().out
    with h5py.File(p, "r") as f:
        off = f["modes/frequency"].id.get_chunk_info(0).byte_offset
    flip_byte(p, off + 8)
    assert main(["inspect", str(tmp_path), "--verify", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is False
    [d] = rep["damaged"]
    assert d["file"] == str(p) and d["dataset"] == "modes/frequency" and d["rows"][0] == 0
