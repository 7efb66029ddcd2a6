"""Depth profile: measured std of every layer with the theoretical prediction drawn over it."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import (
    DottedLine,
    Frame,
    LogEdgeMarkers,
    Panel,
    PathCurve,
    StaticPlot,
    ViewState,
    finite_range,
    fit_dotted,
    half_decades,
    safe_log10,
)
from initviz.ui.text import name_html, plain_html
from initviz.ui.panels.axes import readable

DEPTH_HELP = (
    "<b>Depth profile</b>: the measured standard deviation of each hidden layer's activations "
    "(solid, with dots) and the value the init predicts for it at step 0 (dashed: orange for one run, "
    "each lane's colour with lanes), from the "
    "variance recursion Var(z<sub>l</sub>) = fan_in·Var(w)·E[φ(z<sub>l-1</sub>)²] + Var(b). "
    "The light band around the prediction: where 80% of networks of this shape land at init "
    "(10-90% over 32 networks drawn with other seeds): finite width, not the theory, sets how far "
    "one network may stray.<br>"
    "Dotted (after step 0): the std measured at step 0, so what the init did stays in view. "
    "Below: the std of each layer's weights, measured and predicted by the init formula.<br>"
    "<b>Healthy</b>: a flat profile (signal keeps its scale through depth). Falling = vanishing, "
    "rising = exploding. Measured and predicted agree at step 0; training moves them apart."
)


def fit_predictions(curves: list, plot: pg.PlotItem, frame: Frame, log_y: bool) -> list:
    """``curves`` made to hold one dashed prediction per lane (in place): orange for one run,
    each lane's colour with lanes."""
    many = len(frame.lanes) > 1
    colours = [lane.colour if many else theme.THEORY_COLOUR for lane in frame.lanes]
    if [c.pen().color().name() for c in curves] != colours:
        for c in curves:
            plot.removeItem(c)
        curves[:] = [
            PathCurve(pg.mkPen(colour, width=1.5 if many else 2.5, style=QtCore.Qt.PenStyle.DashLine), log_y=log_y)
            for colour in colours
        ]
        for c in curves:
            plot.addItem(c)
    return curves


BAND_ALPHA = 50  # of 255: light enough that the curves on it stay readable


class BandFill(QtWidgets.QGraphicsPathItem):
    """A light fill between a low and a high curve per layer (the finite-width band).

    Drawn by Qt like PathCurve; ``log_y`` draws log10 of the values (plots in log mode). Keeps the
    values given as ``lo``/``hi`` (tests); non-finite or non-positive (log) layers are left out.
    """

    def __init__(self, colour: str, log_y: bool = True) -> None:
        super().__init__()
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        fill = QtGui.QColor(colour)
        fill.setAlpha(BAND_ALPHA)
        self.setBrush(QtGui.QBrush(fill))
        self.setZValue(-5)  # under the curves
        self.log_y = log_y
        self.colour = colour
        self.lo = np.zeros(0)
        self.hi = np.zeros(0)

    def set_band(self, x: np.ndarray, lo: Optional[np.ndarray], hi: Optional[np.ndarray]) -> None:
        if lo is None or hi is None:
            self.lo = self.hi = np.zeros(0)
            self.setPath(QtGui.QPainterPath())
            return
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        a, b = (safe_log10(self.lo), safe_log10(self.hi)) if self.log_y else (self.lo, self.hi)
        ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(x)
        path = QtGui.QPainterPath()
        if ok.sum() >= 1:
            xs, a, b = np.asarray(x, dtype=np.float64)[ok], a[ok], b[ok]
            if len(xs) == 1:  # one layer: a thin bar
                xs, a, b = np.r_[xs - 0.2, xs + 0.2], np.repeat(a, 2), np.repeat(b, 2)
            path.moveTo(xs[0], a[0])
            for xi, yi in zip(xs[1:], a[1:]):
                path.lineTo(xi, yi)
            for xi, yi in zip(xs[::-1], b[::-1]):
                path.lineTo(xi, yi)
            path.closeSubpath()
        self.setPath(path)


def fit_bands(bands: list, plot: pg.PlotItem, frame: Frame, log_y: bool) -> list:
    """``bands`` made to hold one BandFill per lane (in place), in the prediction's colour."""
    many = len(frame.lanes) > 1
    colours = [lane.colour if many else theme.THEORY_COLOUR for lane in frame.lanes]
    if [b.colour for b in bands] != colours:
        for b in bands:
            plot.removeItem(b)
        bands[:] = [BandFill(colour, log_y=log_y) for colour in colours]
        for b in bands:
            plot.addItem(b, ignoreBounds=True)
    for b in bands:
        b.log_y = log_y
    return bands


