"""Binary frame codec: byte layout, CRC kernel vs reference, chunking, corruption."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from bshm.acquisition.crc import CHECK_VALUE, TABLE, crc32, crc32_kernel, make_table
from bshm.acquisition.framing_binary import (
    OVERHEAD,
    BinaryDecoder,
    encode_frame,
    frame_length,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import crc as crc_ref
from reference import framing as framing_ref

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- CRC ---------------------------------------------------------------------------------
def test_crc_check_value_and_table():
    assert crc32(b"123456789") == CHECK_VALUE == 0xCBF43926
    assert np.array_equal(make_table(), TABLE)
    assert crc32(b"") == 0


@HYP
@given(st.binary(max_size=600), st.integers(0, 50), st.integers(0, 50))
def test_crc_kernel_matches_bitwise_reference(data, a, b):
    arr = np.frombuffer(data, dtype=np.uint8)
    start = min(a, len(data))
    end = max(start, len(data) - b)
    got = int(crc32_kernel(TABLE, arr, start, end))
    assert got == crc_ref.crc32_bitwise(data[start:end])
    assert got == zlib.crc32(data[start:end])  # an independent implementation


# -- encoder: byte layout ------------------------------------------------------------
def test_frame_bytes_literal():
    frame = encode_frame(1, 0x0102030405060708, [[1, -1]], "int24")
    expected_head = bytes.fromhex(
        "a55a"  # sync
        "01"  # version
        "00"  # format int24
        "1f00"  # length 31 = 25 + 2 channels * 1 sample * 3 bytes
        "01000000"  # sequence
        "0807060504030201"  # device time, int64 LE
        "02"  # channels
        "0100"  # samples per channel
        "010000" "ffffff"  # payload: +1, -1 as int24 LE
    )
    assert frame[:-4] == expected_head
    assert frame[-4:] == zlib.crc32(expected_head[2:]).to_bytes(4, "little")
    assert len(frame) == frame_length(2, 1, "int24") == 31


def test_frame_bytes_float32_and_int32():
    f32 = encode_frame(7, -5, [[1.5], [-2.0]], "float32")
    assert f32[3] == 2
    assert f32[18] == 1
    assert f32[19:21] == b"\x02\x00"
    assert f32[21:29] == np.array([1.5, -2.0], "<f4").tobytes()
    i32 = encode_frame(2**32 + 3, 0, [[-(2**31), 2**31 - 1]], "int32")
    assert i32[6:10] == b"\x03\x00\x00\x00"  # sequence wraps modulo 2**32
    assert i32[21:29] == bytes.fromhex("00000080ffffff7f")


@pytest.mark.parametrize(
    ("samples", "fmt", "match"),
    [
        ([[2**23]], "int24", "range"),
        ([[1.5]], "int24", "integer"),
        ([[1]], "int16", "format"),
        (np.zeros((0, 2)), "int24", "n_samples"),
        (np.zeros((1, 256)), "int24", "channels"),
        (np.zeros((6000, 4)), "int24", "exceeds"),
    ],
)
def test_encoder_rejects_bad_input(samples, fmt, match):
    with pytest.raises(ValueError, match=match):
        encode_frame(0, 0, samples, fmt)


# -- decoder ---------------------------------------------------------------------------
def _frames(rng, n, fmt="int24", nch=3, ns=4):
    out = []
    for k in range(n):
        if fmt == "float32":
            s = rng.standard_normal((ns, nch)).astype(np.float32)
        else:
            hi = 2**23 if fmt == "int24" else 2**31
            s = rng.integers(-hi, hi, (ns, nch))
        out.append((k, 10**18 + k * 10**7, s, encode_frame(k, 10**18 + k * 10**7, s, fmt)))
    return out


@pytest.mark.parametrize("fmt", ["int24", "int32", "float32"])
def test_round_trip_formats(rng, fmt):
    frames = _frames(rng, 20, fmt, nch=5, ns=7)
    dec = BinaryDecoder()
    got = dec.feed(b"".join(f[3] for f in frames))
    assert len(got) == 20
    for (seq, t, s, raw), fr in zip(frames, got, strict=True):
        assert fr.seq == seq
        assert fr.device_time_ns == t
        assert fr.fmt == fmt
        assert fr.samples.shape == (7, 5)
        assert fr.nbytes == len(raw)
        np.testing.assert_array_equal(fr.samples, np.asarray(s, dtype=np.float64))
    assert (dec.frames_ok, dec.frames_bad, dec.bytes_skipped, dec.pending) == (20, 0, 0, 0)


def test_mixed_layouts_in_one_read(rng):
    a = encode_frame(1, 5, rng.integers(-9, 9, (2, 3)), "int24")
    b = encode_frame(2, 6, rng.standard_normal((5, 1)), "float32")
    c = encode_frame(3, 7, rng.integers(-9, 9, (1, 8)), "int32")
    got = BinaryDecoder().feed(a + b + c)
    assert [(f.seq, f.samples.shape, f.fmt) for f in got] == [
        (1, (2, 3), "int24"), (2, (5, 1), "float32"), (3, (1, 8), "int32")]


@st.composite
def chunked(draw, data):
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=30)))
    pieces, last = [], 0
    for c in cuts + [len(data)]:
        pieces.append(data[last:c])
        last = c
    return pieces


@HYP
@given(st.data())
def test_any_chunking_gives_the_same_frames(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    frames = _frames(rng, data.draw(st.integers(1, 12)), "int24", nch=2, ns=3)
    stream = b"".join(f[3] for f in frames)
    whole = BinaryDecoder().feed(stream)
    dec = BinaryDecoder()
    got = []
    for piece in data.draw(chunked(stream)):
        got += dec.feed(piece)
    assert [(f.seq, f.samples.tolist()) for f in got] == [
        (f.seq, f.samples.tolist()) for f in whole]
    assert len(got) == len(frames)


CORRUPTIONS = ("flip", "drop", "insert", "truncate", "garbage_before", "sync_only")


def corrupt(draw, raw: bytes, kind: str) -> tuple[bytes, bytes, bool]:
    """Return (bytes before the frame, frame bytes, frame touched)."""
    b = bytearray(raw)
    if kind == "flip":
        i = draw(st.integers(0, len(b) - 1))
        b[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "drop":
        del b[draw(st.integers(0, len(b) - 1))]
    elif kind == "insert":
        b.insert(draw(st.integers(1, len(b) - 1)), draw(st.integers(0, 255)))
    elif kind == "truncate":
        del b[draw(st.integers(1, len(b) - 1)) :]
    elif kind == "garbage_before":
        g = draw(st.binary(min_size=1, max_size=40))
        return g, raw, False
    elif kind == "sync_only":  # a fake sync + plausible header claiming a long frame
        g = raw[:21]  # header of the frame itself: length points past it
        return g, raw, False
    return b"", bytes(b), True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corruption_recovers_every_untouched_frame(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fmt = data.draw(st.sampled_from(["int24", "int32", "float32"]))
    frames = _frames(rng, data.draw(st.integers(2, 14)), fmt, nch=2, ns=2)
    stream = bytearray()
    intact = []
    ok_bytes = 0
    for seq, _t, _s, raw in frames:
        kind = data.draw(st.sampled_from(CORRUPTIONS + ("none",) * 3))
        if kind == "none":
            pre, body, touched = b"", raw, False
        else:
            pre, body, touched = corrupt(data.draw, raw, kind)
        stream += pre + body
        if not touched:
            intact.append(seq)
            ok_bytes += len(raw)
    stream += data.draw(st.binary(max_size=30))  # trailing garbage
    dec = BinaryDecoder()
    got = []
    for piece in data.draw(chunked(bytes(stream))):
        got += dec.feed(piece)
    sent = {f[0]: f for f in frames}
    seqs = [f.seq for f in got]
    assert set(intact) <= set(seqs), "an untouched frame was lost"
    assert seqs == sorted(seqs)
    for fr in got:  # none invented: each decoded frame is one that was sent
        seq, t, s, raw = sent[fr.seq]
        assert fr.device_time_ns == t
        np.testing.assert_array_equal(fr.samples, np.asarray(s, dtype=np.float64))
    decoded_bytes = sum(f.nbytes for f in got)
    assert dec.frames_ok == len(got)
    assert dec.bytes_skipped + dec.pending + decoded_bytes == len(stream)
    # the plain reference decoder agrees exactly, counters included
    ref = framing_ref.ReferenceDecoder()
    ref_frames = ref.feed(bytes(stream))
    assert [f[0] for f in ref_frames] == seqs
    for fr, (_, t, vals) in zip(got, ref_frames, strict=True):  # the kernel's values too
        assert fr.device_time_ns == t
        np.testing.assert_array_equal(fr.samples, np.array(vals))
    assert (ref.frames_bad, ref.bytes_skipped) == (dec.frames_bad, dec.bytes_skipped)


def test_random_bytes_never_crash(rng):
    junk = rng.integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    dec = BinaryDecoder()
    got = []
    for k in range(0, len(junk), 65536):
        got += dec.feed(junk[k : k + 65536])
    assert got == []
    assert dec.bytes_skipped + dec.pending == len(junk)
    assert dec.frames_bad >= 1
    # sync words planted in junk: a frame after a fake header is still found
    frame = encode_frame(9, 1, [[1, 2]], "int24")
    fake = b"\xa5\x5a\x01\x00" + (60000).to_bytes(2, "little") + bytes(15)
    got = BinaryDecoder().feed(junk[:5000] + fake + frame + junk[5000:5000 + 70000])
    assert [f.seq for f in got] == [9]


def test_reset_counts_pending_as_skipped():
    dec = BinaryDecoder()
    frame = encode_frame(1, 1, [[1]], "int24")
    assert dec.feed(frame[:10]) == []
    assert dec.pending == 10
    dec.reset()
    assert (dec.pending, dec.bytes_skipped, dec.frames_bad) == (0, 10, 1)
    assert [f.seq for f in dec.feed(frame)] == [1]
    assert OVERHEAD == 25


def test_awaiting_frame_tells_a_pending_long_claim():
    dec = BinaryDecoder()
    good = encode_frame(1, 0, [[1, 2, 3]], "int24")
    assert not dec.awaiting_frame
    dec.feed(good[:10])
    assert not dec.awaiting_frame  # header not complete yet: nothing claimed
    dec.feed(good[10:])
    assert not dec.awaiting_frame and dec.pending == 0
    fake = (b"\xa5\x5a\x01\x00" + (25 + 3 * 400 * 3).to_bytes(2, "little") + bytes(12)
            + bytes([3]) + (400).to_bytes(2, "little"))
    assert dec.feed(fake + good) == []  # the good frame waits behind the claim
    assert dec.awaiting_frame
    frames = dec.feed(bytes(3625))  # claimed length reached: CRC fails, good frame found
    assert not dec.awaiting_frame
    assert [f.seq for f in frames] == [1]
