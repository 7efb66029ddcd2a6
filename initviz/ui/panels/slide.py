"""How a panel lays itself out for a target: the screen, or a slide (white, no controls, no scrolling).

A panel owns one :class:`SlideFit` (``Panel.slide_fit``); export asks the panel to lay itself out
(``Panel.lay_out``) and then only renders it. Everything here works through public Qt and
pyqtgraph API; what the panel had before a slide changed it (splitter sizes, minimum heights,
pen widths) is remembered in the SlideFit, never stored on pyqtgraph's objects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

SLIDE_BACKGROUND = "#ffffff"
SLIDE_INK = "#111111"
MIN_SHRUNK_PLOT = 24  # px: small multiples shrink down to this before rows are cut off
# Sparser tick labels than on screen (pyqtgraph's default lets text fill 80% of an axis): on a
# slide, a log axis otherwise labels every minor tick (0.2 0.3 ... 0.9) in an unreadable column.
SLIDE_TEXT_FILL = [(0, 0.7), (2, 0.35), (4, 0.25), (6, 0.15)]


@dataclass(frozen=True)
class Target:
    """What a panel lays itself out for: its area in logical px, the theme, and whether the
    per-layer small multiples are left out (they do not fit legibly)."""

    width: int
    height: int
    theme: str = "slide"  # "slide" (export) or "screen"
    leave_out_small_multiples: bool = False


def slide_palette() -> QtGui.QPalette:
    pal = QtGui.QPalette()
    white, ink = QtGui.QColor(SLIDE_BACKGROUND), QtGui.QColor(SLIDE_INK)
    for role in (QtGui.QPalette.ColorRole.Window, QtGui.QPalette.ColorRole.Base, QtGui.QPalette.ColorRole.Button,
                 QtGui.QPalette.ColorRole.AlternateBase):  # fmt: skip
        pal.setColor(role, white)
    for role in (QtGui.QPalette.ColorRole.WindowText, QtGui.QPalette.ColorRole.Text, QtGui.QPalette.ColorRole.ButtonText):
        pal.setColor(role, ink)
    return pal


def scene_items(root: QtWidgets.QWidget) -> Iterator[QtWidgets.QGraphicsItem]:
    for view in root.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is not None:
            yield from scene.items()


class SlideFit:
    """One panel's slide layout: dressing, fitting the small multiples, ticks and pens."""

    def __init__(self, panel: QtWidgets.QWidget) -> None:
        self.panel = panel
        self.dressed = False
        # what the panel had before a slide changed it, by object id (object kept alive with it)
        self._sizes: dict[int, tuple[Any, list[int]]] = {}
        self._min_heights: dict[int, tuple[Any, int]] = {}
        self._collapsed: dict[int, Any] = {}
        self._pens: dict[int, tuple[Any, float, float]] = {}  # item -> (item, panel's width, width set)
        self._log_axes: dict[int, Any] = {}
        self._label_fonts: dict[int, tuple[Any, QtGui.QFont]] = {}
        self._axis_labels: dict[int, tuple[Any, dict]] = {}
        self._legend_columns: dict[int, tuple[Any, int]] = {}  # legend -> (legend, panel's column count)
        self._titles: dict[int, tuple[Any, str, str, str]] = {}  # title label -> (label, panel's text, size)

    # --- dressing ---------------------------------------------------------------------------
    def dress(self) -> None:
        """Turn the on-screen panel into a figure: controls become plain text, no scroll bars, white."""
        if self.dressed:
            return
        self.dressed = True
        panel = self.panel
        panel.setPalette(slide_palette())
        panel.setAutoFillBackground(True)
        top = panel.layout()
        for combo in panel.findChildren(QtWidgets.QComboBox):
            label = QtWidgets.QLabel(combo.currentText())
            label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
            bold = label.font()
            bold.setBold(True)
            label.setFont(bold)
            if top is not None and top.replaceWidget(combo, label) is not None:
                combo.hide()
            else:
                label.deleteLater()
                combo.hide()
        for kind in (QtWidgets.QAbstractButton, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit, QtWidgets.QAbstractSlider):
            for w in panel.findChildren(kind):
                if not isinstance(w.parentWidget(), QtWidgets.QAbstractScrollArea) and not isinstance(w, QtWidgets.QScrollBar):
                    w.hide()
        for area in panel.findChildren(QtWidgets.QAbstractScrollArea):
            if isinstance(area, pg.GraphicsView):
                continue
            area.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        for view in panel.findChildren(pg.GraphicsView):
            view.setBackground(SLIDE_BACKGROUND)
            view.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        for split in panel.findChildren(QtWidgets.QSplitter):
            split.setHandleWidth(6)  # no style sheet here: it would cut the white palette off the subtree

    def let_labels_shrink(self) -> None:
        """A long one-line label is shortened on a slide (fit_labels), not allowed to push the plots
        off the slide's edge (labels made since the last layout too: one per lane, per layer)."""
        for label in self.panel.findChildren(QtWidgets.QLabel):
            if not label.wordWrap() and label.minimumWidth() != 1:
                label.setMinimumWidth(1)

    def labels_collide(self) -> bool:
        """Whether the tick labels of any shown plot run into each other (too narrow for them)."""
        return any(_labels_collide(v) for v in self.panel.findChildren(pg.GraphicsView) if v.isVisibleTo(self.panel))

    # --- small multiples --------------------------------------------------------------------
    def fit_small_multiples(self, settle: Callable[[], None], collapse: bool = False) -> float:
        """Make the small multiples inside scroll areas show without scrolling: a slide cannot scroll.

        First the scroll area gets room from its neighbours in a vertical splitter (down to 30% of
        their share), then its plots shrink (down to MIN_SHRUNK_PLOT px): rather smaller histograms
        than missing layers. Starts from the panel's own sizes each time, so it can run again at
        another size. Returns the smallest plot height (inf without scroll areas, 0 when rows stay
        cut off). ``collapse``: leave the small multiples out instead (their neighbours take the room).
        """
        root = self.panel
        areas = [a for a in root.findChildren(QtWidgets.QScrollArea) if a.widget() is not None and a.widget().layout() is not None]
        for split in root.findChildren(QtWidgets.QSplitter):  # the panel's own sizes first
            if id(split) not in self._sizes:
                self._sizes[id(split)] = (split, split.sizes())
            split.setSizes(self._sizes[id(split)][1])
        for area in areas:
            branch = _splitter_branch(area)
            if collapse:
                if not branch.isHidden():
                    branch.hide()
                    self._collapsed[id(branch)] = branch
            elif self._collapsed.pop(id(branch), None) is not None:
                branch.show()
        if collapse:
            for split in {id(s): s for s in (_parent_splitter(a) for a in areas) if s is not None}.values():
                sizes = split.sizes()
                shown = [i for i in range(split.count()) if not split.widget(i).isHidden()]
                total, kept = sum(sizes), sum(sizes[i] for i in shown)
                if shown and kept > 0:  # the visible sides share the whole length
                    split.setSizes([round(sizes[i] * total / kept) if i in shown else 0 for i in range(split.count())])
            settle()
            return math.inf
        per_area = []
        for area in areas:
            views = [v for v in area.widget().findChildren(pg.GraphicsView) if not v.isHidden()]
            for v in views:
                if id(v) not in self._min_heights:
                    self._min_heights[id(v)] = (v, v.minimumHeight())
                v.setMinimumHeight(self._min_heights[id(v)][1])
            per_area.append((area, views))
        settle()
        moved = False
        # neighbours keep room for a readable plot: 12% of the panel's height for data, plus its
        # title and axis (a slide's plots must not become strips to make room for small multiples)
        keep = int(0.12 * root.window().height() + 80)
        for area, views in per_area:
            flush_layouts(area.widget())
            deficit = area.widget().layout().minimumSize().height() - area.viewport().height()
            if deficit > 0:
                moved = _give_room(area, deficit, keep) or moved
        if moved:
            settle()
        smallest = math.inf
        for area, views in per_area:
            inner = area.widget()
            for _ in range(4):
                flush_layouts(inner)
                need = inner.layout().minimumSize().height()
                have = area.viewport().height()
                if need <= have or have <= 0 or not views:
                    break
                cut = math.ceil((need - have) / _layout_rows(inner.layout(), len(views))) + 1
                shrunk = False
                for v in views:
                    new = max(MIN_SHRUNK_PLOT, v.minimumHeight() - cut)
                    if new < v.minimumHeight():
                        v.setMinimumHeight(new)
                        shrunk = True
                if not shrunk:
                    break
            if views:
                flush_layouts(inner)
                smallest = min(smallest, min(v.minimumHeight() for v in views))
                if any(_labels_collide(v) for v in views):
                    smallest = min(smallest, 0)  # side by side, too narrow for their tick labels
                if inner.layout().minimumSize().height() > area.viewport().height() + 1:
                    smallest = min(smallest, 0)  # some rows are still cut off
        return smallest

    # --- ticks --------------------------------------------------------------------------------
    def sparse_ticks(self) -> None:
        """Fewer tick labels than on screen; a log axis labels its decades before the rest."""
        for item in scene_items(self.panel):
            if not isinstance(item, pg.AxisItem):
                continue
            if item.style.get("textFillLimits") != SLIDE_TEXT_FILL:
                item.setStyle(textFillLimits=SLIDE_TEXT_FILL)
            if id(item) not in self._log_axes:
                self._log_axes[id(item)] = item
                _split_log_levels(item)
            _space_crowded_ticks(item)

    def fit_titles(self, smallest_pt: float = 7.0) -> None:
        """Plot titles wider than their plot get a smaller font (down to ``smallest_pt``), then the
        plot's own shorter title (``short_title`` on its widget, the panel's choice), then an ellipsis:
        never cut by the plot's edge."""
        rows: dict = {}  # titles of plots side by side (one per lane): one size, the smallest
        for item in scene_items(self.panel):
            if not isinstance(item, pg.PlotItem) or isinstance(item, pg.ColorBarItem):
                continue
            label = item.titleLabel
            if not label.isVisible() or not label.text:
                continue
            key = id(label)
            memo = self._titles.get(key)
            if memo is None or label.text != memo[3]:  # first time, or the panel set a new title since
                memo = (label, label.text, str(label.opts.get("size") or "10pt"), label.text)
            _, text, size, _ = memo
            room = _title_room(item) - 6
            base = float(size[:-2]) if size.endswith("pt") else 10.0
            views = item.scene().views() if item.scene() is not None else []
            short = getattr(views[0], "short_title", None) if views else None
            candidates = [text] + ([short(text)] if callable(short) and short(text) and short(text) != text else [])
            chosen = None
            for k, candidate in enumerate(candidates):
                pt = base
                # a shorter title beats a tiny one: the full title shrinks by 2 pt at most when there is one
                floor = smallest_pt if k == len(candidates) - 1 else max(smallest_pt, base - 2)
                label.setText(candidate, size=f"{pt:g}pt")
                while label.item.boundingRect().width() > room and pt > floor:
                    pt = max(floor, pt - 1)
                    label.setText(candidate, size=f"{pt:g}pt")
                if label.item.boundingRect().width() <= room:
                    chosen = candidate
                    break
            if chosen is None:  # still too wide at the smallest size: shorten the last one
                candidate = candidates[-1]
                for cut in range(1, len(_plain_text(candidate))):
                    label.setText(shorten_html(candidate, cut), size=f"{smallest_pt:g}pt")
                    if label.item.boundingRect().width() <= room:
                        break
            self._titles[key] = (label, text, size, label.text)
            if len(views) == 1:  # the plot's top in panel coordinates names its row
                top = views[0].mapTo(self.panel, views[0].mapFromScene(item.mapToScene(QtCore.QPointF(0, 0)))).y()
                rows.setdefault(round(top / 4), []).append((views[0], label))
        for row in rows.values():
            _same_size(row)

    def fit_legends(self) -> None:
        """A legend row that makes its plot wider than the plot's view gets fewer columns."""
        for item in scene_items(self.panel):
            if not isinstance(item, pg.LegendItem) or not item.isVisible():
                continue
            views = item.scene().views()
            if not views:
                continue
            # from the panel's own column count each time: a wider slide after a narrow one gets them back
            columns = self._legend_columns.setdefault(id(item), (item, item.columnCount))[1]
            if item.columnCount != columns:
                item.setColumnCount(columns)
            width = views[0].width()
            while item.columnCount > 1 and item.boundingRect().width() > 0.9 * width:
                item.setColumnCount(item.columnCount - 1)

    def fit_axis_labels(self, smallest_pt: float = 7.0) -> None:
        """Bottom-axis labels wider than their axis (lanes' heatmaps side by side) get a smaller font."""
        for item in scene_items(self.panel):
            if not isinstance(item, pg.AxisItem) or item.orientation != "bottom" or not item.label.isVisible():
                continue
            key = id(item)
            if key not in self._axis_labels:
                self._axis_labels[key] = (item, dict(item.labelStyle))
            style = dict(self._axis_labels[key][1])
            size = str(style.get("font-size", "10pt"))
            pt = float(size[:-2]) if size.endswith("pt") else 10.0
            room = item.geometry().width() - 2
            while item.label.boundingRect().width() > room and pt > smallest_pt:
                pt = max(smallest_pt, pt - 1)
                style["font-size"] = f"{pt:g}pt"
                item.setLabel(item.labelText, item.labelUnits, item.labelUnitPrefix, **style)

    def fit_labels(self, smallest: float = 0.7) -> None:
        """One-line labels (captions, read-outs) wider than their room get a smaller font, down to
        ``smallest`` of the panel's size, rather than being cut at the right."""
        for label in self.panel.findChildren(QtWidgets.QLabel):
            if label.wordWrap() or not label.isVisibleTo(self.panel) or not label.text() or label.width() <= 0:
                continue
            key = id(label)
            if key not in self._label_fonts:
                self._label_fonts[key] = (label, QtGui.QFont(label.font()))
            font = QtGui.QFont(self._label_fonts[key][1])
            base = font.pointSizeF() if font.pointSizeF() > 0 else float(font.pixelSize())
            size = base
            while _text_width(label, font) > label.contentsRect().width() and size > smallest * base:
                size = max(smallest * base, size * 0.92)
                if font.pointSizeF() > 0:
                    font.setPointSizeF(size)
                else:
                    font.setPixelSize(max(1, round(size)))
            if font != label.font():
                label.setFont(font)
            if _text_width(label, font) > label.contentsRect().width():  # still too wide: end in an ellipsis
                text = label.text()
                rich = label.textFormat() != QtCore.Qt.TextFormat.PlainText
                for cut in range(1, len(_plain_text(text) if rich else text)):
                    label.setText(shorten_html(text, cut) if rich else text[: len(text) - cut] + "…")
                    if _text_width(label, font) <= label.contentsRect().width():
                        break

    # --- pens -----------------------------------------------------------------------------------
    def set_pens(self, factor: float, ink: str = SLIDE_INK) -> None:
        """Make every cosmetic line ``factor`` times the width the panel gave it (device pixels)."""
        for item in scene_items(self.panel):
            if isinstance(item, pg.PlotDataItem):
                pen = item.opts.get("pen")
                if isinstance(pen, QtGui.QPen):
                    new = self._boost(item, pen, factor)
                    if new is not None:
                        item.setPen(new)
            elif isinstance(item, pg.PlotCurveItem):
                if isinstance(item.parentItem(), pg.PlotDataItem):
                    continue  # drawn with the PlotDataItem's pen
                new = self._boost(item, item.opts["pen"], factor)
                if new is not None:
                    item.setPen(new)
            elif isinstance(item, pg.InfiniteLine):
                new = self._boost(item, item.pen, factor)
                if new is not None:
                    item.setPen(new)
            elif isinstance(item, pg.AxisItem):
                new = self._boost(item, item.pen(), factor)
                if new is not None:
                    item.setPen(new)
                    item.setTextPen(pg.mkPen(ink))
            elif isinstance(item, QtWidgets.QAbstractGraphicsShapeItem):
                new = self._boost(item, item.pen(), factor)
                if new is not None:
                    item.setPen(new)

    def _boost(self, item: Any, pen: QtGui.QPen, factor: float) -> Optional[QtGui.QPen]:
        """The pen to use on a slide, or None when nothing changes (idempotent per item)."""
        if pen.style() == QtCore.Qt.PenStyle.NoPen or not pen.isCosmetic():
            return None
        width = pen.widthF()
        memo = self._pens.get(id(item))
        base = memo[1] if memo is not None and memo[0] is item and abs(width - memo[2]) < 1e-9 else (width or 1.0)
        new_width = base * factor
        if abs(new_width - width) < 1e-9:
            return None
        self._pens[id(item)] = (item, base, new_width)
        out = QtGui.QPen(pen)
        out.setWidthF(new_width)
        return out


