"""Duplicated and overlapping raw files are detected, reported and excluded,
never merged sample by sample (bshm.store.overlap)."""

from __future__ import annotations

import os
import shutil

import numpy as np
from store_helpers import T0, acc_spec, det_block, env_spec

from bshm.store import RawWriter, open_raw

S = 10**9
FS = 100.0


def _write(d, t0, n, first_row=0, env=False):
    specs = [acc_spec(FS)] + ([env_spec(1.0)] if env else [])
    with RawWriter(d, "st", specs) as w:
        w.write("acc", det_block(first_row, n, 3), t0_ns=t0)
        if env:
            w.write("env", np.ones((3, 2)), times_ns=[t0 + k * S for k in range(3)])
    return w.paths[-1]


def test_a_copied_file_is_read_once(tmp_path):
    a = _write(tmp_path, T0, 6000)
    b = _write(tmp_path, T0 + 3600 * S, 6000, first_row=6000)
    with open_raw(tmp_path, use_cache=False) as r:
        before = r.read("acc")
        runs = r.records("acc")
    copy = tmp_path / (a.name[:-3] + "-1.h5")
    shutil.copyfile(a, copy)  # a new modification time, the same content
    with open_raw(tmp_path, use_cache=False) as r:
        rec = r.read("acc")
        assert np.array_equal(rec.data, before.data)
        assert np.array_equal(rec.times_ns, before.times_ns)
        assert rec.gaps == () and r.records("acc") == runs
        assert r.files == [a, b]
        [(p, why)] = r.skipped
        assert p == copy and f"the same samples as {a.name}" in why
        assert [x["kind"] for x in r.problems()] == ["duplicate"]


def test_clock_stepped_back_later_file_excluded_with_a_gap(tmp_path, caplog):
    a = _write(tmp_path, T0, 10_000)  # 100 s
    b = _write(tmp_path, T0 + 70 * S, 10_000, first_row=50_000)  # 30 s over a's end
    c = _write(tmp_path, T0 + 3600 * S, 1000, first_row=90_000)  # a later, good file
    with open_raw(tmp_path) as r:
        assert r.files == [a, b, c]  # b is still a readable file ...
        [e] = r.excluded  # ... whose samples are not read
        assert (e.path, e.source, e.kept, e.duplicate) == (b, "acc", a, False)
        assert e.overlap_ns == 30 * S - 10_000_000
        rec = r.read("acc")
        assert np.array_equal(rec.data, np.concatenate([det_block(0, 10_000, 3),
                                                        det_block(90_000, 1000, 3)]))
        [gap] = rec.gaps
        assert (gap.start_ns, gap.end_ns) == (T0 + 70 * S, T0 + 170 * S)
        assert f"overlaps {a.name} by 29.99 s" in gap.reason
        assert r.records("acc") == [(T0, T0 + 100 * S), (T0 + 3600 * S, T0 + 3610 * S)]
        assert r.n_samples("acc") == 11_000
        [p] = r.problems()
        assert (p["kind"], p["file"], p["source"], p["kept"]) == ("overlap", str(b), "acc",
                                                                   str(a))
    assert sum(b.name in m for m in caplog.messages) == 1
    b.unlink()  # the decision is not stored: removing the offending file restores all
    with open_raw(tmp_path) as r:
        assert r.excluded == [] and r.read("acc").gaps == ()


def test_the_file_written_first_wins_even_if_it_starts_later(tmp_path):
    _write(tmp_path, T0 + 10 * S, 1000)
    b = _write(tmp_path, T0 + 5 * S, 1000, first_row=5000)  # written later, clock far back
    with open_raw(tmp_path) as r:
        assert [e.path for e in r.excluded] == [b]
        assert np.array_equal(r.read("acc").data, det_block(0, 1000, 3))


def test_only_the_overlapping_source_is_excluded(tmp_path):
    a = _write(tmp_path, T0, 1000, env=True)
    with RawWriter(tmp_path, "st", [acc_spec(FS), env_spec(1.0)]) as w:  # acc overlaps a,
        w.write("acc", det_block(7, 1000, 3), t0_ns=T0 + 5 * S)  # env does not
        w.write("env", np.full((2, 2), 5.0), times_ns=[T0 + 100 * S, T0 + 101 * S])
    with open_raw(tmp_path) as r:
        [e] = r.excluded
        assert e.source == "acc" and e.kept == a
        assert r.read("env").n_samples == 5
        assert r.read("acc").n_samples == 1000


def test_disjoint_files_of_one_period_are_both_read(tmp_path):
    _write(tmp_path, T0, 1000)
    _write(tmp_path, T0 + 20 * S, 1000, first_row=1000)  # same hour, later samples
    _write(tmp_path, T0 + 15 * S, 100, first_row=5000)  # fills the hole between them
    with open_raw(tmp_path) as r:
        assert r.excluded == [] and r.skipped == []
        rec = r.read("acc")
        assert rec.n_samples == 2100 and np.all(np.diff(rec.times_ns) > 0)


def test_same_modification_time_copy_keeps_one(tmp_path):
    a = _write(tmp_path, T0, 500)
    copy = tmp_path / "st_20260301T100000Z-7.h5"
    shutil.copy2(a, copy)  # cp -p: even the modification time is the same
    st = a.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    with open_raw(tmp_path) as r:
        assert r.files == [a] and [p for p, _ in r.skipped] == [copy]
        assert r.read("acc").n_samples == 500
