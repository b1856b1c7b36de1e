"""Modal view: the stabilization diagram through the worker thread."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bshm.store import open_raw


def test_stabilization_diagram_in_worker(window, sim_dir, qtbot):
    assert window.open_path(sim_dir)
    modal = window.modal
    with qtbot.waitSignal(modal.sig_result, timeout=120000) as blocker:
        window.run_modal()
        assert modal.busy  # the GUI thread is free while the worker runs
        assert not modal.button.isEnabled()
    result = blocker.args[0]
    assert not modal.busy
    assert modal.button.isEnabled()
    assert window.tabs.currentWidget() is modal
    # the diagram shows every pole of the result; picked ones highlighted
    sd = result.stabilization
    plotted = sum(len(item.xData) for item in modal.stab.listDataItems())
    assert plotted == sd.n_poles
    picked = [i for i in modal.stab.listDataItems() if i.name() == "picked mode"]
    assert picked
    assert len(picked[0].xData) == int((np.asarray(sd.mode) >= 0).sum())
    # the table lists f, damping, MPC of each mode
    assert modal.table.rowCount() == len(result.frequencies) > 0
    for k in range(modal.table.rowCount()):
        assert float(modal.table.item(k, 1).text()) == round(float(result.frequencies[k]), 4)
        assert float(modal.table.item(k, 3).text()) == round(float(result.mpc[k]), 3)
    # the first mode is close to the simulated bridge's first mode
    truth = json.loads((sim_dir / "truth.json").read_text())
    from test_viewer import _truth_frequencies

    f1 = min(_truth_frequencies(truth))
    assert abs(result.frequencies[0] - f1) / f1 < 0.05, (result.frequencies, f1)
    # mode shape drawn on the bridge sketch at the sensors' x positions
    with open_raw(sim_dir) as r:
        xs = sorted(
            c.location[0] for c in r.sources[modal.source].channels if c.quantity == "acceleration"
        )
    modal.bridge.phase = 0.0
    (x, y), *_ = modal.bridge.frame_lines()
    np.testing.assert_allclose(x, xs)  # no station.toml here: no supports added
    assert np.max(np.abs(y)) == modal.bridge.amp.value() / 100
    phi = np.asarray(result.shapes)[:, 0]
    phi = phi * np.exp(-1j * np.angle(phi[np.argmax(np.abs(phi))]))
    order = np.argsort([c for c in modal.bridge.x])
    np.testing.assert_allclose(
        y, modal.bridge.amp.value() / 100 * np.real(phi / np.abs(phi).max())[order], atol=1e-12
    )
    # several modes at once, with a legend in the palette's colours
    modal.table.clearSelection()
    modal.table.setSelectionMode(modal.table.SelectionMode.MultiSelection)
    modal.table.selectRow(0)
    modal.table.selectRow(1)
    assert modal.bridge.selected == [0, 1]
    assert len(modal.bridge.curves) == 2
    from bshm.palette import mode_colour

    assert modal.bridge.curves[1].opts["pen"].color().name() == mode_colour(1)
    # animation: another phase draws another frame, pause stops it
    modal.bridge.phase = np.pi / 2
    (_, y2), *_ = modal.bridge.frame_lines()
    assert not np.allclose(y2, y)
    modal.bridge.play.setChecked(True)
    assert not modal.bridge.timer.isActive()
    # the FDD spectrum behind the diagram peaks near a mode
    f, db = modal.sv_curve.getData()
    assert f.size > 10
    band = (f > 0.5 * f1) & (f < 20)
    f_peak = f[band][np.argmax(db[band])]
    assert min(abs(f_peak - fk) / fk for fk in _truth_frequencies(truth)) < 0.05
    # MAC between the identified modes: computed like a plain loop
    m = modal.mac_values
    shapes = np.asarray(result.shapes)
    for i in range(shapes.shape[1]):
        for j in range(shapes.shape[1]):
            a, b = shapes[:, i], shapes[:, j]
            ref = abs(np.vdot(a, b)) ** 2 / (np.vdot(a, a).real * np.vdot(b, b).real)
            assert m[i, j] == pytest.approx(ref, abs=1e-9)
    assert len(modal.mac_texts) == m.size
    # a readout on the stabilization diagram too: frequency, FDD level, nearest mode
    text = modal.readout(float(result.frequencies[0]) + 0.01, 30)
    assert text.startswith(f"f = {float(result.frequencies[0]) + 0.01:.4g} Hz, order 30")
    assert "dB" in text and f"nearest mode 1: {result.frequencies[0]:.4f} Hz" in text


def test_modal_without_data_says_so(window):
    assert not window.modal.run()
    window.run_modal()
    assert "open raw data" in window.last_error
