"""Vector slides: SVG that every viewer draws, and PDF.

Qt's SVG generator is asked for SVG 1.1, which keeps every item's clipping (its default, SVG
Tiny 1.2, drops it: curves would spill out of their plots). Its output is then made portable
(:func:`portable_svg`): lines drawn with cosmetic pens come as ``vector-effect="non-scaling-stroke"``
under the plot's scaling transform, which librsvg (GNOME viewers, Inkscape import) draws as blobs;
their geometry is mapped to slide pixels instead, so the pen is never scaled. Text gets a font
family list that ends in the generic ``sans-serif`` (Qt writes "Sans Serif", which browsers do not
know and replace with a serif font), and heatmaps are marked to be drawn pixelated.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from typing import Iterator, Optional

from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from initviz.ui.export.canvas import SlideCanvas, export_mode
from initviz.ui.export.options import LINE_BOOST, SLIDE_BACKGROUND, SlideOptions, slide_config


def svg_bytes(canvas: SlideCanvas, options: SlideOptions) -> bytes:
    """The slide as SVG (vector: text as text, curves as paths), options.width x height units.

    Each widget is painted alone into its own SVG 1.1 fragment and placed by a transform: Qt's
    generator writes the clipping of a widget painted through QWidget.render() in that widget's
    own coordinates, so a whole-canvas render would clip every child in the wrong place.
    """
    canvas.set_size(options)
    sx, sy = options.width / canvas.width(), options.height / canvas.height()
    fragments = []
    with slide_config():
        for p in canvas.panels:
            p.slide_fit.set_pens(LINE_BOOST * (sx + sy) / 2)
        with export_mode(canvas):
            for widget, origin, visible in painted_widgets(canvas):
                fragments.append((origin, visible, _render_alone(widget)))
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.Element(f"{{{SVG_NS}}}svg", {
        "width": f"{options.width}px", "height": f"{options.height}px", "viewBox": f"0 0 {options.width} {options.height}",
        "version": "1.1",
    })  # fmt: skip
    ET.SubElement(root, f"{{{SVG_NS}}}title").text = html.unescape(re.sub(r"<[^>]+>", "", canvas.title_label.text())) or canvas.heading
    ET.SubElement(root, f"{{{SVG_NS}}}desc").text = "initviz slide export"
    defs = ET.SubElement(root, f"{{{SVG_NS}}}defs")
    ET.SubElement(root, f"{{{SVG_NS}}}rect", {"x": "0", "y": "0", "width": str(options.width), "height": str(options.height),
                                              "fill": SLIDE_BACKGROUND})  # fmt: skip
    for k, (origin, visible, data) in enumerate(fragments):
        part = ET.fromstring(data)
        group = ET.SubElement(root, f"{{{SVG_NS}}}g", {
            "transform": "matrix(" + ",".join(_fmt(v) for v in (sx, 0.0, 0.0, sy, sx * origin.x(), sy * origin.y())) + ")",
        })  # fmt: skip
        clip = ET.SubElement(defs, f"{{{SVG_NS}}}clipPath", {"id": f"w{k}"})
        ET.SubElement(clip, f"{{{SVG_NS}}}rect", {k2: _fmt(v) for k2, v in (
            ("x", visible.x()), ("y", visible.y()), ("width", visible.width()), ("height", visible.height()))})  # fmt: skip
        group.set("clip-path", f"url(#w{k})")
        renamed = {}
        for el in part.iter(f"{{{SVG_NS}}}clipPath"):
            renamed[el.get("id")] = f"w{k}{el.get('id')}"
            el.set("id", renamed[el.get("id")])
            defs.append(el)
        for el in part:
            if el.tag.rpartition("}")[2] in ("title", "desc", "defs"):
                continue
            for sub in el.iter():
                ref = sub.get("clip-path")
                if ref and ref[5:-1] in renamed:
                    sub.set("clip-path", f"url(#{renamed[ref[5:-1]]})")
            group.append(el)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return portable_svg(data, font_family(canvas.font()))


def painted_widgets(canvas: QtWidgets.QWidget) -> Iterator[tuple[QtWidgets.QWidget, QtCore.QPoint, QtCore.QRect]]:
    """Every widget the canvas shows, in painting order (parents first), with its origin on the
    canvas and the part of it its ancestors leave visible (in its own coordinates)."""

    def walk(w: QtWidgets.QWidget, clip: QtCore.QRect) -> Iterator[tuple[QtWidgets.QWidget, QtCore.QPoint, QtCore.QRect]]:
        origin = w.mapTo(canvas, QtCore.QPoint(0, 0)) if w is not canvas else QtCore.QPoint(0, 0)
        mine = clip.intersected(QtCore.QRect(origin, w.size()))
        if mine.isEmpty():
            return
        yield w, origin, mine.translated(-origin)
        for child in w.children():
            if isinstance(child, QtWidgets.QWidget) and not child.isWindow() and child.isVisibleTo(canvas):
                yield from walk(child, mine)

    yield from walk(canvas, QtCore.QRect(QtCore.QPoint(0, 0), canvas.size()))


def _render_alone(widget: QtWidgets.QWidget) -> bytes:
    """One widget painted without its children into an SVG 1.1 document (in its own coordinates)."""
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    gen = QtSvg.QSvgGenerator(QtSvg.QSvgGenerator.SvgVersion.Svg11)  # SVG 1.1 keeps clipping
    gen.setOutputDevice(buf)
    size = widget.size()
    gen.setSize(size)
    gen.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), size))
    gen.setResolution(96)
    painter = QtGui.QPainter(gen)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        # QWidget.render, not QGraphicsView.render (which renders a scene rectangle)
        # the background only where the widget fills it on screen too (render() would fill any)
        flags = QtWidgets.QWidget.RenderFlag.DrawWindowBackground if widget.autoFillBackground() else QtWidgets.QWidget.RenderFlag(0)
        QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, 0), QtGui.QRegion(), flags)
    finally:
        painter.end()
    buf.close()
    return bytes(buf.data())


def font_family(font: QtGui.QFont) -> str:
    """The SVG font-family list for ``font``: the family Qt really drew with, then sans-serif."""
    real = QtGui.QFontInfo(font).family()
    names = [n for n in (real,) if n and n.lower() not in ("sans serif", "sans-serif")]
    return ", ".join([f"'{n}'" if " " in n else n for n in names] + ["sans-serif"])


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
Matrix = tuple[float, float, float, float, float, float]  # SVG matrix(a, b, c, d, e, f)
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _matrix(text: Optional[str]) -> Matrix:
    if not text:
        return IDENTITY
    m = re.fullmatch(r"\s*matrix\(([^)]*)\)\s*", text)
    if not m:
        raise ValueError(f"unexpected SVG transform {text!r}")
    a, b, c, d, e, f = (float(v) for v in _NUMBER.findall(m.group(1)))
    return a, b, c, d, e, f


def _compose(m: Matrix, n: Matrix) -> Matrix:
    """m then n applied inside it: the matrix of ``<g transform=m><g transform=n>``."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2, a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def _inverse(m: Matrix) -> Optional[Matrix]:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if abs(det) < 1e-300:
        return None
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _map_points(text: str, m: Matrix) -> str:
    """Every x,y pair of a path's d (absolute M/L/C commands, as Qt writes) or of a points list, mapped by m."""
    a, b, c, d, e, f = m
    out, pending, tokens = [], None, re.findall(r"[A-Za-z]|" + _NUMBER.pattern, text)
    for tok in tokens:
        if tok.isalpha():
            if tok not in "MLCZmlcz" or tok in "mlc":
                raise ValueError(f"unexpected path command {tok!r}")
            out.append(tok)
            continue
        if pending is None:
            pending = float(tok)
            continue
        x, y = pending, float(tok)
        pending = None
        out.append(f"{_fmt(a * x + c * y + e)},{_fmt(b * x + d * y + f)}")
    return " ".join(out)


