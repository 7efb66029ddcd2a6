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
            label.setWordWrap(False)  # a traceback keeps its lines and carets
            label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.setModal(False)
    return box


# tabs with nothing to show for a user's model: 2-D input planes, and initviz's own MLP's papers and phase diagram
HIDDEN_TABS = ("boundary", "neurons", "papers", "phase")


def _inspect_window_class():
    from initviz.ui.main_window import APP_TITLE, MainWindow
    from initviz.ui.text import elide

    class InspectWindow(MainWindow):
        """MainWindow on model lanes: the diagnosis names module paths and the init to use."""

        def __init__(self, lanes: Any, title: str) -> None:
            super().__init__(lanes.configs[0], lanes=lanes.configs, names=lanes.names)
            self.inspect_title = title
            self.inspect_handoff = LanesHandoff(lanes)
            self.controller.config = self.inspect_handoff  # the Engine builds its lanes by calling it (engine/loop.py)
            # per lane name: the probe points and the init each weight had when built (immutable, read here)
            self.inspect_layers = list(lanes.layers)
            self.inspect_guesses = {n: list(t.init_guess) for n, t in zip(lanes.names, lanes.trainers)}
            self.inspect_boxes: list[QtWidgets.QMessageBox] = []
            self._shown_user_error: Any = None
            self.setWindowTitle(f"initviz inspect: {title}  ({APP_TITLE.split(': ', 1)[-1]})")
            self.experiment_dock.hide()  # its settings are the built-in MLP's
            from initviz import registry

            for i, spec in enumerate(registry.PANELS):
                if spec.id in HIDDEN_TABS:
                    self.tabs.setTabVisible(i, False)
            self.controller.state_ready.connect(self._user_error)

        def _show_diagnosis(self, frame: Any, scrubbed: bool) -> None:
            from initviz.engine.diagnosis import diagnose_model

            record = frame.main.record
            many = len(frame.lanes) > 1
            lines: list[str] = []
            later: list[str] = []
            for lane in frame.lanes:
                guesses = self.inspect_guesses.get(lane.name, [None] * len(self.inspect_layers))
                try:
                    got = diagnose_model(lane.record, self.inspect_layers, guesses, initial=lane.records[0] if lane.records else None)
                except Exception as exc:  # noqa: BLE001 - a caption must never take the window down
                    got = [f"(diagnosis failed: {exc})"]
                named = [f"{elide(lane.name)}: {line}" if many else line for line in got]
                lines.extend(named[:1])
                later.extend(named[1:])
            prefix = "At initialisation: " if record.step == 0 and not scrubbed else f"At step {record.step}: " if scrubbed else ""
            diverged = "; ".join(m for m in (lane.record.diverged_message() for lane in frame.lanes) if m) or None
            self.banner.show_diagnosis(lines + later, diverged, prefix)

        def _show_summary(self) -> None:
            state = self.state
            if state is None:
                return
            c = state.lanes[0].config
            text = (f"{self.inspect_title}: {c.depth} probe points ({', '.join(l.name for l in self.inspect_layers[:4])}"
                    f"{'…' if c.depth > 4 else ''}) · {c.optimizer} lr {c.lr:g} · batch {c.batch_size} · seed {c.seed} · "
                    f"lanes: {', '.join(state.names)}")  # fmt: skip
            self.statusBar().showMessage(text)

        def _user_error(self, state: Any) -> None:
            """An error in the user's code while training: their traceback in a box (the run is kept)."""
            err = getattr(self.inspect_handoff.lanes, "last_error", None)
            if state.error and err is not None and err is not self._shown_user_error:
                self._shown_user_error = err
                box = user_error_box(self, err)
                self.inspect_boxes.append(box)
                box.open()

    return InspectWindow


def open_inspect_window(lanes: Any, title: str, steps: int = 0):  # -> InspectWindow (a MainWindow)
    """The window on ``lanes`` (not started: call ``window.start_engine()``); after the first
    snapshot it trains ``steps`` steps. Errors the lanes raise later open :func:`user_error_box`."""
    window = _inspect_window_class()(lanes, title)
    if steps > 0:
        pending = {"steps": steps}

        def first_state(state: Any) -> None:
            if pending["steps"]:
                n, pending["steps"] = pending["steps"], 0
                window.controller.step(n)

        window.controller.state_ready.connect(first_state)
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
