"""One screenshot of the main window on a real X server (Xvfb, xcb platform).

Saved as a test artifact: ``artifacts/gui/main_window_xvfb.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "gui"

SCRIPT = r"""
import sys
from pyqtgraph.Qt import QtCore
from bshm.gui.app import make_app
from bshm.gui.main_window import MainWindow
from bshm.gui.settings import make_settings
app = make_app()
assert app.platformName() == "xcb", app.platformName()
win = MainWindow(make_settings(sys.argv[3]))
win.resize(1366, 768)
win.move(0, 0)
win.show()
if not win.open_path(sys.argv[1]):
    sys.exit("open failed: " + win.last_error)
def shoot():
    app.processEvents()
    shot = app.primaryScreen().grabWindow(0)
    ok = shot.save(sys.argv[2], "PNG")
    print(shot.width(), shot.height(), int(ok), flush=True)
    app.quit()
QtCore.QTimer.singleShot(1500, shoot)
sys.exit(app.exec())
"""


def test_main_window_screenshot_under_xvfb(sim_dir, tmp_path):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip(
            "Xvfb is not installed (Debian: apt-get install xvfb); offscreen tests cover the rest"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "main_window_xvfb.png"
    out.unlink(missing_ok=True)
    server = subprocess.Popen(
        [xvfb, "-displayfd", "1", "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        display = server.stdout.readline().strip()
        assert display.isdigit(), f"Xvfb did not report a display: {display!r}"
        env = dict(os.environ, DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb")
        env.pop("QT_LOGGING_RULES", None)
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(sim_dir), str(out), str(tmp_path / "s.ini")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, (
            f"viewer under Xvfb failed (missing xcb libraries? run with QT_DEBUG_PLUGINS=1):\n"
            f"{run.stderr[-3000:]}"
        )
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
    w, h, ok = map(int, run.stdout.split()[-3:])
    assert (w, h, ok) == (1366, 768, 1)
    from pyqtgraph.Qt import QtGui

    img = QtGui.QImage(str(out))
    assert (img.width(), img.height()) == (1366, 768)
    colours = {img.pixel(x, y) for x in range(0, 1366, 37) for y in range(0, 768, 29)}
    assert len(colours) > 8, "the screenshot is blank"


def test_export_png_under_xvfb(sim_dir, tmp_path):
    """``bshm view --export-png`` on a real X server (the xcb platform)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb)")
    server = subprocess.Popen(
        [xvfb, "-displayfd", "1", "-screen", "0", "1600x900x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        display = server.stdout.readline().strip()
        assert display.isdigit(), f"Xvfb did not report a display: {display!r}"
        env = dict(os.environ, DISPLAY=f":{display}")
        env.pop("QT_QPA_PLATFORM", None)  # the viewer picks xcb on a display
        env.pop("QT_LOGGING_RULES", None)
        outs = []
        for tab in ("signals", "modal"):
            out = tmp_path / f"{tab}.png"
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bshm",
                    "view",
                    str(sim_dir),
                    "--export-png",
                    str(out),
                    "--tab",
                    tab,
                    "--settings",
                    str(tmp_path / "s.ini"),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 0, run.stderr[-3000:]
            outs.append(out)
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
    from pyqtgraph.Qt import QtGui

    for out in outs:
        img = QtGui.QImage(str(out))
        assert (img.width(), img.height()) == (1366, 768)
        colours = {img.pixel(x, y) for x in range(0, 1366, 37) for y in range(0, 768, 29)}
        assert len(colours) > 8, f"{out.name} is blank"
