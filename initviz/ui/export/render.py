"""Single plots through pyqtgraph's exporters, and the entry points that write a picture."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Optional, Sequence, Union

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.ui.export.canvas import PanelSource, SlideCanvas, qimage_png
from initviz.ui.export.files import check_target, write_bytes_atomic
from initviz.ui.export.frames import history_frames
from initviz.ui.export.gif import gif_bytes
from initviz.ui.export.options import (
    GIF_FPS,
    IMAGE_FORMATS,
    LINE_BOOST,
    PLOT_FORMATS,
    SLIDE_BACKGROUND,
    ExportError,
    ProgressFn,
    SlideOptions,
    slide_config,
)
from initviz.ui.panels.base import Frame


def panel_plots(panel: QtWidgets.QWidget) -> list[pg.PlotItem]:
    """A laid-out panel's plots, top to bottom then left to right (small multiples left out)."""
    found = []
    for view in panel.findChildren(pg.GraphicsView):
        if view.isHidden() or _in_scroll_area(view):
            continue  # small multiples are not plots of their own
        origin = view.mapTo(panel, QtCore.QPoint(0, 0))
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem):
                at = view.mapFromScene(item.scenePos())
                found.append(((round((origin.y() + at.y()) / 8), round((origin.x() + at.x()) / 8)), item))
    found.sort(key=lambda pair: pair[0])
    return [item for _, item in found]


def plot_name(item: pg.PlotItem) -> str:
    """The plot's title, else 'left label by bottom label', else ''."""
    title = plot_title(item)
    if title:
        return title
    labels = []
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        text = html.unescape(re.sub(r"<[^>]+>", "", axis.labelText or "")).strip() if axis.isVisible() else ""
        if text:
            labels.append(text)
    return " by ".join(labels)


def _in_scroll_area(w: QtWidgets.QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QtWidgets.QScrollArea):
            return True
        p = p.parentWidget()
    return False


def plot_title(item: pg.PlotItem) -> str:
    """The plain-text title of a plot ('' when it has none)."""
    label = getattr(item, "titleLabel", None)
    text = getattr(label, "text", "") if label is not None and label.isVisible() else ""
    return html.unescape(re.sub(r"<[^>]+>", "", text or "")).strip()


def plot_bytes(item: pg.PlotItem, fmt: str, device_scale: float) -> bytes:
    """One plot through pyqtgraph's ImageExporter (PNG, ``device_scale`` px per canvas px) or
    SVGExporter (SVG in canvas units). The slide pens are already on the items."""
    import pyqtgraph.exporters as pge

    with slide_config():
        if fmt == "svg":
            ex = pge.SVGExporter(item)
            ex.parameters()["background"] = QtGui.QColor(SLIDE_BACKGROUND)
            data = ex.export(toBytes=True)
            return data if isinstance(data, bytes) else bytes(data)
        if fmt == "png":
            ex = pge.ImageExporter(item)
            ex.parameters()["background"] = QtGui.QColor(SLIDE_BACKGROUND)
            ex.parameters()["antialias"] = True
            rect = item.sceneBoundingRect()
            ex.parameters()["width"] = max(1, round(rect.width() * device_scale))
            img = ex.export(toBytes=True)
            return qimage_png(img)
    raise ExportError(f"A single plot exports as {' or '.join(f.upper() for f in PLOT_FORMATS)}, not {fmt.upper()}.")


def figure_bytes(canvas: SlideCanvas, fmt: str, options: SlideOptions, plot: Optional[int] = None) -> bytes:
    """The bytes of a PNG, SVG or PDF of the canvas's current frame (or of its plot number ``plot``)."""
    options.check()
    fmt = fmt.lower()
    if plot is not None:
        canvas.set_size(options)
        plots = canvas.plot_items()
        if not 0 <= plot < len(plots):
            raise ExportError(f"There is no plot number {plot + 1}; this panel has {len(plots)}.")
        device_scale = options.scale * canvas.zoom_for(options)
        with slide_config():
            # PNG: pens in output pixels; SVG: pyqtgraph writes canvas units
            for p in canvas.panels:
                p.slide_fit.set_pens(LINE_BOOST * (device_scale if fmt == "png" else 1.0))
        return plot_bytes(plots[plot], fmt, device_scale)
    if fmt == "png":
        return canvas.png_bytes(options)
    if fmt == "svg":
        return canvas.svg_bytes(options)
    if fmt == "pdf":
        return canvas.pdf_bytes(options)
    raise ExportError(f"{fmt!r} is not a picture format; choose one of {', '.join(IMAGE_FORMATS)}.")


def export_figure(
    sources: Sequence[PanelSource],
    frame: Frame,
    path: Union[str, Path],
    fmt: Optional[str] = None,
    options: SlideOptions = SlideOptions(),
    *,
    plot: Optional[int] = None,
    frames: Optional[Sequence[Frame]] = None,
    fps: float = GIF_FPS,
    progress: Optional[ProgressFn] = None,
    heading: str = "",
) -> Path:
    """Render ``sources`` (one panel, or several tiled as a dashboard) and write ``path``.

    ``fmt`` defaults to the file's suffix. For GIF, ``frames`` (default: the whole history of
    ``frame``, at most GIF_MAX_FRAMES) are the animation. Returns the path written.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in IMAGE_FORMATS:
        raise ExportError(f"Cannot export a picture as {fmt!r}; choose one of {', '.join(IMAGE_FORMATS)}.")
    check_target(path)
    options.check()
    canvas = SlideCanvas(sources, heading=heading)
    try:
        if fmt == "gif":
            data = gif_bytes(canvas, frames if frames is not None else history_frames(frame), options, fps, progress)
        else:
            canvas.prepare(frame, options)
            data = figure_bytes(canvas, fmt, options, plot)
    finally:
        canvas.dispose()
    return write_bytes_atomic(path, data)
