"""The reader routes queries with per-file summaries and caches them per folder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from store_helpers import HOUR, T0, acc_spec, env_spec

import bshm.store.reader as reader_mod
from bshm.store import RawWriter, open_raw
from bshm.store.fileindex import OpenFile, _summary_to_json, cache_path
from bshm.timeutil import sample_times


@pytest.fixture
def five_hours(tmp_path, rng):
    xs, ts = [], []
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()]) as w:
        for h in range(5):
            t0 = T0 + h * HOUR
            x = rng.standard_normal((6000, 3)).astype(np.float32)
            w.write("acc", x, t0_ns=t0)
            w.write("env", np.ones((1, 2)), times_ns=[t0])
            w.add_gap("acc", t0 + 60 * 10**9, t0 + 120 * 10**9, f"pause {h}")
            w.count("acc", "frames_ok", h)
            xs.append(x)
            ts.append(sample_times(t0, 6000, 100.0))
    return tmp_path, np.concatenate(xs), np.concatenate(ts)


@pytest.fixture
def opened(monkeypatch):
    paths = []

    class Counting(OpenFile):
        def __init__(self, path):
            paths.append(path.name)
            super().__init__(path)

    monkeypatch.setattr(reader_mod, "OpenFile", Counting)
    return paths


def test_cached_folder_opens_only_what_a_query_needs(five_hours, opened):
    d, x, t = five_hours
    assert cache_path(d).exists()  # the writer indexed the files it closed
    assert [p.name for p in d.iterdir() if not p.name.endswith(".h5")] == []  # data untouched
    with open_raw(d) as r:
        assert opened == []
    cache_path(d).unlink()
    with open_raw(d) as r:
        assert len(opened) == 5  # no cache: every file is summarised once
    opened.clear()
    with open_raw(d) as r:
        assert opened == []
        assert r.span("acc") == (int(t[0]), int(t[-1]))
        assert len(r.gaps("acc")) == 5
        assert r.counters("acc")["frames_ok"] == 10
        assert len(r.records("acc")) == 5
        assert r.n_samples("acc") == 30000
        assert opened == []
        a, b = int(t[12345]), int(t[12500])
        rec = r.read("acc", a, b)
        assert opened == ["st_20260301T120000Z.h5"]
        np.testing.assert_array_equal(rec.data, x[12345:12500])
        np.testing.assert_array_equal(rec.times_ns, t[12345:12500])
        assert [g.reason for g in r.read("acc", T0 + 2 * HOUR, T0 + 2 * HOUR + 61 * 10**9).gaps] \
            == ["pause 2"]


def test_cache_invalidated_by_changed_file_and_ignored_when_corrupt(five_hours, opened):
    d, x, t = five_hours
    open_raw(d).close()
    p = d / "st_20260301T110000Z.h5"
    other = d.parent / "other"
    with RawWriter(other, "st", [acc_spec()]) as w:
        w.write("acc", np.full((7, 3), 5.0), t0_ns=T0 + HOUR)
    shutil.copy(other / p.name, p)  # same name, other content (size, mtime)
    opened.clear()
    with open_raw(d) as r:
        assert opened == [p.name]
        assert r.n_samples("acc") == 24007
    cache_path(d).write_text("{not json")
    opened.clear()
    with open_raw(d) as r:
        assert len(opened) == 5
        assert r.n_samples("acc") == 24007
    opened.clear()
    with open_raw(d, use_cache=False) as r:
        assert len(opened) == 5


def test_bad_file_cached_and_still_reported(five_hours, caplog):
    d, _, _ = five_hours
    (d / "st_20260301T230000Z.h5").write_bytes(b"garbage")
    for _ in range(2):
        with open_raw(d) as r:
            assert len(r.files) == 5
            assert len(r.skipped) == 1
    assert sum("skipping" in m for m in caplog.messages) == 2


def test_open_file_limit(five_hours, opened):
    d, x, t = five_hours
    with open_raw(d, max_open_files=2) as r:
        np.testing.assert_array_equal(r.read("acc").data, x)
        assert len(r._open) <= 2


def test_reader_shared_between_threads(five_hours):
    import threading

    d, x, t = five_hours
    errors = []
    with open_raw(d, max_open_files=2) as r:
        def work(seed):
            g = np.random.default_rng(seed)
            try:
                for _ in range(30):
                    a = int(g.integers(0, len(t) - 100))
                    rec = r.read("acc", int(t[a]), int(t[a + 99]) + 1)
                    assert np.array_equal(rec.data, x[a:a + 100])
                    r.refresh()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert errors == []


def test_gap_queries_match_brute_force(tmp_path, rng):
    gaps = []
    with RawWriter(tmp_path, "st", [acc_spec()], rollover_s=600) as w:
        for k in range(300):
            a = T0 + int(rng.integers(0, 3 * HOUR))
            length = int(rng.choice([0, 10**6, 10**9, 2 * HOUR]))
            gaps.append((a, a + length, f"g{k}"))
            w.add_gap("acc", a, a + length, f"g{k}")
            if k % 50 == 0:  # spread them over files
                w.write("acc", np.zeros((1, 3)), t0_ns=T0 + k * 60 * 10**9)
    with open_raw(tmp_path) as r:
        assert len(r.files) > 1
        assert len(r.gaps("acc")) == 300
        for _ in range(200):
            s = T0 + int(rng.integers(-HOUR, 4 * HOUR))
            e = s + int(rng.choice([0, 1, 10**9, HOUR]))
            want = sorted((a, b, n) for a, b, n in gaps
                          if a < e and (b > s or (a == b and a >= s)))
            got = [(g.start_ns, g.end_ns, g.reason) for g in r.gaps("acc", s, e)]
            assert got == want


def test_writer_summaries_equal_reader_summaries(tmp_path, rng):
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()], rollover_s=60) as w:
        for b in range(30):
            w.write("acc", rng.standard_normal((500, 3)), t0_ns=T0 + b * 5 * 10**9,
                    device_t0_ns=b)
            w.write("env", np.ones((1, 2)), times_ns=[T0 + b * 5 * 10**9 + 7])
            if b % 7 == 0:
                w.add_gap("acc", T0 + b * 10**9, T0 + b * 10**9 + 5, f"g{b}")
                w.count("env", "timeouts", b)
    with open_raw(tmp_path) as cached, open_raw(tmp_path, use_cache=False) as fresh:
        a, b = cached.summaries(), fresh.summaries()
        assert len(a) == len(b) >= 3
        for x, y in zip(a, b):  # (as JSON: NaN locations compare equal)
            assert _summary_to_json(x) == _summary_to_json(y)
            assert x.path == y.path
