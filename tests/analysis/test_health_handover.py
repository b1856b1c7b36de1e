"""The window workers' channel health, handed to the strain part, is the strain part's own.

The job's window workers hold each record of the modal source; they check
the health of all its channels (``process_window(..., health_ranges)``) and
the strain part uses that instead of reading and checking the record again.
Checked here: the compact form gives back the same :class:`ChannelHealth`;
the health a worker computes equals ``strain_job._health_of`` of the
strain part's read for a clean window, a window with a recorded gap, a
window with an excluded (dead) channel, windows skipped early (NaN, gap,
no samples), and an identification on a subset of the channels in another
order (whose results must not change); and whole job runs with the
hand-over give the results of runs without it, also when a run is killed
between the window phase and the strain part (merged: the strain part
checks the records itself) or after staging batches (the staged files carry
the health).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis import job as job_mod
from bshm.analysis import strain_job
from bshm.analysis.health import CHECKS, ChannelHealth, check_channel, pack_health
from bshm.analysis.job import run_analysis
from bshm.analysis.job_exec import load_pending, write_pending
from bshm.analysis.windows import WindowConfig, process_batch, process_window

from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import (  # noqa: E402
    assert_same,
    end_ns,
    write_history,
    write_station,
)

S = 1_000_000_000
T0 = 1_767_225_600 * S


def _same_health(got, want) -> None:
    """Field by field, check order and NaN values included."""
    assert (got is None) == (want is None)
    if want is None:
        return
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, ChannelHealth)
        assert (g.channel, g.quantity, g.status, g.reasons) == (
            w.channel,
            w.quantity,
            w.status,
            w.reasons,
        )
        assert list(g.checks) == list(w.checks)
        for k in w.checks:
            (gv, gs), (wv, ws) = g.checks[k], w.checks[k]
            assert gs == ws and (gv == wv or (math.isnan(gv) and math.isnan(wv))), k
            assert type(gv) is float
        assert g.rows(123) == w.rows(123) or any(math.isnan(v[0]) for v in w.checks.values())


# ----------------------------------------------------------------- compact form


def _channels(rng):
    x = rng.standard_normal(3000)
    dead = np.zeros(3000)
    nan = x.copy()
    nan[:2000] = np.nan
    off = x.copy()
    off[::7] = 1e30
    spiky = x.copy()
    spiky[100::50] += 200.0
    clipped = np.clip(x, -0.5, 0.5)
    drift = x + np.linspace(0, 500, 3000)
    return [
        ("clean", x, "acceleration", (-50.0, 50.0), 0.0),
        ("dead", dead, "acceleration", (-50.0, 50.0), 0.0),
        ("nan", nan, "acceleration", None, 0.3),
        ("1e30", off, "strain", (-5000.0, 5000.0), 0.0),
        ("spiky", spiky, "acceleration", None, 0.0),
        ("clipped", clipped, "acceleration", None, 0.0),
        ("drift", drift, "acceleration", None, 0.0),
        ("temperature", np.round(x, 0) + 10.0, "temperature", (-60.0, 80.0), 0.0),
        ("empty", np.full(3000, np.nan), "acceleration", None, 0.0),
        ("two", x[:2], "acceleration", None, 0.0),
    ]


def test_pack_unpack_gives_the_same_health():
    rng = np.random.default_rng(3)
    hs = [
        check_channel(x, 50.0, name=n, quantity=q, valid_range=vr, gap_fraction=gf)
        for n, x, q, vr, gf in _channels(rng)
    ]
    assert {h.status for h in hs} == {"ok", "suspect", "failed"}
    assert any("drift" in h.checks for h in hs) and any("range" in h.checks for h in hs)
    p = pack_health(hs, 3000, full=True)
    assert p is not None and p.full and p.n_rows == 3000
    assert p.values.shape == p.codes.shape == (len(hs), len(CHECKS))
    assert len(p.reasons) < len(hs)  # only the channels that have reasons
    _same_health(p.unpack(), hs)


def test_pack_of_few_rows_and_of_foreign_health():
    p = pack_health(None, 2)
    assert p is not None and p.n_rows == 2 and p.unpack() is None
    h = ChannelHealth("x", "acceleration", "ok", (), {"dead": (1.0, "ok"), "dropouts": (0, "ok")})
    assert pack_health([h], 100) is None  # not in the order of the checks: not packed
    h = ChannelHealth("x", "acceleration", "ok", (), {"dropouts": (0.9, "failed")})
    assert pack_health([h], 100) is None  # status not the worst check


# ------------------------------------------------------------- in the window worker


def _response(rng, n=6000):
    t = np.arange(n) / 50.0
    x = np.zeros((n, 5))
    for f, shape in ((2.1, (1, 0.8, 0.3, -0.5, 0.2)), (4.6, (0.4, -0.6, 1, 0.7, -0.1))):
        q = np.convolve(rng.standard_normal(n), np.exp(-0.02 * np.arange(400)), "same")
        x += np.outer(q * np.sin(2 * np.pi * f * t + 0.3), shape)
    return x + 0.05 * rng.standard_normal(x.shape)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Six 120-s records 200 s apart: clean, recorded gap, dead channel, NaN in 4 of 5
    channels, a strain channel at 1e30, clean."""
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    d = tmp_path_factory.mktemp("handover")
    rng = np.random.default_rng(11)
    chans = tuple(ChannelMeta(f"A{i}", "acceleration", "m/s2") for i in range(4)) + (
        ChannelMeta("S0", "strain", "um/m"),
    )
    env = (ChannelMeta("T1", "temperature", "degC"),)
    specs = [SourceSpec("acc", "simulated", 50.0, chans), SourceSpec("env", "simulated", 1.0, env)]
    with RawWriter(d, "st", specs) as w:
        for k in range(6):
            x = _response(rng).astype(np.float32)
            if k == 2:
                x[:, 1] = 0.0  # dead: excluded from the identification
            if k == 3:
                x[100:4000, [0, 2, 3, 4]] = np.nan  # too few channels left: skipped early
            if k == 4:
                x[:, 4] = 1e30  # strain gauge open circuit
            w.write("acc", x, t0_ns=T0 + k * 200 * S)
            w.write("env", np.full((120, 1), 5.0 + k, np.float32), t0_ns=T0 + k * 200 * S)
        w.add_gap("acc", T0 + 210 * S, T0 + 215 * S, "device silent")
    return d


