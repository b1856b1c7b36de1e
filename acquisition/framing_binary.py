"""Binary framed protocol of the bshm digitizers: encoder and incremental decoder.

Pure code: bytes in, frames out, no I/O. The byte layout is specified in
``docs/protocols.md``; in short (all integers little-endian)::

    off  size  field
    0    2     sync word  0xA5 0x5A
    2    1     version    1
    3    1     format     0 = int24 counts, 1 = int32 counts, 2 = float32
    4    2     length     total frame length in bytes, sync and CRC included
    6    4     sequence   uint32, +1 per frame, wraps
    10   8     device time int64 ns of the first sample (device clock)
    18   1     channels   1..255
    19   2     samples    samples per channel, >= 1
    21   N     payload    sample-major: s0c0 s0c1 .. s1c0 ..; N = ch*samples*size
    21+N 4     CRC-32/ISO-HDLC over bytes 2 .. 21+N-1 (version to payload end)

The decoder scans with a Numba kernel (sync search, header plausibility,
CRC in place) and decodes payloads with vectorised NumPy gathers, so one
call handles a whole read regardless of how many frames it holds.
Resynchronisation: at any position that is not the start of a frame whose
header is plausible and whose CRC matches, exactly one byte is skipped and
the scan goes on, so a valid frame that follows corruption is never lost.
"""

from __future__ import annotations

import logging
import zlib
from typing import NamedTuple

import numpy as np
from bshm.acquisition.crc import TABLE
from numba import njit

log = logging.getLogger(__name__)

SYNC = b"\xa5\x5a"
VERSION = 1
HEADER_SIZE = 21
CRC_SIZE = 4
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_FRAME = 0xFFFF
FORMATS = {"int24": 0, "int32": 1, "float32": 2}
FORMAT_NAMES = {v: k for k, v in FORMATS.items()}
SAMPLE_SIZE = {0: 3, 1: 4, 2: 4}
INT24_MIN, INT24_MAX = -(1 << 23), (1 << 23) - 1

_HEADER_DTYPE = np.dtype(
    [
        ("sync", "<u2"),
        ("version", "u1"),
        ("format", "u1"),
        ("length", "<u2"),
        ("seq", "<u4"),
        ("time", "<i8"),
        ("channels", "u1"),
        ("samples", "<u2"),
    ]
)
assert _HEADER_DTYPE.itemsize == HEADER_SIZE


class Frame(NamedTuple):
    """One decoded frame (binary or line protocol).

    Attributes
    ----------
    seq : int
        Sequence counter (uint32, wraps); -1 for protocols without one.
    device_time_ns : int or None
        Device clock at the first sample (ns), None if the device sends none.
    samples : ndarray, shape (n_samples, n_channels), float64
        Raw values: counts for integer formats, the float value for float32.
    fmt : str
        "int24", "int32", "float32" or "line".
    nbytes : int
        Size of the frame on the wire (bytes).
    """

    seq: int
    device_time_ns: int | None
    samples: np.ndarray
    fmt: str
    nbytes: int


def frame_length(n_channels: int, n_samples: int, fmt: str) -> int:
    """Total length in bytes of a frame with that layout."""
    return OVERHEAD + n_channels * n_samples * SAMPLE_SIZE[FORMATS[fmt]]


