"""The always-visible diagnosis caption and the Inf/NaN marker above the panels."""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6 import QtCore, QtWidgets

from initviz.ui import theme


class DiagnosisBanner(QtWidgets.QFrame):
    """Plain-language diagnosis of the record on screen, coloured by how serious it is."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnosisBanner")
        self.setToolTip(
            "What the engine's diagnosis sees in the record on screen, most important first.\n"
            "Green: nothing wrong found. Amber: a problem to look at. Red: Inf/NaN appeared."
        )
        self.marker = QtWidgets.QLabel()
        self.marker.setObjectName("divergenceMarker")
        self.marker.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.marker.setStyleSheet(
            f"color:white; background:{theme.BAD_COLOUR}; font-weight:bold; padding:3px 8px; border-radius:3px;"
        )
        self.marker.setToolTip("The first step and layer where a value became Inf or NaN (it stays marked).")
        self.marker.hide()
        self.caption = QtWidgets.QLabel("Building the network…")
        self.caption.setObjectName("diagnosisCaption")
        self.caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)
        font = self.caption.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.caption.setFont(font)
        self.more = QtWidgets.QLabel()
        self.more.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.more.setWordWrap(True)
        text_box = QtWidgets.QVBoxLayout()
        text_box.setSpacing(1)
        text_box.addWidget(self.caption)
        text_box.addWidget(self.more)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.marker, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text_box, 1)
        self._level = ""
        self.set_level("idle")

    def set_level(self, level: str) -> None:
        if level != self._level:
            self._level = level
            self.setStyleSheet(f"#diagnosisBanner {{ {theme.BANNER_STYLES[level]} border-radius:4px; }}")

    def show_diagnosis(self, lines: Sequence[str], diverged: Optional[str], prefix: str = "") -> None:
        """Show the engine's captions (most important first) and the Inf/NaN marker if any."""
        if diverged:
            self.marker.setText(f"⚠ {diverged}")
            self.marker.show()
        else:
            self.marker.hide()
        if not lines:
            lines = ["No problem found in this step's statistics."]
        head = prefix + lines[0]
        if self.caption.text() != head:
            self.caption.setText(head)
        rest = "   ·   ".join(lines[1:4])
        if self.more.text() != rest:
            self.more.setText(rest)
        self.more.setVisible(bool(rest))
        healthy = len(lines) == 1 and ("healthy" in lines[0].lower() or lines[0].startswith("No problem"))
        self.set_level("bad" if diverged else "good" if healthy else "warn")

    def show_message(self, text: str, level: str = "idle") -> None:
        """A message that is not a diagnosis (building, errors)."""
        self.marker.hide()
        self.caption.setText(text)
        self.more.hide()
        self.set_level(level)

    @property
    def text(self) -> str:
        return self.caption.text()
