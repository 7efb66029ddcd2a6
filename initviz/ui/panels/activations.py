"""Activations: the all-layers heatmap and one histogram per hidden layer."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.probes import BOUNDED, SIGMOID_SATURATION, TANH_SATURATION
from initviz.engine.record import HistSpec, StepRecord

from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, ViewState, fmt, pct
from initviz.ui.panels.layers import (
    BandedImage,
    LaneHeatmaps,
    banded_image,
    LayerHeatmap,
    ROW_PLOT_HEIGHT,
    LayerHistogramGrid,
    off_scale_share,
    value_ticks,
)
from initviz.ui.text import elide


ACTIVATIONS_HELP = (
    "<b>Activations</b>: the distribution of every hidden layer's outputs on the current batch.<br>"
    "Top: all layers at once, one row per layer (layer 1 at the top); darker = more of that layer's "
    "values in that bin (each row scaled to its own peak, square-root colour scale). The bands marked <i>below</i>/<i>above</i> hold values "
    "beyond the plotted range.<br>"
    "Below: one histogram per layer with its mean, std, saturation and dead-unit share.<br>"
    "<b>Healthy</b>: every row similarly spread, no pile-up at ±1 (saturated tanh/sigmoid), "
    "no single spike (collapsed layer: all units output the same value), no mass off-scale (explosion)."
)


class ActivationHeatmap(LayerHeatmap):
    """All layers' activation histograms as one image: rows = layers, columns = value bins."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "All layers at a glance. One row per hidden layer, darker = more of the layer's values.\n"
            "Saturation: dark at both edges (±1 for tanh). Collapse: one thin dark column near 0.\n"
            "Explosion: dark in the 'below'/'above' bands; red rows hold Inf/NaN values.\n"
            "Healthy: a similar smooth spread in every row."
        )
        self._ticks_for: Optional[tuple] = None
        self._edges: list[pg.InfiniteLine] = []
        for _ in range(2):  # the limits of the plotted range; beyond them: the off-scale bands
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999999", width=1, style=QtCore.Qt.PenStyle.DotLine))
            self.plotItem.addItem(line, ignoreBounds=True)
            self._edges.append(line)

    @property
    def nonfinite_rows(self) -> Optional[pg.ImageItem]:
        """The red veil over layers holding Inf/NaN (None until one did)."""
        return self._marks

    def draw_record(self, rec: StepRecord, kind: str, activation: str = "") -> None:
        """Draw ``rec``'s histograms (``kind`` "act" or "pre"); ``activation`` names the lane's φ
        (tanh/sigmoid: the bands hold the saturated values at the bounds)."""
        self._last = (rec, kind, activation)
        spec = rec.act_spec if kind == "act" else rec.pre_spec
        hist, under, over = getattr(rec, f"{kind}_hist"), getattr(rec, f"{kind}_under"), getattr(rec, f"{kind}_over")
        bounded = kind == "act" and activation in BOUNDED
        px = float(self.plotItem.vb.width())
        self._drawn_px = px
        banded = banded_image(hist, under, over, spec, px, edge_bins=saturation_bins(activation, spec) if bounded else 0)
        self.banded = banded
        self.set_image(banded.image, banded.x0, banded.x1, (0.0, 1.0))
        # rows with Inf/NaN values get a red veil: their histogram alone may be empty (NaN is in no bin)
        bad = (np.asarray(rec.nonfinite) > 0)[:, None]
        self.set_marks(np.zeros_like(bad), bad, banded.x0, banded.x1)
        tick_key = (spec, kind, bounded, round(px), banded.x0)
        if tick_key != self._ticks_for:
            self._ticks_for = tick_key
            self.plotItem.getAxis("bottom").setTicks([band_ticks(spec, banded, px, bounded)])
            self.plotItem.setLabel("bottom", "φ(z)" if kind == "act" else "z (pre-activation)")
            self._edges[0].setValue(banded.frame[0])
            self._edges[1].setValue(banded.frame[1])

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Lay the image out again for the new width (bands and spikes are sized in pixels)."""
        super().resizeEvent(ev)
        last = getattr(self, "_last", None)
        if last is not None and abs(self.plotItem.vb.width() - getattr(self, "_drawn_px", 0.0)) > 2:
            QtCore.QTimer.singleShot(0, self, self._redraw_last)

    def _redraw_last(self) -> None:
        last = getattr(self, "_last", None)
        if last is not None and abs(self.plotItem.vb.width() - getattr(self, "_drawn_px", 0.0)) > 2:
            self.draw_record(*last)


def saturation_bins(activation: str, spec: HistSpec) -> int:
    """How many outermost bins of a bounded activation's histogram hold saturated values
    (tanh |t| > 0.97, sigmoid within 1.5% of 0 or 1: the engine's thresholds are bin edges)."""
    threshold = TANH_SATURATION if activation == "tanh" else 0.5 + SIGMOID_SATURATION
    share = (1.0 - threshold) / 2.0 if activation == "tanh" else 1.0 - threshold  # of the range, per side
    return max(1, int(round(share * spec.bins)))


def band_ticks(spec: HistSpec, banded: BandedImage, px: float, bounded: bool) -> list[tuple[float, str]]:
    """The range's ends at the frame lines, and values inside it when there is room (none
    within a sixth of the ends, so labels never overlap). Beyond the frames: the bands."""
    span = spec.hi - spec.lo
    inner = [(v, t) for v, t in value_ticks(spec, pixels=max(px, 60) * 0.5, bands=False)
             if spec.lo + span / 6 < v < spec.hi - span / 6]
    if px < 150:  # a narrow lane: the middle value only
        mid = spec.lo + span / 2
        inner = [min(inner, key=lambda vt: abs(vt[0] - mid))] if inner else []
    ends = [(banded.frame[0], f"{spec.lo:g}"), (banded.frame[1], f"{spec.hi:g}")]
    return [(v, t.replace("-", "−")) for v, t in ends + inner]


class ActivationLanes(LaneHeatmaps):
    """One ActivationHeatmap per lane, side by side."""

    def __init__(self, title: str = "", parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(title, make=ActivationHeatmap, parent=parent)

    def draw(self, frame: Frame, kind: str) -> None:
        for h, lane in zip(self.for_lanes(frame), frame.lanes):
            h.draw_record(lane.record, kind, lane.config.activation)


class ActivationsPanel(Panel):
    """Post- (or pre-) activation histograms of every hidden layer."""

    title = "Activations"
    help_text = ACTIVATIONS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.kind = "act"  # "act" (post-activation) or "pre"
        header = QtWidgets.QHBoxLayout()
        self.kind_box = QtWidgets.QComboBox()
        self.kind_box.addItem("after the activation φ(z)", "act")
        self.kind_box.addItem("before the activation z = Wx + b", "pre")
        self.kind_box.setToolTip("Show each layer's outputs (after the nonlinearity) or its pre-activations.")
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.summary = QtWidgets.QLabel()
        self.summary.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        header.addWidget(QtWidgets.QLabel("Values:"))
        header.addWidget(self.kind_box)
        header.addSpacing(12)
        header.addWidget(self.summary, 1)

        self.heatmaps = ActivationLanes()  # one per lane, side by side; ``heatmap`` is the first lane's
        self.heatmap = self.heatmaps.heatmap
        self.heatmaps.setMinimumHeight(150)
        self.grid = LayerHistogramGrid()
        self.grid.setToolTip(
            "One histogram per hidden layer (counts over batch x units), all on the same x-range.\n"
            "sat = share of |tanh| > 0.97 (or sigmoid within 1.5% of 0/1); dead = units off for the whole batch."
        )
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.heatmaps)
        split.addWidget(self.grid)
        split.setChildrenCollapsible(False)
        split.setSizes([380, 520])
        self.grid.setMinimumHeight(2 * (ROW_PLOT_HEIGHT + 24))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(split, 1)

    def set_kind(self, kind: str) -> None:
        """Show "act" (post-activation) or "pre" (pre-activation) values."""
        self.kind_box.setCurrentIndex(0 if kind == "act" else 1)

    def _kind_changed(self) -> None:
        self.kind = self.kind_box.currentData()
        self.redraw()

    def view_state(self) -> ViewState:
        return dataclasses.replace(super().view_state(), kind=self.kind)

    def set_view_state(self, state: ViewState) -> None:
        self.kind_box.blockSignals(True)
        self.set_kind(state.kind)
        self.kind_box.blockSignals(False)
        self.kind = self.kind_box.currentData()
        super().set_view_state(state)

    def draw(self, frame: Frame) -> None:
        rec = frame.main.record
        k = self.kind
        pre_text = "before the activation z = BN(Wx + b)" if frame.main.config.batchnorm else "before the activation z = Wx + b"
        if self.kind_box.itemText(1) != pre_text:
            self.kind_box.setItemText(1, pre_text)
        spec = rec.act_spec if k == "act" else rec.pre_spec
        hist, under, over = getattr(rec, f"{k}_hist"), getattr(rec, f"{k}_under"), getattr(rec, f"{k}_over")
        self.heatmaps.draw(frame, k)
        means = rec.act_mean if k == "act" else rec.pre_mean
        stds = rec.act_std if k == "act" else rec.pre_std
        off = off_scale_share(hist, under, over)
        captions, styles = [], []
        for i in range(rec.depth):
            text = f"{frame.main.layer_caption(i)}   mean {fmt(means[i], 2)}   std {fmt(stds[i], 2)}"
            text += f"   sat {pct(rec.saturation[i])}   dead {pct(rec.dead[i])}"
            if off[i] > 0.005:
                text += f"   off-scale {pct(off[i])}"
            bad = rec.nonfinite[i] > 0
            if bad:
                text += f"   Inf/NaN ×{int(rec.nonfinite[i])}"
            warn = rec.saturation[i] > 0.5 or rec.dead[i] > 0.5 or off[i] > 0.5
            captions.append(text)
            styles.append(f"color:{theme.BAD_COLOUR}; font-weight:bold;" if bad else f"color:{theme.WARN_COLOUR};" if warn else "")
        hists = [getattr(lane.record, f"{k}_hist") for lane in frame.lanes]
        if len(frame.lanes) > 1:  # the caption compares the lanes: std and saturation of each
            captions = [
                f"{frame.main.layer_caption(i)}   "
                + "   ".join(
                    f"{elide(lane.name)}: std {fmt((lane.record.act_std if k == 'act' else lane.record.pre_std)[i], 2)}"
                    f" sat {pct(lane.record.saturation[i])} dead {pct(lane.record.dead[i])}"
                    for lane in frame.lanes
                )
                for i in range(rec.depth)
            ]
        specs = [lane.record.act_spec if k == "act" else lane.record.pre_spec for lane in frame.lanes]
        self.grid.set_data(
            spec, hists, [lane.colour for lane in frame.lanes], captions, styles,
            lane_names=[lane.name for lane in frame.lanes], lane_specs=specs,
        )
        n_sat = int(np.sum(rec.saturation > 0.5))
        n_dead = int(np.sum(rec.dead > 0.5))
        if len(frame.lanes) > 1:
            self.summary.setText(
                f"step {rec.step}, {rec.depth} layers, mostly saturated / dead: "
                + "   ".join(
                    f"{elide(lane.name)} {int(np.sum(lane.record.saturation > 0.5))}/{int(np.sum(lane.record.dead > 0.5))}"
                    for lane in frame.lanes
                )
            )
        else:
            self.summary.setText(
                f"step {rec.step}: {rec.depth} layers; {n_sat} mostly saturated, {n_dead} mostly dead"
            )
