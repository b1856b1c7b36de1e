"""Chunks read with the filters undone by bshm's kernels: the same bytes as HDF5, or h5py.

References: HDF5 itself (h5py reading the same dataset, the checksums HDF5
stored) and plain Python/NumPy versions of the three filters below.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from store_helpers import T0, acc_spec, chunk_offset, flip_byte

import bshm.store.chunkread as cr
import bshm.store.h5io as h5io
from bshm.store import RawWriter, open_raw
from bshm.store._chunk_kernels import fletcher32, lzf_decode, unshuffle4


def fletcher32_ref(data: bytes) -> int:
    """HDF5's H5_checksum_fletcher32, word by word (plain Python)."""
    sum1 = sum2 = 0
    n = len(data) // 2
    i = 0
    while n:
        tlen = min(n, 360)
        n -= tlen
        for _ in range(tlen):
            sum1 += (data[i] << 8) | data[i + 1]
            i += 2
            sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if len(data) % 2:
        sum1 += data[i] << 8
        sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


@pytest.mark.parametrize("n", [0, 1, 2, 3, 719, 720, 721, 722, 1441, 5000, 65537])
def test_fletcher32_matches_the_word_by_word_reference(n, rng):
    for data in (rng.integers(0, 256, n, dtype=np.uint8), np.full(n, 255, np.uint8)):
        buf = np.concatenate([data, np.array([7, 7, 7], np.uint8)])  # bytes past n are ignored
        assert int(fletcher32(buf, n)) == fletcher32_ref(data.tobytes())


def _dataset(path, data, chunks, **filters):
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=data, chunks=chunks, maxshape=(None, data.shape[1]), **filters)
    return h5py.File(path, "r")


def _signal(rng, rows, cols):
    """Compressible (a smooth signal) float32 samples with some exact repeats."""
    t = np.arange(rows)[:, None] / 100.0
    x = np.sin(2 * np.pi * 1.3 * t * np.arange(1, cols + 1)) + 0.01 * rng.standard_normal((rows, cols))
    x = x.astype(np.float32)
    x[100:400] = 0.0
    return x


def test_kernels_against_hdf5_stored_chunks(tmp_path, rng):
    x = _signal(rng, 5000, 6)
    f = _dataset(tmp_path / "a.h5", x, (1000, 6), shuffle=True, compression="lzf", fletcher32=True)
    ds = f["d"]
    for r0 in range(0, 5000, 1000):
        mask, raw = ds.id.read_direct_chunk((r0, 0))
        assert mask == 0
        src = np.frombuffer(raw, np.uint8)
        n = src.size - 4
        assert int(fletcher32(src, n)) == int.from_bytes(raw[-4:], "little") == fletcher32_ref(raw[:-4])
        plain = np.empty(6000 * 4, np.uint8)
        assert lzf_decode(src, n, plain) == plain.size
        out = np.empty(6000, np.uint32)
        unshuffle4(plain, out)
        ref = plain.reshape(4, -1).T.copy().view(np.uint32).ravel()  # the NumPy unshuffle
        assert np.array_equal(out, ref)
        assert out.view(np.float32).reshape(1000, 6).tobytes() == x[r0:r0 + 1000].tobytes()
    f.close()


def test_lzf_decode_rejects_bad_input():
    out = np.empty(64, np.uint8)
    lit = np.array([3, 1, 2, 3, 4], np.uint8)  # a literal run of 4 bytes
    assert lzf_decode(lit, 5, out) == 4 and list(out[:4]) == [1, 2, 3, 4]
    assert lzf_decode(lit, 4, out) == -1  # truncated run
    assert lzf_decode(lit, 5, np.empty(3, np.uint8)) == -1  # does not fit
    back = np.array([0, 9, 0x20, 0], np.uint8)  # 1 literal then a 3-byte copy at distance 1
    assert lzf_decode(back, 4, out) == 4 and list(out[:4]) == [9, 9, 9, 9]
    assert lzf_decode(np.array([0x20, 5], np.uint8), 2, out) == -1  # reference before the start
    assert lzf_decode(np.array([0xE0], np.uint8), 1, out) == -1  # length byte missing


