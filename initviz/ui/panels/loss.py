"""Loss and accuracy over the recorded steps; test accuracy as points where it was measured."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.axes import axis_items
from initviz.ui.panels.base import CursorLines, Frame, Panel, PathCurve, fmt, half_decades, step_axis_range
from initviz.ui.text import name_html, plain_html

LOSS_HELP = (
    "<b>Loss and accuracy</b> over the recorded steps. Top: training loss on each batch (log scale). "
    "Bottom: accuracy on the training batch (line) and on the held-out test set (points, measured "
    "every few recorded steps).<br><b>Healthy</b>: loss falling, accuracy rising, test close to "
    "train. Flat loss from step 0 usually means the signal or the gradient never reaches the early "
    "layers; a gap in the line means the loss became Inf/NaN."
)
MAX_POINTS = 1500


class LossView(pg.GraphicsLayoutWidget):
    """Loss (log scale) above accuracy (train line, test points), linked step axes, a legend row."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None, *, accuracy_height: float = 1.0, legend: bool = True) -> None:
        """``legend``: False in a compact view whose neighbours name the lanes (the Overview)."""
        super().__init__(parent)
        self.loss_plot = self.addPlot(row=0, col=0, axisItems=axis_items())
        self.loss_plot.setTitle("training loss", size="10pt")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.loss_plot.setLabel("left", "loss")
        self.acc_plot = self.addPlot(row=1, col=0, axisItems=axis_items())
        self.acc_plot.setTitle("accuracy", size="10pt")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setLabel("left", "accuracy")
        self.acc_plot.setYRange(0, 1, padding=0.03)
        self.acc_plot.vb.enableAutoRange(axis="y", enable=False)
        self.acc_plot.setXLink(self.loss_plot)
        self.ci.layout.setRowStretchFactor(0, 2)
        self.ci.layout.setRowStretchFactor(1, max(1, int(2 * accuracy_height)))
        for p in (self.loss_plot, self.acc_plot):
            p.setMenuEnabled(False)
            p.hideButtons()
        # one legend row under the plots, where it cannot cover a curve: the lanes (with lanes),
        # then what the line and the dots mean
        self.legend = pg.LegendItem(colCount=2, horSpacing=14, verSpacing=-6)
        if legend:
            self.addItem(self.legend, row=2, col=0)
        self.lane_legend = self.legend  # the lanes are named in the same row
        self._samples = (
            pg.PlotDataItem(pen=pg.mkPen("#555555", width=1.5)),
            pg.PlotDataItem(pen=None, symbol="o", symbolSize=7, symbolBrush="#777777", symbolPen=pg.mkPen("w")),
        )
        # Qt-drawn paths (PathCurve): a PlotDataItem per curve would cost ~1 ms of Python per frame
        self.loss_curves: list[PathCurve] = []
        self.acc_curves: list[PathCurve] = []
        self.test_points: list[PathCurve] = []
        # a dot per lane at the step on screen: step 0 (one record, no line yet) still shows the loss
        self.now_points: list[PathCurve] = []
        self._y_range: tuple = ()
        self.cursors = CursorLines([self.loss_plot, self.acc_plot])
        self._x_range = (np.nan, np.nan)
        self.setToolTip("Loss (log scale) and accuracy over steps; points = test accuracy.\nHealthy: loss falls, accuracy rises.")

    def _set_legends(self, frame: Frame) -> None:
        """Lanes named in a row over the loss plot; the accuracy legend explains line and dots."""
        many = len(frame.lanes) > 1
        self.legend.clear()
        line, dots = self._samples
        line.setPen(pg.mkPen("#555555" if many else frame.main.colour, width=1.5))
        dots.setSymbolBrush("#777777" if many else theme.THEORY_COLOUR)
        if many:
            for lane in frame.lanes:
                self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(lane.colour, width=3)), name_html(lane.name))
                self.legend.items[-1][1].setToolTip(plain_html(lane.name))
        self.legend.addItem(line, "line: train batch")
        self.legend.addItem(dots, "dots: test set")
        self.legend.setColumnCount(3 if many else 2)

    def draw(self, frame: Frame) -> None:
        many = len(frame.lanes) > 1
        key = tuple((lane.name, lane.colour) for lane in frame.lanes)
        if key != getattr(self, "_lanes_key", None):  # other lanes (a new scenario, an opened run)
            for plot, items in ((self.loss_plot, self.loss_curves), (self.acc_plot, self.acc_curves + self.test_points)):
                for item in items:
                    plot.removeItem(item)
            for k, item in enumerate(self.now_points):  # loss dot, accuracy dot, per lane
                (self.acc_plot if k % 2 else self.loss_plot).removeItem(item)
            for items in (self.loss_curves, self.acc_curves, self.test_points, self.now_points):
                items.clear()  # in place: LossPanel holds these lists too
            self._set_legends(frame)
        self._lanes_key = key
        while len(self.loss_curves) < len(frame.lanes):
            lane = frame.lanes[len(self.loss_curves)]
            # 1 px pens: wider antialiased strokes of noisy curves cost several ms per paint
            for plot, items, item in (
                (self.loss_plot, self.loss_curves, PathCurve(pg.mkPen(lane.colour, width=1), log_y=True)),
                (self.acc_plot, self.acc_curves, PathCurve(pg.mkPen(lane.colour, width=1))),
                # a single run: test dots in orange against the blue line; lanes: in the lane's colour
                (self.acc_plot, self.test_points, PathCurve(pg.mkPen(lane.colour if many else theme.THEORY_COLOUR, width=7), dots=True)),
            ):
                plot.addItem(item)
                items.append(item)
            for plot in (self.loss_plot, self.acc_plot):
                dot = PathCurve(pg.mkPen(lane.colour, width=6), log_y=plot is self.loss_plot, dots=True)
                dot.setZValue(10)
                plot.addItem(dot)
                self.now_points.append(dot)
        losses = []
        for n in range(len(frame.lanes)):
            steps, loss = frame.series(n, "loss", MAX_POINTS)
            _, acc = frame.series(n, "accuracy", MAX_POINTS)
            _, test = frame.series(n, "test_accuracy", MAX_POINTS)
            self.loss_curves[n].set_line(steps, loss)
            self.acc_curves[n].set_line(steps, acc)
            ok = np.isfinite(test)
            self.test_points[n].set_line(steps[ok], test[ok])
            rec = frame.lanes[n].record
            self.now_points[2 * n].set_line(np.array([float(rec.step)]), np.array([rec.loss]))
            self.now_points[2 * n + 1].set_line(np.array([float(rec.step)]), np.array([rec.accuracy]))
            losses.append(loss)
        self.cursors.update(frame)
        # the loss axis in half decades around every lane's finite losses (rebuilt only on a change)
        y_range = half_decades(np.concatenate(losses) if losses else ())
        if y_range != self._y_range:
            self._y_range = y_range
            self.loss_plot.setYRange(y_range[0] - 0.05, y_range[1] + 0.05, padding=0)
        x_range = step_axis_range(frame.main.records, tight=not frame.moving)
        if x_range != self._x_range:
            self._x_range = x_range
            self.loss_plot.setXRange(*x_range, padding=0)  # the accuracy plot is linked


