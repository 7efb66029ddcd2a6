"""The slide canvas: a hidden widget holding export copies of panels under a header.

Exports never touch the panels on screen. The canvas builds fresh panels (the on-screen view
state copied as a value), asks each to lay itself out for the slide (``Panel.lay_out``) and then
only renders: text magnified by ``zoom`` (the canvas is laid out at size/zoom and painted zoom
times larger) and lines thicker than on screen. The same canvas paints a PNG (QImage), an SVG,
a PDF or the frames of a GIF, so every format shows the same picture.
"""

from __future__ import annotations

import contextlib
import html
import math
from typing import Iterator, Optional, Sequence, Union

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.ui.export.frames import fresh_frame
from initviz.ui.export.options import (
    AUTO_ZOOM_STEPS,
    DASHBOARD_ZOOM,
    HEADER_TEXT_PX,
    HEADER_TITLE_PX,
    LINE_BOOST,
    MIN_PLOT_PX,
    PANEL_ZOOM,
    REFERENCE_HEIGHT,
    SLIDE_BACKGROUND,
    SLIDE_MUTED,
    ExportError,
    SlideOptions,
    ensure_app,
    slide_config,
)
from initviz.ui.text import elide
from initviz.ui.panels.base import Frame, Panel
from initviz.ui.panels.slide import Target, scene_items, slide_palette

PanelSource = Union[Panel, type]


def export_copy(source: PanelSource) -> Panel:
    """A new panel of the same class as ``source``, showing the same view options (the panel's
    ViewState, copied as a value) when ``source`` is a panel instance. Made under the slide theme."""
    cls = source if isinstance(source, type) else type(source)
    with slide_config():
        try:
            panel = cls()
        except TypeError as exc:
            name = getattr(cls, "title", cls.__name__)
            raise ExportError(f"Cannot export {name}: the panel cannot be built on its own ({exc}).") from exc
    if not isinstance(source, type):
        panel.set_view_state(source.view_state())
        export_state = getattr(source, "export_state", None)  # data a panel holds beyond frames (a sweep)
        if callable(export_state):
            export_state(panel)
    return panel


@contextlib.contextmanager
def export_mode(root: QtWidgets.QWidget) -> Iterator[None]:
    """pyqtgraph's export mode on every item while painting (its public hook ``setExportMode``):
    scatter symbols as vector shapes (not cached pixmaps), no hover buttons, antialiasing on.

    resolutionScale stays 1: QWidget.render() turns the painter's scale into a redirection that
    pyqtgraph's resetTransform() keeps, so pixel-sized symbols are already scaled with the slide.
    """
    opts = {"antialias": True, "background": QtGui.QColor(SLIDE_BACKGROUND), "resolutionScale": 1.0}
    items = [i for i in scene_items(root) if hasattr(i, "setExportMode")]
    for i in items:
        i.setExportMode(True, opts)
    try:
        yield
    finally:
        for i in items:
            i.setExportMode(False)



def config_summary(frame: Frame) -> str:
    """One line on the network and the training, shared by all lanes (the init is per lane)."""
    c = frame.main.config
    parts = [c.network_label(), c.activation if len({l.config.activation for l in frame.lanes}) == 1 else "",
             c.dataset, f"{c.optimizer} lr {c.lr:g}", f"batch {c.batch_size}", f"seed {c.seed}"]  # fmt: skip
    if len(frame.lanes) == 1:
        parts.insert(1, f"init {c.init.label()}")
        if c.batchnorm:
            parts.append("BatchNorm")
        if c.dropout:
            parts.append(f"dropout {c.dropout:g}")
    return " · ".join(p for p in parts if p)


def lanes_legend_html(frame: Frame) -> str:
    """Coloured squares and lane names (empty for a single run)."""
    if len(frame.lanes) < 2:
        return ""
    return "&nbsp;&nbsp;&nbsp;".join(
        f"<span style='color:{lane.colour}'>■</span>&nbsp;{html.escape(elide(lane.name, 48))}" for lane in frame.lanes
    )


