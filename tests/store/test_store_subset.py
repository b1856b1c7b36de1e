"""``open_raw(folder, files=[...])``: a reader over some files of a folder.

The analysis job reads a batch of windows from the few hourly files that
hold them; ``files=`` gives it the same reader as a folder holding only
those files (what it built before with a temporary folder of symbolic
links), without the links.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from store_helpers import HOUR, T0, acc_spec, chunk_offset, env_spec, flip_byte

from bshm.errors import StoreError
from bshm.store import RawWriter, open_raw
from bshm.store.fileindex import cache_path


@pytest.fixture
def hours(tmp_path, rng):
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()], compression="lzf") as w:
        for h in range(6):
            t0 = T0 + h * HOUR
            w.write("acc", rng.standard_normal((3000, 3)).astype(np.float32), t0_ns=t0)
            w.write("env", np.full((2, 2), float(h)), times_ns=[t0, t0 + 10**9])
            w.add_gap("acc", t0 + 5 * 10**9, t0 + 6 * 10**9, f"pause {h}")
            w.count("acc", "frames_ok", h + 1)
    files = sorted(tmp_path.glob("*.h5"))
    assert len(files) == 6
    return tmp_path, files


def _linked(files):
    """The old way: a temporary folder of symbolic links to ``files``."""
    tmp = tempfile.TemporaryDirectory(prefix="bshm-test-")
    for p in files:
        (Path(tmp.name) / p.name).symlink_to(p.resolve())
    return tmp


def _same_record(a, b):
    assert a.data.dtype == b.data.dtype and a.data.tobytes() == b.data.tobytes()
    assert np.array_equal(a.times_ns, b.times_ns)
    assert a.gaps == b.gaps and repr(a.channels) == repr(b.channels) and a.fs == b.fs


def test_subset_reads_what_a_folder_of_links_to_it_reads(hours):
    d, files = hours
    sub = files[1:4]
    with _linked(sub) as tmp, open_raw(tmp, use_cache=False) as old, \
            open_raw(d, files=sub, use_cache=False) as new:
        assert [p.name for p in new.files] == [p.name for p in old.files] == [p.name for p in sub]
        assert all(p.parent == d for p in new.files)  # the real files, not links
        for src in ("acc", "env"):
            assert new.span(src) == old.span(src)
            assert new.records(src) == old.records(src)
            assert new.gaps(src) == old.gaps(src)
            assert new.counters(src) == old.counters(src)
        for s, e in [(None, None), (T0, T0 + 3 * HOUR), (T0 + HOUR + 10**9, T0 + 2 * HOUR + 3 * 10**9),
                     (T0 + 5 * HOUR, T0 + 6 * HOUR)]:
            _same_record(new.read("acc", s, e, channels=["A03", "A01"]),
                         old.read("acc", s, e, channels=["A03", "A01"]))
            _same_record(new.read("env", s, e, channels=["T2"]), old.read("env", s, e, channels=["T2"]))
    # nothing outside the subset is seen
    with open_raw(d, files=sub, use_cache=False) as r:
        full = open_raw(d, use_cache=False)
        s0, _ = full.span("acc")
        assert r.span("acc")[0] == s0 + HOUR
        assert r.read("acc", T0, T0 + HOUR).data.shape[0] == 0
        full.close()


def test_subset_names_and_paths(hours, monkeypatch):
    d, files = hours
    with open_raw(d, files=[files[0].name, str(files[2])], use_cache=False) as r:
        assert r.files == [files[0], files[2]]
    monkeypatch.chdir(d.parent)
    rel = Path(d.name)
    with open_raw(rel, files=[rel / files[1].name], use_cache=False) as r:
        assert [p.name for p in r.files] == [files[1].name]
    with open_raw(d, files=[], use_cache=False, allow_empty=True) as r:  # an empty subset
        assert r.files == [] and r.sources == {}
    with pytest.raises(StoreError, match="no raw HDF5 files"):
        open_raw(d, files=[], use_cache=False)
    with pytest.raises(ValueError, match="not a file of the folder"):
        open_raw(d, files=[Path("/somewhere/else") / files[0].name])
    with pytest.raises(ValueError, match="needs a folder"):
        open_raw(files[0], files=[files[0]])
    with pytest.raises(TypeError, match="sequence"):
        open_raw(d, files=str(files[0]))


def test_subset_leaves_out_missing_and_foreign_files(hours):
    d, files = hours
    (d / "notes.txt").write_text("not a raw file")
    gone = d / "st_20990101T000000Z.h5"
    with open_raw(d, files=[files[0], gone, d / "notes.txt"], use_cache=False) as r:
        assert r.files == [files[0]] and r.skipped == []


def test_subset_keeps_the_folder_cache_of_other_files(hours):
    d, files = hours
    with open_raw(d) as r:  # the whole folder: every file in the cache
        assert len(r.files) == 6
    before = json.loads(cache_path(d).read_text())["files"]
    assert len(before) == 6
    with open_raw(d, files=files[:2]) as r:
        assert len(r.files) == 2
    after = json.loads(cache_path(d).read_text())["files"]
    assert after == before  # not pruned to the subset


def test_damaged_file_in_subset_is_skipped_with_the_same_message(hours):
    d, files = hours
    bad = files[2]
    flip_byte(bad, 40, 0xFF)  # the superblock: not readable at all
    with _linked(files[1:4]) as tmp, open_raw(tmp, use_cache=False) as old:
        old_why = [why.replace(str(Path(tmp) / bad.name), "<f>") for _, why in old.skipped]
    with open_raw(d, files=files[1:4], use_cache=False) as new:
        assert [p.name for p, _ in new.skipped] == [bad.name]
        new_why = [why.replace(str(bad), "<f>") for _, why in new.skipped]
        assert [p.name for p in new.files] == [files[1].name, files[3].name]
    assert new_why == old_why and "<f>" in new_why[0]


def test_damaged_chunk_in_subset_becomes_a_gap(hours):
    d, files = hours
    off = chunk_offset(files[1], "sources/acc/data", 0)
    flip_byte(files[1], off + 100)
    with open_raw(d, files=files[1:3], use_cache=False) as r:
        rec = r.read("acc", T0 + HOUR, T0 + 2 * HOUR)
        assert any("damaged chunk" in g.reason for g in rec.gaps)
        assert len(r.damaged) == 1 and r.damaged[0]["file"] == str(files[1])
        assert np.all(np.isfinite(rec.data))


def test_subset_follows_a_live_file_finished_meanwhile(tmp_path, rng):
    w = RawWriter(tmp_path, "st", [acc_spec()], compression="lzf")
    x = rng.standard_normal((500, 3)).astype(np.float32)
    w.write("acc", x, t0_ns=T0)
    w.flush()
    live = sorted(tmp_path.glob("*.h5.part"))
    assert len(live) == 1
    r = open_raw(tmp_path, files=live, use_cache=False)
    assert r.read("acc").data.shape == (500, 3)
    w.write("acc", x, t0_ns=T0 + 5 * 10**9)
    w.flush()
    r.refresh()
    assert r.read("acc").data.shape == (1000, 3)  # appended data of the live file
    w.close()
    r.refresh()  # renamed to .h5 on close: followed
    assert [p.name for p in r.files] == [live[0].name[: -len(".part")]]
    assert r.read("acc").data.tobytes() == np.concatenate([x, x]).tobytes()
    r.close()
    # a .part named in the plan and finished before the reader opened: read as .h5
    with open_raw(tmp_path, files=live, use_cache=False) as r2:
        assert r2.read("acc").data.shape == (1000, 3)


def test_subset_refresh_sees_only_the_subset(hours, rng):
    d, files = hours
    with open_raw(d, files=files[:1], use_cache=False) as r:
        with RawWriter(d, "st", [acc_spec(), env_spec()]) as w:
            w.write("acc", rng.standard_normal((100, 3)).astype(np.float32), t0_ns=T0 + 7 * HOUR)
        r.refresh()
        assert r.files == files[:1]
    assert os.path.exists(d)
