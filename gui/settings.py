"""Remembered settings: window layout and recent files (QSettings)."""

from __future__ import annotations

from pathlib import Path

from pyqtgraph.Qt import QtCore

MAX_RECENT = 8


def make_settings(path: str | Path | None = None) -> QtCore.QSettings:
    """The viewer's QSettings: the user's (``bshm``/``viewer``) or an INI file."""
    if path is not None:
        return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings("bshm", "viewer")


def recent_files(settings: QtCore.QSettings) -> list[str]:
    """Recently opened paths, newest first."""
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def add_recent(settings: QtCore.QSettings, path: str | Path) -> list[str]:
    """Put a path first in the recent list (no duplicates, at most MAX_RECENT)."""
    p = str(Path(path).resolve())
    items = [p] + [r for r in recent_files(settings) if r != p]
    items = items[:MAX_RECENT]
    settings.setValue("recent", items)
    return items


def save_layout(settings: QtCore.QSettings, window) -> None:
    """Save geometry, dock/toolbar state and the current tab of a main window."""
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("state", window.saveState())
    settings.setValue("tab", window.tabs.currentIndex())
    settings.sync()


def restore_layout(settings: QtCore.QSettings, window) -> bool:
    """Restore what :func:`save_layout` saved; False when nothing was saved."""
    geometry = settings.value("geometry")
    if geometry is None:
        return False
    window.restoreGeometry(geometry)
    state = settings.value("state")
    if state is not None:
        window.restoreState(state)
    tab = settings.value("tab")
    if tab is not None and 0 <= int(tab) < window.tabs.count():
        window.tabs.setCurrentIndex(int(tab))
    return True


def _flag(settings: QtCore.QSettings, key: str, default: bool) -> bool:
    v = settings.value(key, default)
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


def dark_theme(settings: QtCore.QSettings) -> bool:
    """Was the dark theme chosen (remembered between sessions)?"""
    return _flag(settings, "dark_theme", False)


def set_dark_theme(settings: QtCore.QSettings, on: bool) -> None:
    """Remember the theme."""
    settings.setValue("dark_theme", bool(on))
    settings.sync()


def notify_lost(settings: QtCore.QSettings) -> bool:
    """Sound and desktop message when a source is lost (default on)."""
    return _flag(settings, "notify_lost", True)


def set_notify_lost(settings: QtCore.QSettings, on: bool) -> None:
    """Remember the notification choice."""
    settings.setValue("notify_lost", bool(on))
    settings.sync()
