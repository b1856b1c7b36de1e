"""The report shows the job's stored alarm state, the trained conditions and the campaign.

A real ``bshm analyze --json`` on a short simulated history with a 10 %
stiffness loss and a warm spell outside the baseline's temperature range;
the report is compared with what the results file stores (and with what
``--json`` printed), not with hard-coded values.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import HOUR_NS, START_NS, write_history, write_station  # noqa: E402

EVERY_H = 2.0
N_RECORDS = 44


def _temperature(k: int) -> float:
    """Daily cycle inside the baseline's range, then a warm spell from hour 48."""
    h = k * EVERY_H
    return 4.0 + 4.0 * np.sin(2 * np.pi * (h - 9.0) / 24.0) + (0.25 * (h - 48) if h > 48 else 0.0)


def build_monitored(root: Path) -> tuple[Path, dict]:
    """Simulated history (damage from record 20, warm spell), ``bshm analyze --json``.

    Returns the data folder and the ``state`` object ``--json`` printed.
    """
    from bshm.fixtures.bridge import Damage

    from bshm.cli import main

    dmg = Damage(
        x_m=35.0, length_m=8.0, severity=0.10, time_ns=START_NS + int(20 * EVERY_H * HOUR_NS)
    )
    write_history(root, N_RECORDS, every_h=EVERY_H, damage=dmg, seed=31, temp_fn=_temperature)
    write_station(root)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["analyze", str(root), "--json", "--no-progress"])
    assert code in (0, 3), code
    return root, json.loads(buf.getvalue())["state"]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    return build_monitored(tmp_path_factory.mktemp("monitored") / "site")


def _results(root: Path) -> Path:
    return next((root / "results").glob("*_results.h5"))


# ------------------------------------------------------------------ the rule alone
def _a(t, level, event, aid, subject="structural"):
    return {
        "time_ns": t,
        "level": level,
        "event": event,
        "id": aid,
        "subject": subject,
        "index": "t2_avg",
    }


def test_stored_state_decides_active_superseded_cleared():
    from bshm.analysis.report_alarms import alarm_states

    alarms = [
        _a(1, 1, "raised", "a1"),
        _a(2, 2, "escalated", "a2"),
        _a(3, 1, "de-escalated", "a3"),  # the current state: level 1
        _a(1, 2, "raised", "s1", "sensor:A03"),
        _a(5, 0, "cleared", "s2", "sensor:A03"),
        _a(4, 1, "raised", "x1", "threshold:A01:peak"),  # not in the state: older rule
    ]
    state = {
        "subjects": {
            "structural": {"level": 1, "active": True, "alarm_id": "a3"},
            "sensor:A03": {"level": 0, "active": False, "alarm_id": "s2"},
        }
    }
    assert alarm_states(alarms, state) == [
        "superseded",
        "superseded",
        "active",
        "cleared",
        "cleared",
        "active",
    ]
    # the older rule (no stored state) keeps the escalated alarm active: the defect
    assert alarm_states(alarms)[:3] == ["active", "active", "active"]


# ------------------------------------------------------------------ the real job
def test_report_current_state_is_the_stored_state(monitored, tmp_path):
    from bshm.analysis.report import load_report_data, render_report

    from bshm.store.results import open_results

    root, json_state = monitored
    with open_results(_results(root)) as r:
        stored = r.alarm_state()
        alarms = r.alarms()
    assert stored["subjects"], "the job stored no state"
    assert stored["subjects"]["structural"]["level"] >= 2  # the damage is seen
    html = render_report(load_report_data(_results(root)))
    shown = {
        subj: level
        for subjects, level in re.findall(r'<tr data-subjects="([^"]+)" data-level="(\d)"', html)
        for subj in subjects.split()
    }
    want = {k: str(v["level"]) for k, v in stored["subjects"].items()}
    assert shown == want
    assert shown == {k: str(v["level"]) for k, v in json_state["subjects"].items()}
    # the summary is at the top: before the first chart
    assert html.index("Current state") < html.index("<svg")
    # alarms: the subject's current alarm is active, its earlier ones superseded
    data = load_report_data(_results(root))
    cur = stored["subjects"]["structural"]["alarm_id"]
    structural = [a for a in data.alarms if a.get("subject") == "structural"]
    assert len(structural) >= 2, [a["event"] for a in alarms]
    for a in structural:
        assert a["state"] == ("active" if a["id"] == cur else "superseded"), a


