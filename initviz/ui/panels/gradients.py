"""Gradients: weight-gradient norm vs depth, a layer x step heatmap of it, per-layer histograms."""

from __future__ import annotations

import bisect
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, StaticPlot, quad_splitter, fmt, positive_or_nan, safe_log10, set_curve, step_axis_range
from initviz.ui.panels.layers import LayerHeatmap, LayerHistogramGrid, histogram_image, value_ticks

GRADIENTS_HELP = (
    "<b>Gradients</b>.<br>Top left: the norm of each layer's weight gradient ‖∂L/∂W‖ (log scale), "
    "input side on the left. Top right: the same number for every layer over the recorded steps "
    "(colour = log10 of the norm). Bottom: the distribution of log10|∂L/∂h| (gradient reaching each "
    "layer's outputs), all layers as rows and one histogram per layer.<br>"
    "<b>Healthy</b>: norms within about one order of magnitude across layers and stable over time. "
    "Vanishing: norms falling by orders of magnitude toward the input. Exploding: rising toward the "
    "input or over time. Grey triangles: exactly 0; red crosses: Inf/NaN."
)
MAX_COLUMNS = 400  # columns of the layer x step heatmap


class GradNormPlot(StaticPlot):
    """‖∂L/∂W‖ per layer on a log axis, one curve per lane; zeros and Inf/NaN get markers."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None, *, legend: bool = True) -> None:
        super().__init__(parent)
        self.setToolTip(
            "‖∂L/∂W‖ of each hidden layer at this step (log scale). Input side left, output side right.\n"
            "Healthy: roughly flat. A slope of orders of magnitude = vanishing or exploding gradients.\n"
            "Grey triangles: exactly 0 (drawn at the bottom). Red crosses: Inf/NaN (drawn at the top)."
        )
        p = self.plotItem
        p.setLogMode(y=True)
        p.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on a log axis only confuses
        p.setLabel("bottom", "layer")
        p.setLabel("left", "‖∂L/∂W‖")
        p.setTitle("weight-gradient norm per layer", size="10pt")
        p.vb.enableAutoRange(enable=False)
        self.curves: list[pg.PlotDataItem] = []
        self._bad = pg.ScatterPlotItem(symbol="x", size=12, pen=pg.mkPen(theme.BAD_COLOUR, width=2.5), brush=None)
        self._zero = pg.ScatterPlotItem(symbol="t", size=10, pen=pg.mkPen("#666"), brush=pg.mkBrush("#bbbbbb"))
        p.addItem(self._bad)
        p.addItem(self._zero)
        if legend:
            box = p.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 210))
            box.addItem(self._zero, "exactly 0")
            box.addItem(self._bad, "Inf/NaN")
        self._range: tuple = ()

    def draw(self, frame: Frame) -> None:
        rec = frame.main.record
        depth = rec.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        while len(self.curves) > len(frame.lanes):
            self.plotItem.removeItem(self.curves.pop())
        while len(self.curves) < len(frame.lanes):
            colour = frame.lanes[len(self.curves)].colour
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour, symbolPen=None)
            self.plotItem.addItem(curve)
            self.curves.append(curve)
        for lane, curve in zip(frame.lanes, self.curves):
            set_curve(curve, layers, positive_or_nan(lane.record.grad_norm))
        g = np.asarray(rec.grad_norm, dtype=np.float64)
        bad = ~np.isfinite(g) | (rec.grad_nonfinite > 0)
        zero = np.isfinite(g) & (g <= 0)
        # the range covers every lane; the 0 and Inf/NaN markers are the first lane's
        logs = safe_log10(np.concatenate([np.ravel(lane.record.grad_norm) for lane in frame.lanes]))
        logs = logs[np.isfinite(logs)]
        top = float(np.ceil(logs.max())) if logs.size else 0.0
        bottom = float(np.floor(logs.min())) - 1.0 if logs.size else -1.0
        # markers sit in the view's log10 coordinates (scatter items are not log-transformed)
        self._bad.setData(layers[bad], np.full(int(bad.sum()), top))
        self._zero.setData(layers[zero], np.full(int(zero.sum()), bottom))
        # whole decades, so the axis is not rebuilt on every frame
        y_range = (bottom - 0.3, top + 0.3)
        if (depth, y_range) != self._range:
            self._range = (depth, y_range)
            self.plotItem.vb.setRange(xRange=(0.5, depth + 0.5), yRange=y_range, padding=0)


class GradientsPanel(Panel):
    """Weight-gradient norms per layer and gradient histograms."""

    title = "Gradients"
    help_text = GRADIENTS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.norm_plot = GradNormPlot()

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
        self.hist_map.plotItem.setTitle("gradient reaching each layer's outputs", size="10pt")
        self.grid = LayerHistogramGrid()
        self.grid.setToolTip("One histogram of log10|∂L/∂h| per layer (the gradient reaching the layer's outputs).")

        split, _, bottom = quad_splitter(self.norm_plot, self.time_map, self.hist_map, self.grid)
        split.setSizes([420, 480])
        bottom.setSizes([520, 480])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self._ticks_for = None

    def draw(self, frame: Frame) -> None:
        rec = frame.main.record
        depth = rec.depth
        self.norm_plot.draw(frame)

        # layer x step heatmap on a uniform step grid (the history is thinned unevenly)
        records = frame.main.records
        if len(records) >= 1 and self.due("time_map", frame):
            first, last = records[0].step, records[-1].step
            cols = min(len(records), MAX_COLUMNS)
            grid = np.linspace(first, last, cols) if cols > 1 else np.array([float(first)])
            idx = [max(bisect.bisect_right(records, s, key=lambda r: r.step) - 1, 0) for s in grid]
            data = safe_log10(np.stack([records[i].grad_norm for i in idx], axis=1))  # (L, cols)
            ok = np.isfinite(data)
            # whole decades: the colour bar's axis is redrawn only when they change
            levels = (float(np.floor(data[ok].min())), float(np.ceil(data[ok].max()))) if ok.any() else (-1.0, 1.0)
            if levels[1] - levels[0] < 1:
                levels = (levels[0] - 1, levels[1] + 1)
            col_w = (last - first) / max(cols - 1, 1) if last > first else 1.0
            self.time_map.set_image(data, first - col_w / 2, last + col_w / 2, levels, x_view=step_axis_range(records))
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
        if len(frame.lanes) > 1:  # the caption compares the lanes
            captions = [
                f"layer {i + 1}   ‖∂L/∂W‖ " + "   ".join(f"{lane.name}: {fmt(lane.record.grad_norm[i])}" for lane in frame.lanes)
                for i in range(depth)
            ]
        self.grid.set_data(
            spec, [lane.record.grad_hist for lane in frame.lanes], [lane.colour for lane in frame.lanes], captions, styles,
            lane_names=[lane.name for lane in frame.lanes], lane_specs=[lane.record.grad_spec for lane in frame.lanes],
        )

    def norm_curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(layers, norms) currently plotted for lane 0 (tests)."""
        c = self.norm_plot.curves[0]
        return c.xData, c.yData
