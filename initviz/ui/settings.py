"""What the window remembers between sessions (QSettings): geometry, dock sizes, zoom, last scenario.

The app reads and writes them (``restore_window`` after the window is built, ``save_window`` when
it quits); the window itself never does, so tests that build windows leave no settings behind.
``INITVIZ_SETTINGS`` names an ini file to use instead of the user's (tests use a temporary one).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from PySide6 import QtCore, QtGui, QtWidgets

LARGE_SCREEN = (1800, 1000)  # available area from which the window opens maximised
DOCK_WIDTH = 330  # px at zoom 1: the Experiment dock's usable width
MIN_DOCK_WIDTH = 240


def open_settings(path: Optional[str] = None) -> QtCore.QSettings:
    """The settings store: ``path`` (an ini file), else $INITVIZ_SETTINGS, else the user's."""
    path = path or os.environ.get("INITVIZ_SETTINGS")
    if path:
        return QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings("initviz", "initviz")


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def fit_to_screen(window: QtWidgets.QMainWindow, screen: Optional[QtGui.QScreen] = None) -> None:
    """Size the window to the screen's available area; maximised on a large screen."""
    screen = screen or window.screen() or QtGui.QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    if area.width() >= LARGE_SCREEN[0] and area.height() >= LARGE_SCREEN[1]:
        window.setGeometry(area)
        window.setWindowState(window.windowState() | QtCore.Qt.WindowState.WindowMaximized)
        return
    frame = window.frameGeometry().size() - window.geometry().size()  # title bar and borders
    window.resize(max(640, area.width() - frame.width()), max(480, area.height() - frame.height()))
    window.move(area.topLeft())


def usable_dock(window: Any) -> None:
    """Give the Experiment dock back a usable width (shown, at least DOCK_WIDTH x zoom)."""
    dock = window.experiment_dock
    zoom = getattr(getattr(window, "zoom", None), "factor", 1.0)
    dock.setMinimumWidth(int(MIN_DOCK_WIDTH * min(zoom, 1.5)))
    dock.show()
    want = int(DOCK_WIDTH * zoom)
    if dock.width() < want:
        window.resizeDocks([dock], [min(want, window.width() // 2)], QtCore.Qt.Orientation.Horizontal)


def restore_window(window: Any, settings: QtCore.QSettings) -> None:
    """Geometry, dock sizes and zoom as last saved, else sized to the screen."""
    geometry = settings.value("window/geometry")
    if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty() and window.restoreGeometry(geometry):
        state = settings.value("window/state")
        if isinstance(state, QtCore.QByteArray):
            window.restoreState(state)
    else:
        fit_to_screen(window)
    zoom = getattr(window, "zoom", None)
    if zoom is not None:
        zoom.set_factor(_float(settings.value("view/zoom", 1.0), 1.0))
    window.experiment_dock.setMinimumWidth(MIN_DOCK_WIDTH)


def save_window(window: Any, settings: QtCore.QSettings) -> None:
    """Geometry, dock sizes, zoom and the scenario on show."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    zoom = getattr(window, "zoom", None)
    if zoom is not None:
        settings.setValue("view/zoom", float(zoom.factor))
    scenario = window.experiment.scenario_box.currentData()
    settings.setValue("run/scenario", scenario.id if scenario is not None else "")
    settings.sync()


def last_scenario(settings: QtCore.QSettings) -> Optional[str]:
    """The id of the scenario shown when the app last quit (None: custom settings or never)."""
    value = settings.value("run/scenario", "")
    return str(value) if value else None
