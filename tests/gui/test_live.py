"""Live mode: follow a writer process; soak the frame loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from live_writer import value

HERE = Path(__file__).parent


def test_follow_a_live_writer_process(window, qtbot, tmp_path):
    with subprocess.Popen(
        [sys.executable, str(HERE / "live_writer.py"), str(tmp_path), "8"],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        _follow(window, qtbot, tmp_path, proc)
    assert proc.returncode == 0
    window.live.stop()
    assert not window.live.running


def _follow(window, qtbot, tmp_path, proc):
    try:
        assert proc.stdout.readline().strip() == "started"
        assert window.open_path(tmp_path), window.last_error
        assert window.session.live
        assert window.mode_label.text() == "● LIVE"  # green: every source recording
        live = window.live
        assert live.running
        assert window.tabs.currentWidget() is live
        assert len(live.curves) == 16
        qtbot.waitUntil(lambda: live.ring.total >= 3000, timeout=10000)
        lat = []
        for _ in range(10):
            qtbot.wait(100)
            lat.append(live.latency_s)
        assert np.median(lat) < 2.0, lat
        t, y = live.ring.view()
        ok = np.isfinite(t)
        expect = value(np.round(t[ok] * 1e9).astype(np.int64), 16)
        np.testing.assert_allclose(y[ok], expect, atol=2e-3)
        # contiguous: no samples lost between refreshes
        steps = np.diff(t[ok])
        assert np.allclose(steps, 1e-3, atol=1e-6), steps[np.abs(steps - 1e-3) > 1e-6][:5]
        _check_display(live, 3)
    finally:
        proc.wait(timeout=30)


def test_soak_live_update_and_paint(qtbot):
    """Thousands of update-and-paint cycles at 16 ch x 1 kHz: no crash, no growth."""
    from bshm.gui.app import make_app
    from bshm.gui.live import LiveView

    make_app()
    view = LiveView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    n_ch, fs, per_frame = 16, 1000.0, 40  # 25 frames/s
    view.configure([(f"A{k:02d}", "m/s2") for k in range(n_ch)], fs, window_s=10.0)
    t0 = 1_790_000_000 * 10**9
    step = 10**9 // int(fs)
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((per_frame, n_ch)).astype(np.float32)
    cycles = 2000
    rss0 = 0
    for i in range(cycles):
        times = t0 + (i * per_frame + np.arange(per_frame, dtype=np.int64)) * step
        view.feed(times, noise + i)
        view.tick()
        view.paint_now()
        if i == 300:
            rss0 = _rss_bytes()
            ring_bytes = view.ring.nbytes
    grown = _rss_bytes() - rss0
    assert view.ring.nbytes == ring_bytes
    assert view.frames == cycles
    assert view.ring.count == view.ring.capacity
    assert view.ring.total == cycles * per_frame
    t, y = view.ring.view()
    np.testing.assert_array_equal(y[-per_frame:], noise + (cycles - 1))
    assert t[-1] == (t0 + (cycles * per_frame - 1) * step) / 1e9
    # 1700 frames moved 68 MB of samples through the view: memory must stay flat
    assert grown < 16_000_000, f"memory grew by {grown} bytes over {cycles - 300} frames"
    lo, hi = view.plots[0].viewRange()[0]
    assert (lo, hi) == (-10.0, 0.0)
    _check_display(view, 5)


def _check_display(view, k: int) -> None:
    """The curve shows the min/max of each block of the ring's samples."""
    t, y = view.ring.view()
    ds = view.ds
    x, yy = view.curves[k].xData, view.curves[k].yData
    assert len(x) >= 2 * (len(t) // ds) - 2
    assert x[-1] <= 0.0
    assert x[0] >= -view.ring.capacity / view.fs - 1e-6
    ok = np.isfinite(y[:, k])
    assert np.nanmax(yy) == y[ok, k].max()
    assert np.nanmin(yy) <= y[ok, k][-len(t) // 2 :].min()
    # every displayed pair is the min and max of the samples of its block
    t_abs = x + t[-1]
    for j in range(0, len(x) - 2, 2 * max(1, len(x) // 40)):
        sel = (t >= t_abs[j] - 1e-9) & (t < t_abs[j + 2] - 1e-9)
        if np.isfinite(yy[j]):
            assert yy[j] == y[sel, k].min()
            assert yy[j + 1] == y[sel, k].max()


def _rss_bytes() -> int:
    """Resident memory of this process (Linux)."""
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
