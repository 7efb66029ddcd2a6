"""Keys that always work, the zoom actions and the dock's restore: installed on a MainWindow.

Space, Right, Left, Home, End and Ctrl+1…7 act whatever widget has the keyboard focus (a combo
box, a check box, the tab bar, the timeline), except while the user is typing in a text field;
after Apply or Revert the focus leaves the field, so the next Space plays again.
Right trains one step when live and moves one recorded step on when scrubbing; Left moves one
recorded step back (pausing first); Home shows step 0; End follows training again.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, Optional

from PySide6 import QtCore, QtGui, QtWidgets

from initviz.ui.hover import install_hover
from initviz.ui.zoom import Zoom

Key = QtCore.Qt.Key
TRANSPORT_KEYS = {Key.Key_Space, Key.Key_Right, Key.Key_Left, Key.Key_Home, Key.Key_End}


def is_text_field(widget: Optional[QtWidgets.QWidget]) -> bool:
    """Whether keys typed into ``widget`` are text (a line edit, a spin box, an editable combo)."""
    if widget is None:
        return False
    if isinstance(widget, QtWidgets.QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox, QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit))


class TransportKeys(QtCore.QObject):
    """Application event filter: a transport key goes to the window's shortcut, not to the
    focused widget (a combo box would change its choice, a slider move, a check box toggle)."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.ShortcutOverride and isinstance(event, QtGui.QKeyEvent):
            mods = event.modifiers() & ~QtCore.Qt.KeyboardModifier.KeypadModifier
            if event.key() in TRANSPORT_KEYS and mods in (QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.KeyboardModifier.ShiftModifier):
                focus = QtWidgets.QApplication.focusWidget()
                if focus is not None and focus.window() is self.window and not is_text_field(focus):
                    return True  # not accepted by the widget: the window's shortcut gets the key
        return False


def _recorded_steps(window: Any) -> list[int]:
    frame = window.current_frame()
    return [r.step for r in frame.main.records] if frame is not None else []


def _shown_step(window: Any) -> Optional[int]:
    record = window.shown_record
    return None if record is None else int(record.step)


def step_forward(window: Any) -> None:
    """Right: live, train one step; scrubbing, the next recorded step (past the newest: live)."""
    if window.cursor_step is None:
        window.controller.step(1)
        return
    steps = _recorded_steps(window)
    i = bisect.bisect_right(steps, window.cursor_step)
    if i >= len(steps) or steps[i] >= steps[-1]:
        window.go_live()
    else:
        window.scrub_to(steps[i])


def step_back(window: Any) -> None:
    """Left: pause, then show the recorded step before the one on screen."""
    if window.state is not None and window.state.playing:
        window.controller.pause()
    steps = _recorded_steps(window)
    shown = _shown_step(window)
    if not steps or shown is None:
        return
    i = bisect.bisect_left(steps, shown) - 1
    window.scrub_to(steps[max(i, 0)])


def go_first(window: Any) -> None:
    """Home: pause, then show step 0 (the first record)."""
    if window.state is not None and window.state.playing:
        window.controller.pause()
    steps = _recorded_steps(window)
    if steps:
        window.scrub_to(steps[0])


def install(window: Any) -> None:
    """Keys, zoom and dock restore on ``window`` (a MainWindow, after its menus are built)."""
    window.zoom = Zoom(window)
    window.zoom.changed.connect(lambda f: _fit_dock(window, f))
    window.frame_drawn.connect(lambda _: window.zoom.frame_drawn())
    # after a tab change or a scroll the new plots are shown at the next event loop pass: walk then
    later = lambda *_: window.zoom.factor != 1.0 and QtCore.QTimer.singleShot(0, window.tabs, lambda: window.zoom.apply(visible_only=True))  # noqa: E731
    window.tabs.currentChanged.connect(later)
    # the value under the cursor, on every plot (tabs make some plots when first shown)
    install_hover(window)
    window.tabs.currentChanged.connect(lambda *_: QtCore.QTimer.singleShot(0, window.tabs, lambda: install_hover(window)))
    from initviz.ui.panels.layers import LayerHistogramGrid

    for grid in window.findChildren(LayerHistogramGrid):
        grid.verticalScrollBar().valueChanged.connect(later)
    # Right: step or scrub on; the Step button keeps training one step
    window.step_action.setShortcut(QtGui.QKeySequence())
    window.forward_action = window._action("Step / next recorded step", lambda: step_forward(window), "Right",
                                           "Live: train one step. Scrubbing: the next recorded step")
    window.back_action = window._action("Previous recorded step", lambda: step_back(window), "Left",
                                        "Pause and show the recorded step before this one")
    window.first_action = window._action("Step 0 (the init)", lambda: go_first(window), "Home",
                                         "Pause and show step 0: the network at initialisation")
    window.zoom_in_action = window._action("Zoom in", window.zoom.zoom_in, "Ctrl+=", "Larger text, lines and markers (projector)")
    window.zoom_in_action.setShortcuts([QtGui.QKeySequence("Ctrl+="), QtGui.QKeySequence("Ctrl++")])
    window.zoom_out_action = window._action("Zoom out", window.zoom.zoom_out, "Ctrl+-", "Smaller text, lines and markers")
    window.zoom_reset_action = window._action("Actual size", window.zoom.reset, "Ctrl+0", "Zoom back to 100%")
    window.dock_action = window._action("Restore the Experiment panel", lambda: _restore_dock(window), "",
                                        "Show the Experiment panel at a usable width")
    for act in window.panel_actions:  # "Loss & accuracy": an ampersand, not a mnemonic
        act.setText(re.sub(r"(?<!&)&(?!&)", "&&", act.text()))
    view = window.menus["View"]
    view.addSeparator()
    for act in (window.zoom_in_action, window.zoom_out_action, window.zoom_reset_action, window.dock_action):
        view.addAction(act)
    run = window.menus["Run"]
    run.insertActions(window.step_n_action, [window.forward_action, window.back_action, window.first_action])
    window.key_filter = TransportKeys(window)
    QtWidgets.QApplication.instance().installEventFilter(window.key_filter)
    # after Apply / Revert the keyboard goes back to the window (Space plays, not types)
    give_back = lambda *_: QtCore.QTimer.singleShot(0, window.tabs, window.tabs.setFocus)  # noqa: E731
    window.experiment.apply_requested.connect(give_back)
    window.experiment.lanes_requested.connect(give_back)
    window.experiment.revert_button.clicked.connect(give_back)
    window.apply_action.triggered.connect(give_back)


def uninstall(window: Any) -> None:
    """Remove the application event filter (the window is closing)."""
    app = QtWidgets.QApplication.instance()
    if app is not None and getattr(window, "key_filter", None) is not None:
        app.removeEventFilter(window.key_filter)


def _fit_dock(window: Any, factor: float) -> None:
    """The Experiment dock scaled with the zoom (its fields would be cut otherwise)."""
    from initviz.ui.settings import DOCK_WIDTH

    dock = window.experiment_dock
    if dock.isVisible():
        window.resizeDocks([dock], [int(min(DOCK_WIDTH * factor, window.width() * 0.45))], QtCore.Qt.Orientation.Horizontal)


def _restore_dock(window: Any) -> None:
    from initviz.ui.settings import usable_dock

    usable_dock(window)
