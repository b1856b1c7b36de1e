"""Write -> read round trips of the raw store (real files in tmp_path)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import T0, acc_spec, env_spec

from bshm.errors import StoreError
from bshm.store import SCHEMA_VERSION, RawWriter, open_raw
from bshm.store import schema as S
from bshm.timeutil import sample_times


def _write_regular(w, rng, fs, sizes, t0=T0, pauses=None, name="acc", nch=3):
    xs, ts = [], []
    t = t0
    for i, n in enumerate(sizes):
        x = rng.standard_normal((n, nch)).astype(np.float32)
        w.write(name, x, t0_ns=t)
        xs.append(x)
        ts.append(sample_times(t, n, fs))
        t = int(sample_times(t, n + 1, fs)[-1])
        if pauses is not None:
            t += pauses[i]
    return np.concatenate(xs), np.concatenate(ts)


@pytest.mark.parametrize("fs", [100.0, 1024.0, 3.0, 2.5])
def test_regular_round_trip_bit_exact(tmp_path, rng, fs):
    spec = acc_spec(fs)
    with RawWriter(tmp_path, "st", [spec]) as w:
        x, t = _write_regular(w, rng, fs, [7, 100, 1, 333, 50])
    with open_raw(tmp_path) as r:
        rec = r.read("acc")
        assert rec.data.dtype == np.float32
        assert rec.times_ns.dtype == np.int64
        np.testing.assert_array_equal(rec.data, x)
        np.testing.assert_array_equal(rec.times_ns, t)
        assert r.span("acc") == (int(t[0]), int(t[-1]))
        assert rec.channels == spec.channels
        assert r.sources["acc"].fs == fs
        assert r.station == "st"


def test_sample_times_consistent_with_grid():
    for fs in (100.0, 1024.0, 3.0, 2.5, 0.1, 999.7):
        k = np.arange(0, 5000, 7)
        assert np.array_equal(S.grid_times(T0 + 13, k, fs)[:1], sample_times(T0 + 13, 1, fs))
        for k0 in (0, 5, 1001):
            assert np.array_equal(S.grid_times(T0 + 13, np.arange(k0, k0 + 50), fs),
                                  sample_times(T0 + 13, 50, fs, first_index=k0))


def test_contiguous_blocks_merge_but_device_time_kept(tmp_path, rng):
    spec = acc_spec(100.0)
    with RawWriter(tmp_path, "st", [spec]) as w:
        _write_regular(w, rng, 100.0, [100] * 10)
        t = T0 + 20 * 10**9
        w.write("acc", np.zeros((10, 3)), t0_ns=t, device_t0_ns=5)
        w.write("acc", np.zeros((10, 3)), t0_ns=t + 10**8, device_t0_ns=10**8 + 7)
        w.write("acc", np.zeros((10, 3)), t0_ns=t + 2 * 10**8, device_t0_ns=2 * 10**8 + 7)
        path = w.paths[-1] if w.paths else None
    path = next(tmp_path.glob("*.h5"))
    with h5py.File(path, "r") as f:
        b = f["sources/acc/blocks"][...]
    # 10 contiguous blocks -> one; device clock jumps 2 ns then runs on the grid
    assert len(b) == 3
    assert b["n"].tolist() == [1000, 10, 20]
    assert b["device_t0_ns"].tolist() == [S.NO_DEVICE_TIME, 5, 10**8 + 7]


def test_timestamped_round_trip(tmp_path, rng):
    with RawWriter(tmp_path, "st", [env_spec()]) as w:
        t = T0 + np.cumsum(rng.integers(900_000_000, 1_100_000_000, 500)).astype(np.int64)
        x = rng.standard_normal((500, 2)).astype(np.float32)
        for a in range(0, 500, 37):
            w.write("env", x[a:a + 37], times_ns=t[a:a + 37])
    with open_raw(tmp_path) as r:
        rec = r.read("env")
        np.testing.assert_array_equal(rec.data, x)
        np.testing.assert_array_equal(rec.times_ns, t)
        sub = r.read("env", int(t[100]), int(t[200]), channels=["T2"])
        np.testing.assert_array_equal(sub.data[:, 0], x[100:200, 1])
        np.testing.assert_array_equal(sub.times_ns, t[100:200])
        # between samples
        sub = r.read("env", int(t[10]) + 1, int(t[20]) + 1)
        np.testing.assert_array_equal(sub.times_ns, t[11:21])


def test_half_open_edges_and_subsets(tmp_path, rng):
    with RawWriter(tmp_path, "st", [acc_spec()]) as w:
        x, t = _write_regular(w, rng, 100.0, [250, 250])
    with open_raw(tmp_path) as r:
        for a, b in [(0, 500), (0, 1), (17, 18), (249, 251), (100, 400), (499, 500)]:
            end = int(t[b]) if b < len(t) else int(t[-1]) + 1
            rec = r.read("acc", int(t[a]), end)
            np.testing.assert_array_equal(rec.times_ns, t[a:b])
            np.testing.assert_array_equal(rec.data, x[a:b])
        rec = r.read("acc", int(t[9]), int(t[10]))  # ends exactly at a sample: excluded
        assert rec.times_ns.tolist() == [t[9]]
        rec = r.read("acc", int(t[9]) + 1, int(t[10]) + 1)  # starts after a sample: excluded
        assert rec.times_ns.tolist() == [t[10]]
        rec = r.read("acc", int(t[10]) + 1, int(t[11]))  # strictly between two samples
        assert rec.n_samples == 0
        assert rec.data.shape == (0, 3)
        assert r.read("acc", int(t[-1]) + 1).n_samples == 0
        assert r.read("acc", None, int(t[0])).n_samples == 0
        assert r.read("acc", int(t[5]), int(t[5])).n_samples == 0
        rec = r.read("acc", channels=["A03", "A01"])
        np.testing.assert_array_equal(rec.data, x[:, [2, 0]])
        assert rec.channel_names == ("A03", "A01")
        with pytest.raises(ValueError, match=r"no channel 'A9'.*A01, A02, A03"):
            r.read("acc", channels=["A01", "A9"])
        with pytest.raises(ValueError, match="unknown source 'nope'.*acc"):
            r.read("nope")


def test_back_in_time_rejected(tmp_path, rng):
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()]) as w:
        w.write("acc", np.zeros((100, 3)), t0_ns=T0)
        with pytest.raises(StoreError, match="'acc'.*times must increase"):
            w.write("acc", np.ones((5, 3)), t0_ns=T0 + 500_000_000)
        with pytest.raises(StoreError, match="'acc'"):
            w.write("acc", np.ones((5, 3)), t0_ns=T0 + 990_000_000)  # = last sample
        w.write("acc", np.ones((5, 3)), t0_ns=T0 + 995_000_000)  # later: a new block
        w.write("env", np.zeros((2, 2)), times_ns=[T0, T0 + 10])
        with pytest.raises(StoreError, match="'env'"):
            w.write("env", np.zeros((1, 2)), times_ns=[T0 + 10])
        with pytest.raises(StoreError, match="strictly increasing"):
            w.write("env", np.zeros((2, 2)), times_ns=[T0 + 30, T0 + 20])
        with pytest.raises(ValueError, match=r"data must be \(n, 3\)"):
            w.write("acc", np.zeros((5, 2)), t0_ns=T0 + 5 * 10**9)
        with pytest.raises(ValueError, match="unknown source 'x'"):
            w.write("x", np.zeros((5, 2)), t0_ns=T0)
        with pytest.raises(ValueError, match="pass t0_ns"):
            w.write("acc", np.zeros((5, 3)))
        with pytest.raises(ValueError, match="t0_ns must be an integer of ns"):
            w.write("acc", np.zeros((5, 3)), t0_ns=1.7e9)
        with pytest.raises(ValueError, match="device_t0_ns must be an integer"):
            w.write("acc", np.zeros((5, 3)), t0_ns=T0 + 10**10, device_t0_ns=1.5)
        with pytest.raises(ValueError, match="has no counter 'bogus'"):
            w.count("acc", "bogus")
    with open_raw(tmp_path) as r:
        rec = r.read("acc")
        assert rec.n_samples == 105  # the rejected blocks left nothing behind
        assert np.all(np.diff(rec.times_ns) > 0)
        assert r.read("env").n_samples == 2


def test_gaps_counters_and_attrs(tmp_path):
    with RawWriter(tmp_path, "st", [acc_spec(), env_spec()], attrs={"site": "A1 bridge"}) as w:
        w.count("acc", "frames_bad", 3)  # before any data: kept until the file opens
        w.write("acc", np.zeros((100, 3)), t0_ns=T0)
        w.add_gap("acc", T0 + 10**9, T0 + 3 * 10**9, "device silent")
        w.add_gap("acc", T0 + 5 * 10**9, T0 + 6 * 10**9, "CRC errors " + "x" * 300)
        w.count("acc", "frames_ok", 100)
        w.count("acc", "frames_ok")
        w.write("acc", np.zeros((100, 3)), t0_ns=T0 + 3 * 10**9)
    with open_raw(tmp_path) as r:
        g = r.gaps("acc")
        assert [(x.start_ns - T0, x.end_ns - T0) for x in g] == [(10**9, 3 * 10**9),
                                                               (5 * 10**9, 6 * 10**9)]
        assert g[0].reason == "device silent"
        assert g[1].reason.startswith("CRC errors xx")
        assert r.gaps("acc", T0 + 3 * 10**9, T0 + 5 * 10**9) == []  # half-open on both
        assert r.gaps("acc", T0 + 3 * 10**9 - 1, T0 + 5 * 10**9 + 1) == g
        rec = r.read("acc", T0, T0 + 2 * 10**9)
        assert rec.gaps == (g[0],)
        c = r.counters("acc")
        assert c["frames_ok"] == 101
        assert c["frames_bad"] == 3
        assert c["timeouts"] == 0
        assert r.counters("env")["frames_ok"] == 0
        assert r.gaps("env") == []
    with h5py.File(next(tmp_path.glob("*.h5")), "r") as f:
        assert f.attrs["bshm_schema_version"] == SCHEMA_VERSION
        assert f.attrs["bshm_kind"] == "raw"
        assert f.attrs["station"] == "st"
        assert f.attrs["site"] == "A1 bridge"
        assert list(f["sources/acc"].attrs["channel_units"]) == ["m/s2"] * 3


def test_gaps_only_still_written(tmp_path):
    with RawWriter(tmp_path, "st", [acc_spec()]) as w:
        w.add_gap("acc", T0, T0 + 10**9, "no device")
    with open_raw(tmp_path) as r:
        assert r.gaps("acc") == [S.Gap(T0, T0 + 10**9, "no device")]
        assert r.read("acc").n_samples == 0
        with pytest.raises(StoreError, match="no samples"):
            r.span("acc")


def test_records_split_at_pauses(tmp_path, rng):
    fs = 100.0
    with RawWriter(tmp_path, "st", [acc_spec(fs)]) as w:
        # 3 blocks contiguous, one with 3 ms jitter (< half a sample), then a pause
        w.write("acc", np.zeros((100, 3)), t0_ns=T0)
        w.write("acc", np.zeros((100, 3)), t0_ns=T0 + 10**9 + 3_000_000)
        w.write("acc", np.zeros((100, 3)), t0_ns=T0 + 2 * 10**9 + 3_000_000)
        w.write("acc", np.zeros((50, 3)), t0_ns=T0 + 60 * 10**9)
    with open_raw(tmp_path) as r:
        runs = r.records("acc")
        assert runs == [(T0, T0 + 3 * 10**9 + 3_000_000), (T0 + 60 * 10**9, T0 + 60_500_000_000)]
        assert r.read("acc", *runs[0]).n_samples == 300
        assert r.read("acc", *runs[1]).n_samples == 50


def test_records_timestamped(tmp_path):
    t = np.concatenate([T0 + np.arange(10) * 10**8, T0 + 5 * 10**9 + np.arange(5) * 10**8])
    with RawWriter(tmp_path, "st", [env_spec(10.0)]) as w:
        w.write("env", np.zeros((15, 2)), times_ns=t)
    with open_raw(tmp_path) as r:
        assert r.records("env") == [(T0, T0 + 10**9), (T0 + 5 * 10**9, T0 + 5_500_000_000)]


def test_never_overwrites(tmp_path):
    for k in range(3):
        with RawWriter(tmp_path, "st", [acc_spec()]) as w:
            w.write("acc", np.full((10, 3), k), t0_ns=T0 + k)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["st_20260301T100000Z-1.h5", "st_20260301T100000Z-2.h5",
                     "st_20260301T100000Z.h5"]
    with open_raw(tmp_path) as r:
        # three files whose samples interleave (1 ns apart): never merged sample
        # by sample; the first written is read, the two others are excluded
        rec = r.read("acc")
        assert rec.n_samples == 10
        assert set(rec.data[:, 0].tolist()) == {0}
        assert sorted(e.path.name for e in r.excluded) == names[:2]
        assert all("overlaps st_20260301T100000Z.h5" in e.reason for e in r.excluded)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=12),
    pauses=st.lists(st.sampled_from([0, 0, 0, 1, 7_000_000, 2 * 10**9]), min_size=12, max_size=12),
    fs=st.sampled_from([100.0, 1024.0, 3.0, 33.3]),
    offset=st.integers(0, 10**9),
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_hypothesis_round_trip(tmp_path_factory, sizes, pauses, fs, offset, cut):
    d = tmp_path_factory.mktemp("h")
    rng = np.random.default_rng(len(sizes))
    duration_s = sum(sizes) / fs + sum(pauses) / 1e9
    rollover_s = max(0.5, round(duration_s / 4, 1))  # a few files, boundaries inside blocks
    with RawWriter(d, "st", [acc_spec(fs, 2)], rollover_s=rollover_s, flush_interval_s=0.0) as w:
        x, t = _write_regular(w, rng, fs, sizes, t0=T0 + offset, pauses=pauses, nch=2)
    with open_raw(d) as r:
        rec = r.read("acc")
        np.testing.assert_array_equal(rec.data, x)
        np.testing.assert_array_equal(rec.times_ns, t)
        lo, hi = sorted(cut)
        s = int(t[0] + lo * (t[-1] - t[0] + 5))
        e = int(t[0] + hi * (t[-1] - t[0] + 5))
        m = (t >= s) & (t < e)
        rec = r.read("acc", s, e, channels=["A02"])
        np.testing.assert_array_equal(rec.times_ns, t[m])
        np.testing.assert_array_equal(rec.data[:, 0], x[m, 1])
        assert sum(r.read("acc", a, b).n_samples for a, b in r.records("acc")) == len(t)


def test_plain_h5py_reading_as_documented(tmp_path, rng):
    """The recipe of docs/hdf5-schema.md recovers the same times as the reader."""
    for fs in (100.0, 1024.0, 3.0):
        d = tmp_path / str(fs)
        with RawWriter(d, "st", [acc_spec(fs)], rollover_s=60) as w:
            _write_regular(w, rng, fs, [500, 77, 1], pauses=[10**9, 0, 0])
            w.write("acc", np.zeros((5, 3)), t0_ns=T0 + 10**12, device_t0_ns=123)
        for p in sorted(d.glob("*.h5")):
            with h5py.File(p, "r", swmr=True) as f:
                assert f.attrs["bshm_kind"] == "raw"
                assert f.attrs["bshm_schema_version"] == 1
                g = f["sources/acc"]
                fsa = float(g.attrs["fs"])
                data = g["data"][...]
                times = np.empty(len(data), np.int64)
                for b in g["blocks"][...]:
                    k = np.arange(b["k0"], b["k0"] + b["n"], dtype=np.int64)
                    if fsa.is_integer():
                        t = b["t0_ns"] + (k * 2_000_000_000 + int(fsa)) // (2 * int(fsa))
                    else:
                        t = b["t0_ns"] + np.round(k * (1e9 / fsa)).astype(np.int64)
                    times[b["first_sample"]:b["first_sample"] + b["n"]] = t
            with open_raw(p) as r:
                rec = r.read("acc")
                np.testing.assert_array_equal(rec.times_ns, times)
                np.testing.assert_array_equal(rec.data, data)


def test_datetime64_times_and_one_channel_vectors(tmp_path):
    spec = S.SourceSpec("t", "import", 1.0, (S.ChannelMeta("T1", "temperature", "degC"),),
                        timing="timestamped")
    t = np.array(["2026-03-01T10:00:00", "2026-03-01T10:00:01.5"], dtype="datetime64[ms]")
    with RawWriter(tmp_path, "st", [spec]) as w:
        w.write("t", [20.5, 21.0], times_ns=t)
        with pytest.raises(ValueError, match="times_ns must be 1 integers"):
            w.write("t", [1.0], times_ns=[1.5e18])
    with open_raw(tmp_path) as r:
        rec = r.read("t")
        assert rec.times_ns.tolist() == [T0, T0 + 1_500_000_000]
        assert rec.data[:, 0].tolist() == [20.5, 21.0]


def test_channel_layout_changed_between_files(tmp_path):
    a = acc_spec(n=3)
    b = S.SourceSpec("acc", "simulated", 100.0, (a.channels[2], a.channels[0]))
    with RawWriter(tmp_path, "st", [a]) as w:
        w.write("acc", np.tile([1.0, 2.0, 3.0], (10, 1)), t0_ns=T0)
    with RawWriter(tmp_path, "st", [b]) as w:  # a later run with fewer channels
        w.write("acc", np.tile([30.0, 10.0], (5, 1)), t0_ns=T0 + 10**9)
    with open_raw(tmp_path) as r:
        assert r.sources["acc"].channel_names == ("A01", "A02", "A03")
        rec = r.read("acc")
        assert rec.data[:10].tolist() == [[1.0, 2.0, 3.0]] * 10
        np.testing.assert_array_equal(rec.data[10:], np.tile([10.0, np.nan, 30.0], (5, 1)))
        assert r.read("acc", channels=["A03"]).data[:, 0].tolist() == [3.0] * 10 + [30.0] * 5


def test_threads_write_different_sources(tmp_path):
    import threading

    specs = [acc_spec(name=f"s{i}") for i in range(3)]
    with RawWriter(tmp_path, "st", specs, flush_interval_s=0.01) as w:
        def run(name):
            for b in range(200):
                w.write(name, np.full((10, 3), b), t0_ns=T0 + b * 10**8)

        ts = [threading.Thread(target=run, args=(s.name,)) for s in specs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    with open_raw(tmp_path) as r:
        for s in specs:
            rec = r.read(s.name)
            assert rec.n_samples == 2000
            assert rec.data[::10, 0].tolist() == list(range(200))
            assert r.records(s.name) == [(T0, T0 + 20 * 10**9)]


def test_overlapping_files_are_never_merged(tmp_path, caplog):
    # two recorders writing one folder at once: their samples interleave in time
    with RawWriter(tmp_path, "st", [acc_spec()]) as w1, RawWriter(tmp_path, "st", [acc_spec()]) as w2:
        w1.write("acc", np.full((10, 3), 1.0), t0_ns=T0)
        w2.write("acc", np.full((10, 3), 2.0), t0_ns=T0 + 5_000_000)  # interleaved grid
    with open_raw(tmp_path) as r:
        rec = r.read("acc")
        assert rec.data[:, 0].tolist() == [1.0] * 10  # the file written first only
        assert np.all(np.diff(rec.times_ns) == 10_000_000)
        [gap] = rec.gaps  # the other file's span, with the reason
        assert (gap.start_ns, gap.end_ns) == (T0 + 5_000_000, T0 + 105_000_000)
        assert "overlaps st_20260301T100000Z.h5" in gap.reason
    assert any("excluding st_20260301T100000Z-1.h5" in m for m in caplog.messages)


def test_unclosed_writer_is_closed_at_exit(tmp_path):
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from bshm.store import RawWriter, SourceSpec, ChannelMeta\n"
        "s = SourceSpec('acc', 'simulated', 100.0, (ChannelMeta('A', 'acceleration', 'm/s2'),))\n"
        f"w = RawWriter({str(tmp_path)!r}, 'st', [s], flush_interval_s=3600)\n"
        f"w.write('acc', np.arange(50.0), t0_ns={T0})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    names = [p.name for p in tmp_path.iterdir()]
    assert names == ["st_20260301T100000Z.h5"]
    with open_raw(tmp_path) as r:
        assert r.read("acc").data[:, 0].tolist() == list(range(50))


def test_non_numeric_and_huge_values(tmp_path):
    with RawWriter(tmp_path, "st", [acc_spec(n=1)]) as w:
        with pytest.raises(ValueError, match="'acc': data is not numeric"):
            w.write("acc", [["x"]], t0_ns=T0)
        w.write("acc", [1e39, -1e39, np.nan], t0_ns=T0)
    with open_raw(tmp_path) as r:
        x = r.read("acc").data[:, 0]
        assert x[0] == np.inf
        assert x[1] == -np.inf
        assert np.isnan(x[2])


@settings(max_examples=20, deadline=None)
@given(
    steps=st.lists(st.integers(1, 3 * 10**9), min_size=1, max_size=200),
    cuts=st.lists(st.integers(1, 60), min_size=1, max_size=20),
    rollover_s=st.sampled_from([5.0, 60.0, 3600.0]),
    window=st.tuples(st.integers(-10**9, 700 * 10**9), st.integers(0, 700 * 10**9)),
)
def test_hypothesis_timestamped_round_trip(tmp_path_factory, steps, cuts, rollover_s, window):
    d = tmp_path_factory.mktemp("ts")
    t = T0 + np.cumsum(np.array(steps, dtype=np.int64))
    x = np.stack([np.arange(len(t)), -np.arange(len(t))], axis=1).astype(np.float32)
    with RawWriter(d, "st", [env_spec()], rollover_s=rollover_s, flush_interval_s=0.0) as w:
        i, k = 0, 0
        while i < len(t):
            n = cuts[k % len(cuts)]
            w.write("env", x[i:i + n], times_ns=t[i:i + n])
            i, k = i + n, k + 1
    with open_raw(d) as r:
        rec = r.read("env")
        np.testing.assert_array_equal(rec.times_ns, t)
        np.testing.assert_array_equal(rec.data, x)
        s, e = T0 + window[0], T0 + window[0] + window[1]
        m = (t >= s) & (t < e)
        sub = r.read("env", s, e, channels=["T2"])
        np.testing.assert_array_equal(sub.times_ns, t[m])
        np.testing.assert_array_equal(sub.data[:, 0], x[m, 1])


def test_timestamped_search_across_many_chunks(tmp_path, rng):
    n = 40_000  # several 8192-row chunks of the time dataset
    t = T0 + np.cumsum(rng.integers(1, 200_000_000, n)).astype(np.int64)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    with RawWriter(tmp_path, "st", [env_spec(10.0)], rollover_s=86400) as w:
        w.write("env", x, times_ns=t)
    with open_raw(tmp_path) as r:
        probes = np.concatenate([t[[0, 8191, 8192, 8193, 16384, n - 1]],
                                 rng.integers(t[0] - 10, t[-1] + 10, 60)])
        for a in probes:
            for b in (a + 1, a + 10**9, a + 10**12, int(t[min(n - 1, 8192 * 3)])):
                m = (t >= a) & (t < b)
                rec = r.read("env", int(a), int(b))
                np.testing.assert_array_equal(rec.times_ns, t[m])
                np.testing.assert_array_equal(rec.data, x[m])


def test_many_unmerged_blocks_random_ranges(tmp_path, rng):
    fs = 1024.0
    xs, ts, t = [], [], T0
    with RawWriter(tmp_path, "st", [acc_spec(fs, 2)], rollover_s=10) as w:
        for _ in range(2000):
            n = int(rng.integers(1, 40))
            x = rng.standard_normal((n, 2)).astype(np.float32)
            w.write("acc", x, t0_ns=t, device_t0_ns=t + int(rng.integers(0, 10**6)))
            xs.append(x)
            ts.append(sample_times(t, n, fs))
            t = int(ts[-1][-1]) + int(rng.choice([976_562, 976_563, 5 * 10**6]))
    x, tt = np.concatenate(xs), np.concatenate(ts)
    with open_raw(tmp_path) as r:
        assert len(r.files) >= 2
        for _ in range(40):
            a = int(rng.integers(tt[0] - 10, tt[-1] + 10))
            b = a + int(rng.integers(0, 20 * 10**9))
            m = (tt >= a) & (tt < b)
            rec = r.read("acc", a, b)
            np.testing.assert_array_equal(rec.times_ns, tt[m])
            np.testing.assert_array_equal(rec.data, x[m])
        runs = r.records("acc")
        assert sum(r.read("acc", a, b).n_samples for a, b in runs) == len(tt)


def test_blocks_expose_device_time(tmp_path):
    fs = 100.0
    with RawWriter(tmp_path, "st", [acc_spec(fs), env_spec()], rollover_s=1) as w:
        w.write("acc", np.zeros((150, 3)), t0_ns=T0 + 500_000_000, device_t0_ns=777)
        w.write("acc", np.zeros((10, 3)), t0_ns=T0 + 3 * 10**9)
    with open_raw(tmp_path) as r:
        b = r.blocks("acc")
        # the first block was split at the 1-s rollover: same t0/device t0, k0 = 50
        assert b["n"].tolist() == [50, 100, 10]
        assert b["k0"].tolist() == [0, 50, 0]
        assert b["t0_ns"].tolist() == [T0 + 500_000_000] * 2 + [T0 + 3 * 10**9]
        assert b["device_t0_ns"].tolist() == [777, 777, S.NO_DEVICE_TIME]
        assert b["first_ns"][1] == T0 + 10**9
        assert b["last_ns"][1] == T0 + 1_990_000_000
        assert len(r.blocks("acc", T0 + 10**9, T0 + 2 * 10**9)) == 1
        with pytest.raises(ValueError, match="timestamped"):
            r.blocks("env")
