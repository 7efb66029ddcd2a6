"""Axes that stay readable: log axes label decades only, linear axes never overlap their labels.

pyqtgraph labels every minor tick of a log axis ("1 0.9 0.8 0.7 …") and spaces linear ticks by
the axis length alone, so a narrow step axis reads "200400600800". ``ReadableAxis`` fixes both;
``readable(plot)`` puts it on a PlotItem's left and bottom sides.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

MIN_DECADE_PX = 40.0  # below this many pixels per decade a log axis draws no minor ticks within decades

def cache_painting(axis: pg.AxisItem) -> pg.AxisItem:
    """Let Qt keep ``axis`` as a pixmap and blit it in C++: its Python ``paint`` (and tick
    layout) runs only after the axis itself changed (range, ticks, style: pyqtgraph calls
    ``update()`` then), not each time a curve inside the plot repaints the region around it.
    Every Python paint call holds the GIL the training thread needs. On screen only (see
    ``on_screen``): an export would otherwise get the cached pixmap instead of vector shapes."""
    axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return axis


def on_screen(widget: Optional[QtWidgets.QWidget]) -> bool:
    """Whether ``widget`` paints to the screen (not into an export's hidden canvas)."""
    return widget is not None and not widget.window().testAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)


class ReadableAxis(pg.AxisItem):
    """An AxisItem whose labels never overlap; on a log axis only whole decades are labelled.
    On screen it is painted from a pixmap cache between changes (``cache_painting``)."""

    _cache_checked = False

    def paint(self, p: QtGui.QPainter, opt: Any, widget: Optional[QtWidgets.QWidget]) -> None:  # noqa: D102
        if not self._cache_checked:
            self._cache_checked = True
            if on_screen(widget):
                cache_painting(self)
        super().paint(p, opt, widget)

    def _label_px(self, values: Sequence[float]) -> float:
        """About how many pixels one label takes along the axis."""
        font = self.style.get("tickFont") or self.font()
        metrics = QtGui.QFontMetricsF(font)
        if self.orientation in ("left", "right"):
            return metrics.height() + 4
        texts = self.tickStrings(list(values), 1.0, abs(values[1] - values[0]) if len(values) > 1 else 1.0)
        return max((metrics.horizontalAdvance(t) for t in texts), default=0.0) + 12

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> Any:  # noqa: N802, N803 - pyqtgraph's names
        levels = super().tickSpacing(minVal, maxVal, size)
        if not levels or self.logMode or size <= 0:
            return levels
        major, offset = levels[0]
        dif = abs(maxVal - minVal)
        for factor in (1, 2, 2.5, 5, 10, 20, 25, 50, 100):
            spacing = major * factor
            count = max(dif / spacing, 1.0)
            first = math.ceil(min(minVal, maxVal) / spacing) * spacing
            sample = [first + k * spacing for k in range(int(count) + 1)]
            if size / count >= self._label_px(sample):
                break
        return [(spacing, 0)] + [lv for lv in levels[1:] if lv[0] < spacing][:1]

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: Any) -> Any:  # noqa: N802, N803
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)
        decades = [float(v) for v in range(math.ceil(lo), math.floor(hi) + 1)]
        if size > 0 and decades:
            room = max(1, int(size // max(self._label_px([0.0, 1.0]), 1.0)))
            step = next((s for s in (1, 2, 3, 5, 10, 20) if len(decades) / s <= room), 50)
            labelled = [d for d in decades if int(d) % step == 0] or decades[:1]
        else:
            labelled = decades
        minor = [v + math.log10(m) for v in range(math.floor(lo), math.ceil(hi)) for m in range(1, 10)]
        minor = [x for x in minor if lo < x < hi and x not in labelled]
        if labelled and size > 0 and size / max(hi - lo, 1e-12) < MIN_DECADE_PX:
            # decades too tight for 8 minor ticks each (they merge into a solid ladder): the
            # unlabelled whole decades are the only minor ticks
            minor = [d for d in decades if d not in labelled]
        self._no_decade = not labelled
        if not labelled:  # less than a decade in view: label 2 and 5 (still no overlap)
            keep = [x for x in minor if round(10 ** (x - math.floor(x))) in (2, 5)]
            return [(None, keep), (None, [x for x in minor if x not in keep])]
        return [(None, labelled), (None, minor)]

    def logTickStrings(self, values: list, scale: float, spacing: float) -> list:  # noqa: N802
        out = []
        for v in values:
            whole = abs(v - round(v)) < 1e-9
            if whole or (getattr(self, "_no_decade", False) and round(10 ** (v - math.floor(v))) in (2, 5)):
                out.append(super().logTickStrings([v], scale, spacing)[0])
            else:
                out.append("")
        return out


def readable(plot: pg.PlotItem, sides: Sequence[str] = ("left", "bottom")) -> pg.PlotItem:
    """``plot`` with ReadableAxis on ``sides`` (call before setting labels or log mode), and a
    title that never makes the plot wider than its view (see ``title_never_widens``)."""
    plot.setAxisItems({side: ReadableAxis(side) for side in sides})
    title_never_widens(plot.titleLabel)
    return plot


def title_never_widens(label: pg.LabelItem) -> None:
    """A LabelItem asks for its text's width as its minimum; in a plot that minimum would push the
    plot beyond a narrow view (the whole plot cut at the right). Ask for the text's height only."""
    original = label.updateMin

    def update_min() -> None:
        original()
        label.setMinimumWidth(0)

    label.updateMin = update_min
    label.setMinimumWidth(0)


def axis_items(sides: Sequence[str] = ("left", "bottom")) -> dict:
    """``axisItems`` for a PlotWidget/addPlot: ReadableAxis on ``sides``."""
    return {side: ReadableAxis(side) for side in sides}


__all__ = ["ReadableAxis", "cache_painting", "on_screen", "readable", "axis_items"]
