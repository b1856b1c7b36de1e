"""Modal view: the stabilization diagram through the worker thread."""

from __future__ import annotations

import json

import numpy as np

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
    # mode shape plotted against the sensors' x positions
    with open_raw(sim_dir) as r:
        xs = sorted(
            c.location[0] for c in r.sources[modal.source].channels if c.quantity == "acceleration"
        )
    curves = modal.shape.listDataItems()
    assert curves
    np.testing.assert_allclose(curves[0].xData, xs)
    assert np.max(np.abs(curves[0].yData)) == 1.0


def test_modal_without_data_says_so(window):
    assert not window.modal.run()
    window.run_modal()
    assert "open raw data" in window.last_error
