"""GUI test set-up: offscreen Qt, the ``gui`` marker, simulated data."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("pyqtgraph", reason="the gui extra is not installed: pip install 'bshm[gui]'")

T0_NS = 1_790_000_000 * 10**9


def pytest_collection_modifyitems(config, items):
    """Every test in this folder needs Qt: mark it ``gui``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def _overview_cache(tmp_path, monkeypatch):
    """Overview caches go to the test's folder, never the user's."""
    monkeypatch.setenv("BSHM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    """Three hours of the simulated bridge: three 2-minute records, one file."""
    from bshm.fixtures.history import simulate_history

    out = tmp_path_factory.mktemp("sim")
    simulate_history(
        out, 0.125, start_ns=T0_NS, every_s=3600, record_s=120, seed=7, write_station=False
    )
    return out


@pytest.fixture
def settings(tmp_path):
    """An INI file for QSettings, so tests never touch the user's settings."""
    from bshm.gui.settings import make_settings

    return make_settings(tmp_path / "viewer.ini")


@pytest.fixture
def window(qtbot, settings):
    """A shown main window (closed and its workers drained at the end)."""
    from bshm.gui.app import make_app
    from bshm.gui.main_window import MainWindow

    make_app()
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    yield win
    win.live.stop()
    win.runner.wait(20000)
