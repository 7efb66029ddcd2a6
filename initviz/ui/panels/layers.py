"""Per-layer views that stay legible from depth 1 to 50+: a layer heatmap and small multiples.

``LayerHeatmap`` shows one row per hidden layer (layer 1 at the top) so a whole deep network fits
one picture. ``LayerHistogramGrid`` shows one small histogram per layer in a scroll area with a
fixed minimum height per plot; only the rows on screen are redrawn, the rest when scrolled to.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.record import HistSpec
from initviz.ui import theme
from initviz.ui.panels.axes import readable
from initviz.ui.panels.base import Frame, PathCurve, StaticPlot, finite_range
from initviz.ui.text import name_html, plain_html

ROW_PLOT_HEIGHT = 84  # px of each small histogram: readable, ~8 rows per screen
MIN_COLUMN_WIDTH = 330  # px; wider panels get two or more columns of small multiples
ZERO_RGBA = (205, 205, 205, 255)  # heatmap cells that are exactly 0 (no place on a log colour scale)
BAD_RGBA = (192, 57, 43, 150)  # heatmap cells (or rows) that hold Inf/NaN: a red veil


class LayerHeatmap(pg.PlotWidget):
    """An image with one row per layer (layer 1 at the top) over a value or step axis."""

    def __init__(
        self,
        parent: Optional[QtWidgets.QWidget] = None,
        *,
        colormap: Optional[pg.ColorMap] = None,
    ) -> None:
        super().__init__(parent)
        readable(self.plotItem)
        self.plotItem.setMenuEnabled(False)
        self.plotItem.hideButtons()
        self.plotItem.vb.setMouseEnabled(x=False, y=False)
        self.plotItem.vb.invertY(True)
        self.plotItem.setLabel("left", "layer")
        self.plotItem.getAxis("left").enableAutoSIPrefix(False)  # before the first image: no "(x0.001)"
        self.image = pg.ImageItem(axisOrder="row-major")
        self._colormap = colormap or theme.mass_colormap()
        self.image.setColorMap(self._colormap)
        self.plotItem.addItem(self.image)
        self._marks: Optional[pg.ImageItem] = None  # exactly-0 / Inf-NaN cells (set_marks)
        self._depth = -1
        self._x_range: tuple[float, float] = (np.nan, np.nan)
        self.layer_ticks: list[tuple[int, str]] = []  # every layer's tick; fit_layer_ticks thins them
        self._shown_ticks: Optional[list] = None

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:  # noqa: N802 - Qt override
        ev.ignore()

    def set_marks(self, zero: Optional[np.ndarray], bad: Optional[np.ndarray], x0: float, x1: float) -> None:
        """Cells a colour scale cannot show, over the image: exactly 0 in grey, Inf/NaN in red.

        ``zero`` and ``bad`` are (layers, columns) boolean masks spread over x0..x1 (one column:
        whole rows); None clears.
        """
        if zero is None or bad is None or not (zero.any() or bad.any()):
            if self._marks is not None:
                self._marks.hide()
            return
        if self._marks is None:
            self._marks = pg.ImageItem(axisOrder="row-major")
            self._marks.setZValue(5)
            self.plotItem.addItem(self._marks)
        rgba = np.zeros(zero.shape + (4,), dtype=np.ubyte)
        rgba[zero] = ZERO_RGBA
        rgba[bad] = BAD_RGBA
        self._marks.setImage(rgba, axisOrder="row-major", autoLevels=False)
        self._marks.setRect(QtCore.QRectF(x0, 0.5, max(x1 - x0, 1e-9), zero.shape[0]))
        self._marks.show()

    def set_image(
        self,
        data: np.ndarray,
        x0: float,
        x1: float,
        levels: tuple[float, float],
        x_view: Optional[tuple[float, float]] = None,
        pool: bool = False,
    ) -> None:
        """Show ``data`` (layers, columns) spanning x0..x1; layer k is centred on y = k.

        ``x_view``: the x-range to show when it differs from the image's (a growing step axis).
        ``pool``: when the plot is narrower than the image has columns, merge neighbouring columns
        by their maximum, so a one-bin spike (a collapsed layer) stays visible; drawing the image
        scaled down would drop most columns, spikes included.
        """
        depth, cols = data.shape
        if cols == 0 or depth == 0:
            self.image.clear()
            return
        view = x_view or (x0, x1)
        if x1 <= x0:
            x1 = x0 + 1.0
        if pool:
            data, x1 = pool_columns(data, x0, x1, self.plotItem.vb.width() * (x1 - x0) / max(view[1] - view[0], 1e-12))
        self.image.setImage(data, axisOrder="row-major", autoLevels=False, levels=levels)
        self.image.setRect(QtCore.QRectF(x0, 0.5, x1 - x0, depth))
        rows_px = self.plotItem.vb.height()
        # a layer label needs about a line of text: thin them so they never overlap
        room = int(rows_px // (QtGui.QFontMetricsF(self.plotItem.getAxis("left").font()).height() + 2)) if rows_px > 0 else depth
        step = next((s for s in (1, 2, 5, 10, 20, 50) if depth / s <= max(room, 1)), 100)
        if depth != self._depth or view != self._x_range or step != getattr(self, "_row_step", None):
            self._depth = depth
            self._x_range = view
            self._row_step = step
            self.plotItem.vb.setRange(xRange=view, yRange=(0.5, depth + 0.5), padding=0)
            if depth <= 24:
                self.layer_ticks = [(k, str(k)) for k in range(1, depth + 1)]
            else:
                step = 5 if depth <= 60 else 10 if depth <= 120 else 20
                self.layer_ticks = [(k, str(k)) for k in [1, *range(step, depth + 1, step)]]
            self._shown_ticks = None
            self.fit_layer_ticks()

    def fit_layer_ticks(self) -> None:
        """Name every k-th layer when all names would overlap at the axis's present height
        (a 20-layer heatmap on a slide); the last layer is named when it does not crowd."""
        full = self.layer_ticks
        if not full:
            return
        axis = self.plotItem.getAxis("left")
        length = axis.geometry().height()
        kept = full
        if len(full) >= 3 and length > 0:
            per = QtGui.QFontMetricsF(axis.style.get("tickFont") or axis.font()).height() * 1.15
            k = next((k for k in (1, 2, 5, 10, 20, 50) if len(full) / k * per <= length), 100)
            kept = [t for i, t in enumerate(full) if i % k == 0]
            last = len(full) - 1
            # the last layer too when it is a label's height away from the last one named
            if k > 1 and last % k and (last % k) * length / len(full) >= per:
                kept.append(full[last])
        if kept != self._shown_ticks:
            self._shown_ticks = kept
            axis.setTicks([kept])


class LaneHeatmaps(QtWidgets.QWidget):
    """One LayerHeatmap per lane, side by side, each titled with its lane's name.

    Overlaid heatmaps are not readable, so lanes get one each; the first shows the layer axis,
    and one colour bar (``colorbar_label``) at the right serves them all: the strip reads as one
    figure on one colour scale (``set_levels``). ``heatmap`` is lane 1's (the only one for a
    single run, titled ``title``).
    """

    def __init__(
        self,
        title: str = "",
        make: Callable[[], LayerHeatmap] = LayerHeatmap,
        colorbar_label: Optional[str] = None,
        parent: Optional[QtWidgets.QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self._title = title
        self._make = make
        self._box = QtWidgets.QHBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(2)
        self.heatmaps: list = [self._new()]
        self._box.addWidget(self.heatmaps[0], 1)  # equal stretch: lanes share the width
        self._names: tuple = ()
        self.colorbar: Optional[pg.ColorBarItem] = None
        if colorbar_label is not None:
            bar_view = pg.GraphicsLayoutWidget()
            bar_view.setFixedWidth(78)
            # leave the plots' title above and step axis below, so the bar spans their images
            bar_view.ci.layout.setContentsMargins(0, 26, 0, 40)
            self.colorbar = pg.ColorBarItem(
                values=(0.0, 1.0), colorMap=self.heatmap._colormap, interactive=False, label=colorbar_label
            )
            bar_view.addItem(self.colorbar)
            self._box.addWidget(bar_view, 0)
            self.bar_view = bar_view
        if title:
            self.heatmap.plotItem.setTitle(title, size="10pt")

    @property
    def heatmap(self) -> LayerHeatmap:
        return self.heatmaps[0]

    def _new(self) -> LayerHeatmap:
        h = self._make()
        if self.toolTip():
            h.setToolTip(self.toolTip())
        return h

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override: every heatmap explains itself
        super().setToolTip(text)
        for h in getattr(self, "heatmaps", ()):
            h.setToolTip(text)

    def for_lanes(self, frame: Frame) -> list:
        """The heatmaps for ``frame``'s lanes (made or removed as needed), titled; one per lane."""
        n = len(frame.lanes)
        changed = n != len(self.heatmaps)
        while len(self.heatmaps) > n:
            h = self.heatmaps.pop()
            self._box.removeWidget(h)
            h.setParent(None)
            h.deleteLater()
        while len(self.heatmaps) < n:
            h = self._new()
            h.plotItem.hideAxis("left")  # the first heatmap names the layers
            self._box.insertWidget(len(self.heatmaps), h, 1)  # before the colour bar
            self.heatmaps.append(h)
        if changed and self.colorbar is not None:
            self.colorbar.setImageItem([h.image for h in self.heatmaps])
        names = tuple((lane.name, lane.colour) for lane in frame.lanes)
        if names != self._names:
            self._names = names
            for h, (name, colour) in zip(self.heatmaps, names):
                title = f"<span style='color:{colour}'>■ {name_html(name)}</span>" if n > 1 else self._title
                h.plotItem.setTitle(title or None, size="10pt")
                h.plotItem.titleLabel.setToolTip(plain_html(name) if n > 1 else "")
        return self.heatmaps

    def set_levels(self, levels: tuple[float, float]) -> None:
        """The colour bar's range (the heatmaps' own levels are set with their images)."""
        if self.colorbar is not None and tuple(self.colorbar.levels()) != tuple(levels):
            self.colorbar.setLevels(levels)