def test_report_shades_exactly_the_windows_outside_the_trained_conditions(monitored):
    from bshm.analysis.report import load_report_data, render_report

    from bshm.store.results import open_results

    root, _ = monitored
    with open_results(_results(root)) as r:
        ix = r.indices()
        versions = r.model_versions()
    t = np.asarray(ix["time_ns"], np.int64)
    inside = np.asarray(ix["inside"], bool)
    assert (~inside).sum() >= 3 and inside.sum() >= 12  # the history has both
    html = render_report(load_report_data(_results(root)))
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    shaded_charts = [c for c in charts if 'data-label="outside trained conditions"' in c]
    assert len(shaded_charts) >= 3  # frequencies, change (%), T2
    for svg in shaded_charts:
        spans = [
            (int(a), int(b))
            for a, b in re.findall(
                r'<rect class="band"[^>]*data-x0="(\d+)" data-x1="(\d+)" '
                r'data-label="outside trained conditions"',
                svg,
            )
        ]
        drawn = np.array([any(a <= x < b for a, b in spans) for x in t])
        np.testing.assert_array_equal(drawn, ~inside)
        assert "outside trained conditions</text>" in svg  # legend entry
        train = re.findall(r'data-x0="(\d+)" data-x1="(\d+)" data-label="training period"', svg)
        want = [(p[0], p[1]) for v in versions for p in v["periods"]]
        assert [(int(a), int(b)) for a, b in train] == want
    # in words: every run of outside windows, with its count and why
    sentences = re.findall(r'<p class="outside">([^<]*)</p>', html)
    runs = np.flatnonzero(np.diff(np.r_[0, (~inside).astype(int), 0]) == 1)
    assert len(sentences) == len(runs)
    n_said = sum(int(re.search(r"UTC, (\d+) window", s).group(1)) for s in sentences)
    assert n_said == int((~inside).sum())
    assert all("changes there are detected later" in s for s in sentences)
    assert all("above" in s and "°C" in s for s in sentences)  # a warm spell


def test_report_without_stored_state_says_so(tmp_path):
    """An older results file (no state): the report says the older rule is used."""
    from bshm.analysis.report import ReportData
    from bshm.analysis.report_state import current_state_html

    d = ReportData("old", "x.h5", 0, 1, 0)
    assert "no stored alarm state" in current_state_html(d)


# ------------------------------------------------------------------ campaign
def build_campaign(root: Path) -> Path:
    """The roving-sensor campaign of tests/cli/test_campaign.py on the simulated
    bridge (3 setups, references P01 and P08), with ``[bridge] spans``;
    ``bshm campaign`` writes ``root/data/campaign.json``. Returns the data folder."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
    from bshm.fixtures.bridge import BridgeModel, BridgeParams
    from test_campaign import POINTS, STATION, VISITS, campaign_toml
    from test_campaign import START_NS as C0

    from bshm.cli import main
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    chans = tuple(ChannelMeta(n, "acceleration", "m/s2") for n in ("R1", "R2", "F1", "F2"))
    spec = SourceSpec("acc", "simulated", 100.0, (chans))
    root.mkdir(parents=True, exist_ok=True)
    with RawWriter(root / "data", "roving", [spec], rollover_s=3600.0, flush_interval_s=60.0) as w:
        for k, (a, b) in enumerate(VISITS):
            xs = (POINTS[a], POINTS[b], POINTS["P01"], POINTS["P08"])
            model = BridgeModel(BridgeParams(acc_x=xs), seed=0)
            rec = model.simulate(
                1200.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(80 + k)
            )
            w.write("acc", rec.acc.astype(np.float32), t0_ns=C0 + k * 3_600_000_000_000)
    spans = BridgeParams().spans
    text = STATION.replace("[analysis]", f"[bridge]\nspans = {list(spans)}\n\n[analysis]")
    cfg = root / "station.toml"
    cfg.write_text(text + campaign_toml(), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["campaign", str(cfg)]) == 0
    assert (root / "data" / "campaign.json").is_file()
    return root / "data"


def stored_global_shapes(data_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x of the points, shape) per mode from campaign.json, computed here on its own:
    the points with a value, sorted by x; the shape rotated so its largest entry is
    real positive, real part, max |.| = 1."""
    c = json.loads((data_dir / "campaign.json").read_text())
    x = np.array([loc[0] for loc in c["locations"]], float)
    out = []
    for k in range(len(c["frequencies_hz"])):
        phi = np.array(
            [complex(*row[k]) if row[k] is not None else np.nan for row in c["shapes"]], complex
        )
        ok = np.isfinite(phi)
        big = phi[ok][np.argmax(np.abs(phi[ok]))]
        y = np.real(phi[ok] * np.conj(big) / abs(big))
        y = y / np.max(np.abs(y))
        order = np.argsort(x[ok])
        out.append((x[ok][order], y[order]))
    return out


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return build_campaign(tmp_path_factory.mktemp("campaign") / "roving")


