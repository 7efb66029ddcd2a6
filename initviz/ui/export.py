"""Slide export: any panel, one plot of it, or the whole dashboard as PNG, SVG, PDF or animated GIF.

Exports never touch the panels on screen. Each export builds fresh copies of the panel classes
(with the on-screen view options copied over) inside a :class:`SlideCanvas`, a hidden widget with
the slide theme: white background, dark ink, an optional header (title, step, configuration, the
colour of every lane), text magnified by ``zoom`` (the canvas is laid out at size/zoom and painted
zoom times larger) and lines thicker than on screen. The same canvas paints a PNG (QImage), an SVG
(QSvgGenerator), a PDF (QPdfWriter) or the frames of a GIF (Pillow), so every format shows the
same picture. A single plot goes through pyqtgraph's own ImageExporter / SVGExporter.

Every file is written whole or not at all: bytes go to a temporary file in the target folder,
then ``os.replace``; any failure removes the temporary file and raises :class:`ExportError`,
whose text is a sentence for a person.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import html
import io
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from initviz.ui.panels.base import Frame, Panel, pick_indices
from initviz.ui.text import elide

# --- what can be exported ----------------------------------------------------------------------

IMAGE_FORMATS = ("png", "svg", "pdf", "gif")
DATA_FORMATS = ("json", "csv")
FORMATS = IMAGE_FORMATS + DATA_FORMATS
PLOT_FORMATS = ("png", "svg")  # a single plot: pyqtgraph's exporters
DASHBOARD = "Whole dashboard"
SIZE_PRESETS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("16:9  1920 × 1080", (1920, 1080)),
    ("4:3  1600 × 1200", (1600, 1200)),
    ("square  1080 × 1080", (1080, 1080)),
)
MIN_SIZE, MAX_SIZE = 64, 8192  # px per side before scaling
MAX_PIXELS = 8192 * 8192  # after scaling (a 3840 x 2160 PNG is 8.3 M)

# --- the slide theme ---------------------------------------------------------------------------

SLIDE_BACKGROUND = "#ffffff"
SLIDE_INK = "#111111"
SLIDE_MUTED = "#444444"
PANEL_ZOOM = 2.0  # text and lines of one panel: twice their screen size
DASHBOARD_ZOOM = 1.0  # the dashboard tiles every panel: screen-size text (export panels for the back row)
LINE_BOOST = 1.5  # lines a further 1.5x thicker than the magnified screen lines
REFERENCE_HEIGHT = 1080  # zoom is relative to a slide this many pixels high (the shorter side)
MIN_PLOT_PX = 44  # small multiples lower than this (canvas px) are not legible: auto zoom goes down
AUTO_ZOOM_STEPS = (1.0, 0.875, 0.75, 0.625, 0.5)  # fractions of the default zoom tried by prepare()
HEADER_TITLE_PX = 22  # header fonts in canvas pixels (multiplied by zoom on the slide)
HEADER_TEXT_PX = 13
GIF_MAX_FRAMES = 100
GIF_FPS = 10


class ExportError(Exception):
    """An export that failed; ``str()`` is one sentence for a person."""


class ExportCancelled(Exception):
    """The user cancelled a long export; nothing was written."""


ProgressFn = Callable[[int, int, str], bool]  # (done, total, what) -> False to cancel


@dataclasses.dataclass(frozen=True)
class SlideOptions:
    """Size and look of one exported picture.

    ``width`` x ``height`` is the slide's size in pixels; a PNG or GIF has ``scale`` times as many
    pixels per side (1920 x 1080 at scale 2 is a 3840 x 2160 PNG). ``zoom``: text and lines as a
    multiple of their screen size on a slide whose shorter side is 1080 px, in proportion on other
    sizes, so a 960 x 540 GIF looks like a 1920 x 1080 slide shrunk. None: automatic, PANEL_ZOOM for
    a panel (DASHBOARD_ZOOM for the dashboard) or less, down to 1, when small multiples (one
    histogram per layer) would not fit otherwise. ``title``: None for the automatic header, "" for none.
    """

    width: int = 1920
    height: int = 1080
    scale: float = 1.0
    zoom: Optional[float] = None
    title: Optional[str] = None

    def check(self) -> "SlideOptions":
        for name in ("width", "height"):
            v = getattr(self, name)
            if not MIN_SIZE <= v <= MAX_SIZE:
                raise ExportError(f"The {name} must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {v}.")
        if not 0.05 <= self.scale <= 8:
            raise ExportError(f"The scale must be between 0.05 and 8, not {self.scale:g}.")
        if self.width * self.scale * self.height * self.scale > MAX_PIXELS:
            raise ExportError(
                f"{self.width} × {self.height} at {self.scale:g}x is too large an image; at most {MAX_PIXELS // 10**6} million pixels."
            )
        if self.zoom is not None and not 0.5 <= self.zoom <= 4:
            raise ExportError(f"The text size (zoom) must be between 0.5 and 4, not {self.zoom:g}.")
        return self

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) of a PNG or GIF frame."""
        return max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale))


