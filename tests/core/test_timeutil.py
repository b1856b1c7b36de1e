"""Time convention helpers."""

from __future__ import annotations

import numpy as np
import pytest

from bshm.timeutil import parse_duration, parse_time, sample_times, to_iso


def test_iso_round_trip_keeps_nanoseconds():
    t = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z
    assert to_iso(t, digits=9) == "2026-01-01T00:00:00.123456789Z"
    assert parse_time(to_iso(t, digits=9)) == t
    assert to_iso(t) == "2026-01-01T00:00:00.123456Z"
    assert parse_time("2026-01-01") == 1_767_225_600_000_000_000
    assert parse_time("2026-01-01T01:00:00+01:00") == 1_767_225_600_000_000_000
    assert parse_time(str(t)) == t


def test_parse_errors_are_clear():
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("next tuesday")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("ten minutes")


@pytest.mark.parametrize(
    "text,ns",
    [("10min", 600 * 10**9), ("1h", 3600 * 10**9), ("0.5s", 5 * 10**8), ("2d", 172800 * 10**9),
     (30, 30 * 10**9), ("250ms", 250 * 10**6)],
)
def test_durations(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("fs", [100.0, 1000.0, 3.0, 20.0, 2.5])
def test_sample_times_exact(fs):
    t0 = 1_767_225_600_000_000_000
    n = 10_000
    got = sample_times(t0, n, fs)
    want = np.array([t0 + round(k * 1e9 / fs) for k in range(n)], dtype=np.int64)
    # integer rates: exact rounding; fractional rates: within 1 ns of the ideal grid
    tol = 0 if float(fs).is_integer() else 1
    assert np.abs(got - want).max() <= tol
    assert got.dtype == np.int64
    # continuing a block gives the same grid
    assert np.array_equal(sample_times(t0, 10, fs, first_index=n - 10), got[-10:])