def _cfg(d, channels=("A0", "A1", "A2", "A3", "S0")):
    return WindowConfig(
        str(d),
        "acc",
        channels,
        (("env", "T1"),),
        window_s=120.0,
        freq_min_hz=1.0,
        freq_max_hz=10.0,
        max_order=30,
        time_lag=25,
    )


RANGES = {"A0": (-50.0, 50.0), "A1": (-50.0, 50.0), "A2": None, "A3": (-2.0, 2.0),
          "S0": (-5000.0, 5000.0), "T1": (-60.0, 80.0)}  # fmt: skip


def _fields(r) -> dict:
    return {k: v for k, v in vars(r).items() if k != "health"}


def _equal_results(a, b) -> None:
    assert_same(_fields(a), _fields(b))


@pytest.mark.parametrize(
    "channels", [("A0", "A1", "A2", "A3", "S0"), ("A3", "A0", "A1", "S0")], ids=["all", "subset"]
)
def test_worker_health_equals_the_strain_parts(store, channels):
    from bshm.store import open_raw

    cfg = _cfg(store, channels)
    wins = [(T0 + k * 200 * S, T0 + k * 200 * S + 120 * S) for k in range(6)]
    wins.append((T0 + 130 * S, T0 + 190 * S))  # between two records: no sample at all
    with_h = process_batch(cfg, wins, health_ranges=RANGES)
    without = process_batch(cfg, wins)
    reasons = [r.reason for r in with_h]
    assert reasons[1] == "gap" and reasons[3] == "nan" and reasons[6] == "gap", reasons
    assert with_h[2].excluded == ("A1",)
    for a, b in zip(with_h, without, strict=True):
        _equal_results(a, b)  # the identification and its checks do not change
        assert b.health is None
    with open_raw(store) as reader:
        for r, (a, b) in zip(with_h, wins, strict=True):
            rec = reader.read("acc", a, b)
            n = rec.data.shape[0]
            want = strain_job._health_of(rec, a, b, RANGES) if n >= 3 else None
            assert r.health is not None and r.health.n_rows == n
            _same_health(r.health.unpack(), want)
    by = {r.start_ns: r.health for r in with_h}
    assert by[wins[0][0]].full and not by[wins[1][0]].full and not by[wins[6][0]].full
    gap = by[wins[1][0]].unpack()
    assert all(h.checks["dropouts"][0] > 0 for h in gap)  # the recorded gap counted
    assert by[wins[2][0]].unpack()[1].status == "failed"  # the dead channel
    assert by[wins[4][0]].unpack()[4].checks["range"][1] == "failed"
    assert by[wins[6][0]].n_rows == 0 and by[wins[6][0]].unpack() is None


def test_health_survives_staging(store, tmp_path):
    cfg = _cfg(store)
    wins = [(T0 + k * 200 * S, T0 + k * 200 * S + 120 * S) for k in range(4)]
    res = process_batch(cfg, wins, health_ranges=RANGES)
    old = process_batch(cfg, wins[:1])  # as staged by a version without the hand-over
    write_pending(tmp_path, res)
    write_pending(tmp_path, [process_batch(cfg, [(T0 + 1000 * S, T0 + 1120 * S)])[0]])
    got, files = load_pending(tmp_path)
    assert len(files) == 2 and len(got) == 5
    for a, b in zip(got[:4], res, strict=True):
        assert (a.health.n_rows, a.health.full) == (b.health.n_rows, b.health.full)
        _same_health(a.health.unpack(), b.health.unpack())
    assert got[4].health is None and old[0].health is None
    assert got[0].health.channels is got[1].health.channels  # one tuple of names


