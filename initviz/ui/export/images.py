"""A rendered QImage as PNG bytes or as a Pillow image (for the GIF writer)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from initviz.ui.export.options import ExportError


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
