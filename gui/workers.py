"""Background work for the viewer: one-shot tasks on the global thread pool.

Long computations (decimated overviews, modal identification, spectra of
long ranges) run in a :class:`Task` so the GUI thread never blocks. Results
come back to the GUI thread through queued Qt signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyqtgraph.Qt import QtCore

from bshm.errors import BshmError

log = logging.getLogger(__name__)


class TaskSignals(QtCore.QObject):
    """Signals of a :class:`Task` (a QRunnable cannot carry signals itself)."""

    sig_done = QtCore.Signal(object)
    sig_failed = QtCore.Signal(str)
    sig_progress = QtCore.Signal(object)


class Task(QtCore.QRunnable):
    """Run ``fn(*args, **kwargs)`` on a pool thread and report the outcome.

    ``fn`` may accept a keyword ``progress`` (a callable taking one object)
    when ``with_progress`` is true; each call emits ``sig_progress``.
    Errors become ``sig_failed`` with a one-line message: a
    :class:`bshm.errors.BshmError` keeps its text, anything else is logged
    with its traceback and reported with its type.
    """

    def __init__(
        self, fn: Callable[..., Any], *args: Any, with_progress: bool = False, **kwargs: Any
    ) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.with_progress = with_progress
        self.signals = TaskSignals()
        self.setAutoDelete(False)

    def run(self) -> None:  # noqa: D102 - Qt API
        try:
            if self.with_progress:
                self.kwargs["progress"] = self.signals.sig_progress.emit
            result = self.fn(*self.args, **self.kwargs)
        except BshmError as exc:
            self.signals.sig_failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the user, logged in full
            log.exception("background task %s failed", getattr(self.fn, "__name__", self.fn))
            self.signals.sig_failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.sig_done.emit(result)


class TaskRunner(QtCore.QObject):
    """Start tasks and keep them alive until their signals were delivered."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool.globalInstance()
        self._running: set[Task] = set()

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> Task:
        """Run ``fn`` in the background; callbacks run on the GUI thread."""
        task = Task(fn, *args, with_progress=on_progress is not None, **kwargs)
        if on_done is not None:
            task.signals.sig_done.connect(on_done)
        if on_failed is not None:
            task.signals.sig_failed.connect(on_failed)
        if on_progress is not None:
            task.signals.sig_progress.connect(on_progress)
        task.signals.sig_done.connect(lambda _r, t=task: self._running.discard(t))
        task.signals.sig_failed.connect(lambda _m, t=task: self._running.discard(t))
        self._running.add(task)
        self.pool.start(task)
        return task

    @property
    def busy(self) -> bool:
        """True while a task started here has not reported back."""
        return bool(self._running)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (used on close and in tests)."""
        return bool(self.pool.waitForDone(msecs))
