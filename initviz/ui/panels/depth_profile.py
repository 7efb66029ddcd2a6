"""Depth profile: measured std of every layer with the theoretical prediction drawn over it."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, positive_or_nan, set_curve

DEPTH_HELP = (
    "<b>Depth profile</b>: the measured standard deviation of each hidden layer's activations "
    "(solid, with dots) and the value the init predicts for it at step 0 (dashed orange), from the "
    "variance recursion Var(z<sub>l</sub>) = fan_in·Var(w)·E[φ(z<sub>l-1</sub>)²] + Var(b). "
    "Below: the std of each layer's weights, measured and predicted by the init formula.<br>"
    "<b>Healthy</b>: a flat profile (signal keeps its scale through depth). Falling = vanishing, "
    "rising = exploding. Measured and predicted agree at step 0; training moves them apart."
)


class DepthProfilePanel(Panel):
    """Per-layer std vs depth, measured against theory."""

    title = "Depth profile"
    help_text = DEPTH_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.kind_box = QtWidgets.QComboBox()
        self.kind_box.addItem("std after the activation φ(z)", "act")
        self.kind_box.addItem("std before the activation z", "pre")
        self.kind_box.currentIndexChanged.connect(self.redraw)
        self.log_box = QtWidgets.QCheckBox("log scale")
        self.log_box.setChecked(True)
        self.log_box.toggled.connect(self._log_toggled)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.kind_box)
        header.addWidget(self.log_box)
        header.addStretch(1)

        self.view = pg.GraphicsLayoutWidget()
        self.std_plot = self.view.addPlot(row=0, col=0)
        self.std_plot.setTitle("activation std per layer: measured vs predicted", size="10pt")
        self.std_plot.setLabel("bottom", "layer")
        self.std_plot.setLabel("left", "std")
        self.std_plot.showGrid(x=False, y=True, alpha=0.3)
        self.std_plot.setLogMode(y=True)
        self.legend = self.std_plot.addLegend(offset=(-10, 10))
        self.theory_curve = pg.PlotDataItem(
            pen=pg.mkPen(theme.THEORY_COLOUR, width=2.5, style=QtCore.Qt.PenStyle.DashLine), name="predicted at init"
        )
        self.std_plot.addItem(self.theory_curve)
        self.measured: list[pg.PlotDataItem] = []

        self.w_plot = self.view.addPlot(row=1, col=0)
        self.w_plot.setTitle("weight std per layer: measured vs init formula", size="10pt")
        self.w_plot.setLabel("bottom", "layer")
        self.w_plot.setLabel("left", "std(W)")
        self.w_plot.setLogMode(y=True)
        self.w_plot.showGrid(x=False, y=True, alpha=0.3)
        self.w_theory = pg.PlotDataItem(pen=pg.mkPen(theme.THEORY_COLOUR, width=2.5, style=QtCore.Qt.PenStyle.DashLine))
        self.w_plot.addItem(self.w_theory)
        self.w_measured: list[pg.PlotDataItem] = []
        self.w_plot.setXLink(self.std_plot)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        self.view.setToolTip(
            "Solid: measured std per layer. Dashed orange: predicted at initialisation.\n"
            "Healthy: flat and on the prediction at step 0."
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)

    def _log_toggled(self, on: bool) -> None:
        self.std_plot.setLogMode(y=on)
        self.redraw()

    def draw(self, frame: Frame) -> None:
        kind = self.kind_box.currentData()
        log = self.log_box.isChecked()
        depth = frame.main.record.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        while len(self.measured) < len(frame.lanes):
            lane = frame.lanes[len(self.measured)]
            c = pg.PlotDataItem(
                pen=pg.mkPen(lane.colour, width=2), symbol="o", symbolSize=7, symbolBrush=lane.colour, symbolPen=None,
                name=f"measured ({lane.name})" if len(frame.lanes) > 1 else "measured",
            )
            self.std_plot.addItem(c)
            self.measured.append(c)
            w = pg.PlotDataItem(pen=pg.mkPen(lane.colour, width=2), symbol="o", symbolSize=6, symbolBrush=lane.colour, symbolPen=None)
            self.w_plot.addItem(w)
            self.w_measured.append(w)
        clean = positive_or_nan if log else (lambda a: np.asarray(a, dtype=np.float64))
        for lane, c, w in zip(frame.lanes, self.measured, self.w_measured):
            rec = lane.record
            set_curve(c, layers, clean(rec.act_std if kind == "act" else rec.pre_std))
            set_curve(w, layers, positive_or_nan(rec.weight_std))
        theory = frame.main.theory
        if theory is not None:
            t = theory.act_std if kind == "act" else theory.pre_std
            set_curve(self.theory_curve, layers, clean(t))
        else:
            self.theory_curve.setData([], [])
        pw = frame.main.predicted_weight_std
        if pw is not None and len(pw) == depth:
            set_curve(self.w_theory, layers, positive_or_nan(pw))
        else:
            self.w_theory.setData([], [])
        self.std_plot.setXRange(0.5, depth + 0.5, padding=0)
        self.std_plot.setTitle(
            f"{'activation' if kind == 'act' else 'pre-activation'} std per layer at step {frame.main.record.step}: "
            "measured vs predicted at init",
            size="10pt",
        )

    def measured_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(layers, std) plotted for lane 0 (tests)."""
        return self.measured[0].xData, self.measured[0].yData
