"""The alarm list a technician works through: filter, read, acknowledge, look.

Alarms come from the results file and the alarm feed
(:func:`bshm.gui.results.load_results`), each with its state: **active**
(the current alarm of its subject in the job's stored alarm state),
**superseded** (its subject moved to another level since), **cleared**, and
whether someone **acknowledged** it (older files without a stored state: an
alarm is active until a later level-0 alarm of its subject). Above the table
the *current state* of every subject (bridge, each sensor, each limit,
monitoring) as the job stored it, the same as ``bshm analyze --json`` prints.
Acknowledging asks for a name and a comment and appends them to
``alarms.acks.jsonl`` beside the feed (never to the feed itself), so the
viewer, the report and later runs agree.
"""

from __future__ import annotations

import logging

from bshm.gui import results as R
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from bshm.alarms import ALARM_KINDS
from bshm.errors import BshmError
from bshm.palette import LEVEL_COLOURS, LEVEL_NAMES, STATE_COLOURS
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)

COLUMNS = ("state", "level", "time (UTC)", "kind", "what", "value / limit", "message")
STATE_FILTERS = (
    ("all states", None),
    ("active", "active"),
    ("active, not acknowledged", "unacknowledged"),
    ("acknowledged", "acknowledged"),
    ("superseded", "superseded"),
    ("cleared", "cleared"),
)
LEVEL_FILTERS = (
    ("all levels", 0),
    ("advisory and above", 1),
    ("warning and above", 2),
    ("critical only", 3),
)


def state_text(a: dict) -> str:
    """``active``, ``superseded``, ``cleared`` or ``normal``, plus ``, acknowledged``."""
    st = a.get("state", "active")
    if int(a.get("level", 0)) == 0:
        st = "normal"
    if a.get("ack"):
        st += ", acknowledged"
    return st


def what_text(a: dict) -> str:
    """Index and mode/channel: ``frequency_shift M1``, ``peak A05``."""
    parts = [str(a.get("index", ""))]
    for k in ("mode", "channel"):
        if a.get(k):
            parts.append(str(a[k]))
    return " ".join(parts)


