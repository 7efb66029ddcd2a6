"""Decision boundary: what each lane's network predicts over the 2-D input plane.

The worker computes the grid (``Trainer.decision_grid``) at most twice a second while training
runs and publishes it with the state; this panel only colours it: hue = predicted class,
opacity = the network's confidence. One small plot per lane, training points on top.
Not available for data that is not 2-D (digits).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.engine.snapshot import index_at_or_before
from initviz.ui.panels.base import Frame, Panel
from initviz.ui.text import name_html, plain_html

# class colours (RGB); the training points use the same hues, darker
CLASS_COLOURS = np.array(
    [(31, 95, 168), (214, 120, 30), (46, 139, 58), (192, 57, 43), (123, 63, 160), (140, 86, 75), (227, 119, 194), (90, 90, 90)],
    dtype=np.float64,
)


NOT_AVAILABLE = (
    "Not available: the decision boundary is drawn for 2-D datasets only (spirals, moons, circles…); "
    "this run's inputs have more than two features."
)


def boundary_image(classes: np.ndarray, confidence: np.ndarray, n_classes: int) -> np.ndarray:
    """(res, res, 4) uint8 RGBA: colour of the predicted class, alpha rising with confidence."""
    cls = np.clip(np.asarray(classes, dtype=np.int64), 0, len(CLASS_COLOURS) - 1)
    conf = np.nan_to_num(np.asarray(confidence, dtype=np.float64), nan=0.0)
    chance = 1.0 / max(n_classes, 1)
    # chance-level confidence -> nearly transparent; certain -> strong colour
    alpha = np.clip((conf - chance) / max(1.0 - chance, 1e-9), 0.0, 1.0) * 0.75 + 0.1
    img = np.empty(cls.shape + (4,), dtype=np.uint8)
    img[..., :3] = CLASS_COLOURS[cls].astype(np.uint8)
    img[..., 3] = (alpha * 255).astype(np.uint8)
    return img


class _LanePlot:
    """One lane's plot: the class image and the training points (items made once)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.vb.setMouseEnabled(x=False, y=False)
        plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        # one scatter per class, one brush each (per-point brushes are slow in pyqtgraph)
        self.class_points: list[pg.ScatterPlotItem] = []
        self._points_key: Any = None

        self.grid: Any = None

    @property
    def point_count(self) -> int:
        """Training points drawn (tests)."""
        return sum(len(item.data) for item in self.class_points)

    def set_grid(self, grid: Any, title: str, colour: str) -> None:
        self.grid = grid
        self.plot.setTitle(f"<span style='color:{colour}'>■</span> {title}", size="10pt")
        if grid is None:
            self.image.clear()
            return
        img = boundary_image(grid.classes, grid.confidence, grid.n_classes)
        self.image.setImage(img, autoLevels=False, levels=(0, 255))
        (x0, x1), (y0, y1) = grid.x_range, grid.y_range
        self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        key = (grid.points.shape, float(grid.points.sum()))
        if key != self._points_key:
            self._points_key = key
            labels = np.clip(grid.labels.astype(np.int64), 0, len(CLASS_COLOURS) - 1)
            while len(self.class_points) < grid.n_classes:
                c = len(self.class_points)
                item = pg.ScatterPlotItem(
                    size=4, pen=pg.mkPen(255, 255, 255, 160, width=0.5), brush=pg.mkBrush(*(CLASS_COLOURS[c % len(CLASS_COLOURS)] * 0.7).astype(int), 230)
                )
                item.setZValue(5)
                self.plot.addItem(item)
                self.class_points.append(item)
            for c, item in enumerate(self.class_points):
                mine = labels == c
                item.setData(x=np.asarray(grid.points[mine, 0], dtype=np.float64), y=np.asarray(grid.points[mine, 1], dtype=np.float64))
            self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)


def _grid_step(grids: tuple) -> Optional[int]:
    return next((int(g.step) for g in grids if g is not None), None)


