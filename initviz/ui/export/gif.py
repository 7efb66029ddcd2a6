"""Animated GIFs over steps with fixed axes: every frame is drawn in the ranges that hold all of them.

The ranges come from every data item a panel draws (PlotDataItem, ScatterPlotItem, Qt path items
such as PathCurve and DottedLine's parts, ImageItem), found through public pyqtgraph and Qt API:
a plot area's child items and their data bounds, bounding paths or image rectangles.
"""

from __future__ import annotations

import io
import math
import time
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6 import QtWidgets

from initviz.ui.export.canvas import SlideCanvas
from initviz.ui.export.images import qimage_to_pil
from initviz.ui.export.options import GIF_FPS, ExportCancelled, ExportError, ProgressFn, SlideOptions
from initviz.ui.panels.base import Frame

Bounds = tuple[float, float, float, float]  # x0, x1, y0, y1 in the view's coordinates

# not data: reference lines, shaded bands, labels (an InfiniteLine's bounds are the whole view)
_NOT_DATA = (pg.InfiniteLine, pg.LinearRegionItem, pg.TextItem)


def item_bounds(vb: pg.ViewBox, item: QtWidgets.QGraphicsItem) -> Optional[Bounds]:
    """The view-coordinate rectangle of one data item's data, None when it holds none.

    Items with ``dataBounds`` (PlotDataItem, PlotCurveItem, ScatterPlotItem) give their data's
    bounds; Qt path items (PathCurve) their path's bounds, without the pen (a cosmetic pen's width
    is in pixels, not data units); an ImageItem the rectangle it is drawn in.
    """
    if not item.isVisible() or isinstance(item, _NOT_DATA):
        return None
    if callable(getattr(item, "dataBounds", None)):
        bx, by = item.dataBounds(0), item.dataBounds(1)
        if bx is None or by is None or None in bx or None in by:
            return None
        if not all(math.isfinite(v) for v in (*bx, *by)):
            return None
        rect = vb.mapFromItemToView(item, pg.QtCore.QRectF(bx[0], by[0], bx[1] - bx[0], by[1] - by[0])).boundingRect()
    elif isinstance(item, QtWidgets.QGraphicsPathItem):
        path = item.path()
        if path.isEmpty():
            return None
        rect = vb.mapFromItemToView(item, path.boundingRect()).boundingRect()
    elif isinstance(item, pg.ImageItem):
        if item.image is None or item.width() is None:
            return None
        rect = vb.mapFromItemToView(item, item.boundingRect()).boundingRect()
    else:
        return None
    out = (rect.left(), rect.right(), rect.top(), rect.bottom())
    return out if all(math.isfinite(v) for v in out) else None


def data_bounds(vb: pg.ViewBox) -> Optional[Bounds]:
    """The union of every data item's bounds in the plot area ``vb`` (None without data)."""
    found = [b for b in (item_bounds(vb, i) for i in vb.childGroup.childItems()) if b is not None]
    if not found:
        return None
    return min(b[0] for b in found), max(b[1] for b in found), min(b[2] for b in found), max(b[3] for b in found)


def axis_ranges(canvas: SlideCanvas) -> dict[int, tuple]:
    """Per plot, the view range widened to hold all its data; per colour bar, its levels; by item id.

    The data bounds count too: a panel may range its axes on the first lane only, and a fixed
    axis must not cut another lane's curve off in later frames.
    """
    out: dict[int, tuple] = {}
    boxes = canvas.view_boxes()
    for vb in boxes:
        vb.prepareForPaint()
        (x0, x1), (y0, y1) = vb.viewRange()
        b = data_bounds(vb)
        if b is not None:
            x0, x1, y0, y1 = min(x0, b[0]), max(x1, b[1]), min(y0, b[2]), max(y1, b[3])
        out[id(vb)] = ("view", x0, x1, y0, y1)
    # linked axes (loss and accuracy share the step axis) must get one range, or setting the
    # second would move the first
    for vb in boxes:
        for axis, (lo, hi) in ((pg.ViewBox.XAxis, (1, 2)), (pg.ViewBox.YAxis, (3, 4))):
            other = vb.linkedView(axis)
            if other is None or id(other) not in out:
                continue
            a, b = list(out[id(vb)]), list(out[id(other)])
            a[lo] = b[lo] = min(a[lo], b[lo])
            a[hi] = b[hi] = max(a[hi], b[hi])
            out[id(vb)], out[id(other)] = tuple(a), tuple(b)
    for cb in canvas.colour_bars():
        lo, hi = cb.levels()
        out[id(cb)] = ("levels", lo, hi)
    return out


