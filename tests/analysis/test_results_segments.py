"""Results schema 2: sealed segments keep a transaction's cost bounded, crash-safe.

Rows of the append-only tables move into immutable segment files once the
head file holds enough of them; readers see every table whole; a writer
killed between writing a segment and committing the head leaves an orphan
that nobody reads and the next writer removes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from bshm.errors import SchemaVersionError, StoreError
from bshm.store import results as rs
from bshm.store.results_seg import manifest, segment_dir

CH = ("A1", "A2", "A3")
T0 = 1_767_225_600_000_000_000
H = 3_600_000_000_000


def _windows(k0: int, n: int, rng) -> list:
    out = []
    for k in range(k0, k0 + n):
        m = 3
        out.append(
            SimpleNamespace(
                start_ns=T0 + k * H,
                end_ns=T0 + k * H + 600 * 10**9,
                status="processed",
                reason="",
                rms=0.01,
                env={"T1": float(k)},
                frequencies=np.sort(rng.uniform(1, 10, m)),
                damping=np.full(m, 0.01),
                shapes=rng.standard_normal((3, m)) + 0j,
                mpc=np.ones(m),
                stability=np.full(m, 5, np.int32),
                excluded=(),
                detail="",
            )
        )
    return out


def _txn(p, ws, k0, n, rng, **kw):
    with rs.ResultsWriter(p, "st", **kw) as w:
        w.append_windows(ws[k0 : k0 + n], channels=CH, env_names=["T1"])
        t = np.array([x.start_ns for x in ws[k0 : k0 + n]])
        w.append_rows("indices", {"time_ns": t, "t2": rng.random(n), "level": np.zeros(n, np.int8)})
        w.append_channel_health(
            [
                {
                    "time_ns": int(x),
                    "channel": "A1",
                    "check": "status",
                    "value": 0.0,
                    "status": "ok",
                    "message": "",
                }
                for x in t
            ]
        )
        w.append_fatigue(
            "S1",
            window_start_ns=t,
            window_end_ns=t + 1,
            range_edges=[0.0, 1.0, 2.0],
            counts=np.ones((n, 2)),
            miner_damage=np.full(n, 1e-9),
        )
        w.write_json("job", {"last": int(t[-1])})


def test_rows_are_sealed_and_read_back_whole_and_the_head_stays_small(tmp_path, rng):
    p = tmp_path / "results" / "st_results.h5"
    ws = _windows(0, 400, rng)
    sizes = []
    for k0 in range(0, 400, 10):
        _txn(p, ws, k0, 10, rng, seal_windows=50)
        sizes.append(p.stat().st_size)
    with rs.open_results(p) as r:
        w = r.windows()
        assert w["start_ns"].tolist() == [x.start_ns for x in ws]
        assert r.environment()[2][:, 0].tolist() == [float(k) for k in range(400)]
        assert r.modes()["frequency"].size == 3 * 400
        assert r.modes(start_ns=ws[100].start_ns, end_ns=ws[110].start_ns)["frequency"].size == 30
        assert r.indices()["t2"].size == 400
        assert r.channel_health()["time_ns"].size == 400
        assert r.fatigue()["S1"]["miner_damage"].size == 400
        assert r.state("job") == {"last": ws[-1].start_ns}
        assert len(manifest(r.f)) == 8
    # the head does not grow with the history: the last files are no bigger than the first
    assert max(sizes[-10:]) <= 1.5 * max(sizes[:5])
    assert len(list(segment_dir(p).iterdir())) == 8
    s = rs.summarize(p)
    assert s["windows"]["total"] == 400 and len(s["segments"]) == 8
    # idempotent across segments: nothing sealed is appended again
    with rs.ResultsWriter(p, "st") as w:
        assert w.append_windows(ws[:20], channels=CH, env_names=["T1"]) == 0
        assert (
            w.append_fatigue(
                "S1",
                window_start_ns=[ws[3].start_ns],
                window_end_ns=[1],
                range_edges=[0.0, 1.0, 2.0],
                counts=np.ones((1, 2)),
                miner_damage=[1.0],
            )
            == 0
        )
        with pytest.raises(StoreError, match="sealed"):
            w.write_group("indices", {"time_ns": [1]})


_KILL = """
import sys, numpy as np
sys.path.insert(0, {here!r})
from test_results_segments import _txn, _windows
rng = np.random.default_rng(1)
_txn(sys.argv[1], _windows(0, 60, rng), int(sys.argv[2]), 10, rng, seal_windows=30)
"""


def test_a_writer_killed_after_writing_a_segment_leaves_nothing_visible(tmp_path, rng):
    p = tmp_path / "st_results.h5"
    here = os.path.dirname(__file__)
    code = _KILL.format(here=here)
    for k0 in (0, 10):
        subprocess.run([sys.executable, "-c", code, str(p), str(k0)], check=True, timeout=120)
    before = p.read_bytes()
    env = dict(os.environ, BSHM_TEST_KILL_AT="results-before-rename")
    r = subprocess.run([sys.executable, "-c", code, str(p), "20"], env=env, timeout=120)
    assert r.returncode == -signal.SIGKILL
    orphans = list(segment_dir(p).iterdir())
    assert [o.name for o in orphans] == ["000001.h5"]  # written, never listed
    assert p.read_bytes() == before  # the head is the one before the killed transaction
    with rs.open_results(p) as rd:
        assert rd.windows()["start_ns"].size == 20
        assert manifest(rd.f) == []
    subprocess.run([sys.executable, "-c", code, str(p), "20"], check=True, timeout=120)
    with rs.open_results(p) as rd:
        assert rd.windows()["start_ns"].size == 30
        assert [e["file"] for e in manifest(rd.f)] == ["000001.h5"]
    assert not list(p.parent.glob("*.tmp*"))


def test_schema_1_files_are_read_and_not_written(tmp_path):
    p = tmp_path / "old_results.h5"
    with h5py.File(p, "w") as f:
        f.attrs["bshm_kind"] = "results"
        f.attrs["schema_version"] = 1
        f.attrs["station"] = "old"
        g = f.create_group("windows")
        g.create_dataset("start_ns", data=np.array([T0, T0 + H]))
        g.create_dataset("end_ns", data=np.array([T0 + 1, T0 + H + 1]))
        a = f.create_group("alarms")
        for k, v in {"time_ns": [T0], "level": [2], "value": [3.0], "threshold": [2.0]}.items():
            a.create_dataset(k, data=np.array(v))
        for k, v in {"index": "t2", "mode": "", "channel": "", "message": "old"}.items():
            a.create_dataset(k, data=np.array([v], dtype=object), dtype=h5py.string_dtype())
    with rs.open_results(p) as r:
        assert r.windows()["start_ns"].size == 2
        (al,) = r.alarms()
        assert al["kind"] == "structural" and len(al["id"]) == 20 and al["message"] == "old"
    with pytest.raises(SchemaVersionError, match="--reprocess"):
        with rs.ResultsWriter(p):
            pass
