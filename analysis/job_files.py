"""The raw files a run needs: only those that may hold new windows.

A station's raw store grows by one file per rollover period (an hour by
default): 8,760 files a year. Opening the whole store (even through the
summary cache) costs time in proportion to its length, so a run opens only
the files from the one holding its watermark (the newest window already
stored, the newest strain window processed) onwards, chosen by the start
time in their names (``<station>_<YYYYmmddTHHMMSSZ>[-n].h5[.part]``). When a
name carries no start time, the whole folder is opened instead.

Files that appear later with a start before the watermark (a late import)
are counted and reported, not analysed: ``--reprocess`` analyses them in
order.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def name_start_ns(path: Path | str) -> int | None:
    """Start time encoded in a raw file name (``..._YYYYmmddTHHMMSSZ[-n].h5[.part]``), or None."""
    name = path.name if isinstance(path, Path) else os.path.basename(path)
    stamp = name.split(".h5")[0].rsplit("_", 1)[-1].split("-", 1)[0]
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        return None
    digits = stamp[:8] + stamp[9:15]
    if not digits.isdigit():
        return None
    try:  # parsed by hand: strptime costs ~10 us, for 8,760 names a year
        d = dt.datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None
    return int(d.timestamp()) * 1_000_000_000


def listing(data_dir: str | Path) -> list[tuple[str, int | None]]:
    """Raw files of a folder (paths as strings) with their name start times, sorted by
    start then name.

    One directory read (no stat per file, no Path object per file): cheap even
    for a year of hourly files.
    """
    out = []
    with os.scandir(data_dir) as it:
        for e in it:
            if e.name.endswith((".h5", ".h5.part")) and e.is_file():
                out.append((e.path, name_start_ns(e.name)))
    out.sort(key=lambda x: (x[1] if x[1] is not None else -1, x[0]))
    return out


def files_from(
    files: Sequence[tuple[str | Path, int | None]], t_ns: int | None
) -> tuple[list[Path] | None, int]:
    """The files that may hold data at or after ``t_ns``, and the number before them.

    Returns ``(None, 0)`` when every file is needed (no watermark, or a name
    without a start time).
    """
    if t_ns is None or any(s is None for _, s in files):
        return None, 0
    starts = [int(s) for _, s in files]  # type: ignore[arg-type]
    first = 0
    for i, s in enumerate(starts):
        if s <= t_ns:
            first = i
    # files sharing the first file's start (e.g. "-1" twins) come along
    while first > 0 and starts[first - 1] == starts[first]:
        first -= 1
    if first == 0:
        return None, 0  # every file: the folder reader, with its summary cache
    return [Path(p) for p, _ in files[first:]], first


@contextmanager
def open_files(data_dir: str | Path, files: Sequence[str | Path] | None) -> Iterator[Any]:
    """A reader over ``files`` (all of ``data_dir`` when None).

    A subset is opened as if the folder held nothing else
    (``open_raw(..., files=...)``), without the summary cache (one large file
    for a long history: too slow to load for a few files).
    """
    from bshm.store import open_raw

    if files is None:
        with open_raw(data_dir) as r:
            yield r
        return
    with open_raw(data_dir, files=list(files), use_cache=False, allow_empty=not files) as r:
        yield r


def runs_from(runs: Sequence[tuple[int, int]], anchor: int | None) -> list[tuple[int, int]]:
    """Runs from ``anchor`` on: the run holding it starts there, earlier runs are dropped.

    The window grid of a run is anchored at its start; a subset of files
    shows a long run from its first file only, so the run holding the newest
    window already planned is continued from that window's start instead,
    which keeps the grid of the whole store.
    """
    if anchor is None:
        return list(runs)
    out = []
    for a, b in sorted(runs):
        if b <= anchor:
            continue
        out.append((max(int(a), int(anchor)) if a <= anchor else int(a), int(b)))
    return out
