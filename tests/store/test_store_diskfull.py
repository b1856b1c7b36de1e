"""A full or read-only disk ends in one clear error, a bounded number of attempts and no litter.

Uses a real, tiny tmpfs (we run as root in CI); skipped with the reason where
mounting is not permitted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid

import numpy as np
import pytest
from store_helpers import T0, acc_spec

from bshm.errors import DiskFullError
from bshm.store import RawWriter


@contextlib.contextmanager
def tiny_tmpfs(path, size: str = "256k"):
    """Mount a tmpfs of ``size`` at ``path`` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(folder) -> None:
    """Fill the file system of ``folder`` completely."""
    fd = os.open(folder / f"filler-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


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
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        w = RawWriter(data, "north", [acc_spec()], flush_interval_s=3600)
        with pytest.raises(DiskFullError) as ei:
            _write_and_flush(w)
        assert ei.value.errno == errno.EROFS
        assert "read-only" in str(ei.value)