def encode_frame(seq: int, device_time_ns: int, samples, fmt: str = "int24") -> bytes:
    """Encode one frame (the CRC comes from :func:`zlib.crc32`, the same CRC-32).

    Parameters
    ----------
    seq : int
        Sequence counter; taken modulo 2**32.
    device_time_ns : int
        Device time of the first sample (ns, int64).
    samples : array-like, shape (n_samples, n_channels)
        Integer counts for "int24"/"int32", values for "float32".
    fmt : {"int24", "int32", "float32"}

    Returns
    -------
    bytes
        The frame, CRC included.

    Raises
    ------
    ValueError
        If the format is unknown, the layout does not fit the header fields,
        or integer counts are out of range.
    """
    if fmt not in FORMATS:
        raise ValueError(f"sample format {fmt!r} is not one of {', '.join(FORMATS)}")
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[0] < 1 or not 1 <= arr.shape[1] <= 255:
        raise ValueError(f"samples must be (n_samples>=1, 1..255 channels), got {arr.shape}")
    ns, nch = arr.shape
    code = FORMATS[fmt]
    length = OVERHEAD + ns * nch * SAMPLE_SIZE[code]
    if length > MAX_FRAME or ns > 0xFFFF:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}: send fewer samples")
    if code == 2:
        payload = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    else:
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError("integer formats need integer counts")
        ints = arr.astype(np.int64)
        lo, hi = (INT24_MIN, INT24_MAX) if code == 0 else (-(1 << 31), (1 << 31) - 1)
        if ints.size and (ints.min() < lo or ints.max() > hi):
            raise ValueError(f"counts out of {fmt} range [{lo}, {hi}]")
        le = ints.astype("<i4").reshape(-1).view(np.uint8).reshape(-1, 4)
        payload = (le[:, :3] if code == 0 else le).tobytes()
    header = np.zeros(1, dtype=_HEADER_DTYPE)
    header[0] = (0x5AA5, VERSION, code, length, seq & 0xFFFFFFFF, device_time_ns, nch, ns)
    body = header.tobytes()[2:] + payload
    return SYNC + body + zlib.crc32(body).to_bytes(4, "little")