_TOKENS = re.compile(r"(<[^>]*>)|(&[#\w]+;)|([^<&])|(&)")


def _plain_text(text: str) -> str:
    """``text`` (rich text) without its tags, each entity one character."""
    return "".join("x" if m.group(2) else (m.group(3) or m.group(4) or "") for m in _TOKENS.finditer(text))


def shorten_html(text: str, cut: int) -> str:
    """Rich ``text`` with its last ``cut`` visible characters replaced by an ellipsis, tags kept
    (so coloured lane squares keep their colour)."""
    tokens = [(m.group(0), m.group(1) is None) for m in _TOKENS.finditer(text)]  # (token, visible)
    visible = sum(v for _, v in tokens)
    keep, out, done = visible - cut, [], False
    for token, shown in tokens:
        if not shown:
            out.append(token)
        elif keep > 0:
            out.append(token)
            keep -= 1
        elif not done:
            out.append("…")
            done = True
    return "".join(out).rstrip() if done else text


def _same_size(row: list) -> None:
    """Give the titles of plots side by side the smallest size among them (a title is set with
    ``size="Npt"``; pyqtgraph keeps it in ``opts``)."""
    sizes = [str(label.opts.get("size") or "10pt") for _v, label in row]
    pts = [float(x[:-2]) for x in sizes if x.endswith("pt")]
    if len(row) < 2 or not pts or min(pts) == max(pts):
        return
    for _v, label in row:
        label.setText(label.text, size=f"{min(pts):g}pt")