def lane_band(lane: "object", name: str) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(low, high) of the lane's finite-width band for `name`, if the engine has computed it."""
    theory = getattr(lane, "theory", None)
    band = theory.band_if_ready() if theory is not None and hasattr(theory, "band_if_ready") else None
    if band is None:
        return None, None
    values = getattr(band, name)
    return values[0], values[1]


class StdProfilePlot(StaticPlot):
    """Per-layer std, measured (one curve per lane) and predicted at init (dashed)."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.kind = "act"  # "act" or "pre"
        self.log = True
        p = readable(self.plotItem)
        p.setLabel("bottom", "layer")
        p.setLabel("left", "std")
        p.setLogMode(y=True)
        p.getAxis("left").enableAutoSIPrefix(False)
        p.vb.enableAutoRange(enable=False)
        # the legend sits in a row under the plot, where it cannot cover a curve
        self.legend = pg.LegendItem(colCount=3, horSpacing=14, verSpacing=-8, labelTextSize="8pt")
        p.layout.addItem(self.legend, 4, 1)
        self.measured: list[DottedLine] = []  # one per lane
        self.theories: list[PathCurve] = []  # one per lane: the std predicted at init (dashed)
        self.bands: list[BandFill] = []  # one per lane: 10-90% of networks of this shape at init
        # one per lane: the std measured at step 0 (dotted), drawn once training has moved on, so
        # the init's story (a decay the training later repaired) stays on screen beside the theory
        self.initial: list[PathCurve] = []
        self.markers = LogEdgeMarkers(p, self.legend)  # std exactly 0 (zeros init), Inf/NaN
        self._lane_names: tuple = ()
        self._initial_in_legend = False
        self._initial_sample = pg.PlotDataItem(pen=pg.mkPen("#555555", width=1.5, style=QtCore.Qt.PenStyle.DotLine))
        self._range: tuple = ()
        self.setToolTip(
            "Solid: measured std of each layer's outputs. Dashed: predicted at initialisation\n"
            "(orange for one run; in each lane's colour with lanes). Light band: 10-90% of 32 networks\n"
            "of this shape at init (how far one finite network may stray from the line).\n"
            "(orange for one run; in each lane's colour with lanes). Dotted: measured at step 0\n"
            "(shown once training has moved on: what the init did, beside what is true now).\n"
            "Healthy: flat (the scale survives depth), and on the prediction at step 0.\n"
            "Triangles at the bottom: std exactly 0 (all units output the same value), which a log axis cannot place."
        )

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        """As many legend columns as fit: a legend wider than the plot would crop the plot."""
        super().resizeEvent(ev)
        self.fit_legend()

    def fit_legend(self) -> None:
        """As many legend columns as fit the width; no legend when it would take over a third of
        the height (a small plot keeps its data area; the tooltip explains the lines)."""
        legend = getattr(self, "legend", None)
        if legend is None:
            return
        hint = QtCore.Qt.SizeHint.MinimumSize
        for columns in (3, 2, 1):
            if columns != legend.columnCount:
                legend.setColumnCount(columns)
                legend.layout.invalidate()  # else the size hint is the old column count's
            if legend.layout.effectiveSizeHint(hint).width() <= self.width() - 60:
                break
        fits = legend.layout.effectiveSizeHint(hint).height() <= self.height() / 3
        fits = fits and legend.layout.effectiveSizeHint(hint).width() <= self.width() - 20
        changed = fits != legend.isVisible()
        legend.setVisible(fits)
        legend.setMaximumHeight(1e6 if fits else 0)
        legend.setMaximumWidth(1e6 if fits else 0)
        if changed:  # the plot was sized with the legend's old minimum: size it to the view again
            self.plotItem.setGeometry(QtCore.QRectF(self.range))

    @property
    def theory_curve(self) -> PathCurve:
        """Lane 1's prediction (the only one for a single run)."""
        return self.theories[0]

    @property
    def lane_theory(self) -> list[PathCurve]:
        """Lanes 2..n's predictions."""
        return self.theories[1:]

    def set_log(self, on: bool) -> None:
        self.log = on
        self.plotItem.setLogMode(y=on)  # the axis ticks; the curves draw log10 themselves
        for item in self.measured:
            item.set_log(on)
        for item in self.theories + self.initial:
            item.log_y = on
        for band in self.bands:
            band.log_y = on
        self._range = ()

    def _rebuild(self, frame: Frame) -> None:
        """New lanes: one measured line and one prediction per lane, and the legend for them."""
        many = len(frame.lanes) > 1
        fit_dotted(self.measured, self.plotItem, [lane.colour for lane in frame.lanes], log_y=self.log)
        fit_predictions(self.theories, self.plotItem, frame, log_y=self.log)
        fit_bands(self.bands, self.plotItem, frame, log_y=self.log)
        for c in self.initial:
            self.plotItem.removeItem(c)
        self.initial = [
            PathCurve(pg.mkPen(lane.colour, width=1.5, style=QtCore.Qt.PenStyle.DotLine), log_y=self.log) for lane in frame.lanes
        ]
        for c in self.initial:
            self.plotItem.addItem(c)
        self._initial_in_legend = False
        self.legend.clear()
        self.markers.forget_legend()
        if many:
            for lane, c in zip(frame.lanes, self.measured):
                self.legend.addItem(c.sample, name_html(lane.name))
                self.legend.items[-1][1].setToolTip(plain_html(lane.name))
            dashed = pg.PlotDataItem(pen=pg.mkPen("#555555", width=1.5, style=QtCore.Qt.PenStyle.DashLine))
            self.legend.addItem(dashed, "dashed: predicted at init")
        else:
            self.legend.addItem(self.measured[0].sample, "measured")
            self.legend.addItem(pg.PlotDataItem(pen=self.theories[0].pen()), "predicted at init")
        self.fit_legend()

    def draw(self, frame: Frame) -> None:
        kind = self.kind
        depth = frame.main.record.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        names = tuple((lane.name, lane.colour) for lane in frame.lanes)
        if names != self._lane_names:
            self._lane_names = names
            self._rebuild(frame)
        shown, raw = [], []
        for lane, band in zip(frame.lanes, self.bands):
            lo, hi = lane_band(lane, "act_std" if kind == "act" else "pre_std")
            band.set_band(layers, lo, hi)
            if lo is not None:
                shown += [lo, hi]
        any_initial = False
        for lane, c, t, first in zip(frame.lanes, self.measured, self.theories, self.initial):
            values = np.asarray(lane.record.act_std if kind == "act" else lane.record.pre_std, dtype=np.float64)
            c.set_line(layers, values)
            raw.append(values)
            shown.append(values)
            start = lane.records[0] if lane.records else None
            if start is not None and start.step < lane.record.step and start.depth == depth:
                at_init = np.asarray(start.act_std if kind == "act" else start.pre_std, dtype=np.float64)
                first.set_line(layers, at_init)
                shown.append(at_init)
                any_initial = True
            else:
                first.set_line(np.zeros(0), np.zeros(0))
            if lane.theory is None:
                t.set_line(np.zeros(0), np.zeros(0))
            else:
                predicted = np.asarray(lane.theory.act_std if kind == "act" else lane.theory.pre_std, dtype=np.float64)
                t.set_line(layers, predicted)
                shown.append(predicted)
        if any_initial != self._initial_in_legend:
            self._initial_in_legend = any_initial
            if any_initial:
                self.legend.addItem(self._initial_sample, "dotted: at step 0")
            else:
                self.legend.removeItem(self._initial_sample)
            self.fit_legend()
        values = np.concatenate([np.ravel(v) for v in shown]) if shown else np.zeros(0)
        zeros = any(bool(np.any(np.isfinite(v) & (v <= 0))) for v in raw)
        if self.log:
            lo, hi = half_decades(values, (-0.95, 0.95))
            y_range = (lo - 0.05, hi + 0.05)
            if zeros:  # room below the data for the exactly-0 markers
                y_range = (y_range[0] - 0.5, y_range[1])
        else:
            lo, hi = finite_range(values, (0.0, 1.0))
            y_range = (min(lo, 0.0), hi * 1.1)
        edge = 0.06 * (y_range[1] - y_range[0])
        self.markers.set(
            layers, raw, [lane.colour for lane in frame.lanes], y_range[0] + edge, y_range[1] - edge, mark_zeros=self.log
        )
        if len(self.legend.items) != getattr(self, "_legend_rows", None):  # the markers add their own entry
            self._legend_rows = len(self.legend.items)
            self.fit_legend()
        if (depth, y_range) != self._range:
            self._range = (depth, y_range)
            self.plotItem.vb.setRange(xRange=(0.5, depth + 0.5), yRange=y_range, padding=0)


