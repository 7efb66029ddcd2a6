"""Loss and accuracy over the recorded steps; test accuracy as points where it was measured."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import CursorLines, Frame, Panel, fmt, positive_or_nan, set_curve

LOSS_HELP = (
    "<b>Loss and accuracy</b> over the recorded steps. Top: training loss on each batch (log scale). "
    "Bottom: accuracy on the training batch (line) and on the held-out test set (points, measured "
    "every few recorded steps).<br><b>Healthy</b>: loss falling, accuracy rising, test close to "
    "train. Flat loss from step 0 usually means the signal or the gradient never reaches the early "
    "layers; a gap in the line means the loss became Inf/NaN."
)
MAX_POINTS = 1500


class LossPanel(Panel):
    """Training loss, training accuracy and test accuracy over steps."""

    title = "Loss & accuracy"
    help_text = LOSS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.loss_plot = self.view.addPlot(row=0, col=0)
        self.loss_plot.setTitle("training loss", size="10pt")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.25)
        self.acc_plot = self.view.addPlot(row=1, col=0)
        self.acc_plot.setTitle("accuracy", size="10pt")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setLabel("left", "accuracy")
        self.acc_plot.setYRange(0, 1, padding=0.03)
        self.acc_plot.vb.enableAutoRange(axis="y", enable=False)
        self.acc_plot.showGrid(x=True, y=True, alpha=0.25)
        self.acc_plot.setXLink(self.loss_plot)
        self.legend = self.acc_plot.addLegend(offset=(-10, -10))
        self.loss_curves: list[pg.PlotDataItem] = []
        self.acc_curves: list[pg.PlotDataItem] = []
        self.test_points: list[pg.PlotDataItem] = []
        self.cursors = CursorLines([self.loss_plot, self.acc_plot])
        self.view.setToolTip("Loss (log scale) and accuracy over steps; points = test accuracy.\nHealthy: loss falls, accuracy rises.")
        self.readout = QtWidgets.QLabel()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.readout)
        layout.addWidget(self.view, 1)

    def draw(self, frame: Frame) -> None:
        many = len(frame.lanes) > 1
        while len(self.loss_curves) < len(frame.lanes):
            lane = frame.lanes[len(self.loss_curves)]
            suffix = f" ({lane.name})" if many else ""
            self.loss_curves.append(self.loss_plot.plot(pen=pg.mkPen(lane.colour, width=1.8)))
            self.acc_curves.append(self.acc_plot.plot(pen=pg.mkPen(lane.colour, width=1.8), name="train batch" + suffix))
            self.test_points.append(
                self.acc_plot.plot(
                    pen=None, symbol="o", symbolSize=7, symbolBrush=theme.THEORY_COLOUR, symbolPen=pg.mkPen("w"), name="test" + suffix
                )
            )
        for n, lane in enumerate(frame.lanes):
            steps, loss = frame.series(n, "loss", MAX_POINTS)
            _, acc = frame.series(n, "accuracy", MAX_POINTS)
            _, test = frame.series(n, "test_accuracy", MAX_POINTS)
            set_curve(self.loss_curves[n], steps, positive_or_nan(loss))
            set_curve(self.acc_curves[n], steps, acc)
            ok = np.isfinite(test)
            self.test_points[n].setData(steps[ok], test[ok])
        self.cursors.update(frame)
        rec = frame.main.record
        test_txt = ""
        records = frame.main.records
        for k, r in enumerate(reversed(records)):
            if k > 3000:  # test accuracy is measured every few steps; do not walk a huge history
                break
            if r.step <= rec.step and np.isfinite(r.test_accuracy):
                test_txt = f"   test accuracy {fmt(r.test_accuracy)} (step {r.step})"
                break
        self.readout.setText(f"step {rec.step}:   loss {fmt(rec.loss, 4)}   batch accuracy {fmt(rec.accuracy)}{test_txt}")
