"""Defect 6: the report's headline says what changed, since when, whether it is
still active and where (one location estimate, with how sure it is); the
sketch and the mode shapes; the PDF, checked by rendering its pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bshm.alarms import AckLog, Alarm, AlarmFeed, ack_path
from bshm.cli import main

NS = 10**9
T0 = 1_767_225_600 * NS  # 2026-01-01
STEP = 3 * 3600 * NS
X = np.array([6.0, 13.0, 25.0, 31.0, 39.0, 45.0, 57.0, 64.0])
CH = [f"A0{k}" for k in range(1, 9)]


def _modes() -> np.ndarray:
    """Three vertical modes of a 20+30+20 m girder, sampled at the sensors (n_modes, n_ch)."""
    L = 70.0
    return np.array([np.sin((k + 1) * np.pi * X / L) for k in range(3)], dtype=np.complex128)


def build(
    root: Path,
    *,
    onset: int | None = 120,
    end_at: int | None = None,
    n_w: int = 240,
    x_damage: float = 35.0,
) -> Path:
    """A results file (real HDF5) with a change from window ``onset`` near ``x_damage``."""
    from bshm.fixtures.stations import simulated_station_toml

    from bshm.store.results import ResultsWriter

    rng = np.random.default_rng(4)
    data = root / "site"
    data.mkdir(parents=True)
    (data / "station.toml").write_text(simulated_station_toml("."), encoding="utf-8")
    t = T0 + np.arange(n_w, dtype=np.int64) * STEP
    ref = _modes()
    shape = np.repeat(ref[None], n_w, axis=0) + 0.01 * rng.standard_normal((n_w, 3, 8))
    freq = np.tile([2.0, 4.0, 8.0], (n_w, 1)) + 0.002 * rng.standard_normal((n_w, 3))
    shift = 0.2 * rng.standard_normal((n_w, 3))
    level = np.zeros(n_w, np.int8)
    t2 = np.abs(rng.standard_normal(n_w)) * 3
    if onset is not None:
        stop = n_w if end_at is None else end_at
        bump = 0.15 * np.exp(-(((X - x_damage) / 5.0) ** 2))
        shape[onset:stop, 0] += bump
        shape[onset:stop, 2] -= 0.5 * bump
        shift[onset:stop, 0] -= 2.6
        shift[onset:stop, 2] -= 1.3
        freq[onset:stop, 0] *= 0.974
        level[onset + 3 : stop] = 3
        t2[onset:stop] += 200
    path = data / "results" / "sim-bridge_results.h5"
    path.parent.mkdir()
    with ResultsWriter(path, station="sim-bridge") as w:
        w.write_group(
            "tracks",
            {
                "time_ns": t,
                "frequency": freq,
                "damping": np.full_like(freq, 0.01),
                "mac": np.ones_like(freq),
                "shape": shape,
            },
            {"mode_ids": '["M1", "M2", "M3"]', "channels": str(CH).replace("'", '"')},
        )
        w.write_group(
            "indices",
            {
                "time_ns": t,
                "freq_shift_pct": shift,
                "t2": t2,
                "t2_limits": np.array([10.0, 20.0, 30.0]),
                "level": level,
            },
        )
        w.write_model("limits", {"frequency_shift_pct": [1.0, 2.0, 4.0]})
        w.write_model("baseline", [int(t[0]), int(t[60])])
        if onset is not None:
            alarms = [
                Alarm(
                    int(t[onset + 3]),
                    3,
                    "t2",
                    210.0,
                    30.0,
                    None,
                    "T2 critical. The mode shapes changed most near A03, x = 25 m (COMAC 0.999).",
                    station="sim-bridge",
                )
            ]
            w.append_alarms(alarms)
            AlarmFeed(data / "alarms.jsonl").append(alarms)
    # ref_shape and ref_frequency as the job stores them (attributes of /tracks)
    import h5py

    with h5py.File(path, "r+") as f:
        g = f["tracks"]
        g.create_dataset("ref_shape", data=ref)
        g.create_dataset("ref_frequency", data=np.array([2.0, 4.0, 8.0]))
    return path


def _data(path):
    from bshm.analysis.report import load_report_data

    return load_report_data(path)


def test_location_estimate_is_one_and_near_the_change(tmp_path):
    from bshm.analysis.report_findings import findings

    f = findings(_data(build(tmp_path)))
    assert f.since_ns == T0 + 120 * STEP  # the change, not the (confirmed) alarm
    assert f.raised_ns == T0 + 123 * STEP
    assert f.active and f.current_level == 3
    assert f.changes[0][0] == "M1" and f.changes[0][1] == pytest.approx(-2.6, abs=0.1)
    assert f.t2_share > 0.9
    loc = f.location
    assert loc is not None
    assert 31.0 <= loc.x_m <= 39.0, loc
    assert set(loc.sensors) <= {"A03", "A04", "A05", "A06"}
    assert {"A04", "A05"} <= set(loc.sensors)
    assert loc.confidence in ("high", "moderate")


@pytest.mark.parametrize("x_damage", [12.0, 58.0])
def test_location_follows_the_change(tmp_path, x_damage):
    from bshm.analysis.report_findings import findings

    loc = findings(_data(build(tmp_path, x_damage=x_damage))).location
    assert abs(loc.x_m - x_damage) <= 7.0, loc


def test_headline_html(tmp_path):
    path = build(tmp_path)
    out = tmp_path / "r.html"
    assert main(["report", str(path), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    head = html[html.index('<table class="headline">') : html.index('<div class="cards">')]
    text = re.sub(r"<[^>]+>", "", head)
    assert "What changed?" in text and "M1 -2.6 %" in text
    assert "Since when?2026-01-16 00:00 UTC" in text  # window 120 = 15 days of 3-h windows
    assert "Still active?Yes" in text
    assert re.search(r"Where\?Most likely near x ≈ 3\d m", text.replace("&asymp;", "≈"))
    assert "How sure:" in text
    # one estimate only: the alarm's own hint (25 m) is not repeated in the report
    assert "x = 25 m" not in html
    # the sketch with the located zone, and each mode's shape on the deck
    assert 'class="chart zone"' in html
    assert html.count("Mode shapes on the bridge") == 1
    assert html.count("since the change") == 3
    # the verdict says where, not only "without delay"
    assert "inspect the bridge near x" in html


def test_episode_over_and_no_change(tmp_path):
    from bshm.analysis.report_findings import findings

    f = findings(_data(build(tmp_path / "a", end_at=180)))
    assert not f.active and f.until_ns is not None
    out = tmp_path / "r.html"
    assert main(["report", str(build(tmp_path / "b", end_at=180)), "--out", str(out)]) == 0
    assert "Still active?No: it ended" in re.sub(r"<[^>]+>", "", out.read_text())
    f = findings(_data(build(tmp_path / "c", onset=None)))
    assert f.since_ns is None and f.location is None
    assert main(["report", str(build(tmp_path / "d", onset=None)), "--out", str(out)]) == 0
    assert "What changed?Nothing" in re.sub(r"<[^>]+>", "", out.read_text())


def test_acknowledgement_shown(tmp_path):
    path = build(tmp_path)
    feed = path.parent.parent / "alarms.jsonl"
    a = AlarmFeed(feed).read()[0]
    AckLog(ack_path(feed)).append(a["id"], "J. Doe", "inspected, crack found at 35 m")
    out = tmp_path / "r.html"
    assert main(["report", str(path), "--out", str(out)]) == 0
    text = re.sub(r"<[^>]+>", "", out.read_text())
    assert "acknowledged by J. Doe" in text
    assert "crack found at 35 m" in text
    assert "0 alarms are active and not acknowledged, 1 acknowledged" in text


def test_pdf_pages_render(tmp_path):
    pytest.importorskip(
        "weasyprint", reason="the report extra is not installed: pip install -e '.[report]'"
    )
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("pdftoppm/pdftotext missing (Debian: apt-get install poppler-utils)")
    path = build(tmp_path)
    out = tmp_path / "r.html"
    assert main(["report", str(path), "--out", str(out), "--pdf"]) == 0
    pdf = tmp_path / "r.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "Since when?" in text and "Still active?" in text and "Where?" in text
    assert "°C" in text or "µm/m" in text or "m/s²" in text  # typeset units survive
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=300
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    from PIL import Image  # pillow comes with weasyprint

    for p in pages[:3]:
        img = Image.open(p).convert("L")
        w, h = img.size
        assert h > w  # A4 portrait
        colours = len({img.getpixel((x, y)) for x in range(0, w, 5) for y in range(0, h, 5)})
        assert colours > 8, f"{p.name} is blank"
    # the first page is not cut: nothing drawn into the right margin
    img = Image.open(pages[0]).convert("L")
    w, h = img.size
    margin = [img.getpixel((x, y)) for x in range(w - 8, w) for y in range(0, h, 3)]
    assert min(margin) > 240


def test_pdf_without_weasyprint_is_one_line(tmp_path):
    code = (
        "import sys; sys.modules['weasyprint'] = None\n"
        "from bshm.cli import main\n"
        f"sys.exit(main(['report', {str(build(tmp_path))!r}, '--out', "
        f"{str(tmp_path / 'r.html')!r}, '--pdf']))"
    )
    import sys

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and ".[report]" in lines[0], run.stderr
    assert not (tmp_path / "r.html").exists()
