"""The HTML report: every section rendered from a real raw store and results
file, self-contained, well-formed SVG; the CLI; a headless Chromium check."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bshm.analysis.report_html import SECTIONS as ALL_SECTIONS  # noqa: E402

# the campaign section only appears with a campaign.json (tests/analysis/test_report_state.py)
SECTIONS = tuple(s for s in ALL_SECTIONS if s != "campaign")
from test_report_helpers import EVERY_NS, T0, build_station  # noqa: E402

from bshm.cli import main  # noqa: E402
from bshm.timeutil import to_iso  # noqa: E402

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


class _Sections(HTMLParser):
    """Collects, per section id, its tags and text."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.tags: dict[str, list[str]] = {}
        self.text: dict[str, list[str]] = {}
        self.all_tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.all_tags.append((tag, a))
        if tag == "section":
            self.current = a.get("id")
            self.tags[self.current] = []
            self.text[self.current] = []
        elif self.current:
            self.tags[self.current].append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current:
            self.text[self.current].append(data)


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    return build_station(tmp_path_factory.mktemp("station"))


@pytest.fixture(scope="module")
def report(station: Path, tmp_path_factory) -> tuple[Path, str, _Sections]:
    out = tmp_path_factory.mktemp("out") / "report.html"
    assert main(["report", str(station), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    p = _Sections()
    p.feed(html)
    return out, html, p


def test_every_section_is_rendered(report) -> None:
    _, html, p = report
    assert list(p.tags) == list(SECTIONS)
    for sid in SECTIONS:
        assert "h2" in p.tags[sid], sid
        assert "".join(p.text[sid]).strip(), sid
    # sections with figures have them, with data (not the "no data" placeholder)
    for sid in ("availability", "frequencies", "damage", "strain", "fatigue"):
        assert p.tags[sid].count("svg") >= 1, sid
        assert "no data in this period" not in "".join(p.text[sid]), sid
    text = {k: " ".join(v) for k, v in p.text.items()}
    assert "testbridge" in text["sensors"]
    assert "A02" in text["sensors"]
    assert "failed" in text["availability"]
    assert "dead" in text["availability"]
    assert "device silent" not in text["availability"]  # shown as a red bar, counted
    # the recording schedule cannot be mistaken for data loss (defect 6)
    assert "recording schedule" in text["availability"]
    assert "time recorded" not in text["availability"]
    assert "data lost (gaps)" in text["availability"]
    assert "not</b> data loss" in "".join(report[1].split('id="availability"')[1:2])
    assert "M1" in text["frequencies"]
    assert "M2" in text["frequencies"]
    assert "S1" in text["alarms"]
    assert "high" in text["alarms"]
    assert "critical" in text["summary"]
    assert "S1" in text["fatigue"]
    assert "EN 1993-1-9 detail 71" in text["fatigue"]
    assert "Miner" in text["fatigue"]
    assert "remaining life" in text["fatigue"]
    assert "microstrain" in text["glossary"].lower() or "um/m" in text["glossary"]


def test_self_contained_and_svg_well_formed(report) -> None:
    _, html, p = report
    for tag, a in p.all_tags:
        assert tag not in ("script", "link", "img", "iframe"), tag
        for k, v in a.items():
            if k in ("src", "href") and v:
                assert v.startswith("#"), (tag, k, v)
    svgs = html.split("<svg")[1:]
    assert len(svgs) >= 8
    for s in svgs:
        ET.fromstring("<svg" + s.split("</svg>")[0] + "</svg>")  # raises if malformed


def test_period_filter(station: Path, tmp_path: Path) -> None:
    out = tmp_path / "day1.html"
    start, end = to_iso(T0), to_iso(T0 + 4 * EVERY_NS)
    assert main(["report", str(station), "--from", start, "--to", end, "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "2026-01-01 to 2026-01-01" in html
    p = _Sections()
    p.feed(html)
    # the dead sensor and the critical damage index are on day 3: not in this period
    assert "critical" not in " ".join(p.text["summary"])


def test_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing.h5"), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert "not found" in err
    assert "Traceback" not in err
    assert main(["report", str(tmp_path), "--from", "yesterday-ish"]) == 2
    assert main(["report", str(tmp_path), "--from", "2026-01-02", "--to", "2026-01-01"]) == 2


def test_without_raw_store(station: Path, tmp_path: Path) -> None:
    alone = tmp_path / "results" / station.name
    alone.parent.mkdir()
    shutil.copy(station, alone)
    from bshm.analysis.report import load_report_data, render_report

    d = load_report_data(alone)
    assert d.sensors == []
    assert any("Raw data not found" in n for n in d.notes)
    assert d.health  # from the stored channel-health rows
    html = render_report(d)
    assert all(f'id="{s}"' in html for s in SECTIONS)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_report(report, tmp_path: Path) -> None:
    out, _, _ = report
    png = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for sid in SECTIONS:
        assert f'id="{sid}"' in dom.stdout
    shot = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={png}", "--window-size=1100,6000", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.exists(), shot.stderr[-2000:]
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(raw[16:20], "big")
    height = int.from_bytes(raw[20:24], "big")
    assert (width, height) == (1100, 6000)
    # the page is not blank: many distinct byte values in the image data
    idat = b"".join(
        raw[i + 8 : i + 8 + int.from_bytes(raw[i : i + 4], "big")] for i in _chunks(raw, b"IDAT")
    )
    pixels = zlib.decompress(idat)
    assert len(set(pixels[:2_000_000])) > 50


def _chunks(raw: bytes, kind: bytes) -> list[int]:
    out, i = [], 8
    while i < len(raw):
        n = int.from_bytes(raw[i : i + 4], "big")
        if raw[i + 4 : i + 8] == kind:
            out.append(i)
        i += 12 + n
    return out


def test_fatigue_computed_from_raw_when_results_have_none(station: Path, tmp_path: Path) -> None:
    from bshm.analysis.report import load_report_data

    from bshm.store.results import append_alarms

    bare = tmp_path / "bare_results.h5"
    append_alarms(bare, [], station="testbridge")  # a results file without fatigue
    raw = station.parent.parent
    d = load_report_data(bare, raw_dir=raw, start_ns=T0, end_ns=T0 + 12 * EVERY_NS)
    full = load_report_data(station)
    assert set(d.fatigue) == set(full.fatigue) == {"S1", "S2"}
    for g in ("S1", "S2"):
        assert d.fatigue[g]["computed_here"]
        # same windows (one per record), same damage as the job stored
        assert d.fatigue[g]["damage"].sum() == pytest.approx(full.fatigue[g]["damage"].sum())
        assert d.fatigue[g]["counts"].sum() == pytest.approx(full.fatigue[g]["counts"].sum())
    assert any("computed from the raw strain" in n for n in d.notes)
