"""The monitoring job: detection, incremental + idempotent runs, lock, kill, executors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from bshm.analysis.job import job_lock, run_analysis

from bshm.errors import LockError
from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import (  # noqa: E402
    HOUR_NS,
    START_NS,
    copy_raw,
    end_ns,
    write_history,
    write_station,
)

N_REC = 24  # every 2 h: two days; the first day is the baseline
EVERY_H = 2.0
DAMAGE_REC = 16  # a clear stiffness loss (~4 % on M1) from record 16 on
NOW = end_ns(N_REC, EVERY_H)  # the wall clock of every run: just after the last record


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    from bshm.fixtures.bridge import Damage

    out = tmp_path_factory.mktemp("hist")
    dmg = Damage(
        x_m=35.0,
        length_m=4.0,
        severity=0.45,
        time_ns=START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS),
    )
    write_history(out, N_REC, every_h=EVERY_H, damage=dmg)
    write_station(out)
    return out


@pytest.fixture(scope="module")
def one_shot(history, tmp_path_factory):
    d = copy_raw(history, tmp_path_factory.mktemp("oneshot"))
    s = run_analysis(d, progress=False, now_ns=NOW)
    return d, s


def _modes(d: Path) -> dict[str, np.ndarray]:
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        return r.modes()


def _tracks(d: Path) -> dict:
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        return r.tracks()


def test_detects_the_damage_and_stays_quiet_before(one_shot):
    d, s = one_shot
    assert s.processed == N_REC
    assert not s.skipped
    assert s.baseline_complete
    assert len(s.tracked_modes) >= 3
    t_damage = START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS)
    before = [a for a in s.alarms if a["time_ns"] < t_damage and a["level"] >= 2]
    after = [a for a in s.alarms if a["time_ns"] >= t_damage and a["level"] >= 2]
    assert not before, before
    assert after, s.alarms
    assert min(a["time_ns"] for a in after) <= t_damage + 12 * HOUR_NS
    assert all(a["message"] and a["time"].endswith("Z") for a in s.alarms)
    # the alarm feed holds exactly the stored alarms, with the station name
    feed = [json.loads(x) for x in (d / "alarms.jsonl").read_text().splitlines()]
    with open_results(s.results_path) as r:
        stored = r.alarms()
        models = r.models()
        ix = r.indices()
    assert len(feed) == len(stored)
    assert {f["station"] for f in feed} == {"sim-bridge"}
    assert models["compensation"]["kind"] == "mlr"
    assert models["limits"]["false_alarm_rate_with_persistence"][1] < 1e-5
    assert ix["t2"].shape == (N_REC,)
    assert ix["level"].max() >= 2
    j = s.to_json()
    assert set(j["windows"]) >= {"processed", "skipped"}
    assert set(j["tracked_modes"][0]) == {"id", "mean_frequency_hz", "availability"}


def test_rerun_is_a_no_op(one_shot):
    d, s = one_shot
    before = _tracks(d)
    feed = (d / "alarms.jsonl").read_text()
    s2 = run_analysis(d, progress=False, now_ns=NOW)
    assert s2.processed == 0
    assert s2.alarms == []
    assert s2.total_windows == N_REC
    after = _tracks(d)
    np.testing.assert_array_equal(before["frequency"], after["frequency"])
    assert (d / "alarms.jsonl").read_text() == feed


def test_incremental_equals_one_shot(history, one_shot, tmp_path):
    d0, s0 = one_shot
    d = copy_raw(history, tmp_path / "inc", n_files=14)
    s1 = run_analysis(d, progress=False, now_ns=NOW)
    assert s1.processed == 14
    copy_raw(history, d)
    s2 = run_analysis(d, progress=False, now_ns=NOW)
    assert s2.processed == N_REC - 14
    np.testing.assert_array_equal(_tracks(d)["frequency"], _tracks(d0)["frequency"])
    with open_results(s2.results_path) as r1, open_results(s0.results_path) as r0:
        assert r1.alarms() == r0.alarms()


def test_lock_refuses_a_second_run(history, tmp_path):
    d = copy_raw(history, tmp_path / "lock", n_files=2)
    with job_lock(d / "results" / "sim-bridge.analyze.lock"):
        with pytest.raises(LockError, match="another bshm analyze"):
            run_analysis(d, progress=False, now_ns=NOW)
    # released: a run goes through (the baseline is incomplete: no indices yet)
    s = run_analysis(d, progress=False, now_ns=NOW)
    assert s.processed == 2
    assert not s.baseline_complete


_KILL_SCRIPT = """
import sys
from bshm.analysis.job import run_analysis
run_analysis(sys.argv[1], progress=False, batch_size=1)
"""


def test_killed_run_is_finished_by_the_next(history, one_shot, tmp_path):
    d = copy_raw(history, tmp_path / "kill", n_files=6)
    pending = d / "results" / "pending"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(d)])
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if pending.is_dir() and len(list(pending.glob("*.npz"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    staged = len(list(pending.glob("*.npz")))
    assert staged >= 2
    s = run_analysis(d, progress=False, now_ns=NOW)
    assert s.total_windows == 6
    assert s.processed == 6  # staged windows count as processed by this run (first merge)
    m = _modes(d)
    ref = _modes(one_shot[0])
    keep = np.isin(ref["window_start_ns"], m["window_start_ns"])
    np.testing.assert_array_equal(m["window_start_ns"], ref["window_start_ns"][keep])
    np.testing.assert_array_equal(m["frequency"], ref["frequency"][keep])
    with h5py.File(s.results_path) as f:
        starts = f["windows/start_ns"][()]
    assert starts.size == np.unique(starts).size == 6
    assert not list(pending.glob("*"))


def test_dask_gives_identical_results(history, one_shot, tmp_path):
    pytest.importorskip("distributed")
    d = copy_raw(history, tmp_path / "dask", n_files=3)
    s = run_analysis(d, progress=False, workers=2, now_ns=NOW)
    assert s.executor.startswith("dask")
    assert s.processed == 3
    m = _modes(d)
    ref = _modes(one_shot[0])
    keep = np.isin(ref["window_start_ns"], m["window_start_ns"])
    for k in ("window_start_ns", "frequency", "damping", "shape", "stability"):
        np.testing.assert_array_equal(m[k], ref[k][keep], err_msg=k)


def test_cross_validated_baseline_residuals_are_not_optimistic(rng):
    """Out-of-sample residuals of the baseline scatter more than in-sample ones."""
    from types import SimpleNamespace

    from bshm.analysis.compensation import fit_compensation
    from bshm.analysis.job_derive import _cv_residual

    n = 120
    t = np.arange(n, dtype=np.int64) * 3 * HOUR_NS
    temp = 2 + 6 * np.sin(2 * np.pi * np.arange(n) / 8) + 0.05 * np.arange(n)
    drift = 0.002 * np.sin(2 * np.pi * np.arange(n) / 60)  # slow, unmodelled
    f = (2.0 * (1 - 0.0012 * temp + 0.004 * np.maximum(-temp, 0)) * (1 + drift))[:, None]
    f = f * (1 + 0.001 * rng.standard_normal((n, 1)))
    base = np.ones(n, bool)
    st = SimpleNamespace(temperatures=("T1",), lags_h=())
    c = fit_compensation(t, f, {"T1": temp}, base, temperatures=["T1"])
    cv = _cv_residual(t, f, {"T1": temp}, base, st, c.residual)
    assert np.nanstd(cv) > 1.05 * np.nanstd(c.residual)
    assert np.all(np.isfinite(cv))