# --- small helpers -----------------------------------------------------------------------------


def slug(text: str) -> str:
    """A file-name stem from a title: 'Loss & accuracy' -> 'loss_accuracy'."""
    s = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return s or "export"


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' (or 1920×1080, 1920X1080) -> (1920, 1080); ValueError with a sentence otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×*]\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write it as WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise ValueError(f"{w}x{h}: each side must be between {MIN_SIZE} and {MAX_SIZE} pixels")
    return w, h


def _ensure_app() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        raise ExportError("Exporting pictures needs a QApplication (use initviz.ui.headless.ensure_app()).")
    return app  # type: ignore[return-value]


@contextlib.contextmanager
def slide_config() -> Iterator[None]:
    """pyqtgraph's global colours set to the slide theme while exporting (restored afterwards).

    Axis and label colours come from these options when an item is made or painted, so the slide
    stays dark-on-white whatever theme the screen uses.
    """
    keys = ("background", "foreground", "antialias")
    old = {k: pg.getConfigOption(k) for k in keys}
    pg.setConfigOptions(background=SLIDE_BACKGROUND, foreground=SLIDE_INK, antialias=True)
    try:
        yield
    finally:
        pg.setConfigOptions(**old)


# --- writing files -----------------------------------------------------------------------------


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "the disk is full"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "permission denied (the folder is not writable)"
        if exc.errno == errno.ENOENT:
            return "the folder does not exist"
        if exc.errno == errno.ENOTDIR:
            return "part of the path is a file, not a folder"
        if exc.errno == errno.EISDIR:
            return "a folder of that name is in the way"
        if exc.errno == errno.ENAMETOOLONG:
            return "the file name is too long"
        return exc.strerror or str(exc)
    return str(exc)


