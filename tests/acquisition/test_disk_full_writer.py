"""RawWriter on a real full disk (a small tmpfs), in the recorder's "buffer" mode.

While the disk is full, samples stay in memory (bounded); when space returns
they land bit for bit at their exact times; what could not be kept is
counted (``samples_lost``, ``samples_lost_disk_full``) and covered by gap
records "disk full". A flush HDF5 itself fails must not leave an index over
garbage nor lose a buffered sample.
"""

from __future__ import annotations

import errno
import logging

import numpy as np
import pytest
from acq_disk import Filler, free_bytes, remount, tmpfs

from bshm.errors import DiskFullError
from bshm.store import ChannelMeta, SourceSpec, open_raw
from bshm.store.writer import RawWriter
from bshm.timeutil import parse_time, sample_times

T0 = parse_time("2026-03-01T10:00:00Z")
FS = 100.0
BLOCK = 100  # samples per block: one second
KIB = 1024


def acc() -> SourceSpec:
    chans = tuple(ChannelMeta(f"A{i}", "acceleration", "m/s2") for i in range(3))
    return SourceSpec("acc", "serial", FS, chans)


def env() -> SourceSpec:
    chans = (ChannelMeta("T1", "temperature", "degC"),)
    return SourceSpec("env", "modbus-tcp", 1.0, chans, timing="timestamped")


def block(k: int) -> np.ndarray:
    """Block k: distinct, exactly representable values."""
    r = np.arange(k * BLOCK, (k + 1) * BLOCK, dtype=np.float64)[:, None]
    return (r + np.arange(3)[None, :] / 8.0).astype(np.float32)


def env_time(k: int) -> int:
    return T0 + k * 1_000_000_000 + 123_457  # not on the acc grid


class Feed:
    """Writes block k of acc (and one env row) and remembers what was written."""

    def __init__(self, w: RawWriter, with_env: bool = True) -> None:
        self.w, self.with_env, self.k = w, with_env, 0

    def __call__(self, n: int = 1, flush: bool = True) -> None:
        for _ in range(n):
            k = self.k
            self.w.write("acc", block(k), t0_ns=T0 + k * 1_000_000_000)
            if self.with_env:
                self.w.write("env", np.float32([[k + 0.5]]), times_ns=[env_time(k)])
            self.k += 1
            if flush:
                self.w.flush()


def writer(data, **kw) -> RawWriter:
    kw.setdefault("min_free_bytes", 64 * KIB)
    return RawWriter(data, "st", [acc(), env()], on_disk_full="buffer", flush_interval_s=3600,
                     compression=None, **kw)


def expect_acc(blocks) -> tuple[np.ndarray, np.ndarray]:
    data = np.concatenate([block(k) for k in blocks])
    times = np.concatenate([sample_times(T0 + k * 1_000_000_000, BLOCK, FS) for k in blocks])
    return data, times


def _messages(caplog, level, text):
    return [r.getMessage() for r in caplog.records if r.levelno == level and text in r.getMessage()]


def test_full_disk_keeps_samples_in_memory_and_writes_them_bit_exact(tmp_path, caplog):
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = writer(data)
        feed = Feed(w)
        filler = Filler(mnt)
        with caplog.at_level(logging.INFO, logger="bshm.store.writer"):
            feed(3)
            filler.fill()
            feed(20)  # 20 s of data while the disk is full: every flush waits
            assert w.disk_full
            assert w.buffered_bytes() >= 20 * BLOCK * 3 * 4
            filler.free()
            feed(1)  # this flush writes everything
            assert not w.disk_full
            assert w.buffered_bytes() == 0
            feed(2)
            w.close()
        full = _messages(caplog, logging.WARNING, "disk is full")
        back = _messages(caplog, logging.INFO, "disk space is back")
        assert len(full) == 1 and str(data) in full[0] and "keeping new samples" in full[0]
        assert len(back) == 1 and "wrote 2121 samples" in back[0]  # 21 x (100 + 1)
        files = sorted(p.name for p in data.iterdir())
        assert len(files) == 1 and files[0].endswith(".h5"), files  # one file, closed
        with open_raw(data) as r:
            rec, recenv = r.read("acc"), r.read("env")
            gaps, counters = r.gaps("acc"), r.counters("acc")
    want, times = expect_acc(range(26))
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)
    np.testing.assert_array_equal(recenv.times_ns, [env_time(k) for k in range(26)])
    np.testing.assert_array_equal(recenv.data[:, 0], np.float32(np.arange(26) + 0.5))
    assert gaps == []
    assert counters["samples_lost"] == 0 and counters["samples_lost_disk_full"] == 0


