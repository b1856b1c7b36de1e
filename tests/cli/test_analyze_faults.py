"""``bshm analyze`` meets damaged, duplicated and overlapping raw files, a full or
read-only disk, a damaged results file and an unreachable scheduler: one clear
line, the right exit code, no litter, and every good file still analysed.

Each run is a real ``bshm`` process (a crash would show as a negative code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from fs_faults import fill, remount_read_only, tiny_tmpfs, tree  # noqa: E402
from store_helpers import flip_byte, header_offset  # noqa: E402
from test_job_support import (  # noqa: E402
    HOUR_NS,
    START_NS,
    copy_raw,
    write_history,
    write_station,
)

BSHM = str(Path(sys.executable).with_name("bshm"))
N_REC, EVERY_H = 6, 1.5


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faulthist")
    write_history(out, N_REC, every_h=EVERY_H, seed=5)
    write_station(out)
    return out


def _analyze(d: Path, *extra: str, json_out: bool = True):
    args = [BSHM, "analyze", str(d), "--no-progress", *extra] + (["--json"] if json_out else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    out = json.loads(r.stdout) if json_out and r.returncode in (0, 3) else None
    return r.returncode, out, r.stderr


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip() and " WARNING " not in x
             and " INFO " not in x]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_damaged_file_is_skipped_and_named_the_others_analysed(history, tmp_path):
    d = copy_raw(history, tmp_path / "a")
    files = sorted(d.glob("*.h5"))
    flip_byte(files[2], header_offset(files[2], "sources/acc") + 12)
    code, out, err = _analyze(d)
    assert code == 0, err
    assert out["windows"]["processed"] == N_REC - 1
    [skip] = out["files_skipped"]
    assert skip["file"] == str(files[2]) and skip["kind"] == "damaged"
    assert "checksum" in skip["reason"]


def test_duplicated_file_is_read_once(history, tmp_path):
    clean = copy_raw(history, tmp_path / "clean")
    code, ref, err = _analyze(clean)
    assert code == 0, err
    d = copy_raw(history, tmp_path / "dup")
    f = sorted(d.glob("*.h5"))[3]
    shutil.copyfile(f, f.with_name(f.name[:-3] + "-1.h5"))  # the same data twice
    code, out, err = _analyze(d)
    assert code == 0, err
    assert out["windows"] == ref["windows"]
    assert out["tracked_modes"] == ref["tracked_modes"]  # not halved frequencies
    assert [s["kind"] for s in out["files_skipped"]] == ["duplicate"]


def test_file_overlapping_the_previous_one_never_blocks_later_runs(history, tmp_path):
    d = copy_raw(history, tmp_path / "over", n_files=N_REC - 1)
    # the clock stepped back: a later recording starts 60 s before the previous one ended
    _overlapping(d, 2)
    code, out, err = _analyze(d)
    assert code == 0, err
    [skip] = out["files_skipped"]
    assert skip["kind"] == "overlap" and skip["source"] == "acc"
    assert out["windows"]["processed"] == N_REC - 2  # record k is not assessable
    assert out["windows"]["skipped"] == {"gap": 1}
    # and every later run keeps working (it used to exit 2 from then on)
    copy_raw(history, d)  # the last record arrives
    code, out, err = _analyze(d)
    assert code == 0, err
    assert out["windows"]["processed"] == 1


def _overlapping(d: Path, k: int) -> None:
    """A file written after the others whose samples start 60 s into record k."""
    from bshm.store import RawWriter, SourceSpec, open_raw

    with open_raw(d) as r:
        acc = r.sources["acc"]
    t0 = START_NS + int(k * EVERY_H * HOUR_NS) + 60 * 10**9
    spec = SourceSpec("acc", "simulated", acc.fs, acc.channels)
    w = RawWriter(d, "sim-bridge", [spec], rollover_s=3600.0 * EVERY_H)
    w.write("acc", np.random.default_rng(1).normal(size=(6000, len(acc.channels))), t0_ns=t0)
    w.close()


@pytest.mark.parametrize(("leave", "names"), [
    (8 * 1024, "results/pending"),  # not even a staged batch fits
    (40 * 1024, "results/sim-bridge_results.h5"),  # batches fit, the results file (67 kB) not
])
def test_full_disk_one_line_no_temp_files(history, tmp_path, leave, names):
    size = sum(f.stat().st_size for f in history.glob("*.h5")) + 2 * 1024 * 1024
    with tiny_tmpfs(tmp_path / "mnt", f"{size // 1024}k") as mnt:
        d = copy_raw(history, mnt / "data")
        before = tree(mnt)
        fill(mnt, leave=leave)
        code, _, err = _analyze(d, json_out=False)
        assert code == 1, err
        line = _one_line(err)
        assert "the disk is full" in line and str(d / names) in line
        left = tree(mnt)
        assert not [p for p in left if p.endswith(".tmp")], left
        assert "data/results/sim-bridge_results.h5" not in left  # no half-written results
        staged = [p for p in left if p not in before and p.endswith(".npz")]
        for p in staged:  # only complete staged batches, kept so nothing is recomputed
            with np.load(mnt / p) as z:
                assert "meta" in z
        for f in mnt.glob("filler-*"):  # space comes back: the next run finishes the job
            f.unlink()
        code, out, err = _analyze(d)
        assert code == 0, err
        assert out["windows"]["processed"] == N_REC


def test_read_only_data_folder_one_line(history, tmp_path):
    size = sum(f.stat().st_size for f in history.glob("*.h5")) + 1024 * 1024
    with tiny_tmpfs(tmp_path / "mnt", f"{size // 1024}k") as mnt:
        d = copy_raw(history, mnt / "data")
        remount_read_only(mnt)
        code, _, err = _analyze(d, json_out=False)
        assert code == 1, err
        line = _one_line(err)
        assert "read-only" in line and str(d) in line


def test_damaged_results_file_one_line(history, tmp_path):
    d = copy_raw(history, tmp_path / "res", n_files=3)
    code, _, err = _analyze(d)
    assert code == 0, err
    res = d / "results" / "sim-bridge_results.h5"
    with h5py.File(res, "r") as f:
        off = f["windows/start_ns"].id.get_chunk_info(0).byte_offset
    flip_byte(res, off + 3)
    code, _, err = _analyze(d, json_out=False)
    assert code == 1
    line = _one_line(err)
    assert str(res) in line and "damaged" in line


@pytest.mark.slow
def test_unreachable_scheduler_one_line(history, tmp_path):
    d = copy_raw(history, tmp_path / "sch", n_files=2)
    code, _, err = _analyze(d, "--scheduler", "tcp://127.0.0.1:9", json_out=False)
    assert code == 1
    line = _one_line(err)
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in line


def test_a_batch_sees_both_overlapping_files(history, tmp_path):
    """The analysis reads windows in batches through only the files their names say
    may matter; a window inside an overlap must still see the earlier file, or the
    later (excluded) file would be read as if nothing were wrong."""
    from bshm.analysis.windows import _files_for

    from bshm.store import open_raw

    d = copy_raw(history, tmp_path / "batch")
    _overlapping(d, 2)
    t0 = START_NS + int(2 * EVERY_H * HOUR_NS)
    lo, hi = t0 + 90 * 10**9, t0 + 100 * 10**9  # after the later file's first sample
    files = _files_for(d, lo, hi)
    names = sorted(p.name for p in files)
    assert len(names) == 2  # record 2's file and the overlapping one
    sub = tmp_path / "sub"
    sub.mkdir()
    for p in files:
        (sub / p.name).symlink_to(p)
    with open_raw(sub) as r, open_raw(d) as full:
        a, b = r.read("acc", lo, hi), full.read("acc", lo, hi)
        assert np.array_equal(a.data, b.data) and a.gaps == b.gaps
        assert any("overlaps" in g.reason for g in a.gaps)
