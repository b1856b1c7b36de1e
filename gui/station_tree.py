"""The station tree: sources, their channels with units, location and health."""

from __future__ import annotations

import math

from bshm.gui.data import Health
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

ROLE_KEY = QtCore.Qt.ItemDataRole.UserRole
HEALTH_COLOURS = {0: "#2e7d32", 1: "#ef6c00", 2: "#c62828"}


def _location_text(loc, full: bool = False) -> str:
    """``x=25 m`` (the position along the bridge); all axes when ``full``."""
    parts = []
    for axis, value in zip("xyz", loc or ()):
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            parts.append(f"{axis}={value:g}")
        if not full:
            break
    return " ".join(parts) + (" m" if parts else "")


class StationTree(QtWidgets.QTreeWidget):
    """Tree of sources and channels; tick channels to plot them.

    Signals
    -------
    sig_selection_changed(str, list)
        The current source and its ticked channel names.
    """

    sig_selection_changed = QtCore.Signal(str, list)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["Name", "Unit", "Location", "Health"])
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self._updating = False
        self.current_source: str | None = None
        self.itemChanged.connect(self._on_item_changed)
        self.itemClicked.connect(self._on_item_clicked)

    def populate(self, station: str, sources: dict, live: bool = False) -> None:
        """Fill the tree from ``RawReader.sources`` (name -> SourceInfo)."""
        self._updating = True
        self.clear()
        root = QtWidgets.QTreeWidgetItem([station + ("  (live)" if live else ""), "", "", ""])
        self.addTopLevelItem(root)
        first = None
        for name, info in sources.items():
            rate = f"{info.fs:g} Hz" if info.fs else "irregular"
            src = QtWidgets.QTreeWidgetItem([f"{name}  {rate}", "", "", ""])
            src.setToolTip(
                0, f"{info.kind}, {rate}, {len(info.channels)} channels, timing {info.timing}"
            )
            src.setData(0, ROLE_KEY, ("source", name))
            root.addChild(src)
            for ch in info.channels:
                label = ch.name if not ch.direction else f"{ch.name} ({ch.direction})"
                item = QtWidgets.QTreeWidgetItem([label, ch.unit, _location_text(ch.location), ""])
                item.setToolTip(0, f"{ch.quantity}; {ch.calibration or 'no calibration note'}")
                item.setToolTip(2, _location_text(ch.location, full=True) or "no location")
                item.setData(0, ROLE_KEY, ("channel", name, ch.name))
                item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, QtCore.Qt.CheckState.Checked)
                src.addChild(item)
            if first is None:
                first = src
        root.setExpanded(True)
        for i in range(root.childCount()):
            root.child(i).setExpanded(True)
        for col in range(4):
            self.resizeColumnToContents(col)
        self._updating = False
        if first is not None:
            self.setCurrentItem(first)
            self.current_source = first.data(0, ROLE_KEY)[1]

    def set_health(self, source: str, src_health: Health, per_channel: dict[str, Health]) -> None:
        """Show health text and colour for a source and its channels."""
        item = self.source_item(source)
        if item is None:
            return
        self._updating = True
        self._paint(item, src_health)
        for i in range(item.childCount()):
            child = item.child(i)
            h = per_channel.get(child.data(0, ROLE_KEY)[2])
            if h is not None:
                self._paint(child, h)
        self._updating = False

    @staticmethod
    def _paint(item: QtWidgets.QTreeWidgetItem, h: Health) -> None:
        item.setText(3, h.text)
        item.setToolTip(3, h.text)
        item.setForeground(3, QtGui.QBrush(QtGui.QColor(HEALTH_COLOURS.get(h.level, "#000"))))

    def source_item(self, source: str) -> QtWidgets.QTreeWidgetItem | None:
        """The item of a source."""
        root = self.topLevelItem(0)
        if root is None:
            return None
        for i in range(root.childCount()):
            if root.child(i).data(0, ROLE_KEY)[1] == source:
                return root.child(i)
        return None

    def checked_channels(self, source: str) -> list[str]:
        """Ticked channel names of a source, in tree order."""
        item = self.source_item(source)
        if item is None:
            return []
        return [
            item.child(i).data(0, ROLE_KEY)[2]
            for i in range(item.childCount())
            if item.child(i).checkState(0) == QtCore.Qt.CheckState.Checked
        ]

    def select_source(self, source: str) -> None:
        """Make a source current and announce its ticked channels."""
        item = self.source_item(source)
        if item is not None:
            self.setCurrentItem(item)
            self.current_source = source
            self.sig_selection_changed.emit(source, self.checked_channels(source))

    def _on_item_clicked(self, item: QtWidgets.QTreeWidgetItem, _col: int) -> None:
        key = item.data(0, ROLE_KEY)
        if key and key[1] != self.current_source:
            self.select_source(key[1])

    def _on_item_changed(self, item: QtWidgets.QTreeWidgetItem, col: int) -> None:
        if self._updating or col != 0:
            return
        key = item.data(0, ROLE_KEY)
        if key and key[0] == "channel":
            self.current_source = key[1]
            self.sig_selection_changed.emit(key[1], self.checked_channels(key[1]))