def _unscale_stroke(el: ET.Element, m: Matrix) -> None:
    """Map ``el``'s geometry by m and give it m's inverse, so its pen is drawn unscaled."""
    inv = _inverse(m)
    if inv is None:
        el.attrib.pop("vector-effect", None)
        return
    tag = el.tag.rpartition("}")[2]
    if tag == "path":
        el.set("d", _map_points(el.get("d", ""), m))
    elif tag in ("polyline", "polygon"):
        el.set("points", _map_points(el.get("points", ""), m))
    elif tag == "rect" and abs(m[1]) < 1e-12 and abs(m[2]) < 1e-12:
        x, y, w, h = (float(el.get(k, "0")) for k in ("x", "y", "width", "height"))
        x0, y0, x1, y1 = m[0] * x + m[4], m[3] * y + m[5], m[0] * (x + w) + m[4], m[3] * (y + h) + m[5]
        for k, v in (("x", min(x0, x1)), ("y", min(y0, y1)), ("width", abs(x1 - x0)), ("height", abs(y1 - y0))):
            el.set(k, _fmt(v))
    elif tag == "ellipse" and abs(m[1]) < 1e-12 and abs(m[2]) < 1e-12:
        cx, cy, rx, ry = (float(el.get(k, "0")) for k in ("cx", "cy", "rx", "ry"))
        for k, v in (("cx", m[0] * cx + m[4]), ("cy", m[3] * cy + m[5]), ("rx", abs(m[0]) * rx), ("ry", abs(m[3]) * ry)):
            el.set(k, _fmt(v))
    else:
        return  # a shape this cannot map: left with its non-scaling stroke
    el.attrib.pop("vector-effect", None)
    if inv != IDENTITY:
        el.set("transform", "matrix(" + ",".join(_fmt(v) for v in inv) + ")")


