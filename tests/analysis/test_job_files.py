"""Which raw files a run opens, and how the window grid continues across runs."""

from __future__ import annotations

from pathlib import Path

from bshm.analysis.job_files import files_from, listing, name_start_ns, runs_from
from bshm.analysis.windows import plan_windows

S = 1_000_000_000
H = 3600 * S
T0 = 1_767_225_600 * S  # 2026-01-01


def test_name_start_times(tmp_path):
    assert name_start_ns(Path("north_20260101T000000Z.h5")) == T0
    assert name_start_ns(Path("north_20260101T010000Z-1.h5.part")) == T0 + H
    assert name_start_ns(Path("my_station_20260101T000000Z.h5")) == T0
    assert name_start_ns(Path("export.h5")) is None
    for name in (
        "s_20260101T020000Z.h5",
        "s_20260101T000000Z.h5",
        "s_20260101T010000Z.h5",
        "s_20260101T010000Z-1.h5",
        "notes.txt",
    ):
        (tmp_path / name).write_bytes(b"")
    got = [(Path(p).name, t) for p, t in listing(tmp_path)]
    assert [n for n, _ in got] == [
        "s_20260101T000000Z.h5",
        "s_20260101T010000Z-1.h5",
        "s_20260101T010000Z.h5",
        "s_20260101T020000Z.h5",
    ]


def test_files_from_the_watermark(tmp_path):
    files = [(tmp_path / f"s_{k}.h5", T0 + k * H) for k in range(10)]
    sub, before = files_from(files, T0 + 7 * H + 5 * S)  # inside the 8th file
    assert [p.name for p in sub] == ["s_7.h5", "s_8.h5", "s_9.h5"] and before == 7
    assert files_from(files, None) == (None, 0)  # no watermark: everything
    assert files_from(files, T0 - H) == (None, 0)  # before the first file: everything
    assert files_from([*files, (tmp_path / "x.h5", None)], T0 + 5 * H) == (None, 0)


def test_runs_from_keeps_the_grid_of_the_whole_store():
    w = 600.0
    # one long run (continuous acquisition) split over files; the store's grid starts at T0 + 7 s
    whole = [(T0 + 7 * S, T0 + 10 * H)]
    full = plan_windows(whole, w)
    last = full[20][0]  # the newest window stored by the previous run
    # this run opens the files from the one holding it: the run appears to start later
    seen = [(T0 + 3 * H, T0 + 10 * H)]
    new = plan_windows(runs_from(seen, last), w)
    assert new == full[20:]
    # a run that ended before the watermark is dropped; a later run keeps its own start
    runs = [(T0, T0 + H), (T0 + 3 * H + 7 * S, T0 + 5 * H)]
    assert runs_from(runs, T0 + 2 * H) == [(T0 + 3 * H + 7 * S, T0 + 5 * H)]
    assert runs_from(runs, None) == runs
