"""Activations: the all-layers heatmap and one histogram per hidden layer."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6 import QtCore, QtWidgets

from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, fmt, pct
from initviz.ui.panels.layers import (
    LayerHeatmap,
    ROW_PLOT_HEIGHT,
    LayerHistogramGrid,
    histogram_image,
    off_scale_share,
    value_ticks,
)

ACTIVATIONS_HELP = (
    "<b>Activations</b>: the distribution of every hidden layer's outputs on the current batch.<br>"
    "Top: all layers at once, one row per layer (layer 1 at the top); darker = more of that layer's "
    "values in that bin (square-root colour scale). The bands marked <i>below</i>/<i>above</i> hold values "
    "beyond the plotted range.<br>"
    "Below: one histogram per layer with its mean, std, saturation and dead-unit share.<br>"
    "<b>Healthy</b>: every row similarly spread, no pile-up at ±1 (saturated tanh/sigmoid), "
    "no single spike (collapsed layer: all units output the same value), no mass off-scale (explosion)."
)


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

        self.heatmap = LayerHeatmap()
        self.heatmap.setToolTip(
            "All layers at a glance. One row per hidden layer, darker = more of the layer's values.\n"
            "Saturation: dark at both edges (±1 for tanh). Collapse: one thin dark column near 0.\n"
            "Explosion: dark in the 'below'/'above' bands. Healthy: a similar smooth spread in every row."
        )
        self.heatmap.setMinimumHeight(150)
        self.grid = LayerHistogramGrid()
        self.grid.setToolTip(
            "One histogram per hidden layer (counts over batch x units), all on the same x-range.\n"
            "sat = share of |tanh| > 0.97 (or sigmoid within 1.5% of 0/1); dead = units off for the whole batch."
        )
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.heatmap)
        split.addWidget(self.grid)
        split.setChildrenCollapsible(False)
        split.setSizes([380, 520])
        self.grid.setMinimumHeight(2 * (ROW_PLOT_HEIGHT + 24))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(split, 1)
        self._ticks_for: Optional[tuple] = None

    def set_kind(self, kind: str) -> None:
        """Show "act" (post-activation) or "pre" (pre-activation) values."""
        self.kind_box.setCurrentIndex(0 if kind == "act" else 1)

    def _kind_changed(self) -> None:
        self.kind = self.kind_box.currentData()
        self.redraw()

    def draw(self, frame: Frame) -> None:
        rec = frame.main.record
        k = self.kind
        spec = rec.act_spec if k == "act" else rec.pre_spec
        hist, under, over = getattr(rec, f"{k}_hist"), getattr(rec, f"{k}_under"), getattr(rec, f"{k}_over")
        image, x0, x1 = histogram_image(hist, under, over, spec)
        self.heatmap.set_image(image, x0, x1, (0.0, 1.0))
        tick_key = (spec, k)
        if tick_key != self._ticks_for:
            self._ticks_for = tick_key
            self.heatmap.plotItem.getAxis("bottom").setTicks([value_ticks(spec)])
            self.heatmap.plotItem.setLabel("bottom", "φ(z)" if k == "act" else "z (pre-activation)")
        means = rec.act_mean if k == "act" else rec.pre_mean
        stds = rec.act_std if k == "act" else rec.pre_std
        off = off_scale_share(hist, under, over)
        captions, styles = [], []
        for i in range(rec.depth):
            text = f"layer {i + 1}   mean {fmt(means[i], 2)}   std {fmt(stds[i], 2)}"
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
        self.grid.set_data(spec, hists, [lane.colour for lane in frame.lanes], captions, styles)
        n_sat = int(np.sum(rec.saturation > 0.5))
        n_dead = int(np.sum(rec.dead > 0.5))
        self.summary.setText(
            f"step {rec.step}: {rec.depth} layers; {n_sat} mostly saturated, {n_dead} mostly dead"
        )
