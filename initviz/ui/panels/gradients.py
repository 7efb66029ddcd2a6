"""Gradients: weight-gradient norm vs depth, a layer x step heatmap of it, per-layer histograms."""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from initviz.ui import theme
from initviz.ui.panels.axes import readable
from initviz.ui.panels.base import (
    sticky_range,
    DottedLine,
    Frame,
    fit_dotted,
    LogEdgeMarkers,
    Panel,
    StaticPlot,
    fmt,
    positive_or_nan,
    quad_splitter,
    safe_log10,
    step_axis_range,
)
from initviz.ui.panels.depth_profile import BandFill, fit_bands, fit_predictions, lane_band
from initviz.ui.panels.layers import LaneHeatmaps, LayerHeatmap, LayerHistogramGrid, histogram_image, value_ticks
from initviz.ui.text import elide

GRADIENTS_HELP = (
    "<b>Gradients</b>.<br>Top left: the norm of each layer's weight gradient ‖∂L/∂W‖ (log scale), "
    "input side on the left; dashed: the shape the init predicts (mean field, scaled to the measured "
    "last layer), in a light band where 80% of networks of this shape land at init. Top right: the same number for every layer over the recorded steps "
    "(colour = log10 of the norm). Bottom: the distribution of log10|∂L/∂h| (gradient reaching each "
    "layer's outputs), all layers as rows and one histogram per layer.<br>"
    "<b>Healthy</b>: norms within about one order of magnitude across layers and stable over time. "
    "Vanishing: norms falling by orders of magnitude toward the input. Exploding: rising toward the "
    "input or over time. Triangles at the bottom: exactly 0; red crosses: Inf/NaN (in the heatmap: "
    "grey and red cells). With several lanes each lane gets its own heatmaps, on one colour scale."
)
MAX_COLUMNS = 400  # columns of the layer x step heatmap
NORM_TITLE = "weight-gradient norm per layer"


class GradNormPlot(StaticPlot):
    """‖∂L/∂W‖ per layer on a log axis, one curve per lane; zeros and Inf/NaN get markers."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "‖∂L/∂W‖ of each hidden layer at this step (log scale). Input side left, output side right.\n"
            "Healthy: roughly flat. A slope of orders of magnitude = vanishing or exploding gradients.\n"
            "Triangles (in the lane's colour): exactly 0, drawn at the bottom. Red crosses: Inf/NaN, drawn at the top.\n"
            "Dashed: predicted at init, scaled to the measured last layer (the theory gives ratios between layers;\n"
            "it leaves out correlations between inputs). Light band: 10-90% of 32 networks of this shape at init."
        )
        p = readable(self.plotItem)
        p.setLogMode(y=True)
        p.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on a log axis only confuses
        p.setLabel("bottom", "layer")
        p.setLabel("left", "‖∂L/∂W‖")
        p.setTitle(NORM_TITLE, size="10pt")
        p.vb.enableAutoRange(enable=False)
        self.curves: list[DottedLine] = []  # one per lane
        self.theories: list = []  # one per lane: predicted at init, scaled to the measured last layer
        self.bands: list[BandFill] = []  # one per lane: 10-90% of networks of this shape
        # scatter items are not log-transformed: markers sit in the view's log10 coordinates. The
        # title explains them (a legend box would cover the curves, which run along the top)
        self.markers = LogEdgeMarkers(p)
        self._range: tuple = ()
        self._range_time = 0.0  # when the y range last changed
        self._title_key: tuple = ()

    def draw(self, frame: Frame) -> None:
        depth = frame.main.record.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        fit_dotted(self.curves, self.plotItem, [lane.colour for lane in frame.lanes], log_y=True)
        for lane, curve in zip(frame.lanes, self.curves):
            curve.set_line(layers, positive_or_nan(lane.record.grad_norm))
        norms = [np.asarray(lane.record.grad_norm, dtype=np.float64) for lane in frame.lanes]
        shown = list(norms)
        fit_predictions(self.theories, self.plotItem, frame, log_y=True)
        fit_bands(self.bands, self.plotItem, frame, log_y=True)
        for lane, g, line, band in zip(frame.lanes, norms, self.theories, self.bands):
            predicted, lo, hi = self.scaled_prediction(lane, g)
            line.set_line(layers if predicted is not None else np.zeros(0), predicted if predicted is not None else np.zeros(0))
            band.set_band(layers, lo, hi)
            shown += [v for v in (predicted, lo, hi) if v is not None]
        logs = safe_log10(np.concatenate([np.ravel(g) for g in shown]))
        logs = logs[np.isfinite(logs)]
        top = float(np.ceil(logs.max())) if logs.size else 0.0
        bottom = float(np.floor(logs.min())) - 1.0 if logs.size else -1.0
        zeros, bad = self.markers.set(
            layers, norms, [lane.colour for lane in frame.lanes], bottom, top,
            also_bad=[np.asarray(lane.record.grad_nonfinite) > 0 for lane in frame.lanes],
        )
        if (zeros > 0, bad > 0) != self._title_key:
            self._title_key = (zeros > 0, bad > 0)
            keys = ["▼ = exactly 0"] if zeros else []
            keys += [f"<span style='color:{theme.BAD_COLOUR}'>✕ = Inf/NaN</span>"] if bad else []
            self.plotItem.setTitle(NORM_TITLE + (f"  <span style='color:#555555'>({'; '.join(keys)})</span>" if keys else ""), size="10pt")
        # whole decades, kept while the values stay within a decade of them; while training it
        # grows at once and shrinks at most every 2 s (norms that jump by decades from step to
        # step would otherwise rebuild the axis on every frame)
        old = self._range[1] if self._range and self._range[0] == depth else None
        now = time.perf_counter()
        shrink = not frame.moving or now - self._range_time >= 2.0
        y_range = sticky_range(old, (bottom - 0.3, top + 0.3), 1.0, shrink)
        if (depth, y_range) != self._range:
            self._range = (depth, y_range)
            self._range_time = now
            self.plotItem.vb.setRange(xRange=(0.5, depth + 0.5), yRange=y_range, padding=0)


    def short_title(self, text: str) -> str:
        """The title for a narrow plot (a dashboard tile, a 4:3 slide): the symbol for the words."""
        return text.replace(NORM_TITLE, "‖∂L/∂W‖ per layer").replace("▼ = exactly 0", "▼ = 0")

    @staticmethod
    def scaled_prediction(lane: "object", norms: np.ndarray) -> tuple:
        """(predicted, band low, band high) per layer, scaled to the measured last layer; None where
        there is nothing to draw (no theory, no finite last-layer norm)."""
        theory = getattr(lane, "theory", None)
        gain = getattr(theory, "weight_grad_gain", None) if theory is not None else None
        last = float(norms[-1]) if len(norms) else float("nan")
        if gain is None or len(gain) != len(norms) or not np.isfinite(last) or last <= 0:
            return None, None, None
        lo, hi = lane_band(lane, "weight_grad_gain")
        return (
            np.asarray(gain, dtype=np.float64) * last,
            None if lo is None else lo * last,
            None if hi is None else hi * last,
        )


def _time_heatmap() -> LayerHeatmap:
    """One lane's layer x step heatmap of log10 ‖∂L/∂W‖, with the scrub cursor."""
    h = LayerHeatmap(colormap=theme.value_colormap())
    h.plotItem.setLabel("bottom", "step")
    h.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.CURSOR_COLOUR, width=1.5))
    h.cursor.hide()
    h.plotItem.addItem(h.cursor, ignoreBounds=True)
    return h


