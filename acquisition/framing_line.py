"""Line protocol of cheap MEMS boards: one sample per text line.

Pure code: bytes in, frames out, no I/O. Byte-level specification in
``docs/protocols.md``. A line is::

    [$]field{DELIM field}[*hh]\\r?\\n

``DELIM`` is ``,`` or ``;`` or runs of spaces/tabs ("whitespace"). Each
channel reads the column the config maps to it (0-based); an optional
column carries the device time in seconds since the epoch (decimal, parsed
exactly to ns). ``*hh`` is an NMEA-style checksum: two hex digits, the XOR
of every byte after the optional ``$`` and before the ``*``.

A line is rejected (counted in ``frames_bad``, its bytes in
``bytes_skipped``) if it is too long, is not ASCII, lacks the leading ``$``
or fails its checksum (when checksums are required),
has a column count other than the expected one, or a mapped column is not
a number. The next line is decoded independently, so resynchronisation is
immediate at the next newline.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

import numpy as np
from bshm.acquisition.framing_binary import Frame

log = logging.getLogger(__name__)

DELIMITERS = {",": b",", ";": b";", "whitespace": None}
MAX_LINE = 4096
_HEX = re.compile(rb"^[0-9A-Fa-f]{2}$")
_DEC = re.compile(rb"^([+-]?)(\d+)(?:\.(\d*))?$")
_NUM = re.compile(rb"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$|^\s*[+-]?nan\s*$", re.I)


def nmea_checksum(body: bytes) -> int:
    """XOR of all bytes of ``body`` (the part between ``$`` and ``*``)."""
    c = 0
    for b in body:
        c ^= b
    return c


def parse_seconds_ns(text: bytes) -> int:
    """Parse decimal seconds (e.g. ``b"1700000000.123456"``) exactly into ns.

    Raises
    ------
    ValueError
        If the text is not a finite number.
    """
    m = _DEC.match(text)
    if m:
        sign = -1 if m.group(1) == b"-" else 1
        frac = (m.group(3) or b"")[:9].ljust(9, b"0")
        return sign * (int(m.group(2)) * 1_000_000_000 + int(frac))
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("time is not finite")
    return int(round(value * 1e9))


def encode_line(
    values: Sequence[float],
    *,
    columns: Sequence[int] | None = None,
    n_columns: int | None = None,
    time_ns: int | None = None,
    time_column: int | None = None,
    delimiter: str = ",",
    checksum: bool = False,
    fmt: str = "%.9g",
) -> bytes:
    """Encode one sample as a line (the virtual device's encoder).

    Parameters
    ----------
    values : sequence of float, length n_channels
        One value per channel.
    columns : sequence of int, optional
        Column of each channel (default 0..n-1, after the time column).
    n_columns : int, optional
        Total number of columns (unmapped columns are written as ``0``).
    time_ns : int, optional
        Device time (ns); written with 6 decimals of seconds in ``time_column``.
    delimiter : {",", ";", "whitespace"}
    checksum : bool
        Append ``*hh``.
    """
    nch = len(values)
    if columns is None:
        first = 0 if time_column is None or time_column != 0 else 1
        columns = [first + i for i in range(nch)]
    used = list(columns) + ([time_column] if time_column is not None else [])
    total = n_columns if n_columns is not None else max(used) + 1
    fields = ["0"] * total
    for col, v in zip(columns, values, strict=True):
        fields[col] = fmt % v
    if time_column is not None:
        if time_ns is None:
            raise ValueError("time_column given but no time_ns")
        sec, frac = divmod(int(time_ns), 1_000_000_000)
        fields[time_column] = f"{sec}.{frac // 1000:06d}"
    sep = " " if delimiter == "whitespace" else delimiter
    body = sep.join(fields).encode("ascii")
    if checksum:
        body = b"$" + body + b"*%02X" % nmea_checksum(body)
    return body + b"\r\n"


class LineDecoder:
    """Incremental decoder of the line protocol.

    Parameters
    ----------
    columns : sequence of int
        0-based column of each channel, in channel order.
    time_column : int, optional
        Column with the device time in seconds since the epoch.
    delimiter : {",", ";", "whitespace"}
    checksum : bool
        Require a valid ``*hh`` checksum on every line.
    n_columns : int, optional
        Exact number of columns per line. If None it is learned from the
        first valid line (logged), and later lines must match it.
    """

    def __init__(
        self,
        columns: Sequence[int],
        *,
        time_column: int | None = None,
        delimiter: str = ",",
        checksum: bool = False,
        n_columns: int | None = None,
    ) -> None:
        if delimiter not in DELIMITERS:
            raise ValueError(
                f"delimiter {delimiter!r} is not one of {', '.join(DELIMITERS)}"
            )
        if not columns:
            raise ValueError("a line decoder needs at least one channel column")
        self.columns = [int(c) for c in columns]
        self.time_column = time_column
        self._sep = DELIMITERS[delimiter]
        self.checksum = bool(checksum)
        used = self.columns + ([time_column] if time_column is not None else [])
        if min(used) < 0 or len(set(used)) != len(used):
            raise ValueError(f"columns {used} must be distinct and >= 0")
        self.min_columns = max(used) + 1
        self.n_columns = n_columns
        self._buf = bytearray()
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_skipped = 0
        self.bytes_in = 0
        self.last_error = ""

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._buf)

    def reset(self) -> None:
        """Drop the unfinished line (counted as skipped); counters are kept."""
        if self._buf:
            self.bytes_skipped += len(self._buf)
            self.frames_bad += 1
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Add bytes; return the samples of the lines they complete."""
        self.bytes_in += len(data)
        self._buf += data
        if b"\n" not in data:
            if len(self._buf) > MAX_LINE:
                self._reject(len(self._buf), "line too long")
                self._buf = bytearray()
            return []
        parts = self._buf.split(b"\n")
        self._buf = bytearray(parts.pop())
        out = []
        for line in parts:
            if self.checksum and b"$" in line[1:]:
                # "$" starts every checksummed line: a line whose newline was lost
                # is split at the "$" so the line after it is not lost too
                pieces = line.split(b"$")
                head = pieces.pop(0)
                if head.strip():
                    self._reject(len(head), "bytes before '$'")
                elif head:
                    self.bytes_skipped += len(head)
                for k, piece in enumerate(pieces):
                    extra = 1 if k == len(pieces) - 1 else 0  # the newline
                    frame = self._decode(b"$" + piece, nbytes=len(piece) + 1 + extra)
                    if frame is not None:
                        out.append(frame)
                continue
            frame = self._decode(bytes(line))
            if frame is not None:
                out.append(frame)
        if len(self._buf) > MAX_LINE:
            self._reject(len(self._buf), "line too long")
            self._buf = bytearray()
        return out

    def _reject(self, nbytes: int, why: str) -> None:
        self.frames_bad += 1
        self.bytes_skipped += nbytes
        self.last_error = why

    def _decode(self, line: bytes, nbytes: int | None = None) -> Frame | None:
        nbytes = len(line) + 1 if nbytes is None else nbytes
        body = line[:-1] if line.endswith(b"\r") else line
        if not body.strip():
            self.bytes_skipped += nbytes
            return None
        if len(body) > MAX_LINE:
            self._reject(nbytes, "line too long")
            return None
        if body.startswith(b"$"):
            body = body[1:]
        elif self.checksum:
            self._reject(nbytes, "no leading '$' (checksum = true requires $...*hh)")
            return None
        star = body.rfind(b"*")
        if self.checksum:
            if star < 0 or not _HEX.match(body[star + 1 :]):
                self._reject(nbytes, "no *hh checksum")
                return None
            if int(body[star + 1 :], 16) != nmea_checksum(body[:star]):
                self._reject(nbytes, "checksum mismatch")
                return None
            body = body[:star]
        elif star >= 0 and _HEX.match(body[star + 1 :]):
            body = body[:star]  # checksum present but not required: ignore it
        try:
            fields = body.split(self._sep) if self._sep else body.split()
            return self._fields(fields, nbytes)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            self._reject(nbytes, str(exc) or type(exc).__name__)
            return None

    def _fields(self, fields: list[bytes], nbytes: int) -> Frame | None:
        n = len(fields)
        expected = self.n_columns
        if (expected is not None and n != expected) or n < self.min_columns:
            self._reject(nbytes, f"line has {n} columns, expected {expected or self.min_columns}")
            return None
        picked = [fields[c] for c in self.columns]
        for f in picked:
            if not _NUM.match(f):
                raise ValueError(f"column value {f[:20]!r} is not a number")
        vals = np.array([float(f) for f in picked], dtype=np.float64)
        t = None
        if self.time_column is not None:
            t = parse_seconds_ns(fields[self.time_column].strip())
        if expected is None:
            self.n_columns = n
            log.info("line protocol: %s columns per line (learned from the first line)", n)
        self.frames_ok += 1
        return Frame(-1, t, vals.reshape(1, -1), "line", nbytes)
