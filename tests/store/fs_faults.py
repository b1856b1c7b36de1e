"""Real file-system faults for tests: a tiny tmpfs (disk full), a read-only
remount (chmod does not stop root), filling a file system.

Mounting needs root (CI runs as root); where it is not permitted the test is
skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid

import pytest


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


def fill(folder, leave: int = 0) -> None:
    """Fill the file system of ``folder`` completely (but ``leave`` bytes)."""
    path = os.path.join(folder, f"filler-{uuid.uuid4().hex}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    if leave:  # free a little again
        os.truncate(path, max(0, os.path.getsize(path) - leave))


def remount_read_only(mnt) -> None:
    """Make the tmpfs at ``mnt`` read-only (EROFS for every write, even root's)."""
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)


def tree(folder) -> list[str]:
    """Every file below ``folder`` (relative paths, sorted), fillers left out."""
    out = []
    for root, _, names in os.walk(folder):
        for n in names:
            if not n.startswith("filler-"):
                out.append(os.path.relpath(os.path.join(root, n), folder))
    return sorted(out)
