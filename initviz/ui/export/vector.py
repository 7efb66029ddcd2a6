"""Vector slides: SVG that every viewer draws, and PDF."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtSvg

from initviz.ui.export.canvas import SlideCanvas
from initviz.ui.export.options import SLIDE_BACKGROUND, SlideOptions


def svg_bytes(canvas: SlideCanvas, options: SlideOptions) -> bytes:
    """The slide as SVG (vector: text as text, curves as paths), options.width x height units."""
    canvas.set_size(options)
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    gen = QtSvg.QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(QtCore.QSize(options.width, options.height))
    gen.setViewBox(QtCore.QRect(0, 0, options.width, options.height))
    gen.setResolution(96)
    gen.setTitle(canvas.title_label.text() or canvas.heading)
    gen.setDescription("initviz slide export")
    painter = QtGui.QPainter(gen)
    try:
        painter.fillRect(QtCore.QRectF(0, 0, options.width, options.height), QtGui.QColor(SLIDE_BACKGROUND))
        sx, sy = options.width / canvas.width(), options.height / canvas.height()
        canvas.paint_into(painter, sx, sy, (sx + sy) / 2)
    finally:
        painter.end()
    buf.close()
    return bytes(buf.data())

def pdf_bytes(canvas: SlideCanvas, options: SlideOptions) -> bytes:
    """The slide as a one-page vector PDF, the page options.width x height px at 96 dpi."""
    canvas.set_size(options)
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buf)
    writer.setResolution(96)
    writer.setPageSize(QtGui.QPageSize(QtCore.QSizeF(options.width * 0.75, options.height * 0.75), QtGui.QPageSize.Unit.Point, "slide"))
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    writer.setTitle(canvas.title_label.text() or canvas.heading)
    writer.setCreator("initviz")
    painter = QtGui.QPainter(writer)
    try:
        page = painter.viewport()
        painter.fillRect(page, QtGui.QColor(SLIDE_BACKGROUND))
        sx, sy = page.width() / canvas.width(), page.height() / canvas.height()
        canvas.paint_into(painter, sx, sy, (sx + sy) / 2)
    finally:
        painter.end()
    buf.close()
    data = bytes(buf.data())
    del writer
    return data