def test_report_draws_the_campaign_global_shapes(campaign, monitored, tmp_path):
    """A results file beside a campaign.json: the report's campaign section draws the
    stored global shapes at the points' positions, and a table of the modes."""
    import shutil

    from bshm.analysis.report import load_report_data, render_report

    root, _ = monitored
    site = tmp_path / "site"
    shutil.copytree(root / "results", site / "results")
    shutil.copy2(campaign / "campaign.json", site / "campaign.json")
    html = render_report(load_report_data(site / "results"))
    assert 'id="campaign"' in html and 'href="#campaign"' in html
    sec = html.split('<section id="campaign">')[1].split("</section>")[0]
    want = stored_global_shapes(campaign)
    c = json.loads((campaign / "campaign.json").read_text())
    drawn = re.findall(r'<polyline [^>]*data-x="([^"]*)" data-y="([^"]*)"', sec)
    assert len(drawn) == len(want) == len(c["frequencies_hz"]) >= 5
    for (dx, dy), (x, y) in zip(drawn, want):
        np.testing.assert_allclose(np.array(dx.split(), float), x)
        np.testing.assert_allclose(np.array(dy.split(), float), y, atol=1e-12)
    for f in c["frequencies_hz"]:
        assert f"{f:.4g}" in sec  # the table of modes
    # no campaign.json: no section, no link
    os_html = render_report(load_report_data(_results(root)))
    assert 'id="campaign"' not in os_html and 'href="#campaign"' not in os_html


def test_a_damaged_campaign_json_is_one_line_and_no_section(monitored, tmp_path, caplog):
    import shutil

    from bshm.analysis.report import load_report_data, render_report

    root, _ = monitored
    site = tmp_path / "site"
    shutil.copytree(root / "results", site / "results")
    (site / "campaign.json").write_text('{"frequencies_hz": [2.1], "shap')
    html = render_report(load_report_data(site / "results"))
    assert 'id="campaign"' not in html
    assert any("campaign.json: not used" in r.getMessage() for r in caplog.records)


def test_many_stretches_outside_give_one_sentence_and_a_table():
    """Six warm afternoons outside a cold baseline: one sentence, one row per stretch."""
    from bshm.analysis.report import ReportData
    from bshm.analysis.report_state import MAX_SENTENCES, conditions_html, outside_spans

    h = 3_600_000_000_000
    t = START_NS + np.arange(168, dtype=np.int64) * h
    temp = 2.0 + 6.0 * np.sin(2 * np.pi * (np.arange(168) - 9) / 24.0)
    inside = temp <= 4.2 + 1.0  # trained 0..4.2 °C, 1 °C margin
    inside[:24] = True  # the training day
    d = ReportData("s", "x.h5", int(t[0]), int(t[-1]) + h, 0)
    d.indices = {"time_ns": t, "inside": inside, "model_version": np.ones(t.size, int)}
    d.windows = {"start_ns": t, "end_ns": t + 600_000_000_000}
    d.model_versions = [
        {
            "version": 1,
            "periods": [[int(t[0]), int(t[24])]],
            "chain": [{"conditions": {"vars": {"T1": [0.0, 4.2]}}}],
        }
    ]
    d.environment = {"names": ["T1"], "time_ns": t, "values": temp[:, None]}
    runs = outside_spans(d.indices, d.windows)
    assert len(runs) > MAX_SENTENCES
    html = conditions_html(d)
    said = re.findall(r'<p class="outside">([^<]*)</p>', html)
    assert len(said) == 1
    assert f"{int((~inside).sum())} windows in {len(runs)} stretches" in said[0]
    assert "temperature T1 above 5.2 °C" in said[0]
    rows = [int(n) for n in re.findall(r'<tr data-n="(\d+)">', html)]
    assert len(rows) == len(runs) and sum(rows) == int((~inside).sum())
