"""Neurons: each unit's output over the 2-D input plane, a row of small pictures per lane.

The engine computes the pictures (``initviz.engine.pictures.unit_pictures``, one per lane, for the
layer this panel asks for: ``NeuronsPanel.layer`` and ``layer_changed``) and hands them over in
the frame (``Frame.unit_pictures``); this panel only colours them: blue below 0, white at 0, red
above, one scale per lane so the units' strengths compare. Pictures received are kept by step, so
scrubbing back shows the nearest computed at or before the step on screen (like the boundary).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.ui.panels.base import Frame, Panel, PathCurve

NEURONS_HELP = (
    "<b>Neurons</b> (2-D datasets only): for the chosen hidden layer, each unit's output over the input "
    "plane, one small picture per unit (the first 16), one row per lane. Blue = negative, white = 0, "
    "red = positive, one colour scale per lane.<br><b>Symmetry</b>: under a zeros or constant init "
    "every unit draws the same picture (they can never learn different features); under a random init "
    "each draws its own. <b>Dead / vanished</b>: blank pictures.<br><b>Healthy</b>: every unit draws "
    "a different picture with visible structure (a random init broke the symmetry)."
)
GAP = 3  # px between pictures in a row (in picture pixels)
_NEG = np.array([33, 102, 172], dtype=np.float64)
_POS = np.array([178, 24, 43], dtype=np.float64)
_WHITE = np.array([255, 255, 255], dtype=np.float64)


def mosaic(outputs: np.ndarray, gap: int = GAP, columns: Optional[int] = None) -> np.ndarray:
    """(res, n*res + (n-1)*gap, 4) uint8 RGBA of ``outputs`` (n, res, res) side by side, on one
    diverging scale (white at 0, the largest |value| darkest); gaps transparent, Inf/NaN black.
    ``columns``: that many pictures a row, rows top to bottom (a grid on a slide)."""
    out = np.asarray(outputs, dtype=np.float64)
    n, res, _ = out.shape
    finite = np.isfinite(out)
    scale = float(np.abs(out[finite]).max()) if finite.any() else 0.0
    t = np.zeros_like(out) if scale <= 0 else np.clip(np.where(finite, out, 0.0) / scale, -1.0, 1.0)
    a = np.abs(t)[..., None]
    rgb = np.where(t[..., None] < 0, _WHITE + (_NEG - _WHITE) * a, _WHITE + (_POS - _WHITE) * a)
    rgb[~finite] = 0.0
    cols = n if not columns else max(1, min(columns, n))
    rows = -(-n // cols)
    width = cols * res + (cols - 1) * gap
    image = np.zeros((rows * res + (rows - 1) * gap, width, 4), dtype=np.uint8)
    for k in range(n):
        x, y = (k % cols) * (res + gap), (k // cols) * (res + gap)
        image[y : y + res, x : x + res, :3] = rgb[k].astype(np.uint8)
        image[y : y + res, x : x + res, 3] = 255
    return image


class _LaneRow:
    """One lane's row: a title and one image holding every unit's picture."""

    def __init__(self, view: pg.GraphicsLayoutWidget, row: int) -> None:
        self.plot = view.addPlot(row=row, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.vb.setMouseEnabled(x=False, y=False)
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.setLabel("bottom", "unit")
        self.title = self.plot.titleLabel
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.outlines: list[PathCurve] = []  # one grey frame per picture: a blank (all 0) one still shows
        self.key: Any = None
        self.columns: Optional[int] = None  # pictures a row (None: all in one row); the panel's lay_out sets it

    def remove_from(self, view: pg.GraphicsLayoutWidget) -> None:
        view.removeItem(self.plot)

    def show(self, pictures: Any, name: str, colour: str) -> None:
        if pictures is None:
            self.image.clear()
            self.plot.setTitle(f"<span style='color:{colour}'>■</span> {name}: no pictures (not 2-D data)", size="10pt")
            return
        same = " — every unit draws the same picture (symmetry)" if pictures.identical else ""
        if self.columns:  # lanes side by side on a slide: the header names the layer and the units
            self.plot.setTitle(f"<span style='color:{colour}'>■</span> {name}{': all units the same (symmetry)' if same else ''}", size="10pt")
        else:
            self.plot.setTitle(
                f"<span style='color:{colour}'>■</span> {name}: layer {pictures.layer}, units 1–{len(pictures.units)} "
                f"of {pictures.width}{same}",
                size="10pt",
            )
        key = (id(pictures.outputs), pictures.step, self.columns)
        if key != self.key:
            self.key = key
            img = mosaic(pictures.outputs, columns=self.columns)
            # y up as in the input plane: the image's first row is the plane's lowest y
            self.image.setImage(img[::-1], autoLevels=False, levels=(0, 255))
            res = pictures.outputs.shape[1]
            n = len(pictures.units)
            step = 1 if n <= 8 else 2 if n <= 16 else 4
            self.plot.getAxis("bottom").setTicks([[((k * (res + GAP)) + res / 2, str(k + 1)) for k in range(0, n, step)]])
            self.plot.showAxis("bottom", img.shape[0] == res)  # a grid reads left to right, top to bottom
            self._outline(n, res)
            self.plot.setRange(xRange=(0, img.shape[1]), yRange=(0, img.shape[0]), padding=0.02)

    def _outline(self, n: int, res: int) -> None:
        while len(self.outlines) > n:
            self.plot.removeItem(self.outlines.pop())
        while len(self.outlines) < n:
            item = PathCurve(pg.mkPen("#9a9a9a", width=1))
            item.setZValue(5)
            self.plot.addItem(item)
            self.outlines.append(item)
        cols = n if not self.columns else max(1, min(self.columns, n))
        rows = -(-n // cols)
        for k, item in enumerate(self.outlines):
            x0, y0 = (k % cols) * (res + GAP), (rows - 1 - k // cols) * (res + GAP)  # y up: the first row on top
            xs = np.array([x0, x0 + res, x0 + res, x0, x0], dtype=np.float64)
            item.set_line(xs, np.array([y0, y0, y0 + res, y0 + res, y0], dtype=np.float64))


def picture_grid(lanes: int, pictures: int, width: float, height: float, title: float = 34, axis: float = 34) -> tuple:
    """(pictures a row or None for one row, lanes a row) that make each picture largest in a
    ``width`` x ``height`` area: a title above each lane, an axis under a single row of pictures."""
    best = (0.0, (None, 1))
    for lane_cols in range(1, lanes + 1):
        lane_rows = -(-lanes // lane_cols)
        for cols in sorted({pictures, -(-pictures // 2), -(-pictures // 4), -(-pictures // 8)} - {0}, reverse=True):
            rows = -(-pictures // cols)
            side = min((width / lane_cols - 12) / (cols * 1.2), (height / lane_rows - title - (axis if rows == 1 else 0)) / (rows * 1.2))
            if side > best[0] * 1.05:  # a clearly larger picture, else the simpler arrangement
                best = (side, (None if cols == pictures else cols, lane_cols))
    return best[1]


def pictures_at(log: Sequence[tuple[int, tuple]], step: int) -> tuple:
    """The newest logged pictures computed at or before ``step`` (one per lane), or ()."""
    best = max((e for e in log if e[0] <= step), key=lambda e: e[0], default=None)
    return best[1] if best is not None else ()


class NeuronsPanel(Panel):
    """Per-unit output pictures of one hidden layer, per lane (drawn only while visible)."""

    title = "Neurons"
    help_text = NEURONS_HELP
    layer_changed = QtCore.Signal(int)  # the hidden layer (1-based) whose units the engine should draw

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.layer_box = QtWidgets.QSpinBox()
        self.layer_box.setObjectName("neuronLayer")
        self.layer_box.setRange(1, 200)
        self.layer_box.setValue(1)
        self.layer_box.setPrefix("layer ")
        self.layer_box.setToolTip("The hidden layer whose units are drawn")
        self.layer_box.valueChanged.connect(self.layer_changed.emit)
        self.note = QtWidgets.QLabel()
        self.note.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.note.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        header = QtWidgets.QHBoxLayout()
        self.units_of = QtWidgets.QLabel("Units of")
        header.addWidget(self.units_of)
        header.addWidget(self.layer_box)
        header.addSpacing(12)
        header.addWidget(self.note, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.rows: list[_LaneRow] = []
        self._log: list[tuple[int, tuple]] = []
        self._log_key: Any = None
        self._arranged: tuple = (None, 1, 0)  # (pictures a row, lanes a row, lanes) as laid out
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)

    def lay_out(self, target: Any, settle: Any) -> float:
        """On a slide: the lanes in the grid and the pictures in the rows that make the pictures
        largest (four lanes of 16 in one row each are strips; 2 x 2 lanes of 4 x 4 pictures are not).
        On screen: one row of pictures a lane, lanes stacked (the window scrolls no further)."""
        columns, lane_columns = (None, 1)
        if target.theme == "slide" and self.rows:
            columns, lane_columns = picture_grid(len(self.rows), self._pictures_shown(), self.view.width(), self.view.height())
        if target.theme == "slide":
            self.units_of.hide()  # its layer box is hidden on a slide: the note names the layer
        if (columns, lane_columns, len(self.rows)) != self._arranged:
            self._arranged = (columns, lane_columns, len(self.rows))
            for row in self.rows:
                self.view.ci.removeItem(row.plot)
            for i, row in enumerate(self.rows):
                self.view.ci.addItem(row.plot, row=i // lane_columns, col=i % lane_columns)
                row.columns = columns
            for c in range(lane_columns):
                self.view.ci.layout.setColumnStretchFactor(c, 1)
            self.redraw()
            settle()
        return super().lay_out(target, settle)

    def _pictures_shown(self) -> int:
        return max((len(p.units) for e in self._log[-1:] for p in e[1] if p is not None), default=16)

    @property
    def layer(self) -> int:
        """The hidden layer (1-based) to draw: the engine's ``unit_pictures(trainer, layer)``."""
        return int(self.layer_box.value())

    def add_pictures(self, pictures: tuple, build: Any = None) -> None:
        """Log one frame's pictures (one per lane); a new ``build`` (network) starts a new log."""
        if build != self._log_key:
            self._log_key = build
            self._log = []
        step = next((p.step for p in pictures if p is not None), None)
        if step is None:
            return
        self._log = [e for e in self._log if e[0] < step] + [(step, tuple(pictures))]
        if len(self._log) > 240:
            self._log = self._log[:-1:2] + [self._log[-1]]

    def draw(self, frame: Frame) -> None:
        new = getattr(frame, "unit_pictures", None)
        if new:
            self.add_pictures(tuple(new), getattr(frame, "build", None))
        depth = frame.main.record.depth
        if self.layer_box.maximum() != depth:
            self.layer_box.setMaximum(max(depth, 1))
        shown = pictures_at(self._log, frame.main.record.step)
        if not shown:
            self.note.setText(
                "No per-neuron pictures at this step yet: the engine computes them while this tab is open (2-D data only)."
            )
            return
        step = next((p.step for p in shown if p is not None), None)
        first = next((p for p in shown if p is not None), None)
        grid = bool(self.rows and self.rows[0].columns)  # titles then leave the units to this note
        units = f" Layer {first.layer}, units 1–{len(first.units)} of {first.width}, left to right, top to bottom." if grid and first is not None else ""
        self.note.setText(f"Each unit's output over the input plane at step {step}.{units}" if step is not None else "")
        while len(self.rows) > len(frame.lanes):
            self.rows.pop().remove_from(self.view)
        while len(self.rows) < len(frame.lanes):
            self.rows.append(_LaneRow(self.view, len(self.rows)))
        for row, lane, pictures in zip(self.rows, frame.lanes, tuple(shown) + (None,) * len(frame.lanes)):
            row.show(pictures, lane.name, lane.colour)
