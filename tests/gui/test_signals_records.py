"""Defect 1: the Signals view draws every record in its span.

What is compared is what the curves really draw (``PlotDataItem.getData()``:
after any clipping and downsampling of the view) against what the store
holds, over spans that cross many records and gaps. Before the fix,
pyqtgraph's clip-to-view with NaN breaks in x kept only the first record
(two months of temperature showed ~2.5 days) or nothing at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from bshm.store import open_raw

NS = 10**9
T0 = 1_790_000_000 * NS
HOUR = 3600 * NS


@pytest.fixture(scope="module")
def many_records(tmp_path_factory):
    """Two days: temperature at 1 Hz (10 min per hour) and 2 acc channels at 50 Hz
    (2 min per hour), each record with its own offset, one logged gap."""
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    out = tmp_path_factory.mktemp("records")
    env = SourceSpec("env", "modbus-rtu", 1.0, (ChannelMeta("T1", "temperature", "degC"),))
    acc = SourceSpec(
        "acc",
        "serial",
        50.0,
        (ChannelMeta("A01", "acceleration", "m/s2"), ChannelMeta("A02", "acceleration", "m/s2")),
    )
    rng = np.random.default_rng(11)
    with RawWriter(out, "st", [env, acc], rollover_s=6 * 3600) as w:
        for k in range(48):
            t = T0 + k * HOUR
            temp = (10 + k + 0.1 * rng.standard_normal(600)).astype(np.float32)
            w.write("env", temp[:, None], t0_ns=t)
            a = rng.standard_normal((6000, 2)).astype(np.float32) + 100 * k
            a[3000, 0] = 100 * k + 50  # one spike per record: it must be drawn
            if k == 20:
                a[1000:1500] = np.nan  # dropouts inside a record
            w.write("acc", a, t0_ns=t + 30 * 60 * NS)
        w.add_gap(
            "acc", T0 + 20 * HOUR + 30 * 60 * NS + 20 * NS, T0 + 20 * HOUR + 31 * 60 * NS, "x"
        )
    return out


def _drawn(curve):
    x, y = curve.getData()
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _check_every_record(sv, curve_index, source, channel, runs, lo_s, hi_s):
    """Every run overlapping [lo_s, hi_s] is drawn with its stored min and max."""
    x, y = _drawn(sv.curves[curve_index])
    assert x.size, "nothing drawn"
    with open_raw(sv.session.path) as r:
        checked = 0
        for a, b in runs:
            if b / NS < lo_s or a / NS > hi_s:
                continue
            a2, b2 = max(a, int(lo_s * NS)), min(b, int(hi_s * NS))
            rec = r.read(source, a2, b2 + 1, channels=[channel])
            v = rec.data[:, 0]
            if not np.isfinite(v).any():
                continue
            inside = (x >= a2 / NS - 1e-6) & (x <= b2 / NS + 1e-6) & np.isfinite(y)
            assert inside.any(), f"record starting {a} is not drawn"
            assert np.nanmax(y[inside]) == pytest.approx(float(np.nanmax(v)), abs=1e-4)
            assert np.nanmin(y[inside]) == pytest.approx(float(np.nanmin(v)), abs=1e-4)
            checked += 1
    return checked


def test_two_days_of_temperature_show_every_record(window, many_records):
    assert window.open_path(many_records), window.last_error
    window.tree.select_source("env")
    sv = window.signals
    sv.show_all()
    assert sv.trace.kind == "raw"
    runs = window.session.runs("env")
    assert len(runs) == 48
    lo, hi = sv.plots[0].viewRange()[0]
    assert _check_every_record(sv, 0, "env", "T1", runs, lo, hi) == 48
    # and no point is invented: every drawn value is a stored value
    x, y = _drawn(sv.curves[0])
    with open_raw(many_records) as r:
        stored = r.read("env", channels=["T1"]).data[:, 0]
    ok = np.isfinite(y)
    assert np.isin(y[ok].astype(np.float32), stored).all()


def test_zoom_starting_in_a_pause_shows_the_record(window, many_records):
    assert window.open_path(many_records)
    window.tree.select_source("acc")
    sv = window.signals
    runs = window.session.runs("acc")
    # a 5-hour view that starts in a pause between records (the blank view of the defect)
    start = runs[10][1] + 5 * 60 * NS
    sv.set_range(start, start + 5 * HOUR)
    lo, hi = sv.plots[0].viewRange()[0]
    for i, ch in enumerate(sv.channels):
        n = _check_every_record(sv, i, "acc", ch, runs, lo, hi)
        assert n >= 4


def test_whole_span_of_acceleration_every_record_and_spike(window, many_records):
    assert window.open_path(many_records)
    window.tree.select_source("acc")
    sv = window.signals
    sv.show_all()
    assert sv.trace.kind == "raw"  # 288,000 samples: raw, reduced per pixel column
    runs = window.session.runs("acc")
    assert len(runs) >= 48  # the logged gap splits one record
    lo, hi = sv.plots[0].viewRange()[0]
    assert _check_every_record(sv, 0, "acc", "A01", runs, lo, hi) == len(runs)
    x, y = _drawn(sv.curves[0])
    # reduced: far fewer points than samples, but every spike is there
    assert x.size < 20_000
    for k in range(48):
        assert np.any(np.isclose(y, 100 * k + 50)), f"spike of record {k} lost"


def test_narrow_view_draws_every_sample_exactly(window, many_records):
    assert window.open_path(many_records)
    window.tree.select_source("acc")
    sv = window.signals
    runs = window.session.runs("acc")
    # 4 s either side of the pause between two records: two records, few samples
    a = runs[3][1] - 4 * NS
    sv.set_range(a, a + 8 * NS)
    with open_raw(many_records) as r:
        rec = r.read("acc", a, a + 8 * NS, channels=["A01"])
    x, y = _drawn(sv.curves[0])
    ok = np.isfinite(x) & (x >= a / NS) & (x < (a + 8 * NS) / NS)
    np.testing.assert_array_equal(y[ok], rec.data[:, 0])
    np.testing.assert_allclose(x[ok], rec.times_ns / NS, rtol=0, atol=1e-6)


def test_overview_of_many_records_draws_each(window, many_records, qtbot, monkeypatch):
    from bshm.gui import data as D

    monkeypatch.setattr(D, "RAW_POINT_LIMIT", 5000)
    assert window.open_path(many_records)
    window.tree.select_source("acc")
    sv = window.signals
    sv.trace = None
    sv.show_all()
    qtbot.waitUntil(lambda: sv.trace.kind == "overview" and sv.trace.complete, timeout=60000)
    runs = window.session.runs("acc")
    lo, hi = sv.plots[0].viewRange()[0]
    assert _check_every_record(sv, 1, "acc", "A02", runs, lo, hi) == len(runs)


def test_view_arrays_reference():
    """The reduction against a plain per-column loop."""
    from bshm.gui.data import view_arrays

    rng = np.random.default_rng(2)
    t = np.concatenate([np.arange(0, 100, 0.01), [np.nan], np.arange(150, 250, 0.01)])
    y = rng.standard_normal(t.size)
    y[np.isnan(t)] = np.nan
    x, yy = view_arrays(t, y, 0.0, 250.0, 100)
    # one NaN separates the records
    assert np.isnan(x).sum() == 1
    # no column holds samples of both records (100..150 is a pause)
    col_t = np.floor(t / 250.0 * 100)
    col_x = np.floor(x / 250.0 * 100)
    for c in range(100):
        sel = np.isfinite(t) & (col_t == c)
        if not sel.any():
            continue
        got = np.isfinite(x) & (col_x == c)
        assert yy[got].max() == y[sel].max()
        assert yy[got].min() == y[sel].min()
    # sparse data pass through unchanged
    x2, y2 = view_arrays(t[:50], y[:50], 0.0, 0.5, 1000)
    np.testing.assert_array_equal(y2, y[:50])
