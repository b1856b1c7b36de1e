"""Files from and to the world around the bridge.

Readers turn logger files into the records the importer stores
(:class:`bshm.importer.ParsedFile`: regularly sampled segments; the time
between segments becomes gap records):

========== ======================== ======================= ==================
format     extensions               library                 module
========== ======================== ======================= ==================
``csv``    ``.csv``                 (stdlib)                :mod:`bshm.importer`
``tdms``   ``.tdms``                npTDMS (``bshm[formats]``) :mod:`bshm.io.tdms`
``mseed``  ``.mseed .miniseed .msd`` ObsPy (``bshm[formats]``)  :mod:`bshm.io.mseed`
``uff``    ``.uff .unv``            pyuff (``bshm[formats]``)  :mod:`bshm.io.uff`
``toa5``   ``.dat``                 (stdlib)                :mod:`bshm.io.toa5`
========== ======================== ======================= ==================

:func:`from_sep005` / :func:`to_sep005` bridge the SDyPy SEP005 convention
for time series, so any SEP005 reader feeds bshm. Importing this package
is cheap: every reader loads its library on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bshm.io._common import MissingExtraError

if TYPE_CHECKING:  # pragma: no cover
    from bshm.importer import ParsedFile

__all__ = [
    "FORMATS",
    "MissingExtraError",
    "detect_format",
    "folder_files",
    "from_sep005",
    "read_segments",
    "to_sep005",
]

#: format name -> file extensions (lower case)
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "tdms": (".tdms",),
    "mseed": (".mseed", ".miniseed", ".msd"),
    "uff": (".uff", ".unv"),
    "toa5": (".dat",),
}
#: Formats recognised but not read (with what to do instead).
_NOT_READ = {
    ".dxd": "DEWESoft",
    ".d7d": "DEWESoft",
    ".dxz": "DEWESoft",
}


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format of a file: ``fmt`` when given, else from its extension.

    Raises
    ------
    bshm.errors.ConfigError
        Unknown ``fmt``, unknown extension, or a DEWESoft file (not read
        directly: the message says how to bring it in).
    """
    from bshm.errors import ConfigError

    p = Path(path)
    if fmt is not None:
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r}: not one of {', '.join(FORMATS)}")
        return fmt
    ext = p.suffix.lower()
    if ext in _NOT_READ:
        raise ConfigError(
            f"{p}: {_NOT_READ[ext]} files are not read directly (no sample file to test a "
            "reader against was available): export them from DEWESoft X as TDMS, UFF 58 or "
            "CSV, or read them with a SEP005 reader and bshm.io.from_sep005 "
            "(see docs/interop.md)"
        )
    for name, exts in FORMATS.items():
        if ext in exts:
            return name
    known = ", ".join(e for exts in FORMATS.values() for e in exts)
    raise ConfigError(
        f"{p}: unknown file type {ext or '(no extension)'!r}: give --format "
        f"{'|'.join(FORMATS)} (known extensions: {known})"
    )


def folder_files(folder: Path, fmt: str | None) -> tuple[list[Path], str]:
    """Files of a folder to import (sorted) and a description for a message.

    With ``fmt`` the files with that format's extensions; without, the CSV
    files (the historical default) or, when there are none, every file of
    one known format (several formats in one folder is refused).
    """
    from bshm.errors import ConfigError

    def pick(exts: tuple[str, ...]) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)

    if fmt is not None:
        detect_format(folder, fmt)
        exts = FORMATS[fmt]
        return pick(exts), "/".join("*" + e for e in exts)
    found = {name: pick(exts) for name, exts in FORMATS.items()}
    found = {k: v for k, v in found.items() if v}
    if "csv" in found and len(found) > 1:
        import logging

        others = ", ".join(f"{len(v)} {k}" for k, v in found.items() if k != "csv")
        logging.getLogger(__name__).warning(
            "%s: importing the CSV files only; also here: %s file(s) (give --format to import "
            "those)",
            folder,
            others,
        )
    if "csv" in found or not found:
        return found.get("csv", []), "*.csv (or " + ", ".join(
            "*" + e for n, exts in FORMATS.items() if n != "csv" for e in exts
        ) + ")"
    if len(found) > 1:
        raise ConfigError(
            f"{folder}: holds files of several formats ({', '.join(found)}): "
            "give --format to choose one"
        )
    ((name, files),) = found.items()
    return files, name


def read_segments(
    path: str | Path,
    *,
    fmt: str | None = None,
    start_ns: int | None = None,
    fs: float | None = None,
    utc_offset_s: float = 0.0,
    group: str | None = None,
) -> list[ParsedFile]:
    """Read and check one file of any supported format.

    Parameters
    ----------
    path : str or Path
    fmt : str, optional
        One of :data:`FORMATS` (default: from the extension).
    start_ns : int, optional
        Record start for files whose times are relative (CSV, UFF 58 without
        an absolute time in its ID lines), ns since the epoch.
    fs : float, optional
        Sampling rate for CSV files (default: from the time column).
    utc_offset_s : float
        Offset of a TOA5 logger's clock from UTC, s (``+3600`` for UTC+1).
    group : str, optional
        TDMS: the group to read (default: every group; they must share a rate).

    Returns
    -------
    list of bshm.importer.ParsedFile
        Regular segments in time order; gaps between them are the file's gaps.

    Raises
    ------
    bshm.importer.CsvImportError
        The file is malformed (the message names file and position).
    MissingExtraError
        The format's library is not installed (names the extra).
    """
    p = Path(path)
    kind = detect_format(p, fmt)
    if kind == "csv":
        from bshm.importer import parse_csv

        return [parse_csv(p, start_ns=start_ns, fs=fs)]
    if kind == "tdms":
        from bshm.io.tdms import read_tdms

        return read_tdms(p, group=group, start_ns=start_ns)
    if kind == "mseed":
        from bshm.io.mseed import read_mseed

        return read_mseed(p)
    if kind == "uff":
        from bshm.io.uff import read_uff58

        return read_uff58(p, start_ns=start_ns)
    from bshm.io.toa5 import read_toa5

    return read_toa5(p, utc_offset_s=utc_offset_s)


def from_sep005(signals: Any, **kwargs: Any) -> list[ParsedFile]:
    """SEP005 channels -> importer records (see :func:`bshm.io.sep005.from_sep005`)."""
    from bshm.io.sep005 import from_sep005 as impl

    return impl(signals, **kwargs)


def to_sep005(record: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """A stored record -> SEP005 channels (see :func:`bshm.io.sep005.to_sep005`)."""
    from bshm.io.sep005 import to_sep005 as impl

    return impl(record, **kwargs)
