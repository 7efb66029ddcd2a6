"""Gradients: weight-gradient norm vs depth, a layer x step heatmap of it, per-layer histograms."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, StaticPlot, fmt, pick_indices, positive_or_nan, safe_log10, set_curve
from initviz.ui.panels.layers import LayerHeatmap, LayerHistogramGrid, histogram_image, value_ticks

GRADIENTS_HELP = (
    "<b>Gradients</b>.<br>Top left: the norm of each layer's weight gradient ‖∂L/∂W‖ (log scale), "
    "input side on the left. Top right: the same number for every layer over the recorded steps "
    "(colour = log10 of the norm). Bottom: the distribution of log10|∂L/∂h| (gradient reaching each "
    "layer's outputs), all layers as rows and one histogram per layer.<br>"
    "<b>Healthy</b>: norms within about one order of magnitude across layers and stable over time. "
    "Vanishing: norms falling by orders of magnitude toward the input. Exploding: rising toward the "
    "input or over time; red points mark layers with Inf/NaN gradients."
)
MAX_COLUMNS = 400  # columns of the layer x step heatmap


class GradientsPanel(Panel):
    """Weight-gradient norms per layer and gradient histograms."""

    title = "Gradients"
    help_text = GRADIENTS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.norm_plot = StaticPlot()
        self.norm_plot.setToolTip(
            "‖∂L/∂W‖ of each hidden layer at this step (log scale). Input side left, output side right.\n"
            "Healthy: roughly flat. Orders of magnitude of slope = vanishing or exploding gradients."
        )
        p = self.norm_plot.plotItem
        p.setLogMode(y=True)
        p.setLabel("bottom", "layer")
        p.setLabel("left", "‖∂L/∂W‖")
        p.setTitle("weight-gradient norm per layer", size="10pt")
        p.showGrid(x=False, y=True, alpha=0.3)
        self._norm_curves: list[pg.PlotDataItem] = []
        self._bad_points = pg.ScatterPlotItem(symbol="x", size=11, pen=pg.mkPen(theme.BAD_COLOUR, width=2), brush=None)
        p.addItem(self._bad_points)

        self.time_map = LayerHeatmap(colormap=theme.value_colormap(), colorbar_label="log10 ‖∂L/∂W‖")
        self.time_map.setToolTip(
            "log10 of each layer's weight-gradient norm over the recorded steps (one row per layer).\n"
            "Healthy: similar colour down a column. Blank cells: Inf/NaN or exactly zero."
        )
        self.time_map.plotItem.setLabel("bottom", "step")
        self.time_map.plotItem.setTitle("‖∂L/∂W‖ over steps", size="10pt")
        self._time_cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.CURSOR_COLOUR, width=1.5))
        self._time_cursor.hide()
        self.time_map.plotItem.addItem(self._time_cursor, ignoreBounds=True)

        self.hist_map = LayerHeatmap()
        self.hist_map.setToolTip(
            "Distribution of log10|∂L/∂h| per layer (rows). Darker = more values.\n"
            "Healthy: rows at similar positions. A drift to the left with depth = vanishing; right = exploding."
        )
        self.hist_map.plotItem.setLabel("bottom", "|∂L/∂h| (log scale)")
        self.grid = LayerHistogramGrid()
        self.grid.setToolTip("One histogram of log10|∂L/∂h| per layer (the gradient reaching the layer's outputs).")

        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.norm_plot)
        top.addWidget(self.time_map)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        bottom.addWidget(self.hist_map)
        bottom.addWidget(self.grid)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setChildrenCollapsible(False)
        for s in (top, bottom, split):
            s.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self._ticks_for = None

    def draw(self, frame: Frame) -> None:
        rec = frame.main.record
        depth = rec.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        # norm vs depth, one curve per lane
        while len(self._norm_curves) < len(frame.lanes):
            colour = frame.lanes[len(self._norm_curves)].colour
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour, symbolPen=None)
            self.norm_plot.plotItem.addItem(curve)
            self._norm_curves.append(curve)
        for lane, curve in zip(frame.lanes, self._norm_curves):
            set_curve(curve, layers, positive_or_nan(lane.record.grad_norm))
        bad = ~np.isfinite(np.asarray(rec.grad_norm, dtype=np.float64)) | (rec.grad_nonfinite > 0)
        finite = positive_or_nan(rec.grad_norm)
        top = np.nanmax(finite) if np.isfinite(finite).any() else 1.0
        if bad.any():
            self._bad_points.setData(layers[bad], np.full(int(bad.sum()), np.log10(top)))
        else:
            self._bad_points.setData([], [])
        self.norm_plot.plotItem.vb.setXRange(0.5, depth + 0.5, padding=0)

        # layer x step heatmap on a uniform step grid (history is thinned unevenly)
        records = frame.main.records
        if len(records) >= 1:
            steps = np.array([records[i].step for i in range(len(records))], dtype=np.float64)
            cols = min(len(records), MAX_COLUMNS)
            grid = np.linspace(steps[0], steps[-1], cols) if cols > 1 else steps[:1]
            idx = np.clip(np.searchsorted(steps, grid, side="right") - 1, 0, len(records) - 1)
            data = np.stack([safe_log10(records[i].grad_norm) for i in idx], axis=1)  # (L, cols)
            ok = np.isfinite(data)
            levels = (float(data[ok].min()), float(data[ok].max())) if ok.any() else (-1.0, 1.0)
            if levels[1] - levels[0] < 1e-6:
                levels = (levels[0] - 0.5, levels[1] + 0.5)
            span = steps[-1] - steps[0]
            col_w = span / max(cols - 1, 1) if span > 0 else 1.0
            self.time_map.set_image(data, steps[0] - col_w / 2, steps[-1] + col_w / 2, levels)
        if frame.cursor_step is None:
            self._time_cursor.hide()
        else:
            self._time_cursor.setValue(frame.cursor_step)
            self._time_cursor.show()

        # gradient histograms (log10 |dL/dh|)
        spec = rec.grad_spec
        image, x0, x1 = histogram_image(rec.grad_hist, rec.grad_under, rec.grad_over, spec)
        self.hist_map.set_image(image, x0, x1, (0.0, 1.0))
        if spec != self._ticks_for:
            self._ticks_for = spec
            self.hist_map.plotItem.getAxis("bottom").setTicks([value_ticks(spec, log10_abs=True)])
        captions, styles = [], []
        for i in range(depth):
            text = f"layer {i + 1}   ‖∂L/∂W‖ {fmt(rec.grad_norm[i])}   ‖∂L/∂h‖ {fmt(rec.grad_out_norm[i])}"
            if rec.grad_nonfinite[i] > 0:
                text += f"   Inf/NaN ×{int(rec.grad_nonfinite[i])}"
                styles.append(f"color:{theme.BAD_COLOUR}; font-weight:bold;")
            else:
                styles.append("")
            captions.append(text)
        self.grid.set_data(spec, [lane.record.grad_hist for lane in frame.lanes], [lane.colour for lane in frame.lanes], captions, styles)

    def norm_curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(layers, norms) currently plotted for lane 0 (tests)."""
        c = self._norm_curves[0]
        return c.xData, c.yData
