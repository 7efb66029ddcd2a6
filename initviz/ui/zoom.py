"""Projector mode: one zoom factor for every font, line and marker of the window (View > Zoom).

Qt scales a whole process only at start (QT_SCALE_FACTOR), so the zoom is applied by walking the
window: the application font (every widget without a font of its own), widgets with their own font,
and in every plot the tick fonts, titles, axis sizes, pen widths and marker sizes. Each keeps its
size at zoom 1 (its *base*), so zooming in and out never compounds. Items made later (a new lane's
curves) are scaled on the next walk: at each zoom change, tab change and about once a second while
frames are drawn at a zoom other than 1.
"""

from __future__ import annotations

import re
import time
from typing import Any, Optional

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

FACTORS = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0)
_BASE_PT = "_initviz_base_pt"  # QObject property: a widget's own font size at zoom 1
_SIZE = re.compile(r"^\s*([0-9.]+)\s*pt\s*$")


def _scaled_pen(pen: QtGui.QPen, base: float, factor: float) -> QtGui.QPen:
    pen = QtGui.QPen(pen)
    pen.setWidthF(base * factor)
    return pen


def _pen_base(obj: Any, pen: QtGui.QPen) -> float:
    base = getattr(obj, "_zoom_pen", None)
    if base is None or getattr(obj, "_zoom_pen_seen", None) != pen.widthF():
        # first time seen, or the panel set a new pen since: its width is the zoom-1 width
        base = pen.widthF() / getattr(obj, "_zoom_factor", 1.0) if base is not None else (pen.widthF() or 1.0)
        obj._zoom_pen = base
    return base


