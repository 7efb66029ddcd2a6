"""A layout report of a laid-out slide: every plot's data rectangle and every text's rectangle,
in slide pixels, for tests (and anyone checking a slide before showing it).

Read through public API only: widget geometry, ViewBox scene rectangles, an AxisItem's
``generateDrawSpecs`` (where it will draw each tick label), text items' bounding rectangles.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.ui.export.canvas import SlideCanvas
from initviz.ui.export.options import SlideOptions


@dataclass(frozen=True)
class Box:
    """A rectangle in slide pixels."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def inside(self, other: "Box", tol: float = 1.0) -> bool:
        return self.x >= other.x - tol and self.y >= other.y - tol and self.right <= other.right + tol and self.bottom <= other.bottom + tol

    def overlaps(self, other: "Box", tol: float = 1.0) -> bool:
        return min(self.right, other.right) - max(self.x, other.x) > tol and min(self.bottom, other.bottom) - max(self.y, other.y) > tol


@dataclass(frozen=True)
class TextBox:
    text: str
    box: Box  # where the text is drawn
    room: Box  # the area it must stay inside (its widget or plot view)
    needed_width: float = 0.0  # a label's text width (0: not a label)


@dataclass(frozen=True)
class PlotBox:
    panel: str
    name: str
    box: Box  # the data area
    small_multiple: bool
    x_range: tuple[float, float]
    x_label: str


@dataclass
class LayoutReport:
    size: tuple[int, int]
    plots: list[PlotBox] = field(default_factory=list)
    texts: list[TextBox] = field(default_factory=list)
    legends: list[Box] = field(default_factory=list)


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text or "")).strip()


def layout_report(canvas: SlideCanvas, options: SlideOptions) -> LayoutReport:
    """The report of ``canvas`` as laid out for ``options`` (call after ``prepare``)."""
    canvas.set_size(options)
    scale = (options.width / canvas.width(), options.height / canvas.height())  # slide px per canvas px
    return widget_report(canvas, canvas.panels, scale, (options.width, options.height))


def widget_report(root: QtWidgets.QWidget, panels: Sequence[QtWidgets.QWidget], scale: tuple[float, float] = (1.0, 1.0),
                  size: Optional[tuple[int, int]] = None) -> LayoutReport:  # fmt: skip
    """The report of ``panels`` as shown inside ``root`` (a slide canvas, or the window's central
    widget: the same checks on screen), in ``root``'s pixels times ``scale``."""
    s, t = scale
    report = LayoutReport(size or (round(root.width() * s), round(root.height() * t)))

    def box(r: QtCore.QRectF, origin: QtCore.QPoint) -> Box:
        return Box((r.x() + origin.x()) * s, (r.y() + origin.y()) * t, r.width() * s, r.height() * t)

    image = QtGui.QImage(8, 8, QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(image)
    try:
        for panel in panels:
            for view in panel.findChildren(pg.GraphicsView):
                if not view.isVisibleTo(root):
                    continue
                _report_view(report, root, panel, view, box, painter)
    finally:
        painter.end()
    labels = [label for w in ([root] if isinstance(root, SlideCanvas) else panels) for label in w.findChildren(QtWidgets.QLabel)]
    on_screen = not isinstance(root, SlideCanvas)
    for label in labels:
        if not label.isVisibleTo(root) or not label.text().strip():
            continue
        if on_screen and any(isinstance(p, QtWidgets.QScrollArea) for p in _ancestors(label, root)):
            continue  # on screen a scroll area shows the rest
        origin = label.mapTo(root, QtCore.QPoint(0, 0))
        here = box(QtCore.QRectF(label.contentsRect()), origin)
        plain = label.text() if label.textFormat() == QtCore.Qt.TextFormat.PlainText else _plain(label.text())
        if label.wordWrap():
            needed = 0.0
            if label.heightForWidth(label.width()) > label.height() + 1:
                needed = float("inf")  # wrapped text taller than the label: cut at the bottom
        else:
            doc = QtGui.QTextDocument()
            doc.setDefaultFont(label.font())
            doc.setDocumentMargin(0)
            if label.textFormat() == QtCore.Qt.TextFormat.PlainText:
                doc.setPlainText(label.text())
            else:
                doc.setHtml(label.text())
            needed = doc.idealWidth() * s
        report.texts.append(TextBox(plain, here, here, needed))
    return report


def _report_view(report: LayoutReport, canvas, panel, view, box, painter) -> None:
    origin = view.mapTo(canvas, QtCore.QPoint(0, 0))
    clip = QtCore.QRect(QtCore.QPoint(0, 0), view.size())
    parent = view.parentWidget()
    while parent is not None and parent is not canvas:  # a scroll area shows part of its content
        if isinstance(parent, QtWidgets.QAbstractScrollArea):
            vp = parent.viewport()
            clip = clip.intersected(QtCore.QRect(vp.mapTo(canvas, QtCore.QPoint(0, 0)) - origin, vp.size()))
        parent = parent.parentWidget()
    room = box(QtCore.QRectF(clip), origin)
    in_scroll = any(isinstance(p, QtWidgets.QScrollArea) for p in _ancestors(view, canvas))
    if in_scroll and not isinstance(canvas, SlideCanvas):
        return  # on screen a scroll area shows the rest of its rows: nothing is cut

    def to_view(item: QtWidgets.QGraphicsItem, r: QtCore.QRectF) -> QtCore.QRectF:
        return view.mapFromScene(item.mapRectToScene(r)).boundingRect().toRectF()

    for item in view.scene().items():
        if not item.isVisible():
            continue
        if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem):
            vb = item.getViewBox()
            bottom = item.getAxis("bottom")
            report.plots.append(PlotBox(
                getattr(panel, "title", ""), _plain(item.titleLabel.text) if item.titleLabel.isVisible() else "",
                box(to_view(vb, vb.boundingRect()), origin), in_scroll, tuple(vb.viewRange()[0]),
                _plain(bottom.labelText) if bottom.isVisible() else "",
            ))  # fmt: skip
        elif isinstance(item, pg.AxisItem):
            if item.style.get("showValues", True) and item.geometry().width() > 0:
                specs = item.generateDrawSpecs(painter)
                if specs is not None:
                    for rect, _flags, text in specs[2]:
                        report.texts.append(TextBox(text, box(to_view(item, rect), origin), room))
            if item.label.isVisible() and _plain(item.labelText):
                report.texts.append(TextBox(_plain(item.labelText), box(to_view(item.label, _ink(item.label)), origin), room))
        elif isinstance(item, pg.LegendItem):
            if item.isVisible() and item.items:
                report.legends.append(box(to_view(item, item.boundingRect()), origin))
        elif isinstance(item, QtWidgets.QGraphicsTextItem) and not isinstance(item.parentItem(), pg.AxisItem):
            text = item.toPlainText().strip()
            if text and item.isVisible():
                report.texts.append(TextBox(text, box(to_view(item, _ink(item)), origin), room))


