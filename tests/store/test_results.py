"""The HDF5 results store: idempotent appends, crash safety, reader API, summary."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from bshm.analysis.windows import WindowResult

from bshm.alarms import Alarm
from bshm.errors import SchemaVersionError, StoreError
from bshm.store import results as rs

CH = ("A1", "A2", "A3")


def window(k: int, rng, processed=True) -> WindowResult:
    t = 1_767_225_600_000_000_000 + k * 3_600_000_000_000
    if not processed:
        return WindowResult(t, t + 600_000_000_000, "skipped", "gap", env={"T1": 1.0})
    m = 2 + k % 2
    return WindowResult(
        t,
        t + 600_000_000_000,
        "processed",
        "",
        0.01,
        {"T1": 2.0 + k},
        np.sort(rng.uniform(1, 10, m)),
        np.full(m, 0.01),
        rng.standard_normal((3, m)) + 1j * rng.standard_normal((3, m)),
        np.ones(m),
        np.arange(m, dtype=np.int32) + 10,
    )


def alarm(k: int, level=2) -> Alarm:
    return Alarm(1_767_225_600_000_000_000 + k, level, "t2", 30.0, 20.0, None, f"msg {k}")


def test_windows_append_is_idempotent(tmp_path, rng):
    p = tmp_path / "r" / "st_results.h5"
    ws = [window(k, rng, processed=k != 2) for k in range(5)]
    with rs.ResultsWriter(p, "st") as w:
        assert w.append_windows(ws[:3], channels=CH, env_names=["T1"]) == 3
    with rs.ResultsWriter(p, "st") as w:
        assert w.append_windows(ws, channels=CH, env_names=["T1"]) == 2  # 3 already there
        assert w.append_windows(ws, channels=CH, env_names=["T1"]) == 0
    with rs.open_results(p) as r:
        w = r.windows()
        assert w["start_ns"].tolist() == [x.start_ns for x in ws]
        assert w["processed"].tolist() == [True, True, False, True, True]
        assert w["reason"][2] == "gap"
        names, t, env = r.environment()
        assert names == ["T1"]
        assert env[:, 0].tolist() == [2.0, 3.0, 1.0, 5.0, 6.0]
        m = r.modes()
        assert m["frequency"].size == sum(len(x.frequencies) for x in ws)
        k0 = m["window_start_ns"] == ws[0].start_ns
        np.testing.assert_allclose(m["frequency"][k0], ws[0].frequencies)
        np.testing.assert_allclose(m["shape"][k0], ws[0].shapes.T, rtol=1e-6)
        assert m["stability"][k0].tolist() == [10, 11]
        assert r.channels == list(CH)
        assert r.modes(start_ns=ws[3].start_ns)["window_start_ns"].min() == ws[3].start_ns
    with h5py.File(p) as f:
        assert f.attrs["bshm_kind"] == "results"
        assert f.attrs["schema_version"] == rs.RESULTS_SCHEMA_VERSION


def test_channel_change_is_refused(tmp_path, rng):
    p = tmp_path / "x_results.h5"
    with rs.ResultsWriter(p) as w:
        w.append_windows([window(0, rng)], channels=CH, env_names=["T1"])
    with pytest.raises(StoreError, match="channels"):
        with rs.ResultsWriter(p) as w:
            w.append_windows([window(1, rng)], channels=("A1", "A2", "B3"), env_names=["T1"])


def test_failed_write_leaves_the_previous_file(tmp_path, rng):
    """An exception (or a kill) inside the block leaves the old file intact."""
    p = tmp_path / "x_results.h5"
    with rs.ResultsWriter(p) as w:
        w.append_windows([window(0, rng)], channels=CH, env_names=["T1"])
    before = p.read_bytes()

    def killed_mid_write():
        with rs.ResultsWriter(p) as w:
            w.append_windows([window(1, rng)], channels=CH, env_names=["T1"])
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed_mid_write()
    assert p.read_bytes() == before
    assert not p.with_name(p.name + ".tmp").exists()
    # a temporary file left by a killed writer is ignored and removed
    p.with_name(p.name + ".tmp").write_bytes(b"garbage")
    with rs.ResultsWriter(p) as w:
        assert w.append_windows([window(1, rng)], channels=CH, env_names=["T1"]) == 1
    with rs.open_results(p) as r:
        assert r.windows()["start_ns"].size == 2


def test_alarms_deduplicated_and_ordered(tmp_path):
    p = tmp_path / "x_results.h5"
    added = rs.append_alarms(p, [alarm(5), alarm(1), alarm(5)])
    assert [a.time_ns % 10 for a in added] == [5, 1]
    assert rs.append_alarms(p, [alarm(1), alarm(5, level=3)]) == [alarm(5, level=3)]
    with rs.open_results(p) as r:
        a = r.alarms()
    assert [(x["time_ns"] % 10, x["level"]) for x in a] == [(1, 2), (5, 2), (5, 3)]
    assert a[0]["time"].endswith("Z")
    assert a[0]["mode"] is None
    assert a[0]["message"] == "msg 1"


def test_fatigue_and_channel_health(tmp_path):
    p = tmp_path / "x_results.h5"
    edges = np.array([0.0, 10.0, 20.0, 40.0])
    kw = {
        "window_start_ns": [0, 10],
        "window_end_ns": [10, 20],
        "range_edges": edges,
        "counts": [[5, 1, 0], [3, 0, 0.5]],
        "miner_damage": [1e-9, 2e-9],
    }
    assert rs.append_fatigue(p, "S1", attrs={"detail_category": 71.0}, **kw) == 2
    assert rs.append_fatigue(p, "S1", **kw) == 0
    kw2 = dict(kw, window_start_ns=[10, 20], window_end_ns=[20, 30])
    assert rs.append_fatigue(p, "S1", **kw2) == 1
    with pytest.raises(StoreError, match="edges"):
        rs.append_fatigue(p, "S1", **dict(kw2, range_edges=edges * 2))
    with pytest.raises(ValueError, match="counts"):
        rs.append_fatigue(p, "S2", **dict(kw, counts=[[1, 2]]))
    rows = [
        {
            "time_ns": 0,
            "channel": "A1",
            "check": "flat",
            "value": 1.0,
            "status": "fault",
            "message": "A1 flat",
        }
    ]
    assert rs.append_channel_health(p, rows) == 1
    assert rs.append_channel_health(p, rows) == 0
    with rs.open_results(p) as r:
        fat = r.fatigue()["S1"]
        assert fat["window_start_ns"].tolist() == [0, 10, 20]
        np.testing.assert_allclose(fat["miner_damage"], [1e-9, 2e-9, 2e-9])
        np.testing.assert_array_equal(fat["range_edges"], edges)
        assert fat["detail_category"] == 71.0
        assert fat["unit"] == "MPa"
        h = r.channel_health()
        assert h["channel"].tolist() == ["A1"]
        assert h["status"][0] == "fault"


def test_derived_groups_models_and_summary(tmp_path, rng):
    p = tmp_path / "st_results.h5"
    ws = [window(k, rng, processed=k != 1) for k in range(4)]
    t = np.array([w.start_ns for w in ws if w.status == "processed"])
    freq = np.array([[2.0, np.nan], [2.1, 4.0], [2.05, 4.1]])
    with rs.ResultsWriter(p, "st") as w:
        w.append_windows(ws, channels=CH, env_names=["T1"])
        w.write_group("tracks", {"time_ns": t, "frequency": freq}, {"mode_ids": '["M1", "M2"]'})
        w.write_model("compensation", {"kind": "mlr", "coefs": np.array([1.0, 2.0])})
        w.append_alarms([alarm(3)])
        with pytest.raises(ValueError, match="derived"):
            w.write_group("modes", {})
    with rs.ResultsWriter(p, "st") as w:  # rewriting a derived group replaces it
        w.write_group("tracks", {"time_ns": t, "frequency": freq * 2}, {"mode_ids": '["M1", "M2"]'})
    with rs.open_results(p) as r:
        tr = r.tracks()
        assert tr["mode_ids"] == ["M1", "M2"]
        np.testing.assert_array_equal(tr["frequency"], freq * 2)
        assert r.models()["compensation"] == {"kind": "mlr", "coefs": [1.0, 2.0]}
    s = rs.summarize(p)
    assert s["kind"] == "results"
    assert s["station"] == "st"
    assert s["windows"]["total"] == 4
    assert s["windows"]["processed"] == 3
    assert s["windows"]["skipped"] == {"gap": 1}
    assert s["tracked_modes"][1] == {
        "id": "M2",
        "mean_frequency_hz": pytest.approx(8.1),
        "availability": pytest.approx(2 / 3),
    }
    assert s["alarms"] == {"count": 1, "max_level": 2}
    assert rs.is_results_file(p)


def test_reader_refuses_other_files(tmp_path):
    raw = tmp_path / "raw.h5"
    with h5py.File(raw, "w") as f:
        f.attrs["bshm_kind"] = "raw"
    with pytest.raises(StoreError, match="not a bshm results file"):
        rs.open_results(raw)
    assert not rs.is_results_file(raw)
    newer = tmp_path / "new_results.h5"
    with h5py.File(newer, "w") as f:
        f.attrs["bshm_kind"] = "results"
        f.attrs["schema_version"] = rs.RESULTS_SCHEMA_VERSION + 1
    with pytest.raises(SchemaVersionError, match="upgrade"):
        rs.open_results(newer)
    with pytest.raises(StoreError, match="cannot open"):
        rs.open_results(tmp_path / "missing.h5")
