"""Damaged files: readers never hang, skip the damaged file with its reason and
read all the others; a flipped bit in a data chunk is detected and never read
as data. Real files, real bit flips (offsets from h5py's get_chunk_info and
object-header addresses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from store_helpers import (
    HOUR,
    T0,
    acc_spec,
    chunk_offset,
    det_block,
    env_spec,
    flip_byte,
    header_offset,
    strip_checksums,
)

from bshm.errors import DamagedFileError
from bshm.store import RawWriter, open_raw

FS = 100.0
N = 20_000  # 200 s at 100 Hz: several 5461-row chunks of 3 channels


def _hours(d: Path, n: int = 3, spec=None) -> list[Path]:
    """``n`` files, one per hour, each with N deterministic samples."""
    spec = spec or acc_spec(FS)
    with RawWriter(d, "st", [spec]) as w:
        for h in range(n):
            w.write("acc", det_block(h * N, N, 3), t0_ns=T0 + h * HOUR)
    return sorted(d.glob("*.h5"))


def test_every_raw_dataset_carries_a_checksum(tmp_path):
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()]) as w:
        w.write("acc", np.zeros((10, 3)), t0_ns=T0)
        w.write("env", np.zeros((2, 2)), times_ns=[T0, T0 + 10**9])
        w.add_gap("acc", T0 + 10**9, T0 + 2 * 10**9, "test")
    [p] = tmp_path.glob("*.h5")
    with h5py.File(p, "r") as f:
        for path in ("acc/data", "acc/blocks", "acc/gaps", "acc/counters",
                     "env/data", "env/time", "env/gaps", "env/counters"):
            assert f["sources/" + path].fletcher32, path
    with open_raw(tmp_path) as r:
        assert r.summaries()[0].checksums


def test_flipped_bit_in_a_data_chunk_is_a_gap_never_data(tmp_path, caplog):
    files = _hours(tmp_path)
    bad = files[1]
    with h5py.File(bad, "r") as f:
        rows = f["sources/acc/data"].chunks[0]
    flip_byte(bad, chunk_offset(bad, "sources/acc/data", 1) + 50)
    with open_raw(tmp_path) as r:
        rec = r.read("acc")
        # every other sample is there, with its exact value; the damaged chunk's rows are not
        assert rec.n_samples == 3 * N - rows
        want = np.concatenate([det_block(h * N, N, 3) for h in range(3)])
        keep = np.ones(3 * N, bool)
        keep[N + rows:N + 2 * rows] = False
        assert np.array_equal(rec.data, want[keep])
        assert np.abs(rec.data).max() < 3 * N  # nothing like the 4e35 of a garbled chunk
        t_bad0 = T0 + HOUR + rows * 10_000_000
        [gap] = [g for g in rec.gaps if "damaged chunk" in g.reason]
        assert (gap.start_ns, gap.end_ns) == (t_bad0, t_bad0 + rows * 10_000_000)
        assert bad.name in gap.reason and "sources/acc/data" in gap.reason
        [d] = r.damaged
        assert d["file"] == str(bad) and d["source"] == "acc"
        assert d["rows"] == [rows, 2 * rows - 1]
        assert (d["start_ns"], d["end_ns"]) == (gap.start_ns, gap.end_ns)
        # a window inside the damaged chunk: no samples, one gap saying why
        w = r.read("acc", t_bad0 + 10**9, t_bad0 + 2 * 10**9)
        assert w.n_samples == 0 and len(w.gaps) == 1
        assert [p["kind"] for p in r.problems()] == ["damaged_chunk"]
    assert sum("damaged chunk" in m for m in caplog.messages) == 1


def test_flipped_metadata_bit_skips_only_that_file(tmp_path):
    files = _hours(tmp_path)
    flip_byte(files[1], header_offset(files[1], "sources/acc") + 12)
    with open_raw(tmp_path, use_cache=False) as r:
        assert r.files == [files[0], files[2]]
        [(p, why)] = r.skipped
        assert p == files[1] and files[1].name in why and "checksum" in why
        assert r.problems()[0]["kind"] == "damaged"
        assert r.read("acc").n_samples == 2 * N
    with pytest.raises(DamagedFileError, match=files[1].name):
        open_raw(files[1])


def test_damaged_live_file_does_not_hang_the_reader(tmp_path):
    """A flipped metadata bit in a live .part file: HDF5's SWMR reader would
    retry for tens of minutes; ours gives up at once and skips the file.
    (Run in a child process so that a regression fails instead of hanging.)"""
    _hours(tmp_path, 1)
    killed = (  # a writer that dies without closing: its SWMR .part file stays
        "import os, numpy as np; from bshm.store import RawWriter\n"
        f"w = RawWriter({str(tmp_path)!r}, 'st', [{acc_spec(FS)!r}])\n"
        f"w.write('acc', np.zeros(({N}, 3)), t0_ns={T0 + HOUR})\n"
        "w.flush(); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", "from bshm.store import *\n" + killed], check=True,
                   timeout=600)
    [part] = tmp_path.glob("*.h5.part")
    flip_byte(part, header_offset(part, "sources/acc") + 12)
    old = 1_000_000_000 * 10**9
    os.utime(part, ns=(old, old))  # not being written any more: reported, not retried
    code = (
        "import sys; from bshm.store import open_raw\n"
        f"r = open_raw({str(tmp_path)!r}, use_cache=False)\n"
        "print(len(r.files), [p.name for p, _ in r.skipped], r.read('acc').n_samples)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "BSHM_CACHE_DIR": str(tmp_path / "c")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", f"['{part.name}']", str(N)]


@pytest.mark.parametrize("fs", [0.0, -100.0, float("nan"), float("inf"), 1e300])
def test_impossible_fs_attribute_marks_a_damaged_file(tmp_path, fs):
    files = _hours(tmp_path)
    with h5py.File(files[0], "r+") as f:
        f["sources/acc"].attrs["fs"] = fs
    with open_raw(tmp_path, use_cache=False) as r:
        assert r.files == files[1:]
        [(p, why)] = r.skipped
        assert p == files[0] and "is not a sampling rate" in why
        assert r.read("acc").n_samples == 2 * N
    with pytest.raises(DamagedFileError, match="fs = "):
        open_raw(files[0])


def test_block_table_damaged_after_caching_is_found_while_reading(tmp_path):
    files = _hours(tmp_path)
    with open_raw(tmp_path) as r:  # summaries cached while the file was good
        assert r.files == files
    st = files[1].stat()
    flip_byte(files[1], chunk_offset(files[1], "sources/acc/blocks", 0) + 3)
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns))  # bit rot: no mtime change
    with open_raw(tmp_path) as r:
        rec = r.read("acc")  # the damaged file is lost; its span is a gap; others read
        assert rec.n_samples == 2 * N
        [gap] = [g for g in rec.gaps if files[1].name in g.reason]
        assert gap.start_ns == T0 + HOUR and gap.end_ns == T0 + HOUR + N * 10_000_000
        assert r.files == [files[0], files[2]]
        assert [p for p, _ in r.skipped] == [files[1]]
    with open_raw(tmp_path) as r:  # remembered (cache keyed on size and mtime)
        assert [p for p, _ in r.skipped] == [files[1]]


def test_files_without_checksums_still_read(tmp_path):
    files = _hours(tmp_path / "new", 1)
    old = tmp_path / "old"
    old.mkdir()
    strip_checksums(files[0], old / files[0].name)
    with h5py.File(old / files[0].name, "r") as f:
        assert not f["sources/acc/data"].fletcher32
    with open_raw(old) as r:
        assert np.array_equal(r.read("acc").data, det_block(0, N, 3))
        assert not r.summaries()[0].checksums


def test_damaged_chunk_of_a_live_file_is_a_gap_for_that_read_only(tmp_path):
    """In a live file a chunk may fail while its writer rewrites it: the rows are
    left out (with a gap) for this read, but not recorded as damage for good."""
    killed = (
        "import os, numpy as np; from bshm.store import RawWriter\n"
        f"w = RawWriter({str(tmp_path)!r}, 'st', [{acc_spec(FS)!r}])\n"
        f"w.write('acc', np.arange({N * 3}, dtype=np.float32).reshape({N}, 3), t0_ns={T0})\n"
        "w.flush(); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", "from bshm.store import *\n" + killed], check=True,
                   timeout=600)
    [part] = tmp_path.glob("*.h5.part")
    with h5py.File(part, "r", swmr=True) as f:
        rows = f["sources/acc/data"].chunks[0]
        off = f["sources/acc/data"].id.get_chunk_info(0).byte_offset
    flip_byte(part, off + 10)
    with open_raw(tmp_path) as r:
        for _ in range(2):  # the same each time: tried again, never read as data
            rec = r.read("acc")
            assert rec.n_samples == N - rows
            assert rec.data[0, 0] == rows * 3  # the first good row
            [gap] = rec.gaps
            assert "not readable now" in gap.reason and gap.start_ns == T0
        assert r.damaged == []