def test_memory_bound_drops_the_newest_and_records_exactly_what_was_lost(tmp_path, caplog):
    """Beyond the bound every new sample is dropped until space returns: the
    kept ones are the oldest, stored exactly; one gap per source covers exactly
    the dropped ones; the counters say how many."""
    per_block = BLOCK * 3 * 4 + 4 + 8  # acc + env row (data and time)
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = writer(data, max_buffer_bytes=10 * per_block)
        feed = Feed(w)
        filler = Filler(mnt)
        with caplog.at_level(logging.INFO, logger="bshm.store.writer"):
            feed(2)
            filler.fill()
            feed(25)  # blocks 2..26 while full: 10 fit in memory
            dropped = w.dropped
            filler.free()
            feed(3)
            w.close()
        assert len(_messages(caplog, logging.WARNING, "memory buffer is full")) == 1
        (back,) = _messages(caplog, logging.INFO, "disk space is back")
        assert f"acc: {dropped['acc']}" in back and f"env: {dropped['env']}" in back
        with open_raw(data) as r:
            rec, recenv = r.read("acc"), r.read("env")
            gaps, genv = r.gaps("acc"), r.gaps("env")
            c, cenv = r.counters("acc"), r.counters("env")
    n_kept = rec.data.shape[0] // BLOCK - 3  # blocks kept before the drops
    assert n_kept in (11, 12), n_kept  # 2 written + 9 or 10 in memory
    kept = [*range(n_kept), *range(27, 30)]
    want, times = expect_acc(kept)
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)
    (g,) = gaps  # one record for the whole dropped stretch, exactly its samples
    assert g.start_ns == T0 + n_kept * 1_000_000_000 and g.end_ns == T0 + 27 * 1_000_000_000
    assert g.reason.startswith("disk full: not kept")
    assert c["samples_lost"] == c["samples_lost_disk_full"] == dropped["acc"]
    assert rec.data.shape[0] + dropped["acc"] == 30 * BLOCK
    env_kept = [k for k in range(30) if not (g.start_ns <= env_time(k) < g.end_ns)]
    np.testing.assert_array_equal(recenv.times_ns, [env_time(k) for k in env_kept])
    (ge,) = genv
    lost_env = [k for k in range(30) if k not in env_kept]
    assert ge.start_ns == env_time(lost_env[0]) and ge.end_ns == env_time(lost_env[-1]) + 1
    assert cenv["samples_lost"] == cenv["samples_lost_disk_full"] == len(lost_env)
    assert dropped["env"] == len(lost_env) > 0


def test_rollover_while_the_disk_is_full(tmp_path):
    """The next period's file cannot be created while the disk is full: its samples
    wait in line and both files end complete when space returns."""
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = writer(data, rollover_s=10.0)
        feed = Feed(w)
        filler = Filler(mnt)
        feed(4)
        filler.fill()
        feed(14)  # crosses into the period of T0 + 10 s
        assert w.disk_full
        filler.free()
        feed(4)
        w.close()
        names = sorted(p.name for p in data.iterdir())
        assert len(names) == 3 and all(n.endswith(".h5") for n in names), names
        with open_raw(data) as r:
            rec, recenv, gaps = r.read("acc"), r.read("env"), r.gaps("acc")
    want, times = expect_acc(range(22))
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)
    assert recenv.data.shape[0] == 22
    assert gaps == []