def test_worker_failure_leaves_the_health_to_the_strain_part(store, monkeypatch):
    import bshm.analysis.strain_job as sj

    def boom(*a):
        raise RuntimeError("no")

    monkeypatch.setattr(sj, "_health_of", boom)
    with __import__("bshm.store", fromlist=["open_raw"]).open_raw(store) as reader:
        r = process_window(reader, _cfg(store), T0, T0 + 120 * S, RANGES)
    assert r.status == "processed" and r.health is None


# ----------------------------------------------------------------- whole job runs

N = 10


def _fault(k, data):
    # (channels outside the identification's: excluded ones are tested above)
    if 3 <= k < 7:
        data["acc"][:, 0] = 0.0  # A01 dead
    if k == 5:
        data["acc"][:50, 3] = np.nan  # A04
    if k >= 6:
        data["strain"][:, 0] *= 1e30


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("handover-job")
    write_history(d, N, every_h=2.0, strain=True, seed=9, fault=_fault)
    write_station(d, strain=True)
    return d


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _snapshot(d: Path) -> dict:
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        h = r.channel_health()
        order = np.lexsort((h["check"].astype(str), h["channel"].astype(str), h["time_ns"]))
        return {
            "health": {k: v[order] for k, v in h.items()},
            "alarms": r.alarms(),
            "fatigue": r.fatigue(),
            "strain": r.state("strain"),
            "state": {k: v for k, v in r.alarm_state().items() if k != "updated_ns"},
            "windows": r.windows(),
        }


@pytest.fixture
def checked_here(monkeypatch):
    """The windows the strain part checks itself, per source."""
    seen: dict[str, int] = {}
    orig = strain_job._HealthAhead.__init__

    def spy(self, data_dir, src, windows, ranges, workers):
        seen[src] = seen.get(src, 0) + len(windows)
        orig(self, data_dir, src, windows, ranges, workers)

    monkeypatch.setattr(strain_job._HealthAhead, "__init__", spy)
    return seen


@pytest.fixture(scope="module")
def without_handover(history, tmp_path_factory):
    d = _copy(history, tmp_path_factory.mktemp("nohand") / "d")
    mp = pytest.MonkeyPatch()
    mp.setattr(job_mod.HealthHandOver, "start", classmethod(lambda cls, *a: None))
    try:
        run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))
    finally:
        mp.undo()
    snap = _snapshot(d)
    assert any(a["kind"] == "sensor" for a in snap["alarms"])  # the faults were seen
    assert (snap["health"]["status"] == "failed").any()
    return snap


def test_job_with_handover_gives_the_same_results(history, tmp_path, without_handover,
                                                   checked_here):  # fmt: skip
    d = _copy(history, tmp_path / "d")
    s = run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))
    assert s.strain["windows"] == 3 * N
    assert checked_here == {"acc": 0, "env": N, "strain": N}  # acc: all handed over
    assert_same(without_handover, _snapshot(d))


def test_killed_after_the_window_phase(history, tmp_path, without_handover, checked_here):
    d = _copy(history, tmp_path / "d")
    run_analysis(d, progress=False, now_ns=end_ns(N, 2.0), monitor_strain=False)
    assert checked_here == {}
    s = run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))  # nothing new to identify
    assert s.processed == 0 and s.strain["windows"] == 3 * N
    assert checked_here["acc"] == N  # no hand-over left: checked by the strain part
    assert_same(without_handover, _snapshot(d))


def test_killed_after_staging(history, tmp_path, without_handover, checked_here, monkeypatch):
    d = _copy(history, tmp_path / "d")
    calls = []
    orig = job_mod.load_pending

    def killed(folder):
        calls.append(folder)
        if len(calls) == 3:  # after the batches are staged, before the merge
            raise KeyboardInterrupt
        return orig(folder)

    monkeypatch.setattr(job_mod, "load_pending", killed)
    with pytest.raises(KeyboardInterrupt):
        run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))
    monkeypatch.setattr(job_mod, "load_pending", orig)
    staged, _ = load_pending(d / "results" / "pending")
    assert len(staged) == N and all(r.health is not None and r.health.full for r in staged)
    s = run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))
    assert s.processed == N and s.strain["windows"] == 3 * N
    assert checked_here["acc"] == 0  # the staged batches carried the health
    assert_same(without_handover, _snapshot(d))


def test_other_ranges_are_not_handed_over(history, tmp_path, without_handover, checked_here,
                                          monkeypatch):  # fmt: skip
    d = _copy(history, tmp_path / "d")
    orig = job_mod.HealthHandOver.start.__func__

    def start(cls, *a):
        h = orig(cls, *a)
        h.ranges = dict(h.ranges, A01=(-1.0, 1.0))  # not the strain part's ranges
        return h

    monkeypatch.setattr(job_mod.HealthHandOver, "start", classmethod(start))
    run_analysis(d, progress=False, now_ns=end_ns(N, 2.0))
    assert checked_here["acc"] == N
    assert_same(without_handover, _snapshot(d))
