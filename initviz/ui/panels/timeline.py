"""The timeline: a slider over the recorded history and a Live switch back to following training."""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6 import QtCore, QtWidgets

from initviz.engine.record import StepRecord
from initviz.engine.snapshot import index_at_or_before


class Timeline(QtWidgets.QWidget):
    """Scrub through recorded steps. Emits ``step_selected`` when the user picks a step."""

    step_selected = QtCore.Signal(int)  # the user moved to a recorded step (leaves live mode)
    live_requested = QtCore.Signal()  # the user asked to follow training again

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip(
            "Scrub back through the recorded steps: every panel redraws at the chosen step.\n"
            "Older steps are kept at lower resolution when the history is long (memory stays bounded)."
        )
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.slider.valueChanged.connect(self._moved)
        self.label = QtWidgets.QLabel("step 0")
        self.label.setMinimumWidth(150)
        self.live_button = QtWidgets.QPushButton("● Live")
        self.live_button.setCheckable(True)
        self.live_button.setChecked(True)
        self.live_button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.live_button.setToolTip("Follow training: show the newest step (End)")
        self.live_button.clicked.connect(self._live_clicked)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(QtWidgets.QLabel("Timeline"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.live_button)
        self._records: Sequence[StepRecord] = ()
        self._updating = False

    @property
    def live(self) -> bool:
        return self.live_button.isChecked()

    def set_history_records(self, records: Sequence[StepRecord], shown_step: int, live: bool) -> None:
        """Update range and position without emitting (called on every drawn frame)."""
        self._records = records
        n = len(records)
        self._updating = True
        try:
            if self.slider.maximum() != max(n - 1, 0):
                self.slider.setRange(0, max(n - 1, 0))
            idx = n - 1 if live else index_at_or_before(records, shown_step)
            if self.slider.value() != idx:
                self.slider.setValue(idx)
            if self.live_button.isChecked() != live:
                self.live_button.setChecked(live)
        finally:
            self._updating = False
        last = records[-1].step if n else 0
        text = f"step {shown_step} of {last}" if not live else f"step {last} (live)"
        if self.label.text() != text:
            self.label.setText(text)

    def step_at(self, index: int) -> int:
        return self._records[index].step if self._records else 0

    def _moved(self, index: int) -> None:
        if self._updating or not self._records:
            return
        if self.live_button.isChecked():
            self.live_button.setChecked(False)
        self.step_selected.emit(self.step_at(index))

    def _live_clicked(self, checked: bool) -> None:
        if checked:
            self.live_requested.emit()
        else:
            # leaving live by the button: stay on the step on screen
            self.step_selected.emit(self.step_at(self.slider.value()))
