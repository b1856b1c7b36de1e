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
