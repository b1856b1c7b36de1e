"""Cost proportional to new data: many small runs give exactly the results of one run.

A history with a damage and strain gauges is analysed once in one run, and
once in many runs that each add a few raw files, with the results file
sealing its rows into segments every few windows. Indices, tracks,
features, alarms (ids included), alarm states, fatigue (Miner damage,
histograms, rainflow state) and channel health must be identical; so must
``--reprocess``. A rerun with nothing new writes nothing new, and a run
with one new window judges that window only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis.job import run_analysis

from bshm.store.results import ResultsWriter, open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import (  # noqa: E402
    HOUR_NS,
    START_NS,
    assert_same,
    copy_raw,
    end_ns,
    write_history,
    write_station,
)

N_REC, EVERY_H, DAMAGE_REC = 30, 2.0, 19
NOW = end_ns(N_REC, EVERY_H)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    from bshm.fixtures.bridge import Damage

    out = tmp_path_factory.mktemp("inc-hist")
    dmg = Damage(
        x_m=35.0,
        length_m=4.0,
        severity=0.45,
        time_ns=START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS),
    )
    write_history(out, N_REC, every_h=EVERY_H, damage=dmg, strain=True, seed=21)
    write_station(out, strain=True)
    return out


def _snapshot(d: Path) -> dict:
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        snap = {
            "windows": r.windows(),
            "tracks": r.tracks(),
            "features": r.features(),
            "indices": r.indices(),
            "alarms": r.alarms(),
            "fatigue": r.fatigue(),
            "health": r.channel_health(),
            "models": r.models(),
            "versions": [
                {k: v for k, v in m.items() if k != "trained_ns"} for m in r.model_versions()
            ],
            "state": {k: v for k, v in r.alarm_state().items() if k != "updated_ns"},
            "segments": len(list(r.path.parent.glob("*.seg/*.h5"))),
        }
    h = snap["health"]
    order = np.lexsort((h["check"].astype(str), h["channel"].astype(str), h["time_ns"]))
    snap["health"] = {k: v[order] for k, v in h.items()}
    return snap


@pytest.fixture(scope="module")
def one_run(history, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(ResultsWriter, "SEAL_WINDOWS", 8)
    try:
        d = copy_raw(history, tmp_path_factory.mktemp("one"))
        s = run_analysis(d, progress=False, now_ns=NOW)
    finally:
        mp.undo()
    return d, s


def test_many_runs_give_exactly_the_results_of_one_run(history, one_run, tmp_path, monkeypatch):
    monkeypatch.setattr(ResultsWriter, "SEAL_WINDOWS", 8)
    d1, s1 = one_run
    d = tmp_path / "inc"
    delivered = []
    judged = 0
    for n in (14, 15, 18, 19, 20, 23, 27, 30):
        copy_raw(history, d, n_files=n)
        # each run happens just after its data, as under cron
        s = run_analysis(d, progress=False, now_ns=end_ns(n, EVERY_H))
        delivered += s.alarms
        judged += s.judged
    one, many = _snapshot(d1), _snapshot(d)
    assert one["segments"] >= 1 and many["segments"] >= 2  # rows were sealed on the way
    one.pop("segments")
    many.pop("segments")
    assert_same(one, many)
    assert judged == N_REC  # every window judged once
    assert one["alarms"], "the damage raised the structural state"
    assert [a["id"] for a in delivered] == [a["id"] for a in s1.alarms]
    assert {a["subject"] for a in one["alarms"]} >= {"structural"}
    assert one["fatigue"]["S1"]["miner_damage"].size == N_REC
    # a rerun with nothing new adds nothing
    s = run_analysis(d, progress=False, now_ns=NOW)
    assert (s.processed, s.judged, s.alarms) == (0, 0, [])
    assert_same(_snapshot(d1) | {"segments": 0}, _snapshot(d) | {"segments": 0})
    # --reprocess recomputes everything: the same again
    s = run_analysis(d, progress=False, now_ns=NOW, reprocess=True)
    assert s.processed == N_REC
    many = _snapshot(d)
    many.pop("segments")
    assert_same(one, many)


def test_a_run_with_one_new_window_touches_only_it(history, tmp_path, monkeypatch):
    d = copy_raw(history, tmp_path / "one-more", n_files=N_REC - 1)
    run_analysis(d, progress=False, now_ns=NOW)
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        n_health = r.channel_health()["time_ns"].size
        n_ix = r.indices()["time_ns"].size
    copy_raw(history, d, n_files=N_REC)
    s = run_analysis(d, progress=False, now_ns=NOW)
    assert (s.processed, s.judged) == (1, 1)
    assert s.strain["windows"] == 3  # one window of each source (acc, env, strain)
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        h = r.channel_health()
        new_t = np.unique(h["time_ns"][n_health:])
        assert new_t.tolist() == [START_NS + int((N_REC - 1) * EVERY_H * HOUR_NS)]
        assert r.indices()["time_ns"].size == n_ix + 1