def union_ranges(a: dict[int, tuple], b: dict[int, tuple]) -> dict[int, tuple]:
    """Per item, the smallest range holding both (finite values only)."""
    out = dict(a)
    for key, rb in b.items():
        ra = out.get(key)
        if ra is None:
            out[key] = rb
            continue
        vals = [ra[0]]
        for i in range(1, len(rb), 2):
            lo = [v for v in (ra[i], rb[i]) if math.isfinite(v)]
            hi = [v for v in (ra[i + 1], rb[i + 1]) if math.isfinite(v)]
            vals += [min(lo) if lo else ra[i], max(hi) if hi else ra[i + 1]]
        out[key] = tuple(vals)
    return out


def fix_ranges(canvas: SlideCanvas, ranges: dict[int, tuple]) -> None:
    """Impose ranges from :func:`axis_ranges` (after show_frame; the panel's own are replaced)."""
    for vb in canvas.view_boxes():
        r = ranges.get(id(vb))
        if r is not None and all(math.isfinite(v) for v in r[1:]):
            vb.setRange(xRange=(r[1], r[2]), yRange=(r[3], r[4]), padding=0, update=True)
            vb.prepareForPaint()
    for cb in canvas.colour_bars():
        r = ranges.get(id(cb))
        if r is not None and all(math.isfinite(v) for v in r[1:]) and r[2] > r[1]:
            cb.setLevels((r[1], r[2]))


def gif_bytes(
    canvas: SlideCanvas,
    frames: Sequence[Frame],
    options: SlideOptions,
    fps: float = GIF_FPS,
    progress: Optional[ProgressFn] = None,
) -> bytes:
    """An animated GIF of ``frames`` (looping), every frame options.pixel_size, with fixed axes.

    Two passes: the first draws every frame to find, for each plot, the range that holds all of
    them; the second draws each frame again inside those ranges and paints it. ``progress(done,
    total, what)`` (done and total count painted frames; ``what`` says frames done / total and
    the time left) returning False cancels: ExportCancelled, nothing returned or written.
    """
    from PIL import Image

    options.check()
    if not frames:
        raise ExportError("The animation has no frame.")
    if not 0.1 <= fps <= 50:
        raise ExportError(f"The frame rate must be between 0.1 and 50 frames per second, not {fps:g}.")
    n = len(frames)
    total = 2 * n  # the measuring pass costs about half of a painted frame each: count both
    started = time.perf_counter()

    def tick(done: int, what: str) -> None:
        if progress is not None and progress(done, total, what) is False:
            raise ExportCancelled()

    canvas.prepare(frames[-1], options)  # the zoom is chosen once, on the fullest frame
    ranges: dict[int, tuple] = {}
    for i, frame in enumerate(frames):
        tick(i, f"measuring the axes: frame {i + 1} of {n}; " + _left(i, total, started))
        canvas.show_frame(frame, options.title, lay_out=False, draw_all=False)
        ranges = union_ranges(ranges, axis_ranges(canvas))
    images = []
    # one palette for every frame, from the first and the last (the fullest): colours stay put
    # from frame to frame, and mapping to a given palette is ~50x faster than a median cut each
    samples = []
    for frame in (frames[0], frames[-1]) if n > 1 else (frames[0],):
        canvas.show_frame(frame, options.title)
        fix_ranges(canvas, ranges)
        canvas.warm_up()  # the axes settle on their labels before the first frame is painted
        samples.append(qimage_to_pil(canvas.picture(options)))
    palette = _palette(samples)
    for i, frame in enumerate(frames):
        tick(n + i, f"{i} / {n} frames painted; " + _left(n + i, total, started))
        canvas.show_frame(frame, options.title, lay_out=False)
        fix_ranges(canvas, ranges)
        pil = qimage_to_pil(canvas.render_image(options))
        images.append(pil.quantize(palette=palette, dither=Image.Dither.NONE))
    tick(total, f"{n} / {n} frames painted; writing the GIF")
    buf = io.BytesIO()
    duration = max(20, round(1000 / fps))  # GIF delays are in 1/100 s; browsers slow down < 20 ms
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False, disposal=1)
    return buf.getvalue()


def _palette(samples: list):  # -> PIL.Image.Image (mode P)
    """A 256-colour palette (median cut) for the sample frames, side by side."""
    from PIL import Image

    w, h = samples[0].size
    sheet = Image.new("RGB", (w * len(samples), h), "white")
    for k, im in enumerate(samples):
        sheet.paste(im, (k * w, 0))
    return sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _left(done: int, total: int, started: float) -> str:
    """The time left, extrapolated from the work done so far."""
    if done <= 0:
        return "estimating the time left"
    left = (time.perf_counter() - started) / done * (total - done)
    return f"about {left:.0f} s left" if left < 120 else f"about {left / 60:.1f} min left"
