"""The bshm exception tree.

Every error the program reports to a user derives from :class:`BshmError`;
the CLI prints its message on one line (no traceback unless ``--debug``).
"""

from __future__ import annotations


class BshmError(Exception):
    """Base class of every bshm error."""


class ConfigError(BshmError):
    """A station config (or another user-supplied setting) is invalid.

    Parameters
    ----------
    problems : list of str
        One line per problem, each starting with its key path.
    path : str, optional
        The file the problems were found in.
    """

    def __init__(self, problems: list[str] | str, path: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.path = path
        head = f"{path}: " if path else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = f"{head}{len(self.problems)} problems:\n" + "\n".join(
                "  " + p for p in self.problems
            )
        super().__init__(msg)


class StoreError(BshmError):
    """An HDF5 file cannot be read or written as the schema requires."""


class SchemaVersionError(StoreError):
    """A file carries a missing or unsupported schema version."""


class DiskFullError(StoreError):
    """The file system refused a write: full (ENOSPC), over quota (EDQUOT) or read-only (EROFS).

    Writers raise it after a bounded number of attempts and without leaving
    empty or half-written files behind; callers that can wait (the recorder)
    keep their data in memory and try again later.

    Parameters
    ----------
    message : str
        One line naming the path and what to do.
    path : str, optional
        The file or folder that could not be written.
    errno : int, optional
        The operating system's error number (``errno.ENOSPC``, ...).
    """

    def __init__(self, message: str, *, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class DamagedFileError(StoreError):
    """A stored file fails its checks (HDF5 checksum, truncation, impossible attributes).

    Readers skip such a file, name it and the reason, and read all the others.

    Parameters
    ----------
    message : str
        One line naming the file and the problem.
    path : str, optional
        The damaged file.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class AcquisitionError(BshmError):
    """A device or transport failed in a way the driver cannot absorb."""


class DeviceTimeoutError(AcquisitionError):
    """A device did not answer in time."""


class FrameError(AcquisitionError):
    """A frame failed its checks (sync, length, CRC, checksum)."""


class AnalysisError(BshmError):
    """An analysis step cannot produce a trustworthy result."""


class LockError(BshmError):
    """Another run holds the lock of a job."""
