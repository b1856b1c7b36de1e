"""A straightforward pure-Python decoder of the bshm binary frame protocol.

Same specification as :mod:`bshm.acquisition.framing_binary` (see
docs/protocols.md), written the obvious way: a byte loop, ``struct`` for
the header, the bitwise CRC of ``tests/reference/crc.py`` replaced by
``binascii.crc32`` (the same CRC-32/ISO-HDLC, in C) so the comparison in
``benchmarks/bench_serial.py`` measures the decoding, not a slow CRC.
It is the peer of the benchmark and the reference of the tests.
"""

from __future__ import annotations

import binascii
import struct

_HDR = struct.Struct("<2sBBHIqBH")
_SIZES = {0: 3, 1: 4, 2: 4}


class ReferenceDecoder:
    """Incremental, byte-at-a-time resynchronising decoder (pure Python)."""

    def __init__(self) -> None:
        self.buf = b""
        self.in_bad = False
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_skipped = 0

    def _skip(self) -> None:
        self.bytes_skipped += 1
        if not self.in_bad:
            self.frames_bad += 1
            self.in_bad = True

    def feed(self, data: bytes) -> list[tuple[int, int, list[list[float]]]]:
        """Return (seq, device_time_ns, samples as nested lists) per valid frame."""
        buf = self.buf + bytes(data)
        out = []
        i = 0
        n = len(buf)
        while i < n:
            if buf[i] != 0xA5:
                self._skip()
                i += 1
                continue
            if i + 1 >= n:
                break
            if buf[i + 1] != 0x5A:
                self._skip()
                i += 1
                continue
            if i + 21 > n:
                break
            _, ver, fmt, length, seq, t, nch, ns = _HDR.unpack_from(buf, i)
            size = _SIZES.get(fmt)
            if ver != 1 or size is None or nch == 0 or ns == 0 or length != 25 + nch * ns * size:
                self._skip()
                i += 1
                continue
            if i + length > n:
                break
            body = buf[i + 2 : i + length - 4]
            (crc,) = struct.unpack_from("<I", buf, i + length - 4)
            if binascii.crc32(body) != crc:
                self._skip()
                i += 1
                continue
            payload = body[19:]
            vals = []
            for s in range(ns):
                row = []
                for c in range(nch):
                    k = (s * nch + c) * size
                    chunk = payload[k : k + size]
                    if fmt == 0:
                        row.append(float(int.from_bytes(chunk, "little", signed=True)))
                    elif fmt == 1:
                        row.append(float(struct.unpack("<i", chunk)[0]))
                    else:
                        row.append(float(struct.unpack("<f", chunk)[0]))
                vals.append(row)
            out.append((seq, t, vals))
            self.frames_ok += 1
            self.in_bad = False
            i += length
        self.buf = buf[i:]
        return out