def _labels_collide(view: pg.GraphicsView) -> bool:
    """Whether the tick labels of a bottom axis in ``view`` run into each other (read through
    AxisItem.generateDrawSpecs, where the axis will draw each label)."""
    image = QtGui.QImage(4, 4, QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(image)
    try:
        for item in view.scene().items():
            if not isinstance(item, pg.AxisItem) or item.orientation != "bottom" or not item.isVisible():
                continue
            specs = item.generateDrawSpecs(painter)
            rects = sorted((r.left(), r.right()) for r, _f, _t in (specs[2] if specs else []))
            # stricter than the layout report (which allows for the air in a box): labels that
            # touch read as one ("1e-101e-5"), and this runs before painting has sized the axes
            if any(b[0] < a[1] + 2 for a, b in zip(rects, rects[1:])):
                return True
    finally:
        painter.end()
    return False


def _title_room(item: pg.PlotItem) -> float:
    """The width a plot's title may take: it is centred over the data area (not over the whole
    plot with its axes), so twice the distance from that centre to the nearer edge of the view."""
    views = item.scene().views() if item.scene() is not None else []
    centre = item.mapToScene(item.getViewBox().geometry().center()).x()
    left = item.mapToScene(item.boundingRect().topLeft()).x()
    right = item.mapToScene(item.boundingRect().topRight()).x()
    for v in views:
        vis = v.mapToScene(v.rect()).boundingRect()
        left, right = max(left, vis.left()), min(right, vis.right())
    return max(0.0, 2 * min(centre - left, right - centre))


def _text_width(label: QtWidgets.QLabel, font: QtGui.QFont) -> float:
    doc = QtGui.QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    if label.textFormat() == QtCore.Qt.TextFormat.PlainText:
        doc.setPlainText(label.text())
    else:
        doc.setHtml(label.text())
    return doc.idealWidth()


def _space_crowded_ticks(axis: pg.AxisItem) -> None:
    """A short linear vertical axis whose major tick labels would touch: twice (or 2.5x) the
    spacing, so the labels keep a line of air between them (pyqtgraph always labels its first level)."""
    if axis.orientation not in ("left", "right") or axis.logMode or not axis.isVisible():
        return
    lo, hi = axis.range
    length = axis.geometry().height()
    if not length > 0 or not hi > lo:
        return
    axis.setTickSpacing()  # back to automatic, then judge pyqtgraph's choice
    levels = axis.tickValues(lo, hi, length)
    if not levels:
        return
    spacing, values = levels[0]
    line = QtGui.QFontMetricsF(axis.style.get("tickFont") or axis.font()).height()
    if len(values) < 2 or length / (hi - lo) * spacing >= 1.6 * line:
        return
    for factor in (2, 2.5, 5, 10):
        if length / (hi - lo) * spacing * factor >= 1.6 * line:
            axis.setTickSpacing(major=spacing * factor, minor=spacing)
            return


def _split_log_levels(axis: pg.AxisItem) -> None:
    """Give a log axis two tick levels, decades and the rest, so the crowding limits above apply.

    pyqtgraph returns every log tick as one level, and the first level is always labelled.
    """
    original = axis.tickValues

    def tick_values(min_val: float, max_val: float, size: float) -> list:
        levels = original(min_val, max_val, size)
        if not axis.logMode or len(levels) != 1:
            return levels
        spacing, values = levels[0]
        major = [v for v in values if abs(v - round(v)) < 1e-9]
        minor = [v for v in values if abs(v - round(v)) >= 1e-9]
        if not major or not minor:
            return levels
        return [(spacing, major), (spacing, minor)]

    axis.tickValues = tick_values  # type: ignore[method-assign]
    axis.picture = None
    axis.update()


def _parent_splitter(w: QtWidgets.QWidget) -> Optional[QtWidgets.QSplitter]:
    parent = w.parentWidget()
    while parent is not None and not isinstance(parent, QtWidgets.QSplitter):
        parent = parent.parentWidget()
    return parent


def _splitter_branch(w: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """The child of the nearest splitter above ``w`` that holds it (``w`` itself without one)."""
    child, parent = w, w.parentWidget()
    while parent is not None and not isinstance(parent, QtWidgets.QSplitter):
        child, parent = parent, parent.parentWidget()
    return child if parent is not None else w


def _give_room(area: QtWidgets.QScrollArea, deficit: int, keep: int = 0) -> bool:
    """Grow ``area``'s side of the nearest vertical splitter above it by up to ``deficit`` px,
    taken from the other sides down to 30% of their height, ``keep`` px or their minimum."""
    child: QtWidgets.QWidget = area
    parent = area.parentWidget()
    while parent is not None:
        if isinstance(parent, QtWidgets.QSplitter) and parent.orientation() == QtCore.Qt.Orientation.Vertical:
            break
        child, parent = parent, parent.parentWidget()
    if parent is None:
        return False
    split = parent
    idx = split.indexOf(child)
    sizes = split.sizes()
    if idx < 0 or len(sizes) < 2:
        return False
    slack = []
    for i, size in enumerate(sizes):
        if i == idx:
            slack.append(0)
            continue
        floor = max(split.widget(i).minimumSizeHint().height(), split.widget(i).minimumHeight(), int(0.3 * size), min(size, keep))
        slack.append(max(0, size - floor))
    take = min(deficit, sum(slack))
    if take <= 0:
        return False
    for i, room in enumerate(slack):
        if room:
            sizes[i] -= round(take * room / sum(slack))
    sizes[idx] += take
    split.setSizes(sizes)
    return True


def _layout_rows(layout: QtWidgets.QLayout, fallback: int) -> int:
    """Rows of plots stacked in ``layout``: distinct grid rows, or one per item of a vertical box."""
    if isinstance(layout, QtWidgets.QGridLayout):
        return max(1, len({layout.getItemPosition(i)[0] for i in range(layout.count())}))
    vertical = (QtWidgets.QBoxLayout.Direction.TopToBottom, QtWidgets.QBoxLayout.Direction.BottomToTop)
    if isinstance(layout, QtWidgets.QBoxLayout) and layout.direction() in vertical:
        return max(1, layout.count())
    return max(1, fallback)


def flush_layouts(widget: QtWidgets.QWidget) -> None:
    """Recompute the layouts under ``widget`` now (a changed minimum height otherwise reaches the
    enclosing layouts through posted events, one level per event loop pass)."""
    # children first: each updateGeometry() drops the size its parent's layout cached for it;
    # nested layouts (a row of plots inside a row widget) cache their own sizes too
    for w in reversed([widget, *widget.findChildren(QtWidgets.QWidget)]):
        w.updateGeometry()
        if w.layout() is not None:
            _invalidate_tree(w.layout())
    if widget.layout() is not None:
        widget.layout().activate()


def _invalidate_tree(layout: QtWidgets.QLayout) -> None:
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item is None:
            continue
        sub = item.layout()
        if sub is not None:
            _invalidate_tree(sub)
        item.invalidate()
    layout.invalidate()
