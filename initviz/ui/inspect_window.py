"""The window on a user's own model (``initviz inspect FILE.py:FACTORY`` without --headless).

The same MainWindow and panels as a built-in run: its Engine is handed the inspected model's lanes
(engine.inspect.ModelLanes, built before the window opens, so an error in the user's file is shown
before anything else) through the loop's lanes-factory seam. Reset and Reseed rebuild those lanes;
the Experiment dock (built-in MLPs) is hidden. An error in the user's code, at start or later while
training, is shown in a message box with their traceback; the window stays up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import torch  # noqa: F401  # before PySide6 (see ui/app.py)
from PySide6 import QtCore, QtGui, QtWidgets


class LanesHandoff:
    """The Engine's lanes factory: the lanes built in the GUI thread the first time, then rebuilt ones
    (a new worker after the old one died). Keeps the newest lanes so the window can read their error."""

    def __init__(self, lanes: Any) -> None:
        self.lanes = lanes
        self._given = False

    def __call__(self) -> Any:
        if self._given:
            self.lanes = self.lanes.rebuilt()
        self._given = True
        return self.lanes


def user_error_box(parent: Optional[QtWidgets.QWidget], exc: Any) -> QtWidgets.QMessageBox:
    """A non-modal message box with the user's error (one line) and their traceback, as plain text."""
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Critical)
    box.setWindowTitle("Error in your model's code")
    box.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # user data: never rich text
    box.setText(str(exc))
    tb = getattr(exc, "traceback", "")
    if tb:
        box.setInformativeText(tb)
        label = box.findChild(QtWidgets.QLabel, "qt_msgbox_informativelabel")
        if label is not None:
            label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
            label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.setModal(False)
    return box


def open_inspect_window(lanes: Any, title: str, steps: int = 0):  # -> MainWindow
    """The main window on ``lanes`` (not started: call ``window.start_engine()``); after the first
    snapshot it trains ``steps`` steps. Errors the lanes raise later open :func:`user_error_box`."""
    from initviz.ui.main_window import APP_TITLE, MainWindow

    window = MainWindow(lanes.configs[0], lanes=lanes.configs, names=lanes.names)
    handoff = LanesHandoff(lanes)
    window.controller.config = handoff  # the Engine builds its lanes by calling this (engine/loop.py)
    window.setWindowTitle(f"initviz inspect: {title}  ({APP_TITLE.split(': ', 1)[-1]})")
    window.experiment_dock.hide()  # its settings are the built-in MLP's
    window.inspect_handoff = handoff
    window.inspect_boxes = []
    shown: dict[str, Any] = {"error": None, "stepped": steps <= 0}

    def on_state(state: Any) -> None:
        if not shown["stepped"]:
            shown["stepped"] = True
            window.controller.step(steps)
        err = getattr(handoff.lanes, "last_error", None)
        if state.error and err is not None and err is not shown["error"]:
            shown["error"] = err
            box = user_error_box(window, err)
            window.inspect_boxes.append(box)
            box.open()

    window.controller.state_ready.connect(on_state)
    return window


def run_inspect_window(args: Any, steps: int) -> int:
    """``initviz inspect`` with a window: build the lanes (an error: a message box and status 2), show, run."""
    from initviz.engine.config import ConfigError
    from initviz.engine.usercode import UserCodeError
    from initviz.inspect_cli import build_lanes

    if QtWidgets.QApplication.instance() is None:
        from initviz.ui.platform_check import xcb_problem

        problem = xcb_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 1
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setApplicationName("initviz")
    from initviz.ui.theme import apply_theme

    apply_theme()
    sys.setswitchinterval(0.001)
    try:
        lanes = build_lanes(args)
    except UserCodeError as exc:
        print(f"initviz inspect: error: {exc}", file=sys.stderr)
        if exc.traceback:
            print(exc.traceback.rstrip(), file=sys.stderr)
        user_error_box(None, exc).exec()
        return 2
    except (ConfigError, ValueError) as exc:
        print(f"initviz inspect: error: {exc}", file=sys.stderr)
        return 2
    window = open_inspect_window(lanes, Path(args.target).name, steps)
    window.show()
    app.aboutToQuit.connect(lambda: window.controller.shutdown(timeout=1.0))
    QtCore.QTimer.singleShot(0, window.start_engine)
    return app.exec()