@njit(cache=True)
def _scan_kernel(table, buf, n, starts, in_bad):  # pragma: no cover - compiled
    """Find valid frames in ``buf[:n]``.

    Returns (n_frames, consumed, skipped, bad_runs, in_bad). ``consumed`` is
    the position up to which every byte is decided (frame or skipped); the
    bytes after it may start a frame that is not complete yet.
    """
    i = 0
    nf = 0
    skipped = 0
    bad = 0
    while i < n:
        ok = False
        if buf[i] == 0xA5:
            if i + 1 >= n:
                break
            if buf[i + 1] == 0x5A:
                if i + 21 > n:
                    break
                ver = buf[i + 2]
                fmt = buf[i + 3]
                length = np.int64(buf[i + 4]) | (np.int64(buf[i + 5]) << 8)
                nch = np.int64(buf[i + 18])
                nsmp = np.int64(buf[i + 19]) | (np.int64(buf[i + 20]) << 8)
                size = 3 if fmt == 0 else 4
                if ver == 1 and fmt <= 2 and nch > 0 and nsmp > 0 and (
                    length == 25 + nch * nsmp * size
                ):
                    if i + length > n:
                        break
                    crc = np.uint32(0xFFFFFFFF)
                    for j in range(i + 2, i + length - 4):
                        crc = table[(crc ^ buf[j]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
                    crc = crc ^ np.uint32(0xFFFFFFFF)
                    e = i + length - 4
                    stored = (
                        np.uint32(buf[e])
                        | (np.uint32(buf[e + 1]) << np.uint32(8))
                        | (np.uint32(buf[e + 2]) << np.uint32(16))
                        | (np.uint32(buf[e + 3]) << np.uint32(24))
                    )
                    if crc == stored:
                        ok = True
                        starts[nf] = i
                        nf += 1
                        in_bad = False
                        i += length
        if not ok:
            skipped += 1
            if not in_bad:
                bad += 1
                in_bad = True
            i += 1
    return nf, i, skipped, bad, in_bad


@njit(cache=True)
def _decode_kernel(buf, starts, seq, dev_time, code, nch, nsmp, offs, values):  # pragma: no cover
    """Header fields and payload values (float64, sample-major) of valid frames."""
    pos = 0
    for k in range(starts.size):
        i = starts[k]
        c = buf[i + 3]
        q = np.uint32(0)
        for b in range(4):
            q |= np.uint32(buf[i + 6 + b]) << np.uint32(8 * b)
        t = np.uint64(0)
        for b in range(8):
            t |= np.uint64(buf[i + 10 + b]) << np.uint64(8 * b)
        nc = np.int64(buf[i + 18])
        ns = np.int64(buf[i + 19]) | (np.int64(buf[i + 20]) << 8)
        seq[k] = q
        dev_time[k] = np.int64(t)
        code[k] = c
        nch[k] = nc
        nsmp[k] = ns
        offs[k] = pos
        p = i + 21
        for j in range(nc * ns):
            if c == 0:
                v = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
                if v >= 0x800000:
                    v -= 0x1000000
                values[pos + j] = v
                p += 3
            else:
                u = np.uint32(0)
                for b in range(4):
                    u |= np.uint32(buf[p + b]) << np.uint32(8 * b)
                if c == 1:
                    values[pos + j] = np.int64(np.int32(u))
                else:
                    values[pos + j] = np.float64(_u32_as_f32(u))
                p += 4
        pos += nc * ns
    return pos


@njit(cache=True)
def _u32_as_f32(u):  # pragma: no cover - compiled
    a = np.empty(1, dtype=np.uint32)
    a[0] = u
    return a.view(np.float32)[0]


def warm_up() -> None:
    """Load (or compile) the scan kernel now rather than on the first frame."""
    BinaryDecoder().feed(encode_frame(0, 0, [[0]], "int24"))


class BinaryDecoder:
    """Incremental decoder of the binary framed protocol.

    Feed it bytes in any chunking; it returns each valid frame exactly once,
    in order. Counters: ``frames_ok``, ``frames_bad`` (runs of undecodable
    bytes between valid frames: each resynchronisation counts once),
    ``bytes_skipped`` (bytes that belong to no valid frame).

    Parameters
    ----------
    max_buffer : int, optional
        Upper bound of bytes kept while waiting for the rest of a frame
        (at least one maximal frame).
    """

    def __init__(self, *, max_buffer: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._in_bad = False
        self.max_buffer = max(int(max_buffer), 2 * MAX_FRAME)
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_skipped = 0
        self.bytes_in = 0

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def awaiting_frame(self) -> bool:
        """True while the held bytes start with a plausible header whose claimed
        frame has not fully arrived (the decision about it is pending)."""
        b = self._buf
        if len(b) < HEADER_SIZE or b[0] != 0xA5 or b[1] != 0x5A:
            return False
        length = b[4] | (b[5] << 8)
        nch, nsmp = b[18], b[19] | (b[20] << 8)
        size = SAMPLE_SIZE.get(b[3], 0)
        return (b[2] == VERSION and size > 0 and nch > 0 and nsmp > 0
                and length == OVERHEAD + nch * nsmp * size and len(b) < length)

    def reset(self) -> None:
        """Forget buffered bytes (e.g. after a reconnect); counters are kept.

        The dropped bytes are counted as skipped.
        """
        if self._buf:
            self.bytes_skipped += len(self._buf)
            if not self._in_bad:
                self.frames_bad += 1
        self._buf = bytearray()
        self._in_bad = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Add bytes; return the frames completed by them (possibly none)."""
        self.bytes_in += len(data)
        self._buf += data
        n = len(self._buf)
        if n == 0:
            return []
        arr = np.frombuffer(self._buf, dtype=np.uint8)
        starts = np.empty(n // OVERHEAD + 1, dtype=np.int64)
        nf, consumed, skipped, bad, in_bad = _scan_kernel(TABLE, arr, n, starts, self._in_bad)
        self._in_bad = bool(in_bad)
        self.bytes_skipped += int(skipped)
        self.frames_bad += int(bad)
        self.frames_ok += int(nf)
        frames = self._build(arr, starts[:nf]) if nf else []
        del arr
        del self._buf[:consumed]
        if len(self._buf) > self.max_buffer:  # cannot happen with valid headers
            self.reset()
        return frames

    def _build(self, arr: np.ndarray, starts: np.ndarray) -> list[Frame]:
        nf = starts.size
        seq = np.empty(nf, np.int64)
        dev_time = np.empty(nf, np.int64)
        code = np.empty(nf, np.int64)
        nch = np.empty(nf, np.int64)
        nsmp = np.empty(nf, np.int64)
        offs = np.empty(nf, np.int64)
        values = np.empty(arr.size // 3 + 1, np.float64)  # >= 3 bytes per value
        _decode_kernel(arr, starts, seq, dev_time, code, nch, nsmp, offs, values)
        names = FORMAT_NAMES
        return [
            Frame(q, t, values[o : o + a * b].reshape(b, a), names[c],
                  OVERHEAD + a * b * (3 if c == 0 else 4))
            for q, t, c, a, b, o in zip(
                seq.tolist(), dev_time.tolist(), code.tolist(), nch.tolist(),
                nsmp.tolist(), offs.tolist(), strict=True,
            )
        ]