def pool_columns(data: np.ndarray, x0: float, x1: float, pixels: float) -> tuple[np.ndarray, float]:
    """``data`` with groups of k neighbouring columns merged by max, k so that at most ``pixels``
    columns remain; returns it with the new right edge (a short last group is padded with 0)."""
    cols = data.shape[1]
    if not pixels >= 1 or cols <= pixels:
        return data, x1
    k = int(np.ceil(cols / pixels))
    groups = int(np.ceil(cols / k))
    padded = np.zeros((data.shape[0], groups * k), dtype=data.dtype)
    padded[:, :cols] = data
    pooled = padded.reshape(data.shape[0], groups, k).max(axis=2)
    return pooled, x0 + (x1 - x0) * groups * k / cols


def histogram_image(
    hist: np.ndarray, under: np.ndarray, over: np.ndarray, spec: HistSpec, pad_bins: int = 3
) -> tuple[np.ndarray, float, float]:
    """Rows of a (layers, bins) histogram, each scaled to its own peak, on a sqrt colour scale.

    Each row's fullest bin is the darkest colour, so every layer's shape reads at a glance (a bell,
    a pile-up at ±1, a single spike) however many bins it spreads over; the sqrt keeps thin tails
    visible. Off-scale values get an extra band of ``pad_bins`` columns at each side (their count
    against the same peak) so an exploding layer (all values beyond the range) shows as a dark
    band at the edge instead of an empty row. Returns (image, x0, x1).
    """
    hist = np.asarray(hist, dtype=np.float64)
    under = np.asarray(under, dtype=np.float64)[:, None]
    over = np.asarray(over, dtype=np.float64)[:, None]
    peak = np.maximum(np.maximum(hist.max(axis=1, keepdims=True, initial=0.0), under), over)
    peak[~(peak > 0) | ~np.isfinite(peak)] = np.inf  # empty or non-finite rows draw white
    width = (spec.hi - spec.lo) / hist.shape[1]
    image = np.concatenate(
        [np.repeat(under / peak, pad_bins, axis=1), hist / peak, np.repeat(over / peak, pad_bins, axis=1)], axis=1
    )
    image = np.sqrt(np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0))
    return image, spec.lo - pad_bins * width, spec.hi + pad_bins * width


