"""Overview: the four views that tell most stories at once (activations, gradients, depth, loss)."""

from __future__ import annotations

from typing import Optional

from PySide6 import QtWidgets

from initviz.ui.panels.activations import ActivationLanes
from initviz.ui.panels.base import Frame, Panel, quad_splitter
from initviz.ui.panels.depth_profile import StdProfilePlot
from initviz.ui.panels.gradients import GradNormPlot
from initviz.ui.panels.loss import LossView, loss_readout

OVERVIEW_HELP = (
    "<b>Overview</b>: top left, the activations of every layer (one row per layer, darker = more "
    "values); top right, each layer's weight-gradient norm (log scale); bottom left, each layer's "
    "activation std measured against the prediction at init; bottom right, loss and accuracy.<br>"
    "<b>Healthy</b>: rows of the heatmap alike, gradient norms within about a decade of each other, a "
    "flat std profile on its prediction, loss falling. The other tabs show each view in detail."
)


class OverviewPanel(Panel):
    """A 2 x 2 dashboard of compact views; each has its own tooltip."""

    title = "Overview"
    help_text = OVERVIEW_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        # one heatmap per lane, side by side; ``heatmap`` is the first lane's
        self.heatmaps = ActivationLanes("activations of every layer (after φ)")
        self.heatmap = self.heatmaps.heatmap
        self.grad_plot = GradNormPlot()
        self.std_plot = StdProfilePlot()
        self.std_plot.plotItem.setTitle("activation std per layer: measured vs predicted at init", size="10pt")
        self.loss_view = LossView(accuracy_height=0.6, legend=False)  # the heatmaps above name the lanes
        self.readout = QtWidgets.QLabel()
        split, top, _ = quad_splitter(self.heatmaps, self.grad_plot, self.std_plot, self.loss_view)
        # up to four heatmaps side by side share the top-left cell: it gets three fifths of the width
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.readout)
        layout.addWidget(split, 1)

    def draw(self, frame: Frame) -> None:
        # the heatmaps and the loss curves are the slow parts: while training, one per frame
        parts = self.in_turn(frame, ("heatmaps", "loss"))
        if "heatmaps" in parts:
            self.heatmaps.draw(frame, "act")
        self.grad_plot.draw(frame)
        self.std_plot.draw(frame)
        if "loss" in parts:
            self.loss_view.draw(frame)
        self.readout.setText(loss_readout(frame))