def _ink(item: QtWidgets.QGraphicsTextItem) -> QtCore.QRectF:
    """A text item's text, without the document's margin around it."""
    m = item.document().documentMargin()
    return item.boundingRect().adjusted(m, m, -m, -m)


def _ancestors(w: QtWidgets.QWidget, stop: QtWidgets.QWidget) -> list:
    out, p = [], w.parentWidget()
    while p is not None and p is not stop:
        out.append(p)
        p = p.parentWidget()
    return out


def problems(report: LayoutReport, last_step: Optional[int] = None, min_plot_share: float = 0.12, max_plots: int = 4,
             one_figure: bool = False) -> list[str]:  # fmt: skip
    """What a lecturer would not show, one line each (empty: fit to show). ``one_figure``: the
    plots count as one slide's (the dashboard), not per panel, for the plot-height rule."""
    w, h = report.size
    slide = Box(0, 0, w, h)
    out = []
    for tb in report.texts:
        if not tb.box.inside(slide):
            out.append(f"text {tb.text!r} runs off the slide at {tb.box}")
        elif tb.needed_width > tb.room.w + 1.5:
            out.append(f"text {tb.text[:60]!r} is cut: needs {tb.needed_width:.0f} px, has {tb.room.w:.0f}")
        elif not tb.box.inside(tb.room, tol=max(2.0, 0.2 * tb.box.h)):
            out.append(f"text {tb.text[:60]!r} is clipped by its plot at {tb.box}")
    shown = [tb for tb in report.texts if tb.box.w > 0 and tb.box.h > 0]
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            # a text's box holds its line height; glyphs fill about the middle 60%
            if a.box.overlaps(b.box, tol=max(1.5, 0.3 * min(a.box.h, b.box.h))) and not (a.box.inside(b.box) or b.box.inside(a.box)):
                out.append(f"texts {a.text[:40]!r} and {b.text[:40]!r} overlap")
    by_panel: dict[str, list[PlotBox]] = {}
    for p in report.plots:
        if not p.small_multiple:
            by_panel.setdefault("slide" if one_figure else p.panel, []).append(p)
    for panel, plots in by_panel.items():
        if len(plots) <= max_plots:
            for p in plots:
                if p.box.h < min_plot_share * h:
                    out.append(f"{panel}: plot {p.name or p.x_label!r} has a data area {p.box.h:.0f} px high (< {min_plot_share:.0%} of {h})")
    if last_step is not None:
        for p in report.plots:
            if p.x_label == "step":
                span = max(last_step, 1)
                if p.x_range[1] > last_step + 0.05 * span + 1:
                    out.append(f"{p.panel}: the step axis of {p.name!r} runs to {p.x_range[1]:.0f}, the run ends at {last_step}")
    for lg in report.legends:
        if not lg.inside(slide):
            out.append(f"a legend lies outside the slide at {lg}")
    return out