@pytest.mark.parametrize("rollover_s", [3600.0, 7.0])
def test_a_flush_hdf5_fails_abandons_the_file_and_keeps_every_sample(tmp_path, caplog,
                                                                     rollover_s):
    """Without the free-space check HDF5 itself meets ENOSPC in the middle of a
    flush. That file stays exactly as its last good flush left it; every sample
    not in it lands in a new file; no index points at garbage, nothing is stored
    twice."""
    with tmpfs(tmp_path / "mnt", size="1m") as mnt:
        data = mnt / "data"
        w = writer(data, check_free_space=False, rollover_s=rollover_s)
        feed = Feed(w)
        filler = Filler(mnt).fill(leave=400 * KIB)
        with caplog.at_level(logging.INFO, logger="bshm.store"):
            while not w.disk_full:
                feed(1)
                assert feed.k < 500, "the disk never filled"
            first_fail = feed.k
            feed(5)
            filler.free()
            feed(3)
            w.close()
        assert _messages(caplog, logging.WARNING, "left as written by its last successful")
        parts = sorted(data.glob("*.h5.part"))
        assert len(parts) == 1, sorted(data.iterdir())
        with open_raw(parts[0]) as r:  # the abandoned file alone: a clean prefix
            old = r.read("acc")
        n_old = old.data.shape[0]
        want, times = expect_acc(range(feed.k))
        i0 = int(np.searchsorted(times, old.times_ns[0])) if n_old else 0
        assert n_old < first_fail * BLOCK
        np.testing.assert_array_equal(old.data, want[i0:i0 + n_old])
        np.testing.assert_array_equal(old.times_ns, times[i0:i0 + n_old])
        if rollover_s == 3600.0:
            assert n_old > 0 and len(list(data.glob("*.h5"))) == 1
        with open_raw(data) as r:  # the folder: everything, once
            rec, recenv, gaps = r.read("acc"), r.read("env"), r.gaps("acc")
            counters = r.counters("acc")
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)
    np.testing.assert_array_equal(recenv.times_ns, [env_time(k) for k in range(feed.k)])
    assert gaps == []
    assert counters["samples_lost"] == 0


@pytest.mark.parametrize("leave", [0, 200 * KIB])
def test_close_on_a_full_disk_is_bounded_and_records_the_loss(tmp_path, caplog, leave):
    """Closing while the disk is full: one attempt, one clear error saying how many
    samples were lost, the file closed and renamed as its last flush left it, the
    loss in its counters (rewritten in place, even on a 100 % full disk) and, if a
    little space is left, as a gap record over exactly the lost samples."""
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = writer(data)
        feed = Feed(w)
        feed(3)
        filler = Filler(mnt).fill(leave=leave)
        feed(4)
        assert w.disk_full
        with caplog.at_level(logging.ERROR, logger="bshm.store.writer"):
            with pytest.raises(DiskFullError) as ei:
                w.close()
        assert "400 of acc" in str(ei.value) and "4 of env" in str(ei.value)
        assert "\n" not in str(ei.value)
        assert _messages(caplog, logging.ERROR, "404 samples kept in memory are not written")
        names = sorted(p.name for p in data.iterdir())
        assert len(names) == 1 and names[0].endswith(".h5"), names  # closed and renamed
        filler.free()
        with open_raw(data) as r:
            rec, gaps, counters = r.read("acc"), r.gaps("acc"), r.counters("acc")
            genv, cenv = r.gaps("env"), r.counters("env")
    want, times = expect_acc(range(3))
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)
    assert counters["samples_lost"] == counters["samples_lost_disk_full"] == 400
    assert cenv["samples_lost"] == cenv["samples_lost_disk_full"] == 4
    if leave:
        (g,) = gaps
        assert g.start_ns == T0 + 3 * 1_000_000_000 and g.end_ns == T0 + 7 * 1_000_000_000
        assert g.reason.startswith("disk full: in memory when the writer closed")
        (ge,) = genv
        assert ge.start_ns == env_time(3) and ge.end_ns == env_time(6) + 1
    else:
        assert gaps == [] and genv == []
        assert _messages(caplog, logging.ERROR, "gap records of the lost samples are not")


