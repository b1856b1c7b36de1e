"""A dark theme, remembered between sessions."""

from __future__ import annotations


def test_dark_theme_is_applied_and_remembered(qtbot, settings, sim_dir):
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import dark_theme
    from pyqtgraph.Qt import QtGui, QtWidgets

    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    assert win.open_path(sim_dir)
    assert not win.dark and not dark_theme(settings)
    light_bg = win.signals.glw.backgroundBrush().color().lightness()
    win.dark_action.trigger()
    assert win.dark and dark_theme(settings)
    assert win.signals.glw.backgroundBrush().color().lightness() < 60 < light_bg
    axis = win.signals.plots[0].getAxis("left")
    assert axis.textPen().color().lightness() > 180  # light text on dark
    app = QtWidgets.QApplication.instance()
    assert app.palette().color(QtGui.QPalette.ColorRole.Window).lightness() < 80
    win.close()
    again = MainWindow(settings)  # the next start is dark again
    qtbot.addWidget(again)
    assert again.dark and again.dark_action.isChecked()
    assert again.signals.glw.backgroundBrush().color().lightness() < 60
    again.set_dark(False)
    assert not dark_theme(settings)
    assert app.palette().color(QtGui.QPalette.ColorRole.Window).lightness() > 150
    assert again.signals.glw.backgroundBrush().color().lightness() > 200
    again.close()