class DepthProfilePanel(Panel):
    """Per-layer std vs depth, measured against theory, and the weights' std vs the init formula."""

    title = "Depth profile"
    help_text = DEPTH_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.kind_box = QtWidgets.QComboBox()
        self.kind_box.addItem("std after the activation φ(z)", "act")
        self.kind_box.addItem("std before the activation z", "pre")
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.log_box = QtWidgets.QCheckBox("log scale")
        self.log_box.setChecked(True)
        self.log_box.toggled.connect(self._log_toggled)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.kind_box)
        header.addWidget(self.log_box)
        header.addStretch(1)

        self.std_plot = StdProfilePlot()
        self.w_plot = StaticPlot()
        w = readable(self.w_plot.plotItem)
        w.setTitle("weight std per layer: measured vs init formula", size="10pt")
        w.setLabel("bottom", "layer")
        w.setLabel("left", "std(W)")
        w.setLogMode(y=True)
        w.getAxis("left").enableAutoSIPrefix(False)
        self.w_theories: list[PathCurve] = []  # per lane: the init formula's std (dashed)
        self.w_measured: list[DottedLine] = []
        self.w_markers = LogEdgeMarkers(w)
        self._w_range: tuple = ()
        self.w_plot.setToolTip(
            "Solid: the measured std of each layer's weight matrix. Dashed: what the init formula gives (orange for one run).\n"
            "They agree at step 0 (this is how torch's conventions are checked); training moves the weights.\n"
            "Triangles at the bottom: std exactly 0 (a zeros or constant init), which a log axis cannot place."
        )
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.std_plot)
        split.addWidget(self.w_plot)
        split.setSizes([560, 340])
        split.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(split, 1)

    def _kind_changed(self) -> None:
        self.std_plot.kind = self.kind_box.currentData()
        self.redraw()

    def _log_toggled(self, on: bool) -> None:
        self.std_plot.set_log(on)
        self.redraw()

    def view_state(self) -> ViewState:
        return dataclasses.replace(super().view_state(), kind=self.std_plot.kind, log=self.std_plot.log)

    def set_view_state(self, state: ViewState) -> None:
        for box in (self.kind_box, self.log_box):
            box.blockSignals(True)
        self.kind_box.setCurrentIndex(max(0, self.kind_box.findData(state.kind)))
        self.log_box.setChecked(state.log)
        for box in (self.kind_box, self.log_box):
            box.blockSignals(False)
        self.std_plot.kind = self.kind_box.currentData()
        if self.std_plot.log != state.log:
            self.std_plot.set_log(state.log)
        super().set_view_state(state)

    def draw(self, frame: Frame) -> None:
        self.std_plot.draw(frame)
        kind = "activation" if self.std_plot.kind == "act" else "pre-activation"
        self.std_plot.plotItem.setTitle(
            f"{kind} std per layer at step {frame.main.record.step}: measured vs predicted at init", size="10pt"
        )
        depth = frame.main.record.depth
        layers = np.arange(1, depth + 1, dtype=np.float64)
        fit_dotted(self.w_measured, self.w_plot.plotItem, [lane.colour for lane in frame.lanes], log_y=True)
        stds = [np.asarray(lane.record.weight_std, dtype=np.float64) for lane in frame.lanes]
        for values, c in zip(stds, self.w_measured):
            c.set_line(layers, values)
        shown = list(stds)
        fit_predictions(self.w_theories, self.w_plot.plotItem, frame, log_y=True)  # the init formula's std
        for lane, c in zip(frame.lanes, self.w_theories):
            pw = lane.predicted_weight_std
            if pw is not None and len(pw) == depth:
                c.set_line(layers, pw)
                shown.append(np.asarray(pw, dtype=np.float64))
            else:
                c.set_line(np.zeros(0), np.zeros(0))
        lo, hi = half_decades(np.concatenate([np.ravel(v) for v in shown]))
        if any(bool(np.any(np.isfinite(v) & (v <= 0))) for v in stds):
            lo -= 0.5  # room for the exactly-0 markers
        y_range = (lo - 0.1, hi + 0.1)
        self.w_markers.set(layers, stds, [lane.colour for lane in frame.lanes], lo, hi)
        if (depth, y_range) != self._w_range:
            self._w_range = (depth, y_range)
            self.w_plot.plotItem.vb.setRange(xRange=(0.5, depth + 0.5), yRange=y_range, padding=0)

    @property
    def theory_curve(self) -> PathCurve:
        """Lane 1's predicted std (tests)."""
        return self.std_plot.theory_curve

    def measured_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(layers, std) plotted for lane 0 (tests)."""
        return self.std_plot.measured[0].xData, self.std_plot.measured[0].yData
