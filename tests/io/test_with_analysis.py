"""The interop parts on a real `bshm analyze` run: delivery at its end, UFF export of its modes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from delivery_helpers import Broker, Subscriber, make_alarms, wait_until

from bshm.alarms import AlarmFeed
from bshm.cli import main
from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from test_job_support import write_history, write_station  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hist")
    write_history(out, 4, every_h=2.0)
    write_station(out)
    return out


def _copy(history: Path, dst: Path, port: int) -> Path:
    shutil.copytree(history, dst)
    cfg = dst / "station.toml"
    cfg.write_text(
        cfg.read_text() + f'mqtt = "mqtt://127.0.0.1:{port}/bridges/{{station}}"\n'
        'delivery_retries = 1\ndelivery_backoff = "0.01s"\ndelivery_timeout = "3s"\n'
    )
    return dst


def test_analyze_delivers_pending_alarms_and_survives_a_dead_broker(
    history, tmp_path, capsys, validate
):
    b = Broker(tmp_path / "b")  # not started yet
    d = _copy(history, tmp_path / "data", b.port)
    alarms = make_alarms(3)
    AlarmFeed(d / "alarms.jsonl").append(alarms)
    assert main(["analyze", str(d), "--json", "--no-progress"]) == 0  # broker down: still 0
    out = json.loads(capsys.readouterr().out)
    (rep,) = out["delivery"]
    fed = AlarmFeed(d / "alarms.jsonl").read()  # the 3 + what this run raised (e.g. stale data)
    assert [a["id"] for a in fed[:3]] == [a.id for a in alarms]
    assert rep["status"] == "failed" and rep["pending"] == len(fed) and rep["kind"] == "mqtt"
    assert out["windows"]["total"] > 0  # the analysis itself was done
    b.start()
    sub = Subscriber(b.port, "bridges/#").connect()
    try:
        assert main(["analyze", str(d), "--json", "--no-progress"]) == 0
        (rep,) = json.loads(capsys.readouterr().out)["delivery"]
        fed = AlarmFeed(d / "alarms.jsonl").read()
        assert rep["status"] == "delivered" and rep["delivered"] == len(fed)
        wait_until(lambda: len(sub.messages) >= len(fed), what=f"{len(fed)} messages")
        assert sub.ids() == [a["id"] for a in fed]
        # each alarm on its own station's topic (the 3 made ones: br7; the run's own: the station)
        assert sub.topics == [f"bridges/{a['station']}" for a in fed]
        assert sub.topics[:3] == ["bridges/br7"] * 3
        for m in sub.messages:
            validate(m)
    finally:
        sub.disconnect()
        b.kill()


def test_export_of_a_real_analysis(history, tmp_path, caplog):
    pyuff = pytest.importorskip("pyuff")
    d = tmp_path / "data"
    shutil.copytree(history, d)
    assert main(["analyze", str(d), "--no-progress"]) == 0
    out = tmp_path / "modes.unv"
    assert main(["export", str(d), "--out", str(out)]) == 0
    sets = pyuff.UFF(str(out)).read_sets()
    with open_results(next((d / "results").glob("*_results.h5"))) as r:
        tr = r.tracks()
    ref = np.asarray(tr["ref_frequency"])
    modes = [s for s in sets if s["type"] == 55]
    assert len(modes) == np.isfinite(ref).sum() > 0
    np.testing.assert_allclose([m["freq"] for m in modes], ref[np.isfinite(ref)], rtol=5e-6)
    assert all(0 <= m["modal_damp_vis"] < 0.2 for m in modes)
    (nodes,) = [s for s in sets if s["type"] == 15]
    assert len(nodes["node_nums"]) == len(tr["channels"])  # one location per analysed sensor
    assert "no sensing direction" in caplog.text  # the station gives none: said, exported as z
    csv_out = tmp_path / "trends.csv"
    assert main(["export", str(d), "--out", str(csv_out)]) == 0
    lines = csv_out.read_text().splitlines()
    assert len(lines) == 1 + len(tr["time_ns"])
    assert lines[0].startswith("time,time_ns,T1,T2,M1_frequency_hz")
