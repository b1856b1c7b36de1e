"""`bshm import` of MiniSEED files written by ObsPy itself (Steim2, many records, a gap)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from bshm.cli import main
from bshm.store import open_raw
from bshm.timeutil import parse_time

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # ObsPy's import on Python 3.11
    obspy = pytest.importorskip("obspy")
from obspy import Stream, Trace, UTCDateTime  # noqa: E402

T0 = parse_time("2026-03-01T12:00:00.120000Z")
FS = 100.0


def _trace(cha, t0_ns, data, sta="BR1", net="XX", loc="00"):
    tr = Trace(np.asarray(data, dtype=np.int32))
    tr.stats.network, tr.stats.station, tr.stats.location, tr.stats.channel = net, sta, loc, cha
    tr.stats.sampling_rate = FS
    tr.stats.starttime = UTCDateTime(ns=int(t0_ns))
    return tr


def _write(path, traces, reclen=512):
    Stream(traces).write(str(path), format="MSEED", encoding="STEIM2", reclen=reclen)


def test_three_components_with_a_gap_round_trip(tmp_path, rng, capsys):
    n1, n2 = 6000, 4000
    gap_s = 30
    t1 = T0 + int((n1 / FS + gap_s) * 1e9)
    chans = ("HNE", "HNN", "HNZ")
    first = {c: rng.integers(-2_000_000, 2_000_000, n1) for c in chans}
    second = {c: rng.integers(-2_000_000, 2_000_000, n2) for c in chans}
    path = tmp_path / "XX.BR1.mseed"
    _write(
        path, [_trace(c, T0, first[c]) for c in chans] + [_trace(c, t1, second[c]) for c in chans]
    )
    assert path.stat().st_size > 20 * 512  # several Steim2 records
    out = tmp_path / "raw"
    assert main(["import", str(path), "--out", str(out), "--station", "br", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["segments"] == 2 and s["gaps"] == 1 and s["samples"] == n1 + n2
    with open_raw(out) as r:
        rec = r.read("import")
        assert rec.channel_names == chans
        assert [c.quantity for c in rec.channels] == ["acceleration"] * 3
        assert [c.direction for c in rec.channels] == ["x", "y", "z"]
        assert {c.unit for c in rec.channels} == {"counts"}
        expect = np.vstack(
            [
                np.column_stack([first[c] for c in chans]),
                np.column_stack([second[c] for c in chans]),
            ]
        )
        np.testing.assert_array_equal(rec.data, expect.astype(np.float32))  # |v| < 2**24: exact
        assert rec.times_ns[0] == T0 and rec.times_ns[n1] == t1
        assert rec.times_ns[n1 - 1] == T0 + (n1 - 1) * 10_000_000
        (gap,) = r.gaps("import")
        assert (gap.start_ns, gap.end_ns) == (T0 + n1 * 10_000_000, t1)


def test_one_channel_missing_for_a_while_is_nan_not_a_gap(tmp_path):
    n = 2000
    z = np.arange(n)
    e1, e2 = np.arange(800), np.arange(1200, n)
    path = tmp_path / "d.mseed"
    _write(
        path,
        [_trace("HNZ", T0, z), _trace("HNE", T0, e1), _trace("HNE", T0 + 1200 * 10_000_000, e2)],
    )
    assert main(["import", str(path), "--out", str(tmp_path / "raw"), "--station", "br"]) == 0
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        assert rec.n_samples == n and not r.gaps("import")
        e = rec.data[:, rec.channel_names.index("HNE")]
        assert np.isnan(e[800:1200]).all() and not np.isnan(e[:800]).any()
        np.testing.assert_array_equal(e[1200:], e2)


def test_the_same_records_twice_are_kept_once(tmp_path):
    d = np.arange(3000)
    path = tmp_path / "dup.mseed"
    _write(path, [_trace("HNZ", T0, d), _trace("HNZ", T0 + 1000 * 10_000_000, d[1000:2000])])
    assert main(["import", str(path), "--out", str(tmp_path / "raw"), "--station", "br"]) == 0
    with open_raw(tmp_path / "raw") as r:
        rec = r.read("import")
        np.testing.assert_array_equal(rec.data[:, 0], d)


def test_conflicting_overlap_is_refused(tmp_path, capsys):
    d = np.arange(3000)
    path = tmp_path / "clash.mseed"
    _write(path, [_trace("HNZ", T0, d), _trace("HNZ", T0 + 1000 * 10_000_000, d[1000:2000] + 1)])
    out = tmp_path / "raw"
    assert main(["import", str(path), "--out", str(out), "--station", "br"]) == 1
    err = capsys.readouterr().err.strip()
    assert "different values" in err and "clash.mseed" in err and len(err.splitlines()) == 1
    assert not out.exists() or not list(out.glob("*.h5*"))


def test_channels_off_each_others_grid_are_refused(tmp_path, capsys):
    path = tmp_path / "skew.mseed"
    _write(
        path, [_trace("HNZ", T0, np.arange(500)), _trace("HNE", T0 + 4_000_000, np.arange(500))]
    )  # 0.4 sample apart
    assert main(["import", str(path), "--out", str(tmp_path / "raw"), "--station", "br"]) == 1
    assert "off the sample grid" in capsys.readouterr().err


def test_not_miniseed(tmp_path, capsys):
    (tmp_path / "x.mseed").write_bytes(b"this is not a SEED record" * 40)
    assert (
        main(
            ["import", str(tmp_path / "x.mseed"), "--out", str(tmp_path / "raw"), "--station", "br"]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert "x.mseed" in err and len(err.splitlines()) == 1
