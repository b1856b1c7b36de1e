"""Time convention: int64 nanoseconds since the Unix epoch, UTC.

``numpy.datetime64[ns]`` compatible. Never float seconds: a float64 epoch
second resolves only about 0.24 us today.
"""

from __future__ import annotations

import datetime as _dt
import re
import time

NS_PER_S = 1_000_000_000

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|min|m|h|d)?\s*$")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "min": 60 * NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}


def now_ns() -> int:
    """Return the wall-clock time as int64 ns since the epoch (UTC)."""
    return time.time_ns()


def to_iso(t_ns: int, *, digits: int = 6) -> str:
    """Format a time in ns as ISO 8601 UTC, e.g. ``2026-01-01T00:00:00.000000Z``."""
    t_ns = int(t_ns)
    sec, frac = divmod(t_ns, NS_PER_S)
    base = _dt.datetime.fromtimestamp(sec, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits <= 0:
        return base + "Z"
    digits = min(digits, 9)
    return f"{base}.{frac:09d}"[: len(base) + 1 + digits] + "Z"


def parse_time(text: str | int) -> int:
    """Parse an ISO 8601 time (naive means UTC) or an int of ns into ns.

    Raises
    ------
    ValueError
        If the text is not a time, naming the accepted forms.
    """
    if isinstance(text, int):
        return text
    s = str(text).strip()
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    frac_ns = 0
    m = re.match(r"^(.*?T\d{2}:\d{2}:\d{2})\.(\d{1,9})(.*)$", s)
    if m:
        s = m.group(1) + m.group(3)
        frac_ns = int(m.group(2).ljust(9, "0"))
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 such as 2026-03-01T12:00:00Z "
            "or 2026-03-01, or an integer of ns since the epoch"
        ) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    delta = d - epoch
    whole = (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000
    return whole + frac_ns


def parse_duration(text: str | float | int) -> int:
    """Parse a duration such as ``"10min"``, ``"1h"``, ``"0.5s"`` or seconds into ns.

    Raises
    ------
    ValueError
        If the text is not a duration.
    """
    if isinstance(text, (int, float)):
        return int(round(float(text) * NS_PER_S))
    m = _DURATION_RE.match(str(text))
    if not m:
        raise ValueError(
            f"{text!r} is not a duration: use a number with a unit "
            "(ns, us, ms, s, min, h, d), e.g. '10min'"
        )
    value, unit = m.group(1), m.group(2) or "s"
    return int(round(float(value) * _UNIT_NS[unit]))


def sample_times(t0_ns: int, n: int, fs: float, first_index: int = 0):
    """Times (int64 ns) of ``n`` samples on a regular grid starting at ``t0_ns``.

    Sample ``k`` (counted from ``first_index``) is at
    ``t0_ns + round(k * 1e9 / fs)``, computed in integer-exact arithmetic
    when ``fs`` is an integer number of Hz.
    """
    import numpy as np

    k = np.arange(first_index, first_index + n, dtype=np.int64)
    if float(fs).is_integer():
        f = int(fs)
        # round(k * 1e9 / f) with integer arithmetic, half up
        return t0_ns + (k * NS_PER_S * 2 + f) // (2 * f)
    return t0_ns + np.round(k * (NS_PER_S / fs)).astype(np.int64)
