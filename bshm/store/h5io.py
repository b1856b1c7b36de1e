"""HDF5 at the edges: opening without hanging, full disks, damaged chunks.

Everything here deals with what the file system and the HDF5 library do
when things go wrong:

- :func:`open_read` opens a finished ``*.h5`` file *without* SWMR (a
  damaged file then fails in milliseconds) and a live ``*.h5.part`` file
  as a SWMR reader with a bounded number of metadata read attempts (HDF5's
  default retries a bad checksum with a doubling back-off for tens of
  minutes: one flipped metadata bit hung every reader for more than 20
  minutes).
- :func:`disk_full_error` turns ENOSPC / EDQUOT / EROFS, however HDF5
  reports them (an ``OSError`` with ``errno`` or a ``RuntimeError`` whose
  text holds ``errno = 28``), into :class:`~bshm.errors.DiskFullError`.
- :func:`discard` gets rid of a file this process was writing when it
  failed: truncate (frees the space at once), close, unlink. Closing an
  HDF5 file whose metadata cannot be written leaves the library to retry
  at interpreter exit, where it crashes (SIGSEGV); truncating first lets
  the close succeed.
- :func:`short` makes one line of an HDF5 error message.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import h5py

from bshm.errors import DiskFullError

log = logging.getLogger(__name__)

#: errno values that mean "this file system will not take more data now"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
}
_ERRNO_RE = re.compile(r"errno = (\d+)")

#: Metadata read attempts of a SWMR reader. HDF5 waits 1 us, 2 us, 4 us ...
#: between attempts, so 24 attempts bound the wait for one damaged piece of
#: metadata to about 20-40 ms (measured: 22 -> 9 ms, 26 -> 75 ms, 30 -> 1.1 s,
#: 34 -> 17 s; HDF5's default of 100 never ends in practice). A writer's
#: metadata flush takes microseconds, so a reader racing it still succeeds.
SWMR_READ_ATTEMPTS = 24


def os_errno(exc: BaseException) -> int | None:
    """The operating-system error number behind an exception, if any.

    h5py raises ``OSError`` with ``errno`` for some failures and a
    ``RuntimeError`` that only mentions ``errno = N`` in its text for others
    (e.g. a failed flush).
    """
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    m = _ERRNO_RE.search(str(exc))
    return int(m.group(1)) if m else None


def disk_full_error(exc: BaseException, path: Path | str, what: str) -> DiskFullError | None:
    """A :class:`DiskFullError` when ``exc`` is ENOSPC/EDQUOT/EROFS, else None.

    Parameters
    ----------
    exc : BaseException
        What the file system (or HDF5) raised.
    path : path
        The file or folder concerned (named in the message).
    what : str
        The verb, e.g. ``"write"``, ``"create"``: "cannot <what> <path>: ...".
    """
    code = os_errno(exc)
    if code not in DISK_FULL_ERRNOS:
        return None
    return DiskFullError(f"cannot {what} {path}: {_REASONS[code]}", path=str(path), errno=code)


def short(exc: BaseException) -> str:
    """One line describing an h5py/OS error (HDF5 messages span several lines)."""
    code = os_errno(exc)
    if code is not None and code in _REASONS:
        return _REASONS[code]
    if code is not None and isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    text = re.sub(r"^\[Errno \d+\]\s*", "", text)
    m = re.match(r"^(.*?)\s*\((.*)\)\s*$", text)
    if m and m.group(2):  # "Can't read data (checksum error)": the cause is inside
        inner = m.group(2)
        text = f"{m.group(1)}: {inner}" if m.group(1) else inner
    if len(text) > 200:
        text = text[:197] + "..."
    return text or type(exc).__name__


def is_checksum_error(exc: BaseException) -> bool:
    """True when HDF5 reported a failed checksum or filter (a damaged chunk)."""
    t = str(exc).lower()
    return any(k in t for k in ("checksum", "filter returned failure", "fletcher",
                                "can't read data", "inflate", "lzf", "decompress"))


# --------------------------------------------------------------------- opening


_set_attempts: Any = None  # ctypes function, False when unavailable


def _libhdf5_candidates() -> list[str]:
    out: list[str] = []
    try:  # Linux: the library h5py loaded
        with open("/proc/self/maps") as fh:
            for line in fh:
                p = line.rsplit(None, 1)[-1]
                name = os.path.basename(p)
                if name.startswith("libhdf5") and "_hl" not in name and p not in out:
                    out.append(p)
    except OSError:
        pass
    pkg = Path(h5py.__file__).parent
    pats = ("libhdf5*.so*", "libhdf5*.dylib", "hdf5*.dll")
    for folder in (pkg, pkg.parent / "h5py.libs", pkg / ".dylibs", pkg.parent / "h5py.dylibs"):
        for pat in pats:
            for lib in sorted(folder.glob(pat)):
                if "_hl" not in lib.name and str(lib) not in out:
                    out.append(str(lib))
    return out


def _attempts_setter() -> Any:
    """``H5Pset_metadata_read_attempts`` of the HDF5 library h5py uses (h5py
    does not wrap it), or False."""
    global _set_attempts
    if _set_attempts is not None:
        return _set_attempts
    _set_attempts = False
    for path in _libhdf5_candidates():
        try:
            lib = ctypes.CDLL(path)
            fn = lib.H5Pset_metadata_read_attempts
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int64, ctypes.c_uint]
        fn.restype = ctypes.c_int
        _set_attempts = fn
        break
    if _set_attempts is False:
        log.warning("cannot bound HDF5's SWMR read retries on %s: a damaged live file may "
                    "make readers wait long", sys.platform)
    return _set_attempts


def _open_swmr(path: Path) -> h5py.File:
    """Open as a SWMR reader with :data:`SWMR_READ_ATTEMPTS` metadata attempts."""
    setter = _attempts_setter()
    if not setter:
        return h5py.File(path, "r", swmr=True)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if setter(fapl.id, SWMR_READ_ATTEMPTS) < 0:
        return h5py.File(path, "r", swmr=True)
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ,
                        fapl=fapl)
    return h5py.File(fid)


def open_read(path: Path) -> tuple[h5py.File, bool]:
    """Open a file read-only without ever waiting long; return ``(file, swmr)``.

    A live ``.part`` file is opened as a SWMR reader (bounded retries), a
    finished file plainly; each falls back to the other mode when the file
    needs it (a ``.h5`` left by a killed writer, a ``.part`` without SWMR).

    Raises
    ------
    OSError, RuntimeError, ValueError
        From h5py, when neither mode opens the file.
    """
    live = path.name.endswith(".part")
    first, second = (_open_swmr, _open_plain) if live else (_open_plain, _open_swmr)
    try:
        return first(path), live
    except (OSError, RuntimeError, ValueError) as exc:
        if is_checksum_error(exc) or "signature" in str(exc):
            raise  # damaged or not HDF5: the other mode cannot help
        try:
            return second(path), not live
        except (OSError, RuntimeError, ValueError):
            raise exc from None


def _open_plain(path: Path) -> h5py.File:
    return h5py.File(path, "r")


# --------------------------------------------------------------------- discarding


def discard(f: h5py.File | None, path: Path) -> None:
    """Remove a file this process created and could not finish.

    Truncates it first, so the space is free at once and HDF5 can close the
    handle (HDF5 otherwise retries the failed metadata writes at interpreter
    exit and crashes), then closes and unlinks it. Never raises.
    """
    try:
        os.truncate(path, 0)
    except OSError as exc:
        log.debug("truncate %s: %s", path, exc)
    if f is not None:
        try:
            f.close()
        except Exception as exc:  # noqa: BLE001 - a file HDF5 could not write
            log.debug("closing %s after a failure: %s", path, short(exc))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc.strerror or exc)


def let_go(f: h5py.File, path: Path) -> None:
    """Close a file whose last writes cannot reach the disk (full, read-only).

    Its file descriptor is first pointed at the null device, so HDF5 can
    finish closing instead of retrying at interpreter exit (where it
    crashes); the file on the disk keeps what its last successful flush
    wrote, exactly like the file of a killed writer (a SWMR file then
    reopens). Never raises.
    """
    try:
        fd = f.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, int(fd))
        finally:
            os.close(null)
    except Exception as exc:  # noqa: BLE001 - e.g. a driver without a descriptor
        log.debug("cannot detach %s: %s", path, exc)
    try:
        f.close()
    except Exception as exc:  # noqa: BLE001 - the data that could be kept is on disk
        log.debug("closing %s: %s", path, short(exc))


# --------------------------------------------------------------------- reading


def read_rows(ds: h5py.Dataset, a: int, b: int,
              fast: bool = False) -> tuple[Any, list[tuple[int, int, str]]]:
    """Rows ``a:b`` of a chunked dataset, chunk by chunk when one is damaged.

    With ``fast`` (a finished file's sample dataset) large reads first try
    :func:`bshm.store.chunkread.read_rows_fast` (the filters undone by
    Numba kernels: the same bytes for less CPU); whenever it cannot give
    exactly ``ds[a:b]`` the rows are read through h5py as here.

    Returns
    -------
    (numpy.ndarray, list of (int, int, str))
        The rows (damaged ones filled with NaN or zeros) and the damaged
        chunks as whole row ranges ``[r0, r1)`` (which may reach outside
        ``a:b``) with the reason. The fast path reads the
        whole slice at once; only when HDF5 reports a failed checksum or
        filter are the chunks read one by one to find the damaged ones.

    Raises
    ------
    OSError, RuntimeError
        Failures other than a damaged chunk.
    """
    if fast:
        from bshm.store.chunkread import read_rows_fast

        got = read_rows_fast(ds, a, b)
        if got is not None:
            return got, []
    try:
        return ds[a:b], []
    except (OSError, RuntimeError) as exc:
        if not is_checksum_error(exc):
            raise
    import numpy as np

    out = np.zeros((b - a,) + ds.shape[1:], ds.dtype)
    if out.dtype.kind == "f":
        out[...] = np.nan
    rows = ds.chunks[0] if ds.chunks else max(1, b - a)
    bad: list[tuple[int, int, str]] = []
    for c0 in range(a - a % rows, b, rows):
        lo, hi = max(a, c0), min(b, c0 + rows)
        try:
            out[lo - a:hi - a] = ds[lo:hi]
        except (OSError, RuntimeError) as exc:
            if not is_checksum_error(exc):
                raise
            bad.append((c0, min(c0 + rows, ds.shape[0]), short(exc)))
    return out, bad