def test_raise_mode_keeps_everything_and_raises_one_clear_error(tmp_path):
    """The default mode (import, simulated history): DiskFullError, nothing lost
    from memory, and the next flush after space returns writes it all."""
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = RawWriter(data, "st", [acc()], flush_interval_s=3600, min_free_bytes=64 * KIB)
        w.write("acc", block(0), t0_ns=T0)
        w.flush()
        filler = Filler(mnt).fill()
        w.write("acc", block(1), t0_ns=T0 + 1_000_000_000)
        with pytest.raises(DiskFullError) as ei:
            w.flush()
        assert ei.value.errno == errno.ENOSPC and "disk is full" in str(ei.value)
        assert "samples_lost_disk_full" not in w._specs[0].counters
        filler.free()
        w.flush()
        w.close()
        with open_raw(data) as r:
            rec = r.read("acc")
    np.testing.assert_array_equal(rec.data, expect_acc(range(2))[0])


def test_read_only_file_system_then_writable_again(tmp_path, caplog):
    """The file system is read-only when the first file is due (remounted: a busy
    one cannot be): samples wait in memory, and land when it is writable again."""
    with tmpfs(tmp_path / "mnt") as mnt:
        data = mnt / "data"
        w = writer(data)
        feed = Feed(w)
        remount(mnt, "ro")
        try:
            with caplog.at_level(logging.WARNING, logger="bshm.store.writer"):
                feed(5)
            assert w.disk_full
            (msg,) = _messages(caplog, logging.WARNING, "read-only")
            assert str(data) in msg
            assert list(data.iterdir()) == []
        finally:
            remount(mnt, "rw")
        feed(2)
        assert not w.disk_full
        w.close()
        with open_raw(data) as r:
            rec = r.read("acc")
    want, times = expect_acc(range(7))
    np.testing.assert_array_equal(rec.data, want)
    np.testing.assert_array_equal(rec.times_ns, times)


def test_filler_helper_really_fills(tmp_path):
    with tmpfs(tmp_path / "mnt", size="1m") as mnt:
        f = Filler(mnt).fill()
        assert free_bytes(mnt) == 0
        f.free()
        assert free_bytes(mnt) > 900 * KIB


@pytest.mark.slow
@pytest.mark.parametrize("compression", [None, "lzf"])
def test_hdf5_enospc_at_any_point_never_loses_or_duplicates(tmp_path, compression):
    """HDF5 itself meets the full disk (no free-space check) at many different
    points: file creation, data chunk, index chunk, rollover. Every time, each
    sample ends up stored exactly once, bit for bit, at its exact time, and the
    process does not crash (a half-initialised file used to crash the next
    garbage collection)."""
    import gc

    with tmpfs(tmp_path / "mnt", size="1m") as mnt:
        for leave in range(250, 520, 27):
            for rollover_s in (3600.0, 7.0):
                data = mnt / f"d{leave}-{int(rollover_s)}"
                w = RawWriter(data, "st", [acc(), env()], on_disk_full="buffer",
                              flush_interval_s=3600, compression=compression,
                              min_free_bytes=64 * KIB, check_free_space=False,
                              rollover_s=rollover_s)
                feed = Feed(w)
                filler = Filler(mnt).fill(leave=leave * KIB)
                while not w.disk_full and feed.k < 600:
                    feed(1)
                feed(5)
                filler.free()
                feed(3)
                w.close()
                gc.collect()
                with open_raw(data) as r:
                    rec, recenv = r.read("acc"), r.read("env")
                want, times = expect_acc(range(feed.k))
                np.testing.assert_array_equal(rec.data, want, err_msg=f"leave {leave}")
                np.testing.assert_array_equal(rec.times_ns, times)
                np.testing.assert_array_equal(recenv.times_ns,
                                              [env_time(k) for k in range(feed.k)])
                np.testing.assert_array_equal(recenv.data[:, 0],
                                              np.float32(np.arange(feed.k) + 0.5))
                for p in list(data.iterdir()):  # room for the next round
                    p.unlink()