def _parents_first(root: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    """Every widget under ``root``, each after its parent (a child's font follows its parent's)."""
    out = [root]
    i = 0
    while i < len(out):
        out.extend(c for c in out[i].children() if isinstance(c, QtWidgets.QWidget))
        i += 1
    return out


class Zoom(QtCore.QObject):
    """The zoom factor of one window, and the walk that applies it."""

    changed = QtCore.Signal(float)

    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.factor = 1.0
        app = QtWidgets.QApplication.instance()
        self._app_pt = app.font().pointSizeF() if app is not None else 9.0
        self._last_walk = 0.0

    # --- the factor ------------------------------------------------------------------------
    def set_factor(self, factor: float) -> None:
        """Zoom to ``factor`` (clamped to FACTORS' range) and apply it now."""
        factor = float(min(max(factor, FACTORS[0]), FACTORS[-1]))
        if abs(factor - self.factor) < 1e-6:
            return
        self.factor = factor
        app = QtWidgets.QApplication.instance()
        if app is not None:
            font = app.font()
            font.setPointSizeF(self._app_pt * factor)
            app.setFont(font)
        self.apply()
        self.changed.emit(factor)

    def zoom_in(self) -> None:
        self.set_factor(next((f for f in FACTORS if f > self.factor + 1e-6), FACTORS[-1]))

    def zoom_out(self) -> None:
        self.set_factor(next((f for f in reversed(FACTORS) if f < self.factor - 1e-6), FACTORS[0]))

    def reset(self) -> None:
        self.set_factor(1.0)

    def frame_drawn(self) -> None:
        """After a frame: scale items made since the last walk (at most once a second)."""
        now = time.perf_counter()
        if self.factor != 1.0 and now - self._last_walk > 1.0:
            self.apply(visible_only=True)

    # --- the walk --------------------------------------------------------------------------
    def apply(self, root: Optional[QtWidgets.QWidget] = None, visible_only: bool = False) -> None:
        """Scale every widget font and plot item under ``root`` (default: the window)."""
        self._last_walk = time.perf_counter()
        root = root or self.window
        f = self.factor
        expected: dict[int, float] = {}  # widget -> the point size it should have now
        for w in _parents_first(root):
            parent = w.parentWidget()
            inherited = expected.get(id(parent), self._app_pt * f) if parent is not None else self._app_pt * f
            if isinstance(w, pg.GraphicsView) and not (visible_only and not w.isVisible()):
                self._scale_scene(w, f)
            if w.testAttribute(QtCore.Qt.WidgetAttribute.WA_SetFont):
                base = w.property(_BASE_PT)
                if base is None:  # first seen: made at zoom 1 sizes (every panel sets its fonts once)
                    base = w.font().pointSizeF()
                    if base <= 0:
                        continue
                    w.setProperty(_BASE_PT, base)
                want = float(base) * f
            else:
                # a style sheet (the banner's, the lesson's) stops font propagation, and propagation
                # may not have arrived yet: give the widget its parent's size explicitly
                want = inherited
                w.setProperty(_BASE_PT, want / f)
            expected[id(w)] = want
            if abs(w.font().pointSizeF() - want) > 0.01:
                font = w.font()
                font.setPointSizeF(want)
                w.setFont(font)

    def _scale_scene(self, view: pg.GraphicsView, f: float) -> None:
        scene = view.scene()
        if scene is None:
            return
        for item in scene.items():
            if getattr(item, "_zoom_factor", None) == f and not isinstance(item, (pg.LabelItem, pg.PlotDataItem)):
                continue
            if isinstance(item, pg.AxisItem):
                self._scale_axis(item, f)
            elif isinstance(item, pg.LabelItem):
                size = item.opts.get("size")
                base = getattr(item, "_zoom_size", None)
                match = _SIZE.match(str(size)) if size else None
                if match and (base is None or abs(float(match.group(1)) - base * getattr(item, "_zoom_factor", 1.0)) > 0.01):
                    base = float(match.group(1))  # the panel set a new text (and size) since
                    item._zoom_size = base
                if base is None:
                    base = 9.0
                    item._zoom_size = base
                want = f"{base * f:.3g}pt"
                if item.opts.get("size") != want:
                    item.setText(item.text, size=want)
            elif isinstance(item, pg.InfiniteLine):
                item.setPen(_scaled_pen(item.pen, _pen_base(item, item.pen), f))
                item._zoom_pen_seen = item.pen.widthF()
            elif isinstance(item, pg.ScatterPlotItem):
                base = getattr(item, "_zoom_marker", None) or float(item.opts.get("size", 7))
                item._zoom_marker = base
                item.setSize(base * f)
                pen = item.opts.get("pen")
                if isinstance(pen, QtGui.QPen):
                    item.setPen(_scaled_pen(pen, _pen_base(item, pen), f))
                    item._zoom_pen_seen = item.opts["pen"].widthF()
            elif isinstance(item, pg.PlotDataItem):
                pen = pg.mkPen(item.opts.get("pen")) if item.opts.get("pen") is not None else None
                if pen is not None and pen.style() != QtCore.Qt.PenStyle.NoPen:
                    item.setPen(_scaled_pen(pen, _pen_base(item, pen), f))
                    item._zoom_pen_seen = pg.mkPen(item.opts["pen"]).widthF()
                if item.opts.get("symbol") is not None:
                    base = getattr(item, "_zoom_marker", None) or float(item.opts.get("symbolSize", 7))
                    item._zoom_marker = base
                    item.setSymbolSize(base * f)
            elif isinstance(item, QtWidgets.QGraphicsPathItem) and not isinstance(item, pg.GraphicsObject):
                pen = item.pen()
                item.setPen(_scaled_pen(pen, _pen_base(item, pen), f))
                item._zoom_pen_seen = item.pen().widthF()
            else:
                continue
            item._zoom_factor = f

    def _scale_axis(self, axis: pg.AxisItem, f: float) -> None:
        tick_font = axis.style.get("tickFont")
        if tick_font is not None:
            base = getattr(axis, "_zoom_tick_pt", None) or tick_font.pointSizeF()
            axis._zoom_tick_pt = base
            font = QtGui.QFont(tick_font)
            font.setPointSizeF(base * f)
            axis.setStyle(tickFont=font)
        for attr, setter in (("fixedHeight", axis.setHeight), ("fixedWidth", axis.setWidth)):
            fixed = getattr(axis, attr, None)
            if fixed is not None:
                base = getattr(axis, f"_zoom_{attr}", None) or float(fixed)
                setattr(axis, f"_zoom_{attr}", base)
                setter(int(round(base * f)))
        label_font = axis.label.font()
        base = getattr(axis, "_zoom_label_pt", None)
        if base is None:
            # first seen: a label made after a zoom took the zoomed application font then
            app_now = QtWidgets.QApplication.font().pointSizeF()
            base = self._app_pt if abs(label_font.pointSizeF() - app_now) < 0.01 else label_font.pointSizeF()
        axis._zoom_label_pt = base
        label_font.setPointSizeF(base * f)
        axis.label.setFont(label_font)
        axis.picture = None  # re-measure the tick texts
        axis.update()