MAX_IMAGE_PIXELS = 4_000_000  # an upscaled heatmap at most this big


def _crisp_image(el: ET.Element, m: Matrix) -> None:
    """Upscale an embedded heatmap by whole factors (nearest neighbour) to about its size on the
    slide: viewers that ignore image-rendering (librsvg, Inkscape) then blur only the cell edges."""
    import base64
    import io

    from PIL import Image

    href_key = f"{{{XLINK_NS}}}href"
    href = el.get(href_key) or el.get("href") or ""
    prefix = "data:image/png;base64,"
    if not href.startswith(prefix):
        return
    w, h = float(el.get("width", "0")), float(el.get("height", "0"))
    kx = max(1, round(math.hypot(m[0], m[1])))
    ky = max(1, round(math.hypot(m[2], m[3])))
    if (kx == 1 and ky == 1) or w <= 0 or h <= 0:
        return
    with Image.open(io.BytesIO(base64.b64decode(href[len(prefix):]))) as im:
        im.load()
        src = im.copy()
    while src.width * kx * src.height * ky > MAX_IMAGE_PIXELS and (kx > 1 or ky > 1):
        kx, ky = max(1, kx // 2), max(1, ky // 2)
    big = src.resize((src.width * kx, src.height * ky), Image.Resampling.NEAREST)
    out = io.BytesIO()
    big.save(out, format="PNG")
    el.set(href_key if el.get(href_key) is not None else "href", prefix + base64.b64encode(out.getvalue()).decode("ascii"))


def portable_svg(data: bytes, family: str = "sans-serif") -> bytes:
    """Qt's SVG made to draw the same in librsvg, browsers and Inkscape (see the module's notes)."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(data)

    def walk(el: ET.Element, m: Matrix) -> None:
        here = _compose(m, _matrix(el.get("transform"))) if el.get("transform") else m
        if el.get("vector-effect") == "non-scaling-stroke":
            _unscale_stroke(el, here)
        elif el.get("vector-effect") == "none":
            del el.attrib["vector-effect"]
        if "font-family" in el.attrib:
            el.set("font-family", family)
        if el.tag == f"{{{SVG_NS}}}image":
            el.set("image-rendering", "optimizeSpeed")
            el.set("style", "image-rendering:pixelated")
            _crisp_image(el, here)
        for child in el:
            if child.tag != f"{{{SVG_NS}}}clipPath":  # clip paths are in the slide's coordinates
                walk(child, here)
            else:
                for part in child.iter():
                    part.attrib.pop("vector-effect", None)

    walk(root, IDENTITY)
    _unclip_text(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


_SHAPES = {f"{{{SVG_NS}}}{t}" for t in ("path", "polyline", "polygon", "rect", "ellipse", "circle", "line", "image", "use")}


def _unclip_text(root: ET.Element) -> None:
    """Drop the clip Qt puts around each text (its document's box, measured with Qt's font
    metrics): viewers whose glyphs run a little wider (librsvg) would cut the last letter. The
    layout keeps text inside its room; plots' data stay clipped."""
    for el in root.iter():
        if el.get("clip-path") and el.tag != f"{{{SVG_NS}}}clipPath":
            inner = list(el.iter())
            if any(e.tag == f"{{{SVG_NS}}}text" for e in inner) and not any(e.tag in _SHAPES for e in inner):
                del el.attrib["clip-path"]


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
