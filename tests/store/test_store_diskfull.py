"""A full or read-only disk ends in one clear error, a bounded number of attempts and no litter.

Uses a real, tiny tmpfs (we run as root in CI); skipped with the reason where
mounting is not permitted.
"""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from fs_faults import fill as _fill
from fs_faults import remount_read_only, tiny_tmpfs
from store_helpers import T0, acc_spec

from bshm.errors import DiskFullError
from bshm.store import RawWriter


def _write_and_flush(w: RawWriter) -> None:
    w.write("acc", np.zeros((10, 3), np.float32), t0_ns=T0)
    w.flush()


def test_create_on_full_disk_raises_once_and_leaves_no_file(tmp_path):
    with tiny_tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        data.mkdir()
        _fill(mnt)
        w = RawWriter(data, "north", [acc_spec()], flush_interval_s=3600)
        with pytest.raises(DiskFullError) as ei:
            _write_and_flush(w)
        assert ei.value.errno == errno.ENOSPC
        assert "disk is full" in str(ei.value) and str(data) in str(ei.value)
        assert os.listdir(data) == [], "no empty .part files may be left behind"


def test_read_only_file_system_is_disk_full_error(tmp_path):
    with tiny_tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        data.mkdir()
        remount_read_only(mnt)
        w = RawWriter(data, "north", [acc_spec()], flush_interval_s=3600)
        with pytest.raises(DiskFullError) as ei:
            _write_and_flush(w)
        assert ei.value.errno == errno.EROFS
        assert "read-only" in str(ei.value)


def test_disk_full_while_writing_keeps_what_was_flushed_and_exits_cleanly(tmp_path):
    """The disk fills while a file is open: one DiskFullError, the samples flushed
    before stay readable (the file is left as a killed writer leaves it), and the
    process exits normally (HDF5 used to crash at exit: SIGSEGV)."""
    import subprocess
    import sys

    with tiny_tmpfs(tmp_path / "mnt", "4m") as mnt:  # > the writer's 1 MiB free-space reserve
        code = (
            "import sys, numpy as np\n"
            "sys.path[:0] = sys.argv[2].split(';')\n"
            "from fs_faults import fill\n"
            "from store_helpers import T0, acc_spec, det_block\n"
            "from bshm.errors import DiskFullError\n"
            "from bshm.store import RawWriter\n"
            "w = RawWriter(sys.argv[1], 'st', [acc_spec()], flush_interval_s=3600)\n"
            "w.write('acc', det_block(0, 1000, 3), t0_ns=T0)\n"
            "w.flush()\n"
            "fill(sys.argv[3])\n"
            "try:\n"
            "    w.write('acc', det_block(1000, 200_000, 3), t0_ns=T0 + 10 * 10**9)\n"
            "    w.flush()\n"
            "except DiskFullError as exc:\n"
            "    print('full', exc.errno)\n"
            "try:\n"
            "    w.close()\n"
            "except DiskFullError:\n"
            "    print('close full')\n"
        )
        here = os.path.dirname(__file__)
        r = subprocess.run([sys.executable, "-c", code, str(mnt / "d"),
                            here, str(mnt)],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.split() == ["full", str(errno.ENOSPC), "close", "full"]
        # closed as far as the disk allowed: renamed to .h5 when HDF5 could close it,
        # else left as .part like the file of a killed writer; either reads
        [part] = (mnt / "d").glob("*.h5*")
        for f in mnt.glob("filler-*"):
            f.unlink()
        from store_helpers import det_block

        from bshm.store import open_raw

        with open_raw(part) as rd:
            rec = rd.read("acc")
            assert rec.n_samples >= 1000  # everything flushed before the disk filled
            assert np.array_equal(rec.data[:1000], det_block(0, 1000, 3))