class SlideCanvas(QtWidgets.QWidget):
    """A hidden widget holding export copies of one or more panels under a header.

    ``sources``: panels (their class and view options are copied) or panel classes. With several
    sources the panels are tiled in a grid (the whole dashboard). Never shown: it paints into
    images, SVG and PDF. Call :meth:`dispose` when done (tests check no timer is left).
    """

    def __init__(self, sources: Sequence[PanelSource], *, heading: str = "") -> None:
        super().__init__()
        ensure_app()
        if not sources:
            raise ExportError("Nothing to export: no panel given.")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self._grid: Optional[QtWidgets.QGridLayout] = None
        self._tiles: list[QtWidgets.QWidget] = []
        self.setPalette(slide_palette())
        self.setAutoFillBackground(True)
        self.heading = heading or (getattr(sources[0], "title", "") if len(sources) == 1 else "initviz dashboard")
        self.panels: list[Panel] = [export_copy(s) for s in sources]
        for p in self.panels:
            p.slide_fit.dress()
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        outer.setSpacing(6)
        self.header = QtWidgets.QWidget()
        head = QtWidgets.QVBoxLayout(self.header)
        head.setContentsMargins(4, 0, 4, 2)
        head.setSpacing(2)
        self.title_label = QtWidgets.QLabel()
        self.title_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        font = QtGui.QFont(self.font())
        font.setPixelSize(HEADER_TITLE_PX)
        font.setBold(True)
        self.title_label.setFont(font)
        self.subtitle_label = QtWidgets.QLabel()
        self.subtitle_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.subtitle_label.setWordWrap(True)
        font = QtGui.QFont(self.font())
        font.setPixelSize(HEADER_TEXT_PX)
        self.subtitle_label.setFont(font)
        head.addWidget(self.title_label)
        head.addWidget(self.subtitle_label)
        outer.addWidget(self.header)
        if len(self.panels) == 1:
            outer.addWidget(self.panels[0], 1)
        else:
            self._grid = QtWidgets.QGridLayout()
            self._grid.setSpacing(10)
            self._tiles = [self._tile(p) for p in self.panels]
            self._columns = 0
            outer.addLayout(self._grid, 1)
        self._frame: Optional[Frame] = None
        self._logical = QtCore.QSize(0, 0)
        self._logical_key: tuple[int, int] = (0, 0)  # the slide size of the current layout
        self._auto_zoom: dict[tuple[int, int], float] = {}  # slide size -> zoom chosen by prepare()
        self._collapsed: set[tuple[int, int]] = set()  # slide sizes that leave the small multiples out
        self._smallest_plot = math.inf

    def _arrange(self, width: int, height: int) -> None:
        """Tile the dashboard in the number of columns that makes tiles closest to 4:3."""
        if self._grid is None:
            return
        n = len(self._tiles)
        cols = min(range(1, n + 1), key=lambda c: abs(math.log((width / c) / (height / math.ceil(n / c)) / (4 / 3))))
        if cols == self._columns:
            return
        self._columns = cols
        for tile in self._tiles:
            self._grid.removeWidget(tile)
        for i, tile in enumerate(self._tiles):
            self._grid.addWidget(tile, i // cols, i % cols)
        for c in range(n):
            self._grid.setColumnStretch(c, 1 if c < cols else 0)
        for r in range(n):
            self._grid.setRowStretch(r, 1 if r < math.ceil(n / cols) else 0)

    @staticmethod
    def _tile(panel: Panel) -> QtWidgets.QWidget:
        """A panel with its title above it (the dashboard shows no tabs). Every tile gets the same
        share of the slide whatever its panel's minimum size (a panel that needs more is cut)."""
        tile = QtWidgets.QWidget()
        tile.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        box = QtWidgets.QVBoxLayout(tile)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        name = QtWidgets.QLabel(getattr(panel, "title", ""))
        font = name.font()
        font.setBold(True)
        font.setPixelSize(HEADER_TEXT_PX + 2)
        name.setFont(font)
        name.setContentsMargins(4, 0, 0, 0)
        box.addWidget(name)
        box.addWidget(panel, 1)
        return tile

    # --- laying out and drawing ----------------------------------------------------------------
    def _settle(self) -> None:
        """Let pending layout, resize and zero-delay timer work happen (the canvas is never shown)."""
        app = ensure_app()
        for _ in range(2):
            self.layout().activate()
            # rendering delivers the pending resize events of a hidden widget tree; a 1-pixel source
            # region keeps it from painting every plot
            self.render(QtGui.QImage(1, 1, QtGui.QImage.Format.Format_ARGB32), QtCore.QPoint(0, 0), QtGui.QRegion(0, 0, 1, 1))
            app.sendPostedEvents()
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def set_size(self, options: SlideOptions, redraw: bool = True) -> None:
        """Lay the canvas out at the slide size divided by the effective zoom (text comes out larger)."""
        zoom = self.zoom_for(options)
        self._logical_key = (options.width, options.height)
        size = QtCore.QSize(max(64, round(options.width / zoom)), max(64, round(options.height / zoom)))
        if size != self._logical:
            self._logical = size
            self._arrange(options.width, options.height)
            self.resize(size)
            self._settle()
            if redraw and self._frame is not None:
                self.show_frame(self._frame, options.title)

    @property
    def small_multiples_left_out(self) -> bool:
        """Whether the last layout left the per-layer small multiples out (they did not fit)."""
        return self._logical_key in self._collapsed

    def zoom_for(self, options: SlideOptions) -> float:
        """Canvas-to-slide magnification: the zoom for a slide REFERENCE_HEIGHT px high, in proportion
        otherwise, so text takes the same share of the slide's height at every size."""
        zoom = options.zoom
        if zoom is None:
            zoom = self._auto_zoom.get((options.width, options.height), self.default_zoom)
        return float(zoom) * min(options.width, options.height) / REFERENCE_HEIGHT

    @property
    def default_zoom(self) -> float:
        return PANEL_ZOOM if len(self.panels) == 1 else DASHBOARD_ZOOM

    def prepare(self, frame: Frame, options: SlideOptions) -> None:
        """Lay out for ``options`` and draw ``frame``. With the automatic zoom, the largest zoom (from
        the default down to 1x, the screen's size) at which every small multiple keeps a legible
        height: a 20-layer grid of histograms gets smaller text rather than unreadable plots."""
        self._frame = frame
        key = (options.width, options.height)
        if options.zoom is None and key not in self._auto_zoom:
            candidates = [z for z in (self.default_zoom * f for f in AUTO_ZOOM_STEPS) if z >= 1.0 - 1e-9] or [1.0]
            # if no zoom is legible: the largest plots, and at equal plots (all cut off) the most room
            best = (-1.0, 0.0)  # (smallest plot, -zoom)
            for zoom in candidates:
                self._auto_zoom[key] = zoom
                self.set_size(options, redraw=False)
                self.show_frame(frame, options.title)
                if self._smallest_plot >= MIN_PLOT_PX:
                    break
                best = max(best, (self._smallest_plot, -zoom))
            else:  # no zoom keeps them legible: leave the small multiples out, at the default zoom
                self._auto_zoom[key] = self.default_zoom
                self._collapsed.add(key)
                self.set_size(options, redraw=False)
                self.show_frame(frame, options.title)
        else:
            self.set_size(options, redraw=False)
            self.show_frame(frame, options.title)
        self.warm_up()

    def warm_up(self) -> None:
        """Paint once, small, and let the layout follow: axes size their tick labels while painting,
        so the first real picture would otherwise be laid out before they did."""
        w, h = max(1, self.width() // 4), max(1, self.height() // 4)
        img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
        painter = QtGui.QPainter(img)
        try:
            self._paint(painter, 0.25, 0.25, 0.25)
        finally:
            painter.end()
        self._settle()
        for vb in self._view_boxes():
            vb.prepareForPaint()

    def show_frame(self, frame: Frame, title: Optional[str] = None, lay_out: bool = True, draw_all: bool = True) -> None:
        """Draw ``frame`` on every panel and write the header (title None: automatic; "": none).

        ``lay_out`` False: keep the panels' layout as the last frame had it (the frames of one
        animation share the slide size and the lanes, so only the data change). ``draw_all``
        False (with ``lay_out`` False): leave the small multiples as they are (measuring ranges)."""
        frame = fresh_frame(frame)
        self._frame = frame
        with slide_config():
            for p in self.panels:
                p.show_frame(frame)
            self._set_header(frame, title)
            # rows a scrolling view draws only when on screen (a slide shows them all), first so that
            # the plots they create count when the small multiples are fitted
            if lay_out or draw_all:
                self._draw_all()
            if not lay_out:
                for vb in self._view_boxes():
                    vb.prepareForPaint()
                return
            self._settle()
            target = Target(self.width(), self.height(), "slide", self.small_multiples_left_out)
            self._smallest_plot = min((p.lay_out(target, self._settle) for p in self.panels), default=math.inf)
            for vb in self._view_boxes():
                vb.prepareForPaint()

    def _draw_all(self) -> None:
        for w in self.findChildren(QtWidgets.QWidget):
            draw_all = getattr(w, "draw_all", None)
            if callable(draw_all):
                draw_all()

    def _set_header(self, frame: Frame, title: Optional[str]) -> None:
        if title == "":
            self.header.hide()
            return
        self.header.show()
        step = frame.main.record.step
        text = title if title is not None else f"{self.heading}, step {step}"
        self.title_label.setText(html.escape(text))
        sub = html.escape(config_summary(frame))
        if title is not None:
            sub = f"step {step} · " + sub
        legend = lanes_legend_html(frame)
        if self.small_multiples_left_out:
            legend += (" &nbsp;&nbsp;" if legend else "") + (
                f"<i style='color:{SLIDE_MUTED}'>(one histogram per layer left out: {frame.main.record.depth} layers"
                f"{f' × {len(frame.lanes)} runs' if len(frame.lanes) > 1 else ''} do not fit this slide legibly)</i>"
            )
        self.subtitle_label.setText(f"<span style='color:{SLIDE_MUTED}'>{sub}</span>" + (f"<br>{legend}" if legend else ""))

    # --- items the fixed axes of an animation apply to -------------------------------------------
    def view_boxes(self) -> list[pg.ViewBox]:
        """Every visible plot area of the canvas's panels."""
        return self._view_boxes()

    def _view_boxes(self) -> list[pg.ViewBox]:
        out = []
        for view in self.findChildren(pg.GraphicsView):
            out.extend(i for i in view.scene().items() if isinstance(i, pg.ViewBox) and i.isVisible())
        return out

    def colour_bars(self) -> list[pg.ColorBarItem]:
        return [i for i in scene_items(self) if isinstance(i, pg.ColorBarItem)]

    # --- painting --------------------------------------------------------------------------------
    def paint_into(self, painter: QtGui.QPainter, sx: float, sy: float, device_scale: float) -> None:
        """Paint the slide with ``painter`` scaled (sx, sy) from canvas to device units."""
        self._paint(painter, sx, sy, device_scale)

    def _paint(self, painter: QtGui.QPainter, sx: float, sy: float, device_scale: float) -> None:
        with slide_config():
            for p in self.panels:
                p.slide_fit.set_pens(LINE_BOOST * device_scale)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
            # heatmaps are data: one crisp block per cell, as the SVG draws them (image-rendering: pixelated)
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.scale(sx, sy)
            with export_mode(self):
                self.render(painter, QtCore.QPoint(0, 0))

    def render_image(self, options: SlideOptions) -> QtGui.QImage:
        """The slide as an RGB image of options.pixel_size pixels."""
        return self.picture(options)

    def picture(self, options: SlideOptions) -> QtGui.QImage:
        """The slide as an RGB image of options.pixel_size pixels (what render_image returns)."""
        self.set_size(options)
        w, h = options.pixel_size
        img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
        img.fill(QtGui.QColor(SLIDE_BACKGROUND))
        sx, sy = w / self.width(), h / self.height()
        painter = QtGui.QPainter(img)
        try:
            self._paint(painter, sx, sy, (sx + sy) / 2)
        finally:
            painter.end()
        return img

    def png_bytes(self, options: SlideOptions) -> bytes:
        return qimage_png(self.render_image(options))

    def svg_bytes(self, options: SlideOptions) -> bytes:
        """The slide as SVG (vector: text as text, curves as paths), options.width x height units."""
        from initviz.ui.export.vector import svg_bytes

        return svg_bytes(self, options)

    def pdf_bytes(self, options: SlideOptions) -> bytes:
        """The slide as a one-page vector PDF, the page options.width x height px at 96 dpi."""
        from initviz.ui.export.vector import pdf_bytes

        return pdf_bytes(self, options)

    def plot_items(self) -> list[pg.PlotItem]:
        """The plots of the canvas's panels, in the order of :func:`panel_plots`."""
        from initviz.ui.export.render import panel_plots

        return [item for p in self.panels for item in panel_plots(p)]

    def dispose(self) -> None:
        """Let pending zero-delay work of the panels run, then delete the canvas at the next event loop
        pass (or when the last reference goes, whichever comes first)."""
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        self.deleteLater()


def qimage_png(img: QtGui.QImage) -> bytes:
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise ExportError("Qt could not encode the PNG image.")
    buf.close()
    return bytes(buf.data())


def qimage_to_pil(img: QtGui.QImage):  # -> PIL.Image.Image
    """An RGB Pillow image with the pixels of ``img``."""
    from PIL import Image

    rgb = img.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = bytes(rgb.constBits())[: stride * h]
    return Image.frombuffer("RGB", (w, h), data, "raw", "RGB", stride, 1).copy()