FILTERS = {
    "shuffle+lzf+fletcher32": dict(shuffle=True, compression="lzf", fletcher32=True),
    "shuffle+lzf": dict(shuffle=True, compression="lzf"),
    "lzf": dict(compression="lzf"),
    "shuffle": dict(shuffle=True),
    "fletcher32": dict(fletcher32=True),
    "none": {},
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_fast_rows_are_the_bytes_h5py_reads(name, tmp_path, rng, monkeypatch):
    monkeypatch.setattr(cr, "MIN_BYTES", 0)
    x = _signal(rng, 7777, 5)
    x[5, 1] = np.frombuffer(np.uint32(0x7FC12345).tobytes(), np.float32)[0]  # a NaN payload
    x[6, 2] = -0.0
    noisy = rng.standard_normal((7777, 5)).astype(np.float32)  # LZF may give up on these chunks
    for data in (x, noisy):
        f = _dataset(tmp_path / f"{name}.h5", data, (1000, 5), **FILTERS[name])
        ds = f["d"]
        for a, b in [(0, 7777), (0, 1000), (1, 999), (999, 1001), (2500, 7777), (7000, 7777),
                     (7776, 7777), (3000, 3000), (6999, 9000), (-5, 7777)]:
            got = cr.read_rows_fast(ds, a, b)
            ref = ds[a:b]
            if b > max(a, 0) and a < 7777 and a >= 0:
                assert got is not None, (a, b)
            if got is not None:
                assert got.dtype == ref.dtype and got.shape == ref.shape
                assert got.tobytes() == ref.tobytes(), (a, b)
        f.close()


def test_other_layouts_are_left_to_h5py(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(cr, "MIN_BYTES", 0)
    x = rng.standard_normal((3000, 4)).astype(np.float32)
    with h5py.File(tmp_path / "o.h5", "w") as f:
        f.create_dataset("gzip", data=x, chunks=(500, 4), compression="gzip", shuffle=True)
        f.create_dataset("cols", data=x, chunks=(500, 2), compression="lzf")
        f.create_dataset("f8", data=x.astype(np.float64), chunks=(500, 4), compression="lzf")
        f.create_dataset("plain", data=x)  # contiguous
        f.create_dataset("empty", shape=(3000, 4), dtype=np.float32, chunks=(500, 4))  # no chunk
    with h5py.File(tmp_path / "o.h5", "r") as f:
        for name in ("gzip", "cols", "f8", "plain", "empty"):
            assert cr.read_rows_fast(f[name], 0, 3000) is None, name


def test_small_reads_stay_on_h5py(tmp_path, rng):
    x = rng.standard_normal((3000, 4)).astype(np.float32)
    f = _dataset(tmp_path / "s.h5", x, (500, 4), shuffle=True, compression="lzf", fletcher32=True)
    assert cr.read_rows_fast(f["d"], 0, 3000) is None  # 48 kB < MIN_BYTES
    f.close()


def test_damaged_chunk_leaves_it_to_h5py(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(cr, "MIN_BYTES", 0)
    x = _signal(rng, 4000, 4)
    f = _dataset(tmp_path / "d.h5", x, (1000, 4), shuffle=True, compression="lzf", fletcher32=True)
    f.close()
    flip_byte(tmp_path / "d.h5", chunk_offset(tmp_path / "d.h5", "d", 2) + 50)
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert cr.read_rows_fast(f["d"], 0, 4000) is None
        assert cr.read_rows_fast(f["d"], 0, 2000).tobytes() == x[:2000].tobytes()
        with pytest.raises(OSError):
            f["d"][0:4000]


def _big_file(d, rng):
    """A finished raw file with 10 minutes of 8 channels at 100 Hz (1.9 MB)."""
    x = rng.standard_normal((60000, 8)).astype(np.float32)
    with RawWriter(d, "st", [acc_spec(n=8)], compression="lzf") as w:
        for i in range(0, 60000, 6000):
            w.write("acc", x[i:i + 6000], t0_ns=T0 + i * 10**7)
    (p,) = sorted(d.glob("*.h5"))
    return p, x


def test_reader_uses_the_chunk_path_for_finished_files(tmp_path, rng, monkeypatch):
    p, x = _big_file(tmp_path, rng)
    calls = []
    real = cr.read_rows_fast

    def spy(ds, a, b):
        got = real(ds, a, b)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(cr, "read_rows_fast", spy)
    with open_raw(tmp_path) as r:
        rec = r.read("acc", T0 + 10**9, T0 + 500 * 10**9, channels=["A08", "A02"])
        fast = rec.data
        assert calls == [True]
        monkeypatch.setattr(h5io, "read_rows", _slow_read_rows)
        import bshm.store.reader as reader_mod
        monkeypatch.setattr(reader_mod, "read_rows", _slow_read_rows)
        slow = r.read("acc", T0 + 10**9, T0 + 500 * 10**9, channels=["A08", "A02"]).data
    assert fast.tobytes() == slow.tobytes() == x[100:50000][:, [7, 1]].tobytes()


_orig_read_rows = h5io.read_rows


def _slow_read_rows(ds, a, b, fast=False):
    return _orig_read_rows(ds, a, b, fast=False)


def test_reader_damaged_chunk_same_gaps_and_values_as_h5py(tmp_path, rng, monkeypatch):
    p, x = _big_file(tmp_path, rng)
    flip_byte(p, chunk_offset(p, "sources/acc/data", 3) + 64)
    import bshm.store.reader as reader_mod

    def read_all(fast_allowed):
        if not fast_allowed:
            monkeypatch.setattr(reader_mod, "read_rows", _slow_read_rows)
        with open_raw(tmp_path, use_cache=False) as r:
            rec = r.read("acc")
            return rec, r.damaged, r.problems()

    fast_rec, fast_dmg, fast_probs = read_all(True)
    slow_rec, slow_dmg, slow_probs = read_all(False)
    assert fast_rec.data.tobytes() == slow_rec.data.tobytes()
    assert np.array_equal(fast_rec.times_ns, slow_rec.times_ns)
    assert fast_rec.gaps == slow_rec.gaps and len(fast_rec.gaps) == 1
    assert "damaged chunk" in fast_rec.gaps[0].reason
    assert fast_dmg == slow_dmg and fast_probs == slow_probs


def test_live_file_is_read_through_h5py(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(cr, "MIN_BYTES", 0)
    calls = []
    monkeypatch.setattr(cr, "read_rows_fast", lambda ds, a, b: calls.append(1))
    w = RawWriter(tmp_path, "st", [acc_spec()], compression="lzf")
    x = rng.standard_normal((5000, 3)).astype(np.float32)
    w.write("acc", x, t0_ns=T0)
    w.flush()
    with open_raw(tmp_path) as r:
        assert r.read("acc").data.tobytes() == x.tobytes()
    assert calls == []
    w.close()
    with open_raw(tmp_path) as r:
        assert r.read("acc").data.tobytes() == x.tobytes()
    assert calls == [1]  # finished: tried (the spy gives None: h5py read it)


def _rows_regular_ref(of, name, fs, s, e):
    """The times of rows [s, e) as the reader computed them before: every row
    mapped to its block with searchsorted (plain NumPy)."""
    from bshm.store import schema as S
    from bshm.store.fileindex import block_table

    fsamp, n, t0, k0, first, last, _ = block_table(of, name, fs)
    b_lo = int(np.searchsorted(last, s, side="left"))
    b_hi = int(np.searchsorted(first, e, side="left"))
    if b_lo >= b_hi:
        return 0, 0, np.zeros(0, np.int64)
    i_lo = S.grid_index(int(t0[b_lo]), int(k0[b_lo]), fs, s) if s > first[b_lo] else 0
    bl = b_hi - 1
    i_hi = S.grid_index(int(t0[bl]), int(k0[bl]), fs, e) if e <= last[bl] else int(n[bl])
    a = int(fsamp[b_lo]) + i_lo
    b = int(fsamp[bl]) + i_hi
    rows = np.arange(a, b, dtype=np.int64)
    bi = np.searchsorted(fsamp[b_lo:b_hi], rows, side="right") - 1 + b_lo
    return a, b, S.grid_times(t0[bi], k0[bi] + rows - fsamp[bi], fs)


@pytest.mark.parametrize("fs,blocks", [(100.0, 3), (100.0, 20), (3.7, 5), (1000.0, 12)])
def test_row_times_block_by_block_equal_the_row_mapping(tmp_path, rng, fs, blocks):
    from bshm.store.rows import rows_regular

    w = RawWriter(tmp_path, "st", [acc_spec(fs=fs)], compression="lzf")
    t = T0
    for _ in range(blocks):  # blocks with gaps and off-grid starts: stored as separate blocks
        nrows = int(rng.integers(1, 400))
        w.write("acc", rng.standard_normal((nrows, 3)).astype(np.float32), t0_ns=t)
        t += int(nrows * 1e9 / fs) + int(rng.integers(1, 5)) * 10**9 + int(rng.integers(0, 10**6))
    w.close()
    with open_raw(tmp_path) as r:
        of = r._handle(r.files[0])
        span = r.span("acc")
        assert len(r.blocks("acc")) == blocks  # (more than 8 take the row-mapping branch)
        for _ in range(60):
            s, e = sorted(int(v) for v in rng.integers(span[0] - 10**9, span[1] + 10**9, 2))
            a, b, tt = rows_regular(of, "acc", fs, s, e)
            ra, rb, rt = _rows_regular_ref(of, "acc", fs, s, e)
            assert (a, b) == (ra, rb) and tt.dtype == rt.dtype and np.array_equal(tt, rt)
        a, b, tt = rows_regular(of, "acc", fs, span[0], span[1] + 1)
        assert np.array_equal(tt, _rows_regular_ref(of, "acc", fs, span[0], span[1] + 1)[2])
        assert b - a == r.n_samples("acc")
