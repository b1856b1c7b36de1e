"""The health checks of a catch-up in worker processes give the same results.

``monitor_raw(workers=2)`` reads and checks the windows of a long catch-up
in two processes ahead of the sensor states, fatigue and thresholds; the
channel-health rows, the alarms, the fatigue and the states must be those of
the one-process run, with faulty channels (dead accelerometer, strain at
1e30) in the history.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis import strain_job

from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import end_ns, write_history, write_station  # noqa: E402

N = 14


def _fault(k, data):
    if 4 <= k < 10:
        data["acc"][:, 2] = 0.0  # dead
    if k >= 8:
        data["strain"][:, 0] *= 1e30


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("strainpar")
    write_history(d, N, every_h=2.0, strain=True, seed=5, fault=_fault)
    write_station(d, strain=True)
    return d


def _run(src: Path, dst: Path, workers):
    from bshm.config import load_station

    shutil.copytree(src, dst)
    st = load_station(dst / "station.toml")
    s = strain_job.monitor_raw(dst, st, workers=workers, now_ns=end_ns(N, 2.0))
    with open_results(next((dst / "results").glob("*_results.h5"))) as r:
        return s, r.channel_health(), r.alarms(), r.fatigue(), r.state("strain")


@pytest.mark.slow
def test_parallel_health_equals_one_process(history, tmp_path, monkeypatch):
    monkeypatch.setattr(strain_job, "PARALLEL_MIN", 2)
    monkeypatch.setattr(strain_job, "PARALLEL_MIN_SAMPLES", 0)  # every source, T1/T2 too
    monkeypatch.setattr(strain_job, "_CHUNK", 5)  # several tasks per source
    here = []  # windows checked in this process (the workers import their own module)
    orig = strain_job._health_of

    def counted(*a):
        here.append(a[1])
        return orig(*a)

    monkeypatch.setattr(strain_job, "_health_of", counted)
    s1, h1, a1, f1, st1 = _run(history, tmp_path / "one", None)
    n_one = len(here)
    s2, h2, a2, f2, st2 = _run(history, tmp_path / "two", 2)
    assert n_one == s1.windows and len(here) == n_one  # none checked here the second time
    assert s1.windows == s2.windows >= 2 * N
    assert s1.health_rows == s2.health_rows > 0
    assert set(h1) == set(h2)
    for k in h1:
        np.testing.assert_array_equal(h1[k], h2[k])
    assert [a["id"] for a in a1] == [a["id"] for a in a2]
    assert any(a["kind"] == "sensor" for a in a1)  # the faults were seen
    assert set(f1) == set(f2)
    for ch in f1:
        for k in f1[ch]:
            np.testing.assert_array_equal(np.asarray(f1[ch][k]), np.asarray(f2[ch][k]))
    assert st1 == st2


def test_few_windows_stay_in_this_process(history):
    ahead = strain_job._HealthAhead(history, "acc", [(0, 1)] * 3, {}, 2)
    assert ahead.pool is None and ahead.get(0) is None
    ahead.close()


def test_light_sources_are_checked_in_this_process(history, tmp_path, monkeypatch):
    """Temperatures (2 channels at 1 Hz) cost less here than in a worker process."""
    monkeypatch.setattr(strain_job, "PARALLEL_MIN", 2)
    monkeypatch.setattr(strain_job, "PARALLEL_MIN_SAMPLES", 5000)  # acc, strain: yes; env: no
    pooled = {}
    orig = strain_job._HealthAhead.__init__

    def spy(self, data_dir, src, windows, ranges, workers):
        orig(self, data_dir, src, windows, ranges, workers)
        pooled[src] = self.pool is not None

    monkeypatch.setattr(strain_job._HealthAhead, "__init__", spy)
    s1, h1, a1, _, _ = _run(history, tmp_path / "one", None)
    s2, h2, a2, _, _ = _run(history, tmp_path / "two", 2)
    assert pooled == {"acc": True, "env": False, "strain": True}
    assert s1.health_rows == s2.health_rows > 0
    for k in h1:
        np.testing.assert_array_equal(h1[k], h2[k])
    assert [a["id"] for a in a1] == [a["id"] for a in a2]