def _hist_heatmap() -> LayerHeatmap:
    """One lane's rows of log10|∂L/∂h| histograms."""
    h = LayerHeatmap()
    h.plotItem.setLabel("bottom", "|∂L/∂h| (log scale)")
    h.ticks_for = None
    return h


class GradientsPanel(Panel):
    """Weight-gradient norms per layer and gradient histograms."""

    title = "Gradients"
    help_text = GRADIENTS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.norm_plot = GradNormPlot()

        # one heatmap per lane, side by side, on one colour scale (the bar at the right)
        self.time_maps = LaneHeatmaps("‖∂L/∂W‖ over steps", make=_time_heatmap, colorbar_label="log10 ‖∂L/∂W‖")
        self.time_maps.setToolTip(
            "log10 of each layer's weight-gradient norm over the recorded steps (one row per layer).\n"
            "Healthy: similar colour down a column. Grey cells: exactly 0. Red cells: Inf/NaN."
        )
        self.time_map = self.time_maps.heatmap
        self.hist_maps = LaneHeatmaps("gradient reaching each layer's outputs", make=_hist_heatmap)
        self.hist_maps.setToolTip(
            "Distribution of log10|∂L/∂h| per layer (rows). Darker = more values.\n"
            "Healthy: rows at similar positions. A drift to the left with depth = vanishing; right = exploding.\n"
            "Exactly-zero gradients fall in the 'below' band."
        )
        self.hist_map = self.hist_maps.heatmap
        self.grid = LayerHistogramGrid()
        self.grid.setToolTip("One histogram of log10|∂L/∂h| per layer (the gradient reaching the layer's outputs).")

        split, _, bottom = quad_splitter(self.norm_plot, self.time_maps, self.hist_maps, self.grid)
        split.setSizes([420, 480])
        bottom.setSizes([520, 480])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

    def draw(self, frame: Frame) -> None:
        self.norm_plot.draw(frame)
        # the heatmaps and small multiples are the slow parts: while training, one per frame
        parts = self.in_turn(frame, ("time", "hist", "grid"))
        time_maps = self.time_maps.for_lanes(frame)
        if frame.main.records and "time" in parts:
            self._draw_time_maps(frame, time_maps)
        for h in time_maps:
            if frame.cursor_step is None:
                h.cursor.hide()
            else:
                h.cursor.setValue(frame.cursor_step)
                h.cursor.show()

        if "hist" in parts:
            self._draw_hist_maps(frame)
        if "grid" in parts:
            self._draw_grid(frame)

    def _draw_hist_maps(self, frame: Frame) -> None:
        """Gradient histograms (log10 |dL/dh|) as rows of a heatmap, one heatmap per lane."""
        for h, lane in zip(self.hist_maps.for_lanes(frame), frame.lanes):
            r = lane.record
            image, x0, x1 = histogram_image(r.grad_hist, r.grad_under, r.grad_over, r.grad_spec)
            h.set_image(image, x0, x1, (0.0, 1.0), pool=True)
            n = len(frame.lanes)
            if (r.grad_spec, n) != h.ticks_for:
                h.ticks_for = (r.grad_spec, n)
                ticks = value_ticks(r.grad_spec, log10_abs=True, pixels=400 / n, bands=n <= 2)
                h.plotItem.getAxis("bottom").setTicks([ticks])

    def _draw_grid(self, frame: Frame) -> None:
        """One small histogram per layer (and lane), captioned with the norms."""
        rec = frame.main.record
        depth = rec.depth
        captions, styles = [], []
        many = len(frame.lanes) > 1
        for i in range(depth):
            if many:  # the caption compares the lanes
                text = f"{frame.main.layer_caption(i)}   ‖∂L/∂W‖ " + "   ".join(f"{elide(lane.name)}: {fmt(lane.record.grad_norm[i])}" for lane in frame.lanes)
            else:
                text = f"{frame.main.layer_caption(i)}   ‖∂L/∂W‖ {fmt(rec.grad_norm[i])}   ‖∂L/∂h‖ {fmt(rec.grad_out_norm[i])}"
            bad = [elide(lane.name) for lane in frame.lanes if lane.record.grad_nonfinite[i] > 0]
            if bad:
                count = sum(int(lane.record.grad_nonfinite[i]) for lane in frame.lanes)
                text += f"   Inf/NaN ×{count}" + (f" ({', '.join(bad)})" if many else "")
                styles.append(f"color:{theme.BAD_COLOUR}; font-weight:bold;")
            else:
                styles.append("")
            captions.append(text)
        self.grid.set_data(
            rec.grad_spec, [lane.record.grad_hist for lane in frame.lanes], [lane.colour for lane in frame.lanes], captions, styles,
            lane_names=[lane.name for lane in frame.lanes], lane_specs=[lane.record.grad_spec for lane in frame.lanes],
        )

    def _draw_time_maps(self, frame: Frame, heatmaps: list) -> None:
        """Layer x step heatmaps on a uniform step grid (the history is thinned unevenly), one scale."""
        records = frame.main.records
        first, last = records[0].step, records[-1].step
        cols = min(len(records), MAX_COLUMNS)
        grid = np.linspace(first, last, cols) if cols > 1 else np.array([float(first)])
        datas = []
        for n, lane in enumerate(frame.lanes):
            steps = frame.steps(n)
            if not len(steps):
                datas.append(np.full((frame.main.record.depth, cols), np.nan))
                continue
            idx = np.clip(np.searchsorted(steps, grid, side="right") - 1, 0, len(steps) - 1)
            norms = np.stack([lane.records[i].grad_norm for i in idx], axis=1).astype(np.float64)  # (L, cols)
            datas.append(norms)
        logs = [safe_log10(d) for d in datas]
        finite = np.concatenate([v[np.isfinite(v)] for v in logs])
        # whole decades, shared by the lanes: the colour bar's axis is redrawn only when they change
        levels = (float(np.floor(finite.min())), float(np.ceil(finite.max()))) if finite.size else (-1.0, 1.0)
        if levels[1] - levels[0] < 1:
            levels = (levels[0] - 1, levels[1] + 1)
        col_w = (last - first) / max(cols - 1, 1) if last > first else 1.0
        x0, x1 = first - col_w / 2, last + col_w / 2
        view = step_axis_range(records, tight=not frame.moving)
        self.time_maps.set_levels(levels)
        for h, d, v in zip(heatmaps, datas, logs):
            h.set_image(v, x0, x1, levels, x_view=view)
            h.set_marks(np.isfinite(d) & (d <= 0), ~np.isfinite(d), x0, x1)

    def norm_curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(layers, norms) currently plotted for lane 0 (tests)."""
        c = self.norm_plot.curves[0]
        return c.xData, c.yData