class LossPanel(Panel):
    """Training loss, training accuracy and test accuracy over steps."""

    title = "Loss & accuracy"
    help_text = LOSS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.view = LossView()
        self.loss_plot, self.acc_plot = self.view.loss_plot, self.view.acc_plot
        self.loss_curves, self.acc_curves, self.test_points = self.view.loss_curves, self.view.acc_curves, self.view.test_points
        self.cursors = self.view.cursors
        self.readout = QtWidgets.QLabel()
        self.readout.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # lane names are user data
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.readout)
        layout.addWidget(self.view, 1)

    def draw(self, frame: Frame) -> None:
        self.view.draw(frame)
        self.readout.setText(loss_readout(frame))


def loss_readout(frame: Frame) -> str:
    """'step k: loss ... batch accuracy ... test accuracy ... (step j)' for the record on screen,
    of the selected lane, named when there are several ("He: step k: ...")."""
    lane = frame.selected
    rec = lane.record
    test_txt = ""
    for k, r in enumerate(reversed(lane.records)):
        if k > 3000:  # test accuracy is measured every few steps; do not walk a huge history
            break
        if r.step <= rec.step and np.isfinite(r.test_accuracy):
            test_txt = f"   test accuracy {fmt(r.test_accuracy)} (step {r.step})"
            break
    name = f"{lane.name if len(lane.name) <= 40 else lane.name[:39] + '…'}:   " if len(frame.lanes) > 1 else ""
    return f"{name}step {rec.step}:   loss {fmt(rec.loss, 4)}   batch accuracy {fmt(rec.accuracy)}{test_txt}"
