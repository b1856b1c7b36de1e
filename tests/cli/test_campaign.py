"""``[campaign]`` in the station config and ``bshm campaign CONFIG`` (roving sensors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bshm._config_campaign import load_campaign
from bshm.cli import main
from bshm.config import parse_station
from bshm.errors import ConfigError

pytest.importorskip("bshm.fixtures.bridge")

START_NS = 1_767_225_600_000_000_000
HOUR_NS = 3_600_000_000_000
POINTS = {f"P{i + 1:02d}": x for i, x in enumerate((6.0, 13.0, 25.0, 31.0, 39.0, 45.0, 57.0, 64.0))}
# roving sensors R1, R2 visit P02..P07; F1 and F2 stay at P01 and P08
VISITS = [("P02", "P03"), ("P04", "P05"), ("P06", "P07")]

STATION = """\
[station]
name = "roving"
data_dir = "data"

[[sources]]
name = "acc"
kind = "serial"
port = "dev/acc"
fs = 100.0
[[sources.channels]]
name = "R1"
quantity = "acceleration"
unit = "m/s2"
[[sources.channels]]
name = "R2"
quantity = "acceleration"
unit = "m/s2"
[[sources.channels]]
name = "F1"
quantity = "acceleration"
unit = "m/s2"
[[sources.channels]]
name = "F2"
quantity = "acceleration"
unit = "m/s2"

[analysis]
source = "acc"
freq_range = [0.5, 20.0]
"""


def campaign_toml(visits=VISITS, refs='["P01", "P08"]', extra="") -> str:
    text = f"\n[campaign]\nreferences = {refs}\n{extra}"
    for name, x in POINTS.items():
        text += f'[[campaign.points]]\nname = "{name}"\nlocation = {x}\n'
    for k, (a, b) in enumerate(visits):
        t0 = START_NS + k * HOUR_NS
        text += (
            f'[[campaign.setups]]\nname = "setup {k + 1}"\n'
            f'start = "{_iso(t0)}"\nend = "{_iso(t0 + HOUR_NS)}"\n'
            f'channels = {{ R1 = "{a}", R2 = "{b}", F1 = "P01", F2 = "P08" }}\n'
        )
    return text


def _iso(ns: int) -> str:
    from bshm.timeutil import to_iso

    return to_iso(ns)


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> tuple[Path, object]:
    from bshm.fixtures.bridge import BridgeModel, BridgeParams

    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    root = tmp_path_factory.mktemp("campaign")
    chans = tuple(ChannelMeta(n, "acceleration", "m/s2") for n in ("R1", "R2", "F1", "F2"))
    spec = SourceSpec("acc", "simulated", 100.0, chans)
    with RawWriter(root / "data", "roving", [spec], rollover_s=3600.0, flush_interval_s=60.0) as w:
        for k, (a, b) in enumerate(VISITS):
            xs = (POINTS[a], POINTS[b], POINTS["P01"], POINTS["P08"])
            model = BridgeModel(BridgeParams(acc_x=xs), seed=0)
            rec = model.simulate(
                1200.0, 100.0, temperature_c=10.0, traffic=False, rng=np.random.default_rng(80 + k)
            )
            w.write("acc", rec.acc.astype(np.float32), t0_ns=START_NS + k * HOUR_NS)
    cfg = root / "station.toml"
    cfg.write_text(STATION + campaign_toml(), encoding="utf-8")
    return cfg, BridgeModel(seed=0).modal_truth(10.0)


def test_the_campaign_section_loads(station):
    cfg, _ = station
    st, camp = load_campaign(cfg)
    assert camp.references == ("P01", "P08")
    assert [s.name for s in camp.setups] == ["setup 1", "setup 2", "setup 3"]
    assert camp.setups[1].channels == (("R1", "P04"), ("R2", "P05"), ("F1", "P01"), ("F2", "P08"))
    assert camp.setups[0].data_dir == st.data_dir
    assert camp.setups[2].start_ns == START_NS + 2 * HOUR_NS
    assert camp.locations["P05"][0] == 39.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            campaign_toml(visits=[("P02", "P03")], refs='["P01", "P09"]'),
            "campaign.setups[0].channels: reference point(s) P09 not measured in this setup",
        ),
        (
            campaign_toml().replace('R2 = "P03"', 'R3 = "P03"'),
            "campaign.setups[0].channels: no channel named 'R3'",
        ),
        (
            campaign_toml().replace('R2 = "P03"', 'R2 = "P02"'),
            "point(s) P02 measured twice in one setup",
        ),
        (
            campaign_toml(extra="sources = 1\n"),
            "campaign.sources: unknown key (did you mean 'source'?)",
        ),
        (campaign_toml(refs="[]"), "campaign.references: name the reference points"),
        (
            campaign_toml().replace('start = "2026-01-01T01', 'start = "2026-13-01T01', 1),
            "campaign.setups[1].start",
        ),
    ],
)
def test_campaign_problems_have_key_paths(text, problem):
    with pytest.raises(ConfigError) as err:
        parse_station(STATION + text, base_dir=Path("/tmp"))
    assert problem in str(err.value)


def test_bshm_campaign_writes_global_shapes(station, tmp_path, capsys):
    from bshm.analysis import mac_matrix

    cfg, truth = station
    out = tmp_path / "result.json"
    assert main(["campaign", str(cfg), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 setups, references P01, P08: 7 global modes" in text
    assert f"written: {out}" in text
    res = json.loads(out.read_text())
    assert res["method"] == "ssi-cov multi-setup (PoSER)"
    np.testing.assert_allclose(res["frequencies_hz"], truth.frequencies, rtol=0.005)
    order = [res["channels"].index(p) for p in POINTS]
    shapes = np.array([[complex(*v) for v in row] for row in res["shapes"]])[order]
    assert np.diag(mac_matrix(shapes, truth.shapes)).min() > 0.99
    assert [loc[0] for loc in np.array(res["locations"])[order]] == list(POINTS.values())
    assert [s["name"] for s in res["setups"]] == ["setup 1", "setup 2", "setup 3"]
    assert res["references"] == ["P01", "P08"]
    assert main(["campaign", str(cfg), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["channels"] == res["channels"]


def test_bshm_campaign_errors_are_one_line(station, tmp_path, capsys):
    cfg, _ = station
    plain = tmp_path / "plain.toml"
    plain.write_text(STATION, encoding="utf-8")
    (tmp_path / "data").mkdir()
    assert main(["campaign", str(plain)]) == 2
    err = capsys.readouterr().err
    assert "no [campaign] section" in err and err.count("\n") == 1
    late = tmp_path / "late.toml"
    text = campaign_toml(visits=VISITS + [("P02", "P05")])
    late.write_text(
        STATION.replace('data_dir = "data"', f'data_dir = "{cfg.parent / "data"}"') + text,
        encoding="utf-8",
    )
    assert main(["campaign", str(late)]) == 1
    err = capsys.readouterr().err
    assert "setup 4: no samples of 'acc'" in err and err.count("\n") == 1