class GridLog:
    """The decision grids computed so far in one run, by step: the boundary at a scrubbed step.

    The engine keeps no past weights, so a past boundary exists only if it was computed at the
    time (the worker computes grids while the Decision boundary tab is open). Bounded: when
    full, every other entry goes (the first, at init if it was computed, and the newest stay).
    """

    def __init__(self, capacity: int = 240) -> None:
        self.capacity = max(4, int(capacity))
        self._entries: list[tuple[int, tuple]] = []
        self._build: Any = None
        self._snapshot: tuple = ()

    def add(self, build: Any, grids: tuple) -> None:
        """Log ``grids`` (one per lane) of network ``build``; a new build starts a new log."""
        if build != self._build:
            self._build = build
            self._entries = []
            self._snapshot = ()
        step = _grid_step(grids)
        if step is None:
            return
        if self._entries and self._entries[-1][1] is grids:
            return  # the same grids published again
        while self._entries and self._entries[-1][0] >= step:
            self._entries.pop()  # recomputed at a step already logged, or a rewound network
        self._entries.append((step, grids))
        if len(self._entries) > self.capacity:
            keep = self._entries[:-1:2] + [self._entries[-1]]
            self._entries = keep
        self._snapshot = ()

    def entries(self) -> tuple:
        """(step, grids) pairs, oldest first (a snapshot, made once per change)."""
        if not self._snapshot and self._entries:
            self._snapshot = tuple(self._entries)
        return self._snapshot


class GridEntry(NamedTuple):
    """One logged (step, grids) pair; ``step`` named so the snapshot's search finds it."""

    step: int
    grids: tuple


def grids_at(frame: Frame) -> tuple:
    """The grids to show for the frame's step: the newest computed at or before it, or ()."""
    target = frame.main.record.step
    entries = [GridEntry(int(s), g) for s, g in frame.grid_history]
    newest = _grid_step(frame.grids)
    if newest is not None and all(e.step != newest for e in entries):  # logged at that step: the log's
        entries.append(GridEntry(newest, frame.grids))
    entries.sort(key=lambda e: e.step)  # stable: the log's order among equal steps
    if not entries or entries[0].step > target:
        return ()
    return entries[index_at_or_before(entries, target)].grids


class BoundaryPanel(Panel):
    title = "Decision boundary"
    help_text = (
        "<b>Decision boundary</b> (2-D datasets only): the class each lane's network predicts at every "
        "point of the input plane. Colour = predicted class, strength = confidence; dots = training data.<br>"
        "<b>Healthy</b>: the boundary bends to follow the data within a few hundred steps. "
        "<b>Broken</b>: one class everywhere (the signal died) or a boundary that never moves. "
        "Refreshed about twice a second while training runs."
    )

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.note = QtWidgets.QLabel()  # which step the boundary is from, when not the one on screen
        # one line that never asks for room (a wrapped label's height-for-width upsets the slide grid)
        self.note.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.note.hide()
        lay.addWidget(self.note)
        self.unavailable = QtWidgets.QLabel(NOT_AVAILABLE)
        self.unavailable.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.unavailable.setWordWrap(True)
        self.unavailable.hide()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        lay.addWidget(self.unavailable)
        lay.addWidget(self.view, 1)
        self.plots: list[_LanePlot] = []

    def _message(self, text: str) -> None:
        self.unavailable.setText(text)
        self.unavailable.setVisible(True)
        self.view.setVisible(False)
        self.note.hide()

    def draw(self, frame: Frame) -> None:
        target = frame.main.record.step
        shown = grids_at(frame)
        if not frame.grids and not frame.grid_history:  # the worker computes them once this tab is shown
            self._message("Computing the decision boundary…")
            return
        if not any(g is not None for g in tuple(frame.grids) + tuple(shown)):
            self._message(NOT_AVAILABLE)
            return
        if not shown:
            self._message(
                f"No decision boundary was computed at or before step {target}: it is computed only while "
                "this tab is open. Go live, or scrub to a later step."
            )
            return
        grids = tuple(shown) + (None,) * (len(frame.lanes) - len(shown))
        self.unavailable.setVisible(False)
        self.view.setVisible(True)
        if not self.due("boundary", frame, interval=0.5):
            return
        step = _grid_step(grids)
        if frame.cursor_step is not None and step is not None and step != target:
            self.note.setText(
                f"Showing the boundary at step {step}, the nearest before step {target} that was computed "
                "(boundaries are computed while this tab is open)."
            )
            self.note.show()
        elif len(frame.lanes) > 1 and step is not None:
            self.note.setText(f"What each lane's network predicts at step {step}:")
            self.note.show()
        else:
            self.note.hide()
        while len(self.plots) > len(frame.lanes):
            self.view.removeItem(self.plots.pop().plot)
        while len(self.plots) < len(frame.lanes):
            self.plots.append(_LanePlot(self.view.addPlot(row=0, col=len(self.plots))))
        for lp, lane, grid in zip(self.plots, frame.lanes, grids):
            # the lanes' grids are computed together: the step is said once, in the note
            name = name_html(lane.name)  # the title is rich text: the name is escaped
            lp.set_grid(grid, name if len(frame.lanes) > 1 or grid is None else f"{name} (step {grid.step})", lane.colour)
            lp.plot.titleLabel.setToolTip(plain_html(lane.name))