@dataclass(frozen=True)
class BandedImage:
    """A histogram heatmap laid out for a plot ``px`` wide: bands outside a white gap each side.

    Columns: [left band | gap | in-range bins | gap | right band], every column ``cw`` wide in data
    units. The bands hold what the in-range bins cannot show: values beyond the range, and for a
    bounded activation also its outermost ``edge_bins`` bins (the mass at the bounds, e.g. tanh's
    saturated |t| > 0.97), so a saturated layer reads as two dark bars and never hides under the
    frame lines, which sit in the gaps. Bands and gaps keep their width in pixels at any plot width.
    """

    image: np.ndarray  # (layers, columns) in [0, 1]
    x0: float
    x1: float
    frame: tuple[float, float]  # x of the left and right frame lines (in the gaps)
    bands: tuple[float, float]  # x of the left and right band centres


def banded_image(
    hist: np.ndarray,
    under: np.ndarray,
    over: np.ndarray,
    spec: HistSpec,
    px: float,
    edge_bins: int = 0,
    band_px: float = 9.0,
    gap_px: float = 5.0,
) -> BandedImage:
    """Rows of a (layers, bins) histogram, each scaled to its own peak, on a sqrt colour scale,
    pooled (max) to the plot's ``px`` pixels so a one-bin spike stays visible, bands outside."""
    hist = np.nan_to_num(np.asarray(hist, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    left = np.nan_to_num(np.asarray(under, dtype=np.float64), nan=0.0)
    right = np.nan_to_num(np.asarray(over, dtype=np.float64), nan=0.0)
    bins = hist.shape[1]
    # each row against its own peak: its fullest bin or off-scale count (the darkest colour)
    peak = np.maximum(np.maximum(hist.max(axis=1, initial=0.0), left), right)[:, None]
    if edge_bins > 0:  # the mass at the bounds, against the same peak (a pile-up: the darkest)
        left = left + hist[:, :edge_bins].sum(axis=1)
        right = right + hist[:, bins - edge_bins :].sum(axis=1)
    peak[~(peak > 0) | ~np.isfinite(peak)] = np.inf  # empty rows draw white
    core = np.sqrt(np.clip(hist / peak, 0.0, 1.0))
    w = (spec.hi - spec.lo) / bins
    core_px = px - 2 * (band_px + gap_px) if px > 0 else float(bins)
    core_px = max(core_px, 8.0)
    core, hi_edge = pool_columns(core, spec.lo, spec.hi, core_px)
    cw = (hi_edge - spec.lo) / core.shape[1]
    if core.shape[1] < bins or core_px / bins < 2:
        # under 2 px per bin a one-bin spike (a collapsed layer) is a hairline: widen peaks by a column
        padded = np.pad(core, ((0, 0), (1, 1)))
        core = np.maximum(core, np.maximum(padded[:, :-2], padded[:, 2:]))
    per_px = (spec.hi - spec.lo) / core_px  # data units per pixel
    band_cols = max(1, int(round(band_px * per_px / cw)))
    gap_cols = max(1, int(round(gap_px * per_px / cw)))
    depth = hist.shape[0]
    left_band = np.repeat(np.sqrt(np.clip(left[:, None] / peak, 0.0, 1.0)), band_cols, axis=1)
    right_band = np.repeat(np.sqrt(np.clip(right[:, None] / peak, 0.0, 1.0)), band_cols, axis=1)
    gap = np.zeros((depth, gap_cols))
    image = np.concatenate([left_band, gap, core, gap, right_band], axis=1)
    x0 = spec.lo - (band_cols + gap_cols) * cw
    x1 = hi_edge + (band_cols + gap_cols) * cw
    frame = (spec.lo - gap_cols * cw / 2, hi_edge + gap_cols * cw / 2)
    bands = (x0 + band_cols * cw / 2, x1 - band_cols * cw / 2)
    return BandedImage(image, x0, x1, frame, bands)


def value_ticks(
    spec: HistSpec, pad_bins: int = 3, log10_abs: bool = False, pixels: float = 400, bands: bool = True
) -> list[tuple[float, str]]:
    """Axis ticks for a histogram heatmap: a few values plus (``bands``) the off-scale bands.

    ``pixels``: about how wide the axis is; narrower axes (lanes side by side) get fewer ticks.
    """
    width = (spec.hi - spec.lo) / spec.bins
    values = pg.AxisItem("bottom").tickValues(spec.lo, spec.hi, pixels)
    major = values[0][1] if values else []
    ticks = []
    for v in major:
        if spec.lo - 1e-9 <= v <= spec.hi + 1e-9:
            label = f"1e{v:g}" if log10_abs else f"{v:g}"
            ticks.append((float(v), label))
    if bands:
        ticks.append((spec.lo - pad_bins * width / 2, "below"))
        ticks.append((spec.hi + pad_bins * width / 2, "above"))
    return ticks


BLOCK_GAP = 0.12  # between lanes' histograms in a row, as a share of one histogram's width


@functools.lru_cache(maxsize=256)
def block_ticks(spec: HistSpec, offset: float, lanes: int) -> tuple[tuple[float, str], ...]:
    """Ticks of one lane's histogram drawn over [offset, offset + 1] (its range scaled to 1);
    with lanes side by side the histograms are narrower: fewer ticks."""
    span = spec.hi - spec.lo
    ticks = value_ticks(spec, log10_abs=spec.log10_abs, pixels=MIN_COLUMN_WIDTH / (1 + (lanes > 2)), bands=False)
    return tuple((offset + (v - spec.lo) / span, label) for v, label in ticks)


@dataclass
class _Row:
    widget: QtWidgets.QWidget
    caption: QtWidgets.QLabel
    box: QtWidgets.QVBoxLayout
    stand_in: Optional[QtWidgets.QWidget]  # holds the plot's place until the row is first drawn
    plot: Optional[StaticPlot] = None  # every lane's histogram of this layer, side by side
    curves: list[PathCurve] = dataclasses.field(default_factory=list)  # one per lane
    drawn_version: int = -1
    layout_key: tuple = ()  # (lanes, specs) the axis, range and separators were set for
    separators: Optional[PathCurve] = None


class LayerHistogramGrid(QtWidgets.QScrollArea):
    """One small histogram per layer, in a scroll area; redraws only the rows on screen.

    With several lanes each layer's plot holds one histogram per lane, side by side, each over
    its own range (one column per lane, named in the header): overlaid histograms would hide
    each other, and one plot per lane and layer would cost a widget each (slow to make and paint).
    """

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None, *, x_label: str = "") -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QtWidgets.QWidget()
        self._grid = QtWidgets.QGridLayout(self._inner)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(6)
        self.setWidget(self._inner)
        self._rows: list[_Row] = []
        self._columns = 1
        self._x_label = x_label
        self._version = 0
        self._spec: Optional[HistSpec] = None
        self._hists: Sequence[np.ndarray] = ()
        self._colours: Sequence[str] = ()
        self._captions: Sequence[str] = ()
        self._caption_styles: Sequence[str] = ()
        self._lane_names: Sequence[str] = ()
        self._lane_specs: list[HistSpec] = []
        self.header = QtWidgets.QWidget(self)
        self._header_box = QtWidgets.QHBoxLayout(self.header)
        self._header_box.setContentsMargins(4, 0, 4, 0)
        self.header_labels: list[QtWidgets.QLabel] = []
        self.header.hide()
        self.verticalScrollBar().valueChanged.connect(self._draw_visible)

    # --- public --------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return len(self._rows)

    def set_data(
        self,
        spec: HistSpec,
        hists: Sequence[np.ndarray],
        colours: Sequence[str],
        captions: Sequence[str],
        caption_styles: Optional[Sequence[str]] = None,
        *,
        draw_all: bool = False,
        lane_names: Optional[Sequence[str]] = None,
        lane_specs: Optional[Sequence[HistSpec]] = None,
    ) -> None:
        """New data: ``hists`` holds one (layers, bins) array per lane; draws the visible rows."""
        depth = hists[0].shape[0] if hists else 0
        lanes_changed = len(hists) != len(self._hists)
        self._set_header(list(lane_names) if lane_names is not None and len(hists) > 1 else [], colours)
        self._hists = hists
        self._ensure_rows(depth)
        if lanes_changed:
            self._relayout(force=True)
        self._spec = spec
        self._colours = colours
        self._lane_specs = list(lane_specs) if lane_specs is not None else [spec] * len(hists)
        self._captions = captions
        self._caption_styles = caption_styles or [""] * len(captions)
        self._version += 1
        self._draw_visible(draw_all=draw_all)

    def row_curve_data(self, layer: int, lane: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(bin edges, counts) currently plotted for ``layer`` (tests and export)."""
        curve = self._rows[layer].curves[lane]
        return curve.xData, curve.yData

    def lane_plot_count(self, layer: int) -> int:
        """Histograms drawn for ``layer``: one per lane once the row has been drawn."""
        return len(self._rows[layer].curves)

    def _set_header(self, names: list[str], colours: Sequence[str]) -> None:
        """One label per lane over its column (hidden for a single run)."""
        if list(names) == list(self._lane_names):
            return
        self._lane_names = list(names)
        while self.header_labels:
            label = self.header_labels.pop()
            self._header_box.removeWidget(label)
            label.deleteLater()
        for i, name in enumerate(names):
            label = QtWidgets.QLabel(f"<b style='color:{colours[i]}'>■ {name_html(name)}</b>")
            label.setToolTip(plain_html(name))
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self._header_box.addWidget(label, 1)
            self.header_labels.append(label)
        self.header.setVisible(bool(names))
        self.setViewportMargins(0, self.header.sizeHint().height() if names else 0, 0, 0)
        self._place_header()

    def _place_header(self) -> None:
        if self.header.isVisible():
            h = self.header.sizeHint().height()
            self.header.setGeometry(self.frameWidth(), self.frameWidth(), self.viewport().width(), h)

    def row_caption(self, layer: int) -> str:
        return self._rows[layer].caption.text()

    def draw_all(self) -> None:
        self._draw_visible(draw_all=True)

    # --- internals -------------------------------------------------------------------------
    def _make_plot(self) -> StaticPlot:
        plot = StaticPlot()
        plot.setMinimumHeight(ROW_PLOT_HEIGHT)
        plot.setMaximumHeight(int(ROW_PLOT_HEIGHT * 1.6))
        item = plot.plotItem
        # counts have no meaning to read off: no y axis, each histogram scaled to its own peak
        item.hideAxis("left")
        item.getAxis("bottom").setStyle(tickFont=theme.small_font(7.5))
        item.getAxis("bottom").setHeight(20)
        item.vb.setYRange(0, 1.0, padding=0.02)
        item.vb.enableAutoRange(enable=False)
        return plot

    def _make_row(self, index: int) -> _Row:
        widget = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(widget)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        caption = QtWidgets.QLabel(f"layer {index + 1}")
        caption.setFont(theme.small_font(9.0))
        caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        caption.setFixedHeight(caption.fontMetrics().height() + 2)
        # long captions (lanes) must not widen the row: that would re-lay out every plot each frame
        caption.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        # the plot is made when the row is first drawn (on screen): a plot widget costs ~25 ms to
        # make, so a deep network's tab would otherwise freeze for a second on its first showing
        stand_in = QtWidgets.QWidget()
        stand_in.setMinimumHeight(ROW_PLOT_HEIGHT)
        stand_in.setMaximumHeight(int(ROW_PLOT_HEIGHT * 1.6))
        box.addWidget(caption)
        box.addWidget(stand_in)
        return _Row(widget, caption, box, stand_in)

    def _plot_of(self, row: _Row) -> StaticPlot:
        """The row's plot, made in place of its stand-in on first use."""
        if row.plot is None:
            row.plot = self._make_plot()
            row.box.replaceWidget(row.stand_in, row.plot)
            row.stand_in.setParent(None)
            row.stand_in.deleteLater()
            row.stand_in = None
        return row.plot

    def _ensure_rows(self, depth: int) -> None:
        if depth == len(self._rows):
            return
        while len(self._rows) > depth:
            row = self._rows.pop()
            self._grid.removeWidget(row.widget)
            row.widget.setParent(None)
            row.widget.deleteLater()
        while len(self._rows) < depth:
            self._rows.append(self._make_row(len(self._rows)))
        self._relayout(force=True)

    def _relayout(self, force: bool = False) -> None:
        lanes = max(1, len(self._hists))
        columns = max(1, self.viewport().width() // (MIN_COLUMN_WIDTH * lanes)) if len(self._rows) > 1 else 1
        columns = min(columns, max(1, len(self._rows)))
        if columns == self._columns and not force:
            return
        self._columns = columns
        for i, row in enumerate(self._rows):
            self._grid.removeWidget(row.widget)
        for i, row in enumerate(self._rows):
            self._grid.addWidget(row.widget, i // columns, i % columns)
            row.widget.show()  # now, not at the next event loop pass, so visibility is known at once
        for c in range(4):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)
        # give the rows their real places now (the scroll area would only at the next event loop
        # pass): until then they overlap on screen, and every row would look visible
        self._inner.resize(self.viewport().width(), max(self._inner.minimumSizeHint().height(), self.viewport().height()))
        self._grid.activate()
        QtCore.QTimer.singleShot(0, self._draw_visible)

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._place_header()
        self._relayout()
        QtCore.QTimer.singleShot(0, self._draw_visible)

    def showEvent(self, ev: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(ev)
        self._draw_visible()

    def _draw_visible(self, *_: object, draw_all: bool = False) -> None:
        if self._spec is None or not self._hists:
            return
        edges = self._spec.edges
        for i, row in enumerate(self._rows):
            if row.drawn_version == self._version:
                continue
            if not draw_all and row.widget.visibleRegion().isEmpty():
                continue
            self._draw_row(i, row, edges)

    def _lay_out_row(self, row: _Row, specs: tuple) -> None:
        """Axis ticks, x-range and separators for ``specs`` (one histogram range per lane)."""
        n = len(specs)
        ticks = [t for k, spec in enumerate(specs) for t in block_ticks(spec, k * (1 + BLOCK_GAP), n)]
        item = row.plot.plotItem
        item.getAxis("bottom").setTicks([ticks])
        width = n + (n - 1) * BLOCK_GAP
        item.vb.setXRange(0.0, width, padding=0.02)
        if row.separators is None:
            row.separators = PathCurve(pg.mkPen("#bbbbbb", width=1))
            item.addItem(row.separators)
        xs = np.repeat([k * (1 + BLOCK_GAP) - BLOCK_GAP / 2 for k in range(1, n)], 2)
        ys = np.tile([0.0, 1.0], n - 1)
        row.separators.setPath(pg.arrayToQPath(xs, ys, connect="pairs") if n > 1 else QtGui.QPainterPath())
        row.layout_key = (n, specs)

    def _draw_row(self, i: int, row: _Row, edges: np.ndarray) -> None:
        n = len(self._hists)
        plot = self._plot_of(row)
        while len(row.curves) > n:
            plot.removeItem(row.curves.pop())
        for lane, curve in enumerate(row.curves):
            if curve.pen().color() != QtGui.QColor(self._colours[lane]):  # a new run: lane colours may differ
                curve.setPen(pg.mkPen(self._colours[lane], width=1))
        while len(row.curves) < n:
            lane = len(row.curves)
            colour = QtGui.QColor(self._colours[lane])
            fill = QtGui.QColor(colour)
            fill.setAlpha(110)
            curve = PathCurve(pg.mkPen(colour, width=1), QtGui.QBrush(fill))
            plot.addItem(curve)
            row.curves.append(curve)
        specs = tuple(self._lane_specs[k] if k < len(self._lane_specs) else self._spec for k in range(n))
        if row.layout_key != (n, specs):
            self._lay_out_row(row, specs)
        for lane, (hist, spec) in enumerate(zip(self._hists, specs)):
            counts = np.asarray(hist[i], dtype=np.float64)
            if not np.isfinite(counts).all():
                counts = np.nan_to_num(counts, nan=0.0, posinf=0.0, neginf=0.0)
            row.curves[lane].set_steps(spec.edges if lane else edges, counts)
            # the plotted data stay the record's edges and counts; a transform puts the lane's
            # range on [k (1 + gap), k (1 + gap) + 1] and the peak at 1 (cheaper than re-ranging
            # the view, which redoes the axes every frame)
            peak = max(1.0, float(counts.max()) if counts.size else 1.0)
            span = spec.hi - spec.lo
            offset = lane * (1 + BLOCK_GAP)
            row.curves[lane].setTransform(QtGui.QTransform(1.0 / span, 0.0, 0.0, 1.0 / peak, offset - spec.lo / span, 0.0))
        if row.caption.text() != self._captions[i]:
            row.caption.setText(self._captions[i])
        style = self._caption_styles[i]
        if row.caption.styleSheet() != style:
            row.caption.setStyleSheet(style)
        row.drawn_version = self._version


def off_scale_share(hist: np.ndarray, under: np.ndarray, over: np.ndarray) -> np.ndarray:
    """(layers,) share of each layer's values beyond the histogram range (caption text only)."""
    total = np.asarray(hist, dtype=np.float64).sum(axis=1) + under + over
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (np.asarray(under, dtype=np.float64) + over) / total
    share[~np.isfinite(share)] = 0.0
    return share


__all__ = ["LayerHeatmap", "LaneHeatmaps", "LayerHistogramGrid", "histogram_image", "value_ticks", "off_scale_share", "finite_range"]