def _num(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "-"
    return "-" if f != f else f"{f:.4g}"


def passes(a: dict, min_level: int, kind: str | None, state: str | None) -> bool:
    """Does an alarm pass the filters (level at least, kind, state)?"""
    if int(a.get("level", 0)) < min_level:
        return False
    if kind and a.get("kind") != kind:
        return False
    if state == "active":
        return a.get("state") == "active" and int(a.get("level", 0)) > 0
    if state == "unacknowledged":
        return a.get("state") == "active" and int(a.get("level", 0)) > 0 and not a.get("ack")
    if state == "acknowledged":
        return bool(a.get("ack"))
    if state == "superseded":
        return a.get("state") == "superseded" and int(a.get("level", 0)) > 0
    if state == "cleared":
        return a.get("state") == "cleared" or int(a.get("level", 0)) == 0
    return True


def state_summary_html(state: dict | None) -> tuple[str, list[dict]]:
    """The "current state" line above the alarm table, and its rows.

    Every subject of the stored alarm state (bridge, sensors, limits,
    monitoring) with its level; subjects above normal first in bold with
    their level colour and since when. Without a stored state: a note.
    """
    rows = R.current_state_rows(state)
    if not rows:
        return (
            "<i>Current state: not stored in this results file (run bshm analyze); "
            "the states below follow the older rule.</i>",
            rows,
        )
    when = (state or {}).get("updated_ns")
    head = "<b>Current state</b>"
    if when is not None:
        head += f" (job run {to_iso(int(when), digits=0)[:16].replace('T', ' ')} UTC)"
    parts = []
    for r in rows:  # subjects above normal: each on its own, in its level colour
        if not r["active"]:
            continue
        col = LEVEL_COLOURS.get(r["level"], "#000")
        since = (r.get("since") or "")[:16].replace("T", " ")
        parts.append(
            f'<span style="color:{col}"><b>{r["label"]}: {r["level_name"]}</b>'
            + (f" since {since}" if since else "")
            + "</span>"
        )
    quiet: dict[str, list[str]] = {}
    for r in rows:  # the normal ones grouped, so the line stays short
        if r["active"]:
            continue
        _, _, rest = r["label"].partition(" ")
        if r["kind"] == "sensor" and rest:
            quiet.setdefault("sensors", []).append(rest)
        else:
            quiet.setdefault(r["label"], [])
    if quiet:
        words = [f"{k} {', '.join(v)}" if v else k for k, v in quiet.items()]
        parts.append(
            f'<span style="color:{LEVEL_COLOURS.get(0, "#2e7d32")}">normal: '
            + "; ".join(words)
            + "</span>"
        )
    return head + ": " + " &middot; ".join(parts), rows


class AckDialog(QtWidgets.QDialog):
    """Ask who acknowledges and why (the name is required)."""

    def __init__(self, alarm: dict, name: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Acknowledge alarm")
        self.name = QtWidgets.QLineEdit(name)
        self.name.setPlaceholderText("your name (required)")
        self.comment = QtWidgets.QPlainTextEdit()
        self.comment.setPlaceholderText("what you checked or did, e.g. 'sensor cable re-seated'")
        self.comment.setMaximumHeight(90)
        what = QtWidgets.QLabel(
            f"<b>{LEVEL_NAMES.get(int(alarm.get('level', 0)), '')}</b> "
            f"{to_iso(int(alarm['time_ns']), digits=0)} UTC: {alarm.get('message', '')}"
        )
        what.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Acknowledge")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QtWidgets.QFormLayout(self)
        form.addRow(what)
        form.addRow("Name", self.name)
        form.addRow("Comment", self.comment)
        form.addRow(buttons)
        self.name.textChanged.connect(self._check)
        self._check()
        self.resize(520, 260)

    def _check(self) -> None:
        self.ok.setEnabled(bool(self.name.text().strip()))

    def values(self) -> tuple[str, str]:
        """(name, comment) as typed."""
        return self.name.text().strip(), self.comment.toPlainText().strip()


class AlarmPanel(QtWidgets.QWidget):
    """Filterable alarm table with states, details and acknowledgement.

    Signals
    -------
    sig_jump(object, object, bool)
        Centre the Signals view on an alarm's analysis window:
        (start_ns, end_ns, switch to the Signals tab). A click only moves
        the view (the list stays in front); a double click, Enter or
        "Show signals" also switches to it.
    sig_selected(object)
        The selected alarm object (or None).
    sig_message(str)
        Something to tell the user.
    """

    sig_jump = QtCore.Signal(object, object, bool)
    sig_changed = QtCore.Signal()
    sig_selected = QtCore.Signal(object)
    sig_message = QtCore.Signal(str)

    def __init__(self, settings: QtCore.QSettings | None = None, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.results: dict | None = None
        self.shown: list[dict] = []
        self.level = QtWidgets.QComboBox()
        for text, _ in LEVEL_FILTERS:
            self.level.addItem(text)
        self.kind = QtWidgets.QComboBox()
        self.kind.addItem("all kinds")
        self.kind.addItems(list(ALARM_KINDS))
        self.state = QtWidgets.QComboBox()
        for text, _ in STATE_FILTERS:
            self.state.addItem(text)
        for combo in (self.level, self.kind, self.state):
            combo.currentIndexChanged.connect(self.refill)
        self.count = QtWidgets.QLabel("")
        self.ack_button = QtWidgets.QPushButton("Acknowledge...")
        self.ack_button.setToolTip("record your name and a comment for the selected alarm")
        self.ack_button.clicked.connect(self.ask_acknowledge)
        self.show_button = QtWidgets.QPushButton("Show signals")
        self.show_button.setToolTip("the Signals view, centred on the alarm's analysis window")
        self.show_button.clicked.connect(self.jump_selected)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Show"))
        top.addWidget(self.level)
        top.addWidget(self.kind)
        top.addWidget(self.state)
        top.addWidget(self.count, 1)
        top.addWidget(self.show_button)
        top.addWidget(self.ack_button)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        head = self.table.horizontalHeader()
        for j in range(len(COLUMNS) - 1):
            head.setSectionResizeMode(j, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(len(COLUMNS) - 1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_select)
        self.table.cellDoubleClicked.connect(lambda r, _c: self.jump_row(r, True))
        self.table.cellActivated.connect(lambda r, _c: self.jump_row(r, True))
        self.table.cellClicked.connect(lambda r, _c: self.jump_row(r, False))
        self.details = QtWidgets.QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(60)
        self.details.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.current = QtWidgets.QLabel("")
        self.current.setWordWrap(True)
        self.current.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.current.setToolTip(
            "the monitoring job's current alarm state per subject "
            "(the same as 'bshm analyze --json' prints as state)"
        )
        self.current_rows: list[dict] = []
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.current)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.details)

    def export_target(self):
        """What a PNG export of this tab shows: the whole panel."""
        return self

    # -- data ----------------------------------------------------------------
    def set_results(self, results: dict | None) -> None:
        """Show the alarms of :func:`bshm.gui.results.load_results` output."""
        self.results = results
        self.refill()

    def filters(self) -> tuple[int, str | None, str | None]:
        """(min level, kind or None, state filter or None) as chosen."""
        kind = self.kind.currentText() if self.kind.currentIndex() > 0 else None
        return (
            LEVEL_FILTERS[self.level.currentIndex()][1],
            kind,
            STATE_FILTERS[self.state.currentIndex()][1],
        )

    def refill(self, *_args) -> None:
        """Fill the table with the alarms that pass the filters, newest first."""
        alarms = self.results["alarms"] if self.results else []
        if self.results is None:
            self.current.setText("")
            self.current_rows = []
        else:
            html, self.current_rows = state_summary_html(self.results.get("alarm_state"))
            self.current.setText(html)
        lv, kind, st = self.filters()
        self.shown = [a for a in reversed(alarms) if passes(a, lv, kind, st)]
        self.table.setRowCount(len(self.shown))
        for i, a in enumerate(self.shown):
            level = int(a.get("level", 0))
            st_text = state_text(a)
            cells = [
                st_text,
                f"{level} {LEVEL_NAMES.get(level, '')}",
                to_iso(int(a["time_ns"]), digits=0)[:19].replace("T", " "),
                str(a.get("kind", "")),
                what_text(a),
                f"{_num(a.get('value'))} / {_num(a.get('threshold'))}",
                str(a.get("message", "")),
            ]
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(str(a.get("message", "")) if j == 6 else text)
                self.table.setItem(i, j, item)
            colour = (
                STATE_COLOURS["acknowledged"]
                if a.get("ack")
                else STATE_COLOURS["active"]
                if a.get("state") == "active" and level
                else STATE_COLOURS["stopped"]
                if a.get("state") == "superseded"
                else STATE_COLOURS["cleared"]
            )
            self.table.item(i, 0).setForeground(QtGui.QBrush(QtGui.QColor(colour)))
            self.table.item(i, 1).setForeground(
                QtGui.QBrush(QtGui.QColor(LEVEL_COLOURS.get(level, "#000")))
            )
            if a.get("state") == "active" and level >= 2 and not a.get("ack"):
                f = self.table.item(i, 0).font()
                f.setBold(True)
                for j in range(len(COLUMNS)):
                    self.table.item(i, j).setFont(f)
        n_active = sum(1 for a in alarms if a.get("state") == "active" and a.get("level", 0))
        n_open = sum(
            1
            for a in alarms
            if a.get("state") == "active" and a.get("level", 0) and not a.get("ack")
        )
        self.count.setText(
            f"{len(self.shown)} of {len(alarms)} shown; {n_active} active, "
            f"{n_open} not acknowledged"
        )
        self._on_select()

    # -- selection, jump, acknowledge -------------------------------------------
    def selected(self) -> dict | None:
        """The selected alarm object."""
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) != 1:
            return None
        r = rows.pop()
        return self.shown[r] if 0 <= r < len(self.shown) else None

    def _on_select(self) -> None:
        a = self.selected()
        self.ack_button.setEnabled(a is not None and self.results is not None)
        self.show_button.setEnabled(a is not None)
        if a is None:
            self.details.setText("Select an alarm to read it, see its signals or acknowledge it.")
        else:
            ack = a.get("ack")
            ack_txt = (
                f"<br><b>Acknowledged</b> by {ack.get('by', '?')} on "
                f"{str(ack.get('time', ''))[:19].replace('T', ' ')} UTC: "
                f"{ack.get('comment', '') or '(no comment)'}"
                if ack
                else ""
            )
            self.details.setText(
                f"<b>{state_text(a)}</b> &middot; {LEVEL_NAMES.get(int(a['level']), '')} "
                f"&middot; {a.get('kind', '')} &middot; {what_text(a)} &middot; "
                f"{to_iso(int(a['time_ns']), digits=0)} UTC<br>{a.get('message', '')}{ack_txt}"
            )
        self.sig_selected.emit(a)

    def select_id(self, alarm_id: str) -> bool:
        """Select the row of an alarm id; False when it is filtered out."""
        for i, a in enumerate(self.shown):
            if a.get("id") == alarm_id:
                self.table.selectRow(i)
                return True
        return False

    def jump_row(self, row: int, switch: bool = True) -> None:
        """Centre the Signals view on the analysis window of the alarm in ``row``."""
        if not 0 <= row < len(self.shown) or self.results is None:
            return
        s, e = R.window_of(self.results, int(self.shown[row]["time_ns"]))
        self.sig_jump.emit(s, e, bool(switch))

    def jump_selected(self) -> None:
        """Show the signals of the selected alarm (switches to the Signals tab)."""
        rows = {i.row() for i in self.table.selectedItems()}
        if rows:
            self.jump_row(min(rows), True)

    def acknowledge(self, alarm: dict, by: str, comment: str = "") -> dict:
        """Store an acknowledgement and refresh the table (keeps the selection).

        Raises
        ------
        ValueError
            Empty name.
        bshm.errors.StoreError
            The file cannot be written.
        """
        obj = R.acknowledge(self.results, alarm, by, comment)
        if self.settings is not None:
            self.settings.setValue("ack_name", by)
        self.refill()
        self.select_id(alarm["id"])
        self.sig_changed.emit()
        self.sig_message.emit(f"alarm acknowledged by {by}, stored in {self.results['ack_path']}")
        return obj

    def ask_acknowledge(self) -> None:
        """Ask for a name and a comment, then acknowledge the selected alarm."""
        a = self.selected()
        if a is None or self.results is None:
            return
        name = str(self.settings.value("ack_name", "")) if self.settings is not None else ""
        dlg = AckDialog(a, name, self)
        self._dialog = dlg  # tests reach it while it is open
        if dlg.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        by, comment = dlg.values()
        try:
            self.acknowledge(a, by, comment)
        except (BshmError, ValueError) as exc:
            self.sig_message.emit(str(exc))
