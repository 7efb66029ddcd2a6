"""The value under the cursor: hovering a plot shows its axes' values at the mouse, in their units.

One small text beside the cursor per plot ("layer 7 · std 0.012", "step 340 · loss 0.61"), log
axes read as values (10^y), hidden when the mouse leaves the data area. Added to every plot of a
window by ``install_hover`` (again after tabs make new plots: it skips plots it already has).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import pyqtgraph as pg
from PySide6 import QtWidgets

from initviz.ui.panels.base import fmt


def _axis_name(plot: pg.PlotItem, side: str, default: str) -> str:
    axis = plot.getAxis(side)
    text = getattr(axis, "labelText", "") or ""
    return text if axis.isVisible() and text else default


def _value(plot: pg.PlotItem, side: str, v: float) -> float:
    return 10.0 ** v if plot.getAxis(side).logMode else v


class HoverReadout:
    """The readout of one PlotItem (kept alive by the plot: ``plot._hover``)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.text = pg.TextItem("", color="#222222", fill=pg.mkBrush(255, 255, 255, 220), anchor=(0, 1))
        self.text.setZValue(100)
        self.text.hide()
        plot.vb.addItem(self.text, ignoreBounds=True)
        plot.scene().sigMouseMoved.connect(self.moved)

    def readout(self, x: float, y: float) -> str:
        """'layer 7 · std 0.012' for view coordinates (x, y)."""
        xs = _axis_name(self.plot, "bottom", "x")
        ys = _axis_name(self.plot, "left", "y")
        xv, yv = _value(self.plot, "bottom", x), _value(self.plot, "left", y)
        if xs in ("layer", "step", "unit"):
            x_text = f"{xs} {max(round(xv), 0)}" if xs != "layer" else f"layer {round(xv)}"
        else:
            x_text = f"{xs} {fmt(xv)}"
        if ys == "layer":
            y_text = f"layer {round(yv)}"
        else:
            y_text = f"{ys} {fmt(yv)}"
        return f"{x_text} · {y_text}"

    def moved(self, pos: Any) -> None:
        vb = self.plot.vb
        if not vb.sceneBoundingRect().contains(pos) or not self.plot.isVisible():
            self.text.hide()
            return
        p = vb.mapSceneToView(pos)
        x, y = float(p.x()), float(p.y())
        if not (math.isfinite(x) and math.isfinite(y)):
            self.text.hide()
            return
        self.text.setText(self.readout(x, y))
        self.text.setPos(x, y)
        self.text.show()


def install_hover(root: QtWidgets.QWidget) -> int:
    """A readout on every PlotItem under ``root`` that has none yet; returns how many were added."""
    added = 0
    for view in root.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.PlotItem) and getattr(item, "_hover", None) is None:
                item._hover = HoverReadout(item)
                added += 1
    return added


def readout_of(plot: pg.PlotItem) -> Optional[HoverReadout]:
    """The plot's readout (tests)."""
    return getattr(plot, "_hover", None)


__all__ = ["HoverReadout", "install_hover", "readout_of"]
