"""Helpers of the disk-full tests: a real, small tmpfs and a filler file.

We run as root in CI, so ``mount -t tmpfs`` works; where it does not, the
test is skipped with the reason. (A module of its own: pytest imports test
helpers by their base name.)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "4m"):
    """Mount a tmpfs of ``size`` at ``path`` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    """``mode`` "ro" or "rw"."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


class Filler:
    """A file that takes all (or all but ``leave`` bytes of) the free space."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"filler-{uuid.uuid4().hex}"

    def fill(self, leave: int = 0) -> Filler:
        free = os.statvfs(self.path.parent).f_bavail * os.statvfs(self.path.parent).f_frsize
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            todo = max(free - leave, 0)
            with contextlib.suppress(OSError):
                while todo > 0:
                    todo -= os.write(fd, b"\0" * min(65536, todo))
                if not leave:
                    while True:
                        os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        return self

    def free(self) -> None:
        self.path.unlink(missing_ok=True)


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


class LineWatch:
    """Collect the lines of a subprocess pipe in a thread; wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # EOF marker
            self._cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] == ""):
                    raise AssertionError(f"no line with {text!r}; got:\n{''.join(self.lines)}")
                self._cond.wait(left)

    def text(self) -> str:
        self._thread.join(30)
        with self._cond:
            return "".join(self.lines)
