"""Health over time: saturation, dead units, symmetry and update:data ratio per layer, over steps."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.axes import axis_items
from initviz.ui.panels.base import CursorLines, Frame, Panel, PathCurve, safe_log10, step_axis_range, sticky_range
from initviz.ui.text import name_html, plain_html

HEALTH_HELP = (
    "<b>Health over time</b>, one line per layer (colour: layer 1 dark purple → last layer green).<br>"
    "<b>Saturation</b>: share of tanh/sigmoid outputs stuck near their bounds (tiny local gradient). "
    "<b>Dead</b>: share of units off for the whole batch. <b>Symmetry</b>: 1 = all units of the layer "
    "compute the same thing (they can never learn different features), ~1/width = independent. "
    "<b>Update:data ratio</b>: ‖ΔW‖/‖W‖ per step (log scale); the green band around 1e-3 is the usual "
    "healthy range.<br><b>Healthy</b>: saturation and dead near 0 and falling, symmetry near 0, "
    "update ratio inside the band."
)
MAX_POINTS = 400
ROUND_ROBIN_DEPTH = 16  # from this depth, playback refreshes half the plots per frame


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_ticks(plot: pg.PlotItem, lo: float, hi: float) -> None:
    """A log10-valued axis labelled in decades only (10⁻³), halves as unlabelled minor ticks."""
    key = (np.floor(lo), np.ceil(hi))
    if getattr(plot, "_decades", None) == key:
        return
    plot._decades = key
    major = [(float(k), f"10{str(k).translate(SUPERSCRIPT)}") for k in range(int(key[0]), int(key[1]) + 1)]
    minor = [(k + 0.5, "") for k in range(int(key[0]), int(key[1]))]
    plot.getAxis("left").setTicks([major, minor])


def single_point(curve: PathCurve, single: bool, width: float) -> None:
    """A history of one record (step 0) has no line to draw: show it as a dot instead."""
    if curve.dots != single:
        curve.dots = single
        pen = curve.pen()
        pen.setWidthF(7.0 if single else width)
        pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap if single else QtCore.Qt.PenCapStyle.SquareCap)
        curve.setPen(pen)


class _SeriesPlot:
    """One plot of a per-layer field over steps: one curve per layer, created once, reused."""

    def __init__(self, plot: pg.PlotItem, field: str, log: bool) -> None:
        self.plot = plot
        self.field = field
        self.log = log
        self.curves: list[PathCurve] = []
        self._lanes_key: tuple = ()
        # log fields: steps where a lane's value is exactly 0 (a zeros init's 0/0 update ratio, or
        # step 0 before any update) have no place on the axis: triangles at the bottom edge instead
        self.zero_marks: list[pg.ScatterPlotItem] = []

    def mark_zeros(self, series: list[tuple[np.ndarray, np.ndarray, str]], bottom: float) -> int:
        """One row of ▼ per lane at ``bottom`` where all its layers are exactly 0; returns how many."""
        while len(self.zero_marks) > len(series):
            self.plot.removeItem(self.zero_marks.pop())
        while len(self.zero_marks) < len(series):
            item = pg.ScatterPlotItem(symbol="t", size=9, pen=pg.mkPen("#555555", width=1))
            item.setZValue(15)
            self.plot.addItem(item)
            self.zero_marks.append(item)
        total = 0
        for k, (item, (steps, values, colour)) in enumerate(zip(self.zero_marks, series)):
            v = np.asarray(values, dtype=np.float64)
            zero = (v == 0).all(axis=1) if v.ndim == 2 else v == 0
            total += int(zero.sum())
            if getattr(item, "_lane_colour", None) != colour:
                item._lane_colour = colour
                item.setBrush(pg.mkBrush(colour))
            count = int(zero.sum())
            if count == 0 and getattr(item, "_empty", False):
                continue  # still none: setData costs about a millisecond, and the hidden item no paint
            item._empty = count == 0
            item.setData(np.asarray(steps, dtype=np.float64)[zero], np.full(count, bottom + 0.06 * k))
            item.setVisible(count > 0)
        return total

    def update(self, frame: Frame) -> None:
        if len(frame.lanes) > 1:
            self._update_lanes(frame)
            return
        if self._lanes_key:  # back to one run: per-layer curves again
            self._lanes_key = ()
            for c in self.curves:
                self.plot.removeItem(c)
            self.curves = []
        # fewer points per line in deep networks: the cost is layers x points per frame
        points = min(MAX_POINTS, max(120, 8000 // max(frame.main.record.depth, 1)))
        steps, values = frame.series(0, self.field, points)  # (T,), (T, L)
        depth = values.shape[1] if values.ndim == 2 else 0
        if depth != len(self.curves):
            for c in self.curves:
                self.plot.removeItem(c)
            colours = theme.layer_colours(depth)
            self.curves = []
            for i in range(depth):
                c = PathCurve(pg.mkPen(colours[i], width=1))
                self.plot.addItem(c)
                self.curves.append(c)
        for i, c in enumerate(self.curves):
            column = values[:, i]
            single_point(c, len(steps) == 1, 1.0)
            c.set_line(steps, safe_log10(column) if self.log else column)
        if self.curves:
            # PathCurves give pyqtgraph no data bounds: the panel sets the ranges
            if self.log:
                v = safe_log10(values)
                ok = np.isfinite(v)
                lo, hi = (float(v[ok].min()), float(v[ok].max())) if ok.any() else (-4.0, -2.0)
                self.mark_zeros([(steps, values, frame.main.colour)], self.set_log_range(lo, hi)[0])


    def set_log_range(self, lo: float, hi: float) -> tuple[float, float]:
        """The log10 y range around [lo, hi] (and the green band), in half decades, kept while the
        values stay within a decade of it: setYRange and the ticks only when it changes."""
        wanted = (np.floor(2 * min(lo, -3.5)) / 2, np.ceil(2 * max(hi, -2.5)) / 2)
        y_range = sticky_range(getattr(self, "_y_range", None), (float(wanted[0]), float(wanted[1])), 1.0)
        if y_range != getattr(self, "_y_range", None):
            self._y_range = y_range
            self.plot.setYRange(*y_range, padding=0.05)
            decade_ticks(self.plot, *y_range)
        return y_range

    def _update_lanes(self, frame: Frame) -> None:
        """Several lanes: one line per lane (its colour), the mean over the layers."""
        key = tuple(lane.colour for lane in frame.lanes)
        if key != self._lanes_key:
            self._lanes_key = key
            for c in self.curves:
                self.plot.removeItem(c)
            self.curves = []
            for colour in key:
                c = PathCurve(pg.mkPen(colour, width=1.5))
                self.plot.addItem(c)
                self.curves.append(c)
        shown = []
        for n, c in enumerate(self.curves):
            steps, values = frame.series(n, self.field, MAX_POINTS)  # (T,), (T, L)
            v = safe_log10(values) if self.log else np.asarray(values, dtype=np.float64)
            if v.ndim == 2:
                ok = np.isfinite(v)
                # mean of the finite layers (log10 fields: the geometric mean); NaN where none is
                with np.errstate(invalid="ignore"):
                    v = np.where(ok, v, 0.0).sum(axis=1) / np.where(ok.any(axis=1), ok.sum(axis=1), np.nan)
            single_point(c, len(steps) == 1, 1.5)
            c.set_line(steps, v)
            shown.append(v)
        if self.log and shown:
            v = np.concatenate(shown)
            ok = np.isfinite(v)
            lo, hi = (float(v[ok].min()), float(v[ok].max())) if ok.any() else (-4.0, -2.0)
            bottom = self.set_log_range(lo, hi)[0]
            self.mark_zeros([(*frame.series(n, self.field, MAX_POINTS), lane.colour) for n, lane in enumerate(frame.lanes)], bottom)


class HealthPanel(Panel):
    """Four per-layer health series over the recorded steps."""

    title = "Health"
    help_text = HEALTH_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.legend = QtWidgets.QLabel()
        self.legend.setTextFormat(QtCore.Qt.TextFormat.RichText)
        specs = [
            ("saturation", "saturation (share of units near ±1)", False, (0, 1)),
            ("dead", "dead units (off on the whole batch)", False, (0, 1)),
            ("symmetry", "symmetry (1 = all units identical)", False, (0, 1)),
            ("update_ratio", "update:data ‖ΔW‖/‖W‖ (log; ▼ = no update)", True, None),
        ]
        self.series: dict[str, _SeriesPlot] = {}
        plots = []
        for n, (field, title, log, yrange) in enumerate(specs):
            p = self.view.addPlot(row=n // 2, col=n % 2, axisItems=axis_items())
            p.setTitle(title, size="10pt")
            p.setLabel("bottom", "step")
            p.setMenuEnabled(False)
            p.hideButtons()
            if yrange is not None:
                p.setYRange(*yrange, padding=0.03)
                p.vb.enableAutoRange(axis="y", enable=False)
            plots.append(p)
            self.series[field] = _SeriesPlot(p, field, log)
        ratio = plots[3]
        ratio.getAxis("left").setTicks(None)
        band = pg.LinearRegionItem(values=(-3.5, -2.5), orientation="horizontal", movable=False, brush=theme.GUIDE_BRUSH, pen=pg.mkPen(None))
        band.setZValue(-10)
        ratio.addItem(band, ignoreBounds=True)
        ref = pg.InfiniteLine(pos=-3, angle=0, movable=False, pen=pg.mkPen(theme.GOOD_COLOUR, width=1, style=QtCore.Qt.PenStyle.DashLine))
        ratio.addItem(ref, ignoreBounds=True)
        for p in plots[1:]:
            p.setXLink(plots[0])
        self.plots = plots
        self.cursors = CursorLines(plots)
        self.view.setToolTip(
            "Per-layer health over the recorded steps.\n"
            "Healthy: saturation, dead and symmetry near 0; update:data ratio near 1e-3 (green band)."
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        self._legend_depth = -1
        self._x_range = (np.nan, np.nan)
        self._turn = 0

    def draw(self, frame: Frame) -> None:
        series = list(self.series.values())
        depth = frame.main.record.depth
        if frame.moving and depth >= ROUND_ROBIN_DEPTH:
            # training streams frames of a deep network: refresh two of the four plots per frame
            # (one from depth 40) so one frame stays within the GUI's time budget
            share = 4 if depth >= 40 else 2
            turn = self._turn % share
            self._turn += 1
            series = series[turn::share]
        for s in series:
            s.update(frame)
        x_range = step_axis_range(frame.main.records, tight=not frame.moving)
        if x_range != self._x_range:
            self._x_range = x_range
            self.plots[0].setXRange(*x_range, padding=0)  # the others are linked
        self.cursors.update(frame)
        depth = frame.main.record.depth
        if len(frame.lanes) > 1:
            key = tuple(lane.name for lane in frame.lanes)
            if key != self._legend_depth:
                self._legend_depth = key
                self.legend.setText(
                    "One line per lane, the mean over its layers: "
                    + "  ".join(f"<span style='color:{lane.colour}'>■ {name_html(lane.name)}</span>" for lane in frame.lanes)
                    + ". Green band: update:data ratio 10<sup>-3.5</sup>…10<sup>-2.5</sup>."
                )
                self.legend.setToolTip(plain_html("\n".join(lane.name for lane in frame.lanes)))
        elif depth != self._legend_depth:
            self._legend_depth = depth
            cols = theme.layer_colours(depth)
            first, last = cols[0].name(), cols[-1].name()
            self.legend.setText(
                f"Lines: <span style='color:{first}'>■ layer 1 (input side)</span> → "
                f"<span style='color:{last}'>■ layer {depth} (output side)</span>. "
                "Green band: update:data ratio 10<sup>-3.5</sup>…10<sup>-2.5</sup>."
            )
