"""Bad files give one clear error naming the file; a folder keeps its good files."""

from __future__ import annotations

import logging
import os
import shutil

import h5py
import numpy as np
import pytest
from store_helpers import T0, acc_spec

from bshm.errors import SchemaVersionError, StoreError
from bshm.store import RawWriter, SourceSpec, open_raw


def _good(tmp_path, name="good", t0=T0):
    d = tmp_path / name
    with RawWriter(d, "st", [acc_spec()]) as w:
        w.write("acc", np.ones((100, 3)), t0_ns=t0)
    return next(d.glob("*.h5"))


def _set_version(path, value):
    with h5py.File(path, "r+") as f:
        if value is None:
            del f.attrs["bshm_schema_version"]
        else:
            f.attrs["bshm_schema_version"] = value


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "no 'bshm_schema_version' attribute: not a bshm raw file"),
        (99, "raw schema version 99 is newer than this bshm reads .* upgrade bshm"),
        (0, "raw schema version 0 is older"),
        ("one", "is 'one', not an integer"),
    ],
)
def test_schema_version_errors(tmp_path, value, match):
    p = _good(tmp_path)
    _set_version(p, value)
    with pytest.raises(SchemaVersionError, match=match) as ei:
        open_raw(p)
    assert str(p) in str(ei.value)
    assert "\n" not in str(ei.value)


def test_garbage_and_truncated_files(tmp_path):
    g = tmp_path / "garbage.h5"
    g.write_bytes(b"this is not HDF5 at all\n" * 100)
    with pytest.raises(StoreError, match="garbage.h5: not a readable HDF5 file"):
        open_raw(g)
    p = _good(tmp_path)
    t = tmp_path / "trunc.h5"
    t.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(StoreError, match="trunc.h5"):
        with open_raw(t) as r:
            r.read("acc")
    e = tmp_path / "empty.h5"
    e.write_bytes(b"")
    with pytest.raises(StoreError, match="empty.h5"):
        open_raw(e)
    with pytest.raises(StoreError, match="no such file"):
        open_raw(tmp_path / "missing.h5")


def test_results_and_foreign_files(tmp_path):
    p = tmp_path / "res.h5"
    with h5py.File(p, "w") as f:
        f.attrs["schema_version"] = 1
        f.attrs["bshm_kind"] = "results"
    with pytest.raises(StoreError, match="res.h5: a bshm results file, not a raw file"):
        open_raw(p)
    q = tmp_path / "foreign.h5"
    with h5py.File(q, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(SchemaVersionError, match="foreign.h5: no 'bshm_schema_version'"):
        open_raw(q)


def test_folder_skips_bad_files_with_a_warning(tmp_path, caplog):
    p1 = _good(tmp_path, "a")
    d = p1.parent
    p2 = _good(tmp_path, "b", t0=T0 + 3600 * 10**9)
    shutil.copy(p2, d / p2.name)
    (d / "st_20260301T120000Z.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    newer = d / "st_20260301T130000Z.h5"
    shutil.copy(p2, newer)
    _set_version(newer, 7)
    (d / "notes.txt").write_text("ignored: not *.h5")
    with caplog.at_level(logging.WARNING, logger="bshm.store"):
        with open_raw(d) as r:
            assert [f.name for f in r.files] == [p1.name, p2.name]
            assert r.read("acc").n_samples == 200
            assert {p.name for p, _ in r.skipped} == {"st_20260301T120000Z.h5", newer.name}
            assert any("newer" in why for _, why in r.skipped)
            r.refresh()  # a known bad file is not reported again
    msgs = [rec.getMessage() for rec in caplog.records]
    assert sum("skipping" in m for m in msgs) == 2
    assert any("st_20260301T120000Z.h5" in m for m in msgs)


def test_folder_without_good_files(tmp_path):
    with pytest.raises(StoreError, match="no raw HDF5 files"):
        open_raw(tmp_path)
    (tmp_path / "x.h5").write_bytes(b"junk")
    with pytest.raises(StoreError, match="no readable raw file; first problem: .*x.h5"):
        open_raw(tmp_path)
    with open_raw(tmp_path, allow_empty=True) as r:
        assert r.files == []
        assert r.sources == {}


def test_other_station_in_folder_is_skipped(tmp_path):
    p = _good(tmp_path, "a")
    with RawWriter(p.parent, "other", [acc_spec()]) as w:
        w.write("acc", np.ones((5, 3)), t0_ns=T0 + 1)
    with open_raw(p.parent) as r:
        assert r.station == "st"
        assert r.files == [p]
        assert "station 'other', not 'st'" in r.skipped[0][1]


def test_writer_argument_errors(tmp_path):
    spec = acc_spec()
    with pytest.raises(ValueError, match="compression 'zstd'"):
        RawWriter(tmp_path, "st", [spec], compression="zstd")
    with pytest.raises(ValueError, match="duplicate source names"):
        RawWriter(tmp_path, "st", [spec, spec])
    with pytest.raises(ValueError, match="timing 'sometimes'"):
        RawWriter(tmp_path, "st", [SourceSpec("x", "serial", 1.0, spec.channels, "sometimes")])
    with pytest.raises(ValueError, match="fs must be a positive"):
        RawWriter(tmp_path, "st", [SourceSpec("x", "serial", 0.0, spec.channels)])
    with pytest.raises(ValueError, match="reserved root attributes"):
        RawWriter(tmp_path, "st", [spec], attrs={"station": "x"})
    with pytest.raises(ValueError, match=r"attrs \['cfg'\]: values must be"):
        RawWriter(tmp_path, "st", [spec], attrs={"cfg": {"a": 1}})
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="cannot create the data folder .*afile"):
        RawWriter(tmp_path / "afile" / "sub", "st", [spec])
    (tmp_path / "afile").unlink()
    w = RawWriter(tmp_path, "st", [spec])
    w.close()
    with pytest.raises(StoreError, match="closed"):
        w.write("acc", np.zeros((1, 3)), t0_ns=T0)
    assert list(tmp_path.iterdir()) == []  # nothing written, no empty file left


def test_unreadable_part_file(tmp_path, caplog):
    good = _good(tmp_path, "d")
    part = good.parent / "st_20260301T120000Z.h5.part"
    part.write_bytes(b"")  # a writer killed while creating its file
    with open_raw(good.parent) as r:  # fresh: maybe being created, retried silently
        assert r.files == [good]
        assert r.skipped == []
    old = 1_000_000_000  # make it old: reported as skipped
    os.utime(part, ns=(old * 10**9, old * 10**9))
    with caplog.at_level(logging.WARNING, logger="bshm.store"):
        with open_raw(good.parent) as r:
            assert r.files == [good]
            assert [p.name for p, _ in r.skipped] == [part.name]
    assert any(part.name in m for m in caplog.messages)
