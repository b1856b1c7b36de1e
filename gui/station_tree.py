"""The station tree: sources, their channels with units, location and health."""

from __future__ import annotations

import math

from bshm.gui.data import Health
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from bshm.units import pretty

ROLE_KEY = QtCore.Qt.ItemDataRole.UserRole
HEALTH_COLOURS = {0: "#2e7d32", 1: "#ef6c00", 2: "#c62828"}
COL_NAME, COL_HEALTH, COL_UNIT, COL_LOC = 0, 1, 2, 3


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
        # health right after the name: it is what a technician looks for first
        self.setHeaderLabels(["Name", "Health", "Unit", "Location"])
        head = self.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(COL_HEALTH, QtWidgets.QHeaderView.ResizeMode.Stretch)
        head.setMinimumSectionSize(30)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self._updating = False
        self.current_source: str | None = None
        self.health: dict[str, tuple[Health, dict[str, Health]]] = {}
        self.live_states: dict = {}
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
            src = QtWidgets.QTreeWidgetItem([name, "", "", rate])
            src.setFirstColumnSpanned(False)
            src.setToolTip(
                0, f"{info.kind}, {rate}, {len(info.channels)} channels, timing {info.timing}"
            )
            src.setData(0, ROLE_KEY, ("source", name))
            root.addChild(src)
            for ch in info.channels:
                where = _location_text(ch.location)
                if ch.direction:
                    where = f"{where}, {ch.direction}" if where else ch.direction
                item = QtWidgets.QTreeWidgetItem([ch.name, "", pretty(ch.unit), where])
                item.setToolTip(0, f"{ch.quantity}; {ch.calibration or 'no calibration note'}")
                item.setToolTip(COL_LOC, _location_text(ch.location, full=True) or "no location")
                item.setData(0, ROLE_KEY, ("channel", name, ch.name))
                item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, QtCore.Qt.CheckState.Checked)
                src.addChild(item)
            if first is None:
                first = src
        root.setExpanded(True)
        for i in range(root.childCount()):
            root.child(i).setExpanded(True)
        for col in (COL_NAME, COL_UNIT, COL_LOC):
            self.resizeColumnToContents(col)
        self.setColumnWidth(COL_NAME, min(self.columnWidth(COL_NAME), 140))
        self.health, self.live_states = {}, {}
        self._updating = False
        if first is not None:
            self.setCurrentItem(first)
            self.current_source = first.data(0, ROLE_KEY)[1]

    def set_health(self, source: str, src_health: Health, per_channel: dict[str, Health]) -> None:
        """Show health text and colour for a source and its channels."""
        self.health[source] = (src_health, dict(per_channel))
        self._repaint_source(source)

    def set_live_state(self, source: str, state) -> None:
        """Show a source's live state (a :class:`bshm.gui.livehealth.LiveState`)."""
        self.live_states[source] = state
        self._repaint_source(source)

    def _repaint_source(self, source: str) -> None:
        item = self.source_item(source)
        if item is None:
            return
        src_h, per = self.health.get(source, (None, {}))
        live = self.live_states.get(source)
        self._updating = True
        if live is not None:
            text = live.short
            level = live.level
            tip = live.text
            if src_h is not None and src_h.level:
                tip += "\n" + (src_h.detail or src_h.text)
                level = max(level, src_h.level)
            self._paint(item, Health(level, text), tip)
        elif src_h is not None:
            self._paint(item, src_h)
        for i in range(item.childCount()):
            child = item.child(i)
            h = per.get(child.data(0, ROLE_KEY)[2])
            if live is not None and live.level >= 1:
                # the newest samples are old: say so instead of a stale "ok"
                word = "failed" if live.level >= 2 else "suspect"
                h = Health(live.level, f"{word}: no new data")
            if h is not None:
                self._paint(child, h)
        self._updating = False

    @staticmethod
    def _paint(item: QtWidgets.QTreeWidgetItem, h: Health, tip: str | None = None) -> None:
        item.setText(COL_HEALTH, h.text)
        item.setToolTip(COL_HEALTH, tip or h.detail or h.text)
        item.setForeground(
            COL_HEALTH, QtGui.QBrush(QtGui.QColor(HEALTH_COLOURS.get(h.level, "#000")))
        )
        f = item.font(COL_HEALTH)
        f.setBold(h.level >= 2)
        item.setFont(COL_HEALTH, f)

    def text_fits(self) -> list[str]:
        """Health texts that do not fit their column (for tests); [] when all fit."""
        fm = self.fontMetrics()
        width = self.columnWidth(COL_HEALTH)
        right = self.header().sectionViewportPosition(COL_HEALTH) + width
        out = []
        if right > self.viewport().width():
            out.append(f"health column ends at {right} px, beyond {self.viewport().width()} px")
        it = QtWidgets.QTreeWidgetItemIterator(self)
        while it.value() is not None:
            item = it.value()
            t = item.text(COL_HEALTH)
            bold = QtGui.QFontMetrics(item.font(COL_HEALTH))
            if t and max(fm.horizontalAdvance(t), bold.horizontalAdvance(t)) + 8 > width:
                out.append(t)
            it += 1
        return out

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
