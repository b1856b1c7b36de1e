"""Rollover: files per UTC period, blocks split at the boundary, reads across files."""

from __future__ import annotations

import numpy as np
from store_helpers import HOUR, T0, acc_spec, env_spec

from bshm.store import RawWriter, open_raw
from bshm.timeutil import parse_time, sample_times


def test_block_spanning_the_hour_is_split(tmp_path, rng):
    fs = 1024.0  # non-integer period: the split must keep every time exact
    t0 = T0 + HOUR - 500_000_000  # 10:59:59.5
    x = rng.standard_normal((2048, 3)).astype(np.float32)
    with RawWriter(tmp_path, "br", [acc_spec(fs)]) as w:
        w.write("acc", x, t0_ns=t0, device_t0_ns=42)
        assert w.current_path.name == "br_20260301T110000Z.h5.part"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["br_20260301T105959Z.h5", "br_20260301T110000Z.h5"]
    t = sample_times(t0, 2048, fs)
    n_before = int(np.sum(t < T0 + HOUR))
    with open_raw(tmp_path / names[0]) as r:
        assert r.read("acc").n_samples == n_before == 512
        assert r.span("acc")[1] < T0 + HOUR
    with open_raw(tmp_path / names[1]) as r:
        rec = r.read("acc")
        assert rec.times_ns[0] >= T0 + HOUR
        np.testing.assert_array_equal(rec.times_ns, t[n_before:])
    with open_raw(tmp_path) as r:
        rec = r.read("acc")
        np.testing.assert_array_equal(rec.data, x)
        np.testing.assert_array_equal(rec.times_ns, t)
        assert r.records("acc") == [(int(t[0]), int(t[-1]) + 976562)]


def test_read_across_three_files(tmp_path, rng):
    fs = 100.0
    start = parse_time("2026-03-01T10:59:50Z")
    stop = parse_time("2026-03-01T12:00:10Z")
    xs, ts, envx, envt = [], [], [], []
    with RawWriter(tmp_path, "br", [acc_spec(fs), env_spec(0.1)]) as w:
        t = start
        while t < stop:  # 7-s blocks: some of them straddle 11:00 and 12:00
            x = rng.standard_normal((700, 3)).astype(np.float32)
            w.write("acc", x, t0_ns=t)
            xs.append(x)
            ts.append(sample_times(t, 700, fs))
            e = np.array([[t / 1e9 % 100, 1.0]], np.float32)
            w.write("env", e, times_ns=[t + 1234])
            envx.append(e)
            envt.append(t + 1234)
            t += 7 * 10**9
        w.count("acc", "frames_ok", 10)
    x, t = np.concatenate(xs), np.concatenate(ts)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["br_20260301T105950Z.h5", "br_20260301T110000Z.h5",
                     "br_20260301T120000Z.h5"]
    with open_raw(tmp_path) as r:
        assert len(r.files) == 3
        a, b = parse_time("2026-03-01T10:59:55.005Z"), parse_time("2026-03-01T12:00:03.333Z")
        m = (t >= a) & (t < b)
        rec = r.read("acc", a, b)
        np.testing.assert_array_equal(rec.times_ns, t[m])
        np.testing.assert_array_equal(rec.data, x[m])
        full = r.read("acc")
        np.testing.assert_array_equal(full.data, x)
        np.testing.assert_array_equal(full.times_ns, t)
        env = r.read("env")
        np.testing.assert_array_equal(env.times_ns, np.array(envt))
        np.testing.assert_array_equal(env.data, np.concatenate(envx))
        assert r.records("acc") == [(int(t[0]), int(t[-1]) + 10_000_000)]
        assert r.counters("acc")["frames_ok"] == 10