def check_target(path: Union[str, Path]) -> Path:
    """The path to write, checked before any work: a name, an existing folder, not a folder itself."""
    raw = str(path)
    if not raw.strip():
        raise ExportError("No file name given.")
    if "\x00" in raw:
        raise ExportError(f"The file name {raw!r} holds a NUL character, which no file system allows.")
    p = Path(raw).expanduser()
    if p.name in ("", ".", ".."):
        raise ExportError(f"{raw!r} is not a file name.")
    if p.is_dir():
        raise ExportError(f"Cannot write {p}: it is a folder.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise ExportError(f"Cannot write {p}: the folder {parent} {what}.")
    return p


def write_bytes_atomic(path: Union[str, Path], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and os.replace.

    On any failure (unwritable folder, full disk, odd name) the temporary file is removed, the
    old file (if any) is left as it was, and ExportError says what went wrong.
    """
    p = check_target(path)
    tmp: Optional[str] = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:80]}.", suffix=".part", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, p)
        tmp = None
    except (OSError, ValueError) as exc:
        raise ExportError(f"Cannot write {p}: {_why(exc)}.") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


# --- frames ------------------------------------------------------------------------------------


def _fresh_frame(frame: Frame, lanes: Optional[tuple] = None, cursor_step: object = ...) -> Frame:
    """A copy of ``frame`` to export: new lanes (if given), per-frame caches (default_factory fields)
    empty, and at rest (``moving`` False), so no panel skips a part to save time while training."""
    kwargs: dict = {}
    if lanes is not None:
        kwargs["lanes"] = lanes
    for f in dataclasses.fields(frame):
        if f.name == "cursor_step" and cursor_step is not ...:
            kwargs[f.name] = cursor_step
        elif f.name == "moving":
            kwargs[f.name] = False
        elif f.name != "lanes" and f.init and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            kwargs[f.name] = f.default_factory()  # type: ignore[misc]
    return dataclasses.replace(frame, **kwargs) if kwargs else frame


def recorded_steps(frame: Frame) -> list[int]:
    """The recorded steps of the first lane (every lane shares them: they train in lockstep)."""
    return [int(r.step) for r in frame.main.records]


def history_frames(frame: Frame, start: Optional[int] = None, stop: Optional[int] = None, max_frames: int = GIF_MAX_FRAMES) -> list[Frame]:
    """Frames replaying the run from step ``start`` to ``stop`` (inclusive), as it was at each step.

    Frame k holds each lane's record at that step and its history up to it, so curves over steps
    grow from frame to frame. At most ``max_frames`` evenly spaced recorded steps (first and
    last always in). ExportError when the range holds no recorded step. Other fields (e.g. the
    decision grids, computed for the newest weights only) are kept as they are.
    """
    steps = recorded_steps(frame)
    if not steps:
        raise ExportError("The run has no recorded step yet.")
    lo = steps[0] if start is None else int(start)
    hi = steps[-1] if stop is None else int(stop)
    if lo > hi:
        raise ExportError(f"The step range {lo}:{hi} is empty: the first step must not be after the last.")
    idx = [i for i, s in enumerate(steps) if lo <= s <= hi]
    if not idx:
        raise ExportError(f"No recorded step lies in {lo}:{hi}; the run holds steps {steps[0]} to {steps[-1]}.")
    if max_frames < 1:
        raise ExportError("At least one frame is needed.")
    chosen = [idx[j] for j in pick_indices(len(idx), max_frames)]
    out = []
    for i in chosen:
        step = steps[i]
        lanes = []
        for lane in frame.lanes:
            records = lane.records
            k = i if len(records) == len(steps) and int(records[i].step) == step else _index_at_or_before(records, step)
            lanes.append(dataclasses.replace(lane, record=records[k], records=tuple(records[: k + 1])))
        out.append(_fresh_frame(frame, tuple(lanes), None))
    return out


def _index_at_or_before(records: Sequence, step: int) -> int:
    lo, hi = 0, len(records)
    while lo < hi:
        mid = (lo + hi) // 2
        if int(records[mid].step) <= step:
            lo = mid + 1
        else:
            hi = mid
    return max(lo - 1, 0)


# --- making export copies of panels ----------------------------------------------------------------

PanelSource = Union[Panel, type]


def export_copy(source: PanelSource) -> Panel:
    """A new panel of the same class as ``source``, showing the same view options (combo boxes,
    check boxes) when ``source`` is a panel instance. Made under the slide theme."""
    cls = source if isinstance(source, type) else type(source)
    with slide_config():
        try:
            panel = cls()
        except TypeError as exc:
            name = getattr(cls, "title", cls.__name__)
            raise ExportError(f"Cannot export {name}: the panel cannot be built on its own ({exc}).") from exc
    if not isinstance(source, type):
        _copy_view_state(source, panel)
        export_state = getattr(source, "export_state", None)  # data a panel holds beyond frames (a sweep)
        if callable(export_state):
            export_state(panel)
    return panel


def _copy_view_state(src: QtWidgets.QWidget, dst: QtWidgets.QWidget) -> None:
    """Copy the state of the view options, pairing the widgets of each kind in creation order."""
    for a, b in zip(src.findChildren(QtWidgets.QComboBox), dst.findChildren(QtWidgets.QComboBox)):
        if a.count() == b.count():
            b.setCurrentIndex(a.currentIndex())
    for a, b in zip(src.findChildren(QtWidgets.QAbstractButton), dst.findChildren(QtWidgets.QAbstractButton)):
        if a.isCheckable() and b.isCheckable():
            b.setChecked(a.isChecked())
    for a, b in zip(src.findChildren(QtWidgets.QSplitter), dst.findChildren(QtWidgets.QSplitter)):
        sizes = a.sizes()
        if len(sizes) == b.count() and sum(sizes) > 0:
            b.setSizes(sizes)


def _slide_palette() -> QtGui.QPalette:
    pal = QtGui.QPalette()
    white, ink = QtGui.QColor(SLIDE_BACKGROUND), QtGui.QColor(SLIDE_INK)
    for role in (QtGui.QPalette.ColorRole.Window, QtGui.QPalette.ColorRole.Base, QtGui.QPalette.ColorRole.Button,
                 QtGui.QPalette.ColorRole.AlternateBase):  # fmt: skip
        pal.setColor(role, white)
    for role in (QtGui.QPalette.ColorRole.WindowText, QtGui.QPalette.ColorRole.Text, QtGui.QPalette.ColorRole.ButtonText):
        pal.setColor(role, ink)
    return pal


def _dress(panel: QtWidgets.QWidget) -> None:
    """Turn the on-screen panel into a figure: controls become plain text, no scroll bars, white."""
    panel.setPalette(_slide_palette())
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


_MIN_HEIGHT_MEMO = "_initviz_min_height"  # the minimum height the panel gave a plot
_SIZES_MEMO = "_initviz_sizes"  # the sizes a splitter had before the slide changed them
_COLLAPSED_MEMO = "_initviz_collapsed"  # a splitter side hidden to leave small multiples out


def _fit_scroll_areas(root: QtWidgets.QWidget, settle: Callable[[], None], collapse: bool = False) -> float:
    """Make the small multiples inside scroll areas show without scrolling: a slide cannot scroll.

    First the scroll area gets room from its neighbours in a vertical splitter (down to 30% of
    their share), then its plots shrink (down to 24 canvas px): rather smaller histograms than
    missing layers. Starts from the panel's own sizes each time, so it can run again at another
    size. Returns the smallest plot height (inf without scroll areas, 0 when rows stay cut off).
    ``collapse``: leave the small multiples out instead (their neighbours take the room).
    """
    areas = [a for a in root.findChildren(QtWidgets.QScrollArea) if a.widget() is not None and a.widget().layout() is not None]
    # the panel's own splitter sizes first: an earlier attempt may have given room away
    splitters = root.findChildren(QtWidgets.QSplitter)
    for split in splitters:
        if not hasattr(split, _SIZES_MEMO):
            setattr(split, _SIZES_MEMO, split.sizes())
        split.setSizes(getattr(split, _SIZES_MEMO))
    for area in areas:
        branch = _splitter_branch(area)
        if collapse:
            if not branch.isHidden():
                branch.hide()
                setattr(branch, _COLLAPSED_MEMO, True)
        elif getattr(branch, _COLLAPSED_MEMO, False):
            branch.show()
            setattr(branch, _COLLAPSED_MEMO, False)
    if collapse:
        for split in {id(s): s for s in (_parent_splitter(a) for a in areas) if s is not None}.values():
            sizes = split.sizes()
            shown = [i for i in range(split.count()) if not split.widget(i).isHidden()]
            total, kept = sum(sizes), sum(sizes[i] for i in shown)
            if shown and kept > 0:  # the visible sides share the whole length (a hidden canvas does not redo it)
                split.setSizes([round(sizes[i] * total / kept) if i in shown else 0 for i in range(split.count())])
        settle()
        return math.inf
    per_area = []
    for area in areas:
        views = [v for v in area.widget().findChildren(pg.GraphicsView) if not v.isHidden()]
        for v in views:
            if not hasattr(v, _MIN_HEIGHT_MEMO):
                setattr(v, _MIN_HEIGHT_MEMO, v.minimumHeight())
            v.setMinimumHeight(getattr(v, _MIN_HEIGHT_MEMO))
        per_area.append((area, views))
    settle()
    moved = False
    for area, views in per_area:
        _flush_layouts(area.widget())
        deficit = area.widget().layout().minimumSize().height() - area.viewport().height()
        if deficit > 0:
            moved = _give_room(area, deficit) or moved
    if moved:
        settle()
    smallest = math.inf
    for area, views in per_area:
        inner = area.widget()
        for _ in range(4):
            _flush_layouts(inner)
            need = inner.layout().minimumSize().height()
            have = area.viewport().height()
            if need <= have or have <= 0 or not views:
                break
            cut = math.ceil((need - have) / _layout_rows(inner.layout(), len(views))) + 1
            shrunk = False
            for v in views:
                new = max(24, v.minimumHeight() - cut)
                if new < v.minimumHeight():
                    v.setMinimumHeight(new)
                    shrunk = True
            if not shrunk:
                break
        if views:
            _flush_layouts(inner)
            smallest = min(smallest, min(v.minimumHeight() for v in views))
            if inner.layout().minimumSize().height() > area.viewport().height() + 1:
                smallest = min(smallest, 0)  # some rows are still cut off
    return smallest


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


def _give_room(area: QtWidgets.QScrollArea, deficit: int) -> bool:
    """Grow ``area``'s side of the nearest vertical splitter above it by up to ``deficit`` px,
    taken from the other sides down to 30% of their height (or their minimum)."""
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
        floor = max(split.widget(i).minimumSizeHint().height(), split.widget(i).minimumHeight(), int(0.3 * size))
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


def _flush_layouts(widget: QtWidgets.QWidget) -> None:
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


def _thin_crowded_ticks(root: QtWidgets.QWidget) -> None:
    """Label every k-th of a panel's explicit ticks on a vertical axis when they would overlap
    (a heatmap of 20 layers names every layer; on a slide the names would run into each other)."""
    for item in _scene_items(root):
        if not isinstance(item, pg.AxisItem) or item.orientation not in ("left", "right"):
            continue
        levels = getattr(item, "_tickLevels", None)
        if not levels or len(levels) != 1 or len(levels[0]) < 3:
            continue
        ticks = list(levels[0])
        memo = getattr(item, "_initviz_ticks", None)
        full = memo[0] if memo is not None and memo[1] == ticks else ticks
        font = item.style.get("tickFont") or item.font()
        per = QtGui.QFontMetricsF(font).height() * 1.15
        length = item.geometry().height()
        if length <= 0:
            continue
        k = next((k for k in (1, 2, 5, 10, 20, 50) if len(full) / k * per <= length), 100)
        kept = [t for i, t in enumerate(full) if i % k == 0 or (k > 1 and i == len(full) - 1 and i % k >= k // 2)]
        if kept != ticks:
            item.setTicks([kept])
        item._initviz_ticks = (full, kept)  # type: ignore[attr-defined]


# --- pens for the slide ----------------------------------------------------------------------------

_PEN_MEMO = "_initviz_slide_pen"  # (width the panel set, width we set) stored on each item


def _boost(item: object, pen: QtGui.QPen, factor: float) -> Optional[QtGui.QPen]:
    """The pen to use on a slide, or None when nothing changes (idempotent per item)."""
    if pen.style() == QtCore.Qt.PenStyle.NoPen or not pen.isCosmetic():
        return None
    width = pen.widthF()
    memo = getattr(item, _PEN_MEMO, None)
    base = memo[0] if memo is not None and abs(width - memo[1]) < 1e-9 else (width or 1.0)
    new_width = base * factor
    if abs(new_width - width) < 1e-9:
        return None
    try:
        setattr(item, _PEN_MEMO, (base, new_width))
    except AttributeError:
        return None
    out = QtGui.QPen(pen)
    out.setWidthF(new_width)
    return out


def _scene_items(root: QtWidgets.QWidget) -> Iterator[QtWidgets.QGraphicsItem]:
    for view in root.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is not None:
            yield from scene.items()


def _set_pens(root: QtWidgets.QWidget, factor: float) -> None:
    """Make every cosmetic line ``factor`` times the width the panel gave it (device pixels)."""
    for item in _scene_items(root):
        if isinstance(item, pg.PlotDataItem):
            pen = item.opts.get("pen")
            if isinstance(pen, QtGui.QPen):
                new = _boost(item, pen, factor)
                if new is not None:
                    item.setPen(new)
        elif isinstance(item, pg.PlotCurveItem):
            if isinstance(item.parentItem(), pg.PlotDataItem):
                continue  # drawn with the PlotDataItem's pen
            new = _boost(item, item.opts["pen"], factor)
            if new is not None:
                item.setPen(new)
        elif isinstance(item, pg.InfiniteLine):
            new = _boost(item, item.pen, factor)
            if new is not None:
                item.setPen(new)
        elif isinstance(item, pg.AxisItem):
            new = _boost(item, item.pen(), factor)
            if new is not None:
                item.setPen(new)
                item.setTextPen(pg.mkPen(SLIDE_INK))
        elif isinstance(item, QtWidgets.QAbstractGraphicsShapeItem):
            new = _boost(item, item.pen(), factor)
            if new is not None:
                item.setPen(new)


# Sparser tick labels than on screen (pyqtgraph's default lets text fill 80% of an axis): on a
# slide, a log axis otherwise labels every minor tick (0.2 0.3 ... 0.9) in an unreadable column.
SLIDE_TEXT_FILL = [(0, 0.7), (2, 0.35), (4, 0.25), (6, 0.15)]


def _sparse_ticks(root: QtWidgets.QWidget) -> None:
    for item in _scene_items(root):
        if not isinstance(item, pg.AxisItem):
            continue
        if item.style.get("textFillLimits") != SLIDE_TEXT_FILL:
            item.setStyle(textFillLimits=SLIDE_TEXT_FILL)
        if not getattr(item, "_initviz_log_levels", False):
            _split_log_levels(item)


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
    axis._initviz_log_levels = True  # type: ignore[attr-defined]
    axis.picture = None
    axis.update()


@contextlib.contextmanager
def _export_mode(root: QtWidgets.QWidget, device_scale: float) -> Iterator[None]:
    """pyqtgraph's export mode on every item while painting: scatter symbols as vector shapes
    (not cached pixmaps), no hover buttons, antialiasing on.

    resolutionScale stays 1: QWidget.render() turns the painter's scale into a redirection that
    pyqtgraph's resetTransform() keeps, so pixel-sized symbols are already scaled with the slide.
    """
    opts = {"antialias": True, "background": QtGui.QColor(SLIDE_BACKGROUND), "resolutionScale": 1.0}
    items = [i for i in _scene_items(root) if hasattr(i, "setExportMode")]
    for i in items:
        i.setExportMode(True, opts)
    try:
        yield
    finally:
        for i in items:
            i.setExportMode(False)


# --- the canvas --------------------------------------------------------------------------------------


def config_summary(frame: Frame) -> str:
    """One line on the network and the training, shared by all lanes (the init is per lane)."""
    c = frame.main.config
    parts = [f"{c.depth} hidden layers × {c.width} units", c.activation if len({l.config.activation for l in frame.lanes}) == 1 else "",
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
        _ensure_app()
        if not sources:
            raise ExportError("Nothing to export: no panel given.")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self._grid: Optional[QtWidgets.QGridLayout] = None
        self._tiles: list[QtWidgets.QWidget] = []
        self.setPalette(_slide_palette())
        self.setAutoFillBackground(True)
        self.heading = heading or (getattr(sources[0], "title", "") if len(sources) == 1 else "initviz dashboard")
        self.panels: list[Panel] = [export_copy(s) for s in sources]
        for p in self.panels:
            _dress(p)
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
        app = _ensure_app()
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

    def show_frame(self, frame: Frame, title: Optional[str] = None) -> None:
        """Draw ``frame`` on every panel and write the header (title None: automatic; "": none)."""
        frame = _fresh_frame(frame)
        self._frame = frame
        with slide_config():
            for p in self.panels:
                p.show_frame(frame)
            self._set_header(frame, title)
            # rows a scrolling view draws only when on screen (a slide shows them all), first so that
            # the plots they create count when the small multiples are fitted
            self._draw_all()
            self._settle()
            self._smallest_plot = _fit_scroll_areas(self, self._settle, self.small_multiples_left_out)
            self._settle()
            self._draw_all()
            _sparse_ticks(self)
            _thin_crowded_ticks(self)
            for view in self.findChildren(pg.GraphicsView):
                for item in view.scene().items():
                    if isinstance(item, pg.ViewBox):
                        item.prepareForPaint()

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

    # --- fixed axes for animations ---------------------------------------------------------------
    def _view_boxes(self) -> list[pg.ViewBox]:
        out = []
        for view in self.findChildren(pg.GraphicsView):
            out.extend(i for i in view.scene().items() if isinstance(i, pg.ViewBox) and i.isVisible())
        return out

    def _colour_bars(self) -> list[pg.ColorBarItem]:
        return [i for i in _scene_items(self) if isinstance(i, pg.ColorBarItem)]

    def axis_ranges(self) -> dict[int, tuple]:
        """Per plot, the view range widened to hold all its data; per colour bar, its levels; by item id.

        The data bounds count too: a panel may range its axes on the first lane only, and a fixed
        axis must not cut another lane's curve off in later frames.
        """
        out: dict[int, tuple] = {}
        for vb in self._view_boxes():
            vb.prepareForPaint()
            (x0, x1), (y0, y1) = vb.viewRange()
            for item in vb.addedItems:
                if isinstance(item, pg.PlotDataItem) and item.isVisible():
                    bx, by = item.dataBounds(0), item.dataBounds(1)
                    if None not in bx and all(math.isfinite(v) for v in bx):
                        x0, x1 = min(x0, bx[0]), max(x1, bx[1])
                    if None not in by and all(math.isfinite(v) for v in by):
                        y0, y1 = min(y0, by[0]), max(y1, by[1])
            out[id(vb)] = ("view", x0, x1, y0, y1)
        # linked axes (loss and accuracy share the step axis) must get one range, or setting the
        # second would move the first
        for vb in self._view_boxes():
            for axis, (lo, hi) in ((pg.ViewBox.XAxis, (1, 2)), (pg.ViewBox.YAxis, (3, 4))):
                other = vb.linkedView(axis)
                if other is None or id(other) not in out:
                    continue
                a, b = list(out[id(vb)]), list(out[id(other)])
                a[lo] = b[lo] = min(a[lo], b[lo])
                a[hi] = b[hi] = max(a[hi], b[hi])
                out[id(vb)], out[id(other)] = tuple(a), tuple(b)
        for cb in self._colour_bars():
            lo, hi = cb.levels()
            out[id(cb)] = ("levels", lo, hi)
        return out

    @staticmethod
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

    def fix_ranges(self, ranges: dict[int, tuple]) -> None:
        """Impose ranges from :meth:`axis_ranges` (after show_frame; the panel's own are replaced)."""
        for vb in self._view_boxes():
            r = ranges.get(id(vb))
            if r is not None and all(math.isfinite(v) for v in r[1:]):
                vb.setRange(xRange=(r[1], r[2]), yRange=(r[3], r[4]), padding=0, update=True)
                vb.prepareForPaint()
        for cb in self._colour_bars():
            r = ranges.get(id(cb))
            if r is not None and all(math.isfinite(v) for v in r[1:]) and r[2] > r[1]:
                cb.setLevels((r[1], r[2]))

    # --- painting --------------------------------------------------------------------------------
    def _paint(self, painter: QtGui.QPainter, sx: float, sy: float, device_scale: float) -> None:
        with slide_config():
            _set_pens(self, LINE_BOOST * device_scale)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.scale(sx, sy)
            with _export_mode(self, device_scale):
                self.render(painter, QtCore.QPoint(0, 0))

    def render_image(self, options: SlideOptions) -> QtGui.QImage:
        """The slide as an RGB image of options.pixel_size pixels."""
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
        self.set_size(options)
        buf = QtCore.QBuffer()
        buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        gen = QtSvg.QSvgGenerator()
        gen.setOutputDevice(buf)
        gen.setSize(QtCore.QSize(options.width, options.height))
        gen.setViewBox(QtCore.QRect(0, 0, options.width, options.height))
        gen.setResolution(96)
        gen.setTitle(self.title_label.text() or self.heading)
        gen.setDescription("initviz slide export")
        painter = QtGui.QPainter(gen)
        try:
            painter.fillRect(QtCore.QRectF(0, 0, options.width, options.height), QtGui.QColor(SLIDE_BACKGROUND))
            sx, sy = options.width / self.width(), options.height / self.height()
            self._paint(painter, sx, sy, (sx + sy) / 2)
        finally:
            painter.end()
        buf.close()
        return bytes(buf.data())

    def pdf_bytes(self, options: SlideOptions) -> bytes:
        """The slide as a one-page vector PDF, the page options.width x height px at 96 dpi."""
        self.set_size(options)
        buf = QtCore.QBuffer()
        buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        writer = QtGui.QPdfWriter(buf)
        writer.setResolution(96)
        writer.setPageSize(QtGui.QPageSize(QtCore.QSizeF(options.width * 0.75, options.height * 0.75), QtGui.QPageSize.Unit.Point, "slide"))
        writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
        writer.setTitle(self.title_label.text() or self.heading)
        writer.setCreator("initviz")
        painter = QtGui.QPainter(writer)
        try:
            page = painter.viewport()
            painter.fillRect(page, QtGui.QColor(SLIDE_BACKGROUND))
            sx, sy = page.width() / self.width(), page.height() / self.height()
            self._paint(painter, sx, sy, (sx + sy) / 2)
        finally:
            painter.end()
        buf.close()
        data = bytes(buf.data())
        del writer
        return data

    def plot_items(self) -> list[pg.PlotItem]:
        """The plots of the canvas's panels, in the order of :func:`panel_plots`."""
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


# --- single plots (pyqtgraph's exporters) ----------------------------------------------------------------


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


# --- the public entry points --------------------------------------------------------------------------


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
            _set_pens(canvas, LINE_BOOST * (device_scale if fmt == "png" else 1.0))
        return plot_bytes(plots[plot], fmt, device_scale)
    if fmt == "png":
        return canvas.png_bytes(options)
    if fmt == "svg":
        return canvas.svg_bytes(options)
    if fmt == "pdf":
        return canvas.pdf_bytes(options)
    raise ExportError(f"{fmt!r} is not a picture format; choose one of {', '.join(IMAGE_FORMATS)}.")


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
    total, what)`` returning False cancels: ExportCancelled, nothing returned or written.
    """
    from PIL import Image

    options.check()
    if not frames:
        raise ExportError("The animation has no frame.")
    if not 0.1 <= fps <= 50:
        raise ExportError(f"The frame rate must be between 0.1 and 50 frames per second, not {fps:g}.")
    n = len(frames)
    total = 2 * n

    def tick(done: int, what: str) -> None:
        if progress is not None and progress(done, total, what) is False:
            raise ExportCancelled()

    canvas.prepare(frames[-1], options)  # the zoom is chosen once, on the fullest frame
    ranges: dict[int, tuple] = {}
    for i, frame in enumerate(frames):
        tick(i, f"measuring the axes: frame {i + 1} of {n}")
        canvas.show_frame(frame, options.title)
        ranges = canvas.union_ranges(ranges, canvas.axis_ranges())
    images = []
    canvas.show_frame(frames[0], options.title)
    canvas.fix_ranges(ranges)
    canvas.warm_up()  # the axes settle on their labels before the first frame is painted
    for i, frame in enumerate(frames):
        tick(n + i, f"painting frame {i + 1} of {n}")
        canvas.show_frame(frame, options.title)
        canvas.fix_ranges(ranges)
        pil = qimage_to_pil(canvas.render_image(options))
        images.append(pil.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    tick(total, "writing the GIF")
    buf = io.BytesIO()
    duration = max(20, round(1000 / fps))  # GIF delays are in 1/100 s; browsers slow down < 20 ms
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False, disposal=1)
    return buf.getvalue()


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


# --- data ------------------------------------------------------------------------------------------------


def data_report(frame: Frame, timing: bool = True) -> tuple[dict, str]:
    """The JSON object and CSV text of ``initviz run`` for the lanes of ``frame``.

    One lane: schema initviz.run/1; several: initviz.compare/1 with a ``lane`` CSV column.
    ``timing=False`` writes ``"cost": null`` so the same seed gives byte-identical files.
    """
    from initviz.engine.report import lanes_report

    runs = []
    for lane in frame.lanes:
        theory = lane.theory
        if theory is None:  # a frame built without predictions: compute them as the engine would
            from initviz.engine.data import make_dataset
            from initviz.engine.theory import predict

            c = lane.config
            theory = predict(c, make_dataset(c.dataset, c.seed, "cpu", input_dim=c.input_dim).x_train)
        runs.append((lane.name, lane.config, list(lane.records), theory))
    obj, text = lanes_report(runs, single=len(runs) == 1)
    if not timing:
        for run in obj.get("lanes", [obj]):
            if "cost" in run:
                run["cost"] = None
    return obj, text


def data_bytes(frame: Frame, fmt: str, timing: bool = True) -> bytes:
    import json

    obj, text = data_report(frame, timing)
    if fmt == "json":
        return (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "csv":
        return text.encode("utf-8")
    raise ExportError(f"{fmt!r} is not a data format; choose json or csv.")


def export_data(frame: Frame, path: Union[str, Path], fmt: Optional[str] = None, timing: bool = True) -> Path:
    """Write the run's statistics (every lane) as JSON or CSV, the format of ``initviz run``."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in DATA_FORMATS:
        raise ExportError(f"Cannot export data as {fmt!r}; choose json or csv.")
    check_target(path)
    return write_bytes_atomic(path, data_bytes(frame, fmt, timing))


__all__ = [
    "DASHBOARD",
    "DATA_FORMATS",
    "ExportCancelled",
    "ExportError",
    "FORMATS",
    "IMAGE_FORMATS",
    "SIZE_PRESETS",
    "SlideCanvas",
    "SlideOptions",
    "data_report",
    "export_data",
    "export_figure",
    "figure_bytes",
    "gif_bytes",
    "history_frames",
    "parse_size",
    "write_bytes_atomic",
]