def test_rollover_period_and_gap_after_period(tmp_path):
    with RawWriter(tmp_path, "br", [acc_spec()], rollover_s=600) as w:
        w.write("acc", np.zeros((10, 3)), t0_ns=T0 + 1)
        w.add_gap("acc", T0 + 700 * 10**9, T0 + 800 * 10**9, "silent")  # next period
        w.write("acc", np.zeros((10, 3)), t0_ns=T0 + 1200 * 10**9)
    names = sorted(p.name for p in tmp_path.iterdir())
    # the gap is kept with the next file (here the next data's), not in the old period
    assert names == ["br_20260301T100000Z.h5", "br_20260301T102000Z.h5"]
    with open_raw(tmp_path) as r:
        assert [g.reason for g in r.gaps("acc")] == ["silent"]
        assert r.read("acc").n_samples == 20


def test_gap_with_no_data_gets_its_own_file(tmp_path):
    with RawWriter(tmp_path, "br", [acc_spec()], rollover_s=600) as w:
        w.write("acc", np.zeros((10, 3)), t0_ns=T0 + 1)
        w.add_gap("acc", T0 + 700 * 10**9, T0 + 800 * 10**9, "silent")
        w.flush()
        assert w.current_path.name == "br_20260301T101140Z.h5.part"
    with open_raw(tmp_path) as r:
        assert len(r.files) == 2
        assert [g.reason for g in r.gaps("acc")] == ["silent"]


def test_lagging_source_keeps_previous_file_open(tmp_path):
    """A slow source may still deliver samples of the previous hour."""
    with RawWriter(tmp_path, "br", [acc_spec(), env_spec()]) as w:
        w.write("acc", np.zeros((200, 3)), t0_ns=T0 + HOUR - 10**9)  # crosses 11:00
        w.write("env", np.ones((2, 2)), times_ns=[T0 + HOUR - 5 * 10**8, T0 + HOUR + 1])
        w.write("env", np.ones((1, 2)), times_ns=[T0 + HOUR + 10**9])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["br_20260301T105959Z.h5", "br_20260301T110000Z.h5"]
    with open_raw(tmp_path / names[0]) as r:
        assert r.read("env").times_ns.tolist() == [T0 + HOUR - 5 * 10**8]
        assert r.read("acc").n_samples == 100
    with open_raw(tmp_path) as r:
        assert r.read("env").n_samples == 3
        assert r.read("acc").n_samples == 200


def test_counters_before_data_wait_for_the_data_file(tmp_path):
    """Counting before the first sample does not open a file at wall-clock time."""
    with RawWriter(tmp_path, "br", [acc_spec(), env_spec()], flush_interval_s=0.0) as w:
        w.count("acc", "reconnects")
        w.flush()
        assert w.current_path is None
        for h in range(3):  # old data (not "now"), a source that never delivers
            w.write("acc", np.zeros((100, 3)), t0_ns=T0 + h * HOUR)
            assert len(w._older) <= 1
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["br_20260301T100000Z.h5", "br_20260301T110000Z.h5",
                     "br_20260301T120000Z.h5"]
    with open_raw(tmp_path) as r:
        assert r.counters("acc")["reconnects"] == 1


def test_counters_only_written_at_close(tmp_path):
    with RawWriter(tmp_path, "br", [acc_spec()]) as w:
        w.count("acc", "timeouts", 4)
    with open_raw(tmp_path) as r:
        assert r.counters("acc")["timeouts"] == 4
        assert r.n_samples("acc") == 0


def test_source_far_behind_does_not_pile_up_open_files(tmp_path):
    """One source live, another replaying old hours: at most a few files open."""
    env = env_spec()
    with RawWriter(tmp_path, "br", [acc_spec(), env], flush_interval_s=3600) as w:
        w.write("acc", np.zeros((10, 3)), t0_ns=T0 + 100 * HOUR)
        for h in range(20):
            w.write("env", np.ones((2, 2)), times_ns=T0 + h * HOUR + np.array([0, 10**9]))
            assert len(w._older) <= 2
    with open_raw(tmp_path) as r:
        assert r.read("env").n_samples == 40
        assert len(r.files) == 21
