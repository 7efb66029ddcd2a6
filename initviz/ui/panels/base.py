"""What every panel receives (a Frame of lanes) and the small drawing helpers they share.

Panels are dumb: they turn records into pixels. Everything here is display work
(sanitising non-finite values so pyqtgraph can draw them, thinning long histories to
a few hundred points); every statistic comes from the engine's records.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord
from initviz.engine.snapshot import LaneView, Snapshot, index_at_or_before


@dataclass(frozen=True)
class Lane:
    """One run as a panel sees it: the record to show, its history and its predictions.

    Built from the engine's LaneView (``Lane.of``) plus what only the window knows: the colour
    and the step on screen. ``view`` is the LaneView it came from (None for hand-made lanes)."""

    name: str
    record: StepRecord  # the record on screen (newest, or the scrubbed one)
    records: Sequence[StepRecord]  # recorded history, oldest first (a snapshot, never mutated)
    config: RunConfig
    colour: str
    theory: Any = None  # engine Theory (pre_std, act_std, grad_gain) or None
    predicted_weight_std: Optional[np.ndarray] = None  # describe_init(config).weight_std
    view: Optional[LaneView] = field(default=None, compare=False, repr=False)
    index: int = 0  # the lane's place in the run (its colour), also when other lanes are hidden

    def layer_caption(self, i: int) -> str:
        """'layer 3', or 'layer 3 · blocks.2.conv' where the layer has a module path (i: 0-based)."""
        names = self.view.layer_names if self.view is not None else ()
        if i < len(names) and names[i] != str(i + 1):
            return f"layer {i + 1} · {names[i]}"
        return self.config.layer_caption(i)

    @classmethod
    def of(cls, view: LaneView, colour: str, step: Optional[int] = None, index: int = 0) -> "Lane":
        """The lane ``view`` at ``step`` (the record at or before it; None: the newest)."""
        return cls(
            name=view.name,
            record=view.at(step),
            records=view.records,
            config=view.config,
            colour=colour,
            theory=view.theory,
            predicted_weight_std=view.predicted_weight_std,
            view=view,
            index=index,
        )


@dataclass(frozen=True)
class Frame:
    """Everything drawn at one GUI tick: one to four lanes (runs) compared side by side."""

    lanes: tuple[Lane, ...]
    cursor_step: Optional[int] = None  # the scrubbed step; None while following live training
    # True while training streams frames (playing, or a Step N under way): panels may refresh
    # their slow, slowly-changing parts less often. The frame that ends a run of steps is False.
    moving: bool = False
    grids: tuple = ()  # per lane: the engine's DecisionGrid (2-D data) or None, for the newest weights
    # earlier grids of this run, as (step, grids) oldest first: the boundary at a scrubbed step
    grid_history: tuple = ()
    unit_pictures: tuple = ()  # per lane: the engine's UnitPictures (2-D data, Neurons tab) or None
    series_cache: dict = field(default_factory=dict, compare=False, repr=False)
    focus: int = 0  # index into ``lanes`` of the lane the info lines describe (the selected lane)

    @classmethod
    def of(
        cls,
        snapshot: Snapshot,
        cursor_step: Optional[int] = None,
        *,
        hidden: Collection[str] = (),
        grid_history: tuple = (),
        focus: Optional[str] = None,
        colour: Optional[Callable[[int], str]] = None,
    ) -> "Frame":
        """The Frame of an engine Snapshot: lane i in colour ``colour(i)`` (the theme's), every lane
        at ``cursor_step`` (None: live), lanes named in ``hidden`` left out (never all of them),
        ``focus``: the name of the lane the info lines describe."""
        if colour is None:
            from initviz.ui.theme import lane_colour as colour
        keep = [i for i, v in enumerate(snapshot.lanes) if v.name not in hidden] or list(range(len(snapshot.lanes)))
        lanes = tuple(Lane.of(snapshot.lanes[i], colour(i), cursor_step, i) for i in keep)
        grids = snapshot.grids
        if grids and len(keep) < len(snapshot.lanes):
            grids = tuple(grids[i] for i in keep)
            grid_history = tuple((s, tuple(g[i] for i in keep if i < len(g))) for s, g in grid_history)
        pictures = snapshot.unit_pictures
        if pictures and len(keep) < len(snapshot.lanes):
            pictures = tuple(pictures[i] for i in keep if i < len(pictures))
        names = [lane.name for lane in lanes]
        return cls(
            unit_pictures=pictures,
            lanes=lanes,
            cursor_step=None if cursor_step is None else lanes[0].record.step,
            moving=cursor_step is None and (snapshot.playing or snapshot.pending_steps > 0),
            grids=grids,
            grid_history=grid_history,
            focus=names.index(focus) if focus in names else 0,
        )

    def upto(self, step: int) -> "Frame":
        """This frame as the run was at ``step`` (a GIF's frame): each lane's record at or before
        it and its history up to there; fresh caches, at rest. Grids are kept as they are."""
        lanes = []
        for lane in self.lanes:
            k = index_at_or_before(lane.records, step)
            view = lane.view.upto(step) if lane.view is not None else None
            lanes.append(dataclasses.replace(lane, record=lane.records[k], records=tuple(lane.records[: k + 1]), view=view))
        return dataclasses.replace(self, lanes=tuple(lanes), cursor_step=None, moving=False, series_cache={})

    @property
    def selected(self) -> Lane:
        """The lane the info lines and the status bar describe (the Experiment panel's lane)."""
        return self.lanes[self.focus] if 0 <= self.focus < len(self.lanes) else self.lanes[0]

    @property
    def main(self) -> Lane:
        return self.lanes[0]

    def series(self, lane: int, name: str, max_points: int = 600) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a record field over the lane's history, thinned for display.

        Cached per frame so several panels asking for the same series stack it once.
        """
        key = (lane, name, max_points)
        hit = self.series_cache.get(key)
        if hit is None:
            records = self.lanes[lane].records
            idx = pick_indices(len(records), max_points)
            steps = np.array([records[i].step for i in idx], dtype=np.float64)
            values = np.array([getattr(records[i], name) for i in idx], dtype=np.float64)
            hit = (steps, values)
            self.series_cache[key] = hit
        return hit

    def steps(self, lane: int) -> np.ndarray:
        """Every recorded step of the lane's history (float64, ascending), cached per frame."""
        key = (lane, "steps")
        hit = self.series_cache.get(key)
        if hit is None:
            hit = np.fromiter((r.step for r in self.lanes[lane].records), dtype=np.float64, count=len(self.lanes[lane].records))
            self.series_cache[key] = hit
        return hit


def quad_splitter(
    top_left: QtWidgets.QWidget,
    top_right: QtWidgets.QWidget,
    bottom_left: QtWidgets.QWidget,
    bottom_right: QtWidgets.QWidget,
) -> tuple[QtWidgets.QSplitter, QtWidgets.QSplitter, QtWidgets.QSplitter]:
    """Four widgets in a 2 x 2 grid of resizable splitters: (outer, top row, bottom row)."""
    top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    top.addWidget(top_left)
    top.addWidget(top_right)
    bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
    bottom.addWidget(bottom_left)
    bottom.addWidget(bottom_right)
    outer = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
    outer.addWidget(top)
    outer.addWidget(bottom)
    for s in (top, bottom, outer):
        s.setChildrenCollapsible(False)
    return outer, top, bottom


@dataclass(frozen=True)
class ViewState:
    """A panel's view options as one value (export copies it; a panel ignores fields it lacks).

    ``kind``: "act" (after the activation) or "pre" (before it); ``log``: log or linear y axis;
    ``lanes``: the names of the lanes to show, None for all.
    """

    kind: str = "act"
    log: bool = True
    lanes: Optional[tuple[str, ...]] = None


def lanes_shown(frame: Frame, names: Optional[Sequence[str]]) -> Frame:
    """``frame`` with only the lanes named (in the frame's order; all when none of them is there)."""
    if names is None:
        return frame
    keep = [i for i, lane in enumerate(frame.lanes) if lane.name in names]
    if not keep or len(keep) == len(frame.lanes):
        return frame
    pick = lambda seq: tuple(seq[i] for i in keep) if len(seq) == len(frame.lanes) else tuple(seq)  # noqa: E731
    history = tuple((step, pick(grids)) for step, grids in frame.grid_history)
    return dataclasses.replace(frame, lanes=pick(frame.lanes), grids=pick(frame.grids), grid_history=history, series_cache={})


class Panel(QtWidgets.QWidget):
    """Base of the big panels: a title, a tooltip that explains it, and ``show_frame``.

    A panel owns its view (``view_state`` / ``set_view_state``: one value export copies) and its
    layout (``lay_out``: fit itself to a target size and theme, deciding what to drop or stack).
    """

    title = "panel"
    help_text = ""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setToolTip(self.help_text)
        self._frame: Optional[Frame] = None
        self._last_update: dict[str, float] = {}
        self._lanes_shown: Optional[tuple[str, ...]] = None
        self._slide_fit: Any = None

    # --- view and layout ------------------------------------------------------------------------
    def view_state(self) -> ViewState:
        """The view options on screen, as a value (panels with options extend it)."""
        return ViewState(lanes=self._lanes_shown)

    def set_view_state(self, state: ViewState) -> None:
        """Show ``state``'s view options (panels with options extend it) and redraw."""
        self._lanes_shown = state.lanes
        self.redraw()

    @property
    def slide_fit(self) -> Any:  # initviz.ui.panels.slide.SlideFit
        if self._slide_fit is None:
            from initviz.ui.panels.slide import SlideFit

            self._slide_fit = SlideFit(self)
        return self._slide_fit

    def lay_out(self, target: Any, settle: Callable[[], None]) -> float:
        """Lay the panel out for ``target`` (a panels.slide.Target) at its present size. On screen
        (the window, whenever a panel's size or lanes change): layer ticks thinned, crowded ticks
        spaced, legends, titles and axis labels fitted; the small multiples scroll. On a slide,
        controls become text and the small multiples show without scrolling (shrunk, or left out
        when ``target.leave_out_small_multiples``); crowded ticks are thinned. ``settle`` lets
        pending layout work happen. Returns the smallest small-multiple height (inf without any)."""
        fit = self.slide_fit
        if target.theme == "screen":  # the window scrolls its small multiples and shows every control
            from initviz.ui.panels.slide import flush_layouts

            flush_layouts(self)  # a tab just shown has its children's sizes pending
            for w in self.findChildren(QtWidgets.QWidget):
                method = getattr(w, "fit_layer_ticks", None)
                if callable(method):
                    method()
            fit.sparse_ticks()
            fit.fit_legends()
            fit.fit_titles()
            fit.fit_axis_labels()
            return math.inf
        fit.dress()
        fit.let_labels_shrink()
        smallest = fit.fit_small_multiples(settle, target.leave_out_small_multiples)
        settle()
        for w in self.findChildren(QtWidgets.QWidget):
            for name in ("draw_all", "fit_layer_ticks"):
                method = getattr(w, name, None)
                if callable(method):
                    method()
        if target.theme == "slide":
            fit.sparse_ticks()
            fit.fit_legends()
            fit.fit_titles()
            fit.fit_labels()
            fit.fit_axis_labels()
            if fit.labels_collide():  # tick labels that run into each other are not legible either:
                smallest = 0.0  # smaller text, or the small multiples left out for more room
        return smallest

    def due(self, part: str, frame: Frame, interval: float = 0.15) -> bool:
        """Whether ``part`` should be redrawn for this frame.

        Always, except while training streams frames: then at most every ``interval`` seconds,
        which keeps one frame within the GUI's time budget (every ms the GUI thread spends is a
        ms the training thread waits for the GIL). The resting frame after a run redraws all.
        """
        now = time.perf_counter()
        if frame.moving and now - self._last_update.get(part, 0.0) < interval:
            return False
        self._last_update[part] = now
        return True

    def in_turn(self, frame: Frame, parts: Sequence[str]) -> set[str]:
        """Which of ``parts`` to redraw for this frame: all at rest; while training streams
        frames, one per frame in turn, so a frame costs one slow part, not all of them."""
        if not frame.moving:
            return set(parts)
        self._part_turn = (getattr(self, "_part_turn", -1) + 1) % len(parts)
        return {parts[self._part_turn]}

    def show_frame(self, frame: Frame) -> None:
        """Draw ``frame`` (called by the main window at <= 30 Hz, only while the panel is visible)."""
        self._frame = frame
        self.draw(lanes_shown(frame, self._lanes_shown))
        self._fit_screen(frame)

    def _fit_screen(self, frame: Frame) -> None:
        """On screen, lay out again when the panel's size or its lanes changed (not on a slide:
        the export lays its copies out itself)."""
        if self._slide_fit is not None and self._slide_fit.dressed:
            return
        views = getattr(self, "_screen_views", None)
        if views is None or len(frame.lanes) != self._screen_lanes:  # plots come and go with the lanes
            self._screen_lanes = len(frame.lanes)
            scrolled = tuple(self.findChildren(QtWidgets.QAbstractScrollArea))
            views = self._screen_views = [v for v in self.findChildren(pg.GraphicsView)
                                          if not any(a.isAncestorOf(v) for a in scrolled if not isinstance(a, pg.GraphicsView))]  # fmt: skip
        try:
            widths = tuple(v.width() for v in views)
        except RuntimeError:  # a view deleted since (its panel rebuilt it): find them again next frame
            self._screen_views = None
            return
        key = (self.width(), self.height(), len(frame.lanes), frame.main.record.depth, widths)
        if key != getattr(self, "_screen_key", None) and self.isVisible():
            self._screen_key = key
            from initviz.ui.panels.slide import Target

            self.lay_out(Target(self.width(), self.height(), "screen"), lambda: None)

    def redraw(self) -> None:
        """Draw the last frame again (after a view option changed)."""
        if self._frame is not None:
            self.draw(lanes_shown(self._frame, self._lanes_shown))

    def draw(self, frame: Frame) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


# --- sanitising ---------------------------------------------------------------------------


def safe_log10(values: Any) -> np.ndarray:
    """log10 of the positive finite values, NaN elsewhere, without numpy warnings."""
    a = np.array(values, dtype=np.float64, copy=True)
    ok = np.isfinite(a) & (a > 0)
    out = np.full(a.shape, np.nan)
    out[ok] = np.log10(a[ok])
    return out


def positive_or_nan(values: Any) -> np.ndarray:
    """Values for a log axis: positive finite values kept, the rest NaN."""
    a = np.array(values, dtype=np.float64, copy=True)
    a[~(np.isfinite(a) & (a > 0))] = np.nan
    return a


def half_decades(values: Any, default: tuple[float, float] = (-1.0, 1.0)) -> tuple[float, float]:
    """(lo, hi) in log10 units, whole half decades around the positive finite ``values``
    (``default`` without any): an axis set from it is rebuilt only when the range really changes."""
    logs = safe_log10(np.ravel(np.asarray(values, dtype=np.float64)))
    logs = logs[np.isfinite(logs)]
    if not logs.size:
        return default
    return float(np.floor(2 * logs.min())) / 2, float(np.ceil(2 * logs.max())) / 2


def sticky_range(
    current: Optional[tuple[float, float]], wanted: tuple[float, float], slack: float, shrink: bool = True
) -> tuple[float, float]:
    """``current`` while it holds ``wanted`` with at most ``slack`` to spare at either end (any
    spare when not ``shrink``), else ``wanted``: an axis range that does not flap when values
    hover at a rounding boundary or jump about (each change rebuilds the axis' tick layout and
    repaints it: GUI time the training thread waits for)."""
    if (
        current is not None
        and current[0] <= wanted[0]
        and current[1] >= wanted[1]
        and (not shrink or (wanted[0] - current[0] <= slack and current[1] - wanted[1] <= slack))
    ):
        return current
    return wanted


def finite_range(values: np.ndarray, default: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """(min, max) of the finite values, widened when flat; ``default`` when there are none."""
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return default
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        pad = max(abs(lo) * 0.05, 0.5)
        lo, hi = lo - pad, hi + pad
    return lo, hi


def pick_indices(n: int, max_points: int) -> np.ndarray:
    """At most ``max_points`` evenly spaced indices into a sequence of length n, always the last."""
    if n <= max_points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, max_points).round().astype(np.int64)
    return np.unique(idx)


def step_axis_range(records: Sequence[StepRecord], tight: bool = False) -> tuple[float, float]:
    """x-range for plots over steps that grows in jumps (an axis redraw costs GUI time every frame).

    Ends at the next of 1, 2, 2.5, 5 x 10^k above the newest step, with a little margin.
    ``tight`` (at rest, and on slides): ends at the newest step, with a 2% margin.
    """
    first = float(records[0].step) if records else 0.0
    last = float(records[-1].step) if records else 1.0
    if last - first < 1.0:  # one record (step 0): whole steps ahead, not a +-0.01 axis around the dot
        return first - 0.5, first + 10.0
    if tight:
        margin = 0.02 * max(last - first, 1.0)
        return first - margin, last + margin
    span = max(last - first, 10.0) * 1.02
    k = 10 ** math.floor(math.log10(span))
    end = first + next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= span)
    margin = 0.02 * (end - first)
    return first - margin, end + margin


def fmt(value: float, digits: int = 3) -> str:
    """Short number for captions; 'inf'/'NaN' spelled out."""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def pct(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        return "NaN"
    if 0 < v < 0.005:
        return "<1%"
    return f"{100 * v:.0f}%"


# --- pyqtgraph widgets -------------------------------------------------------------------------


class StaticPlot(pg.PlotWidget):
    """A plot that ignores the mouse wheel (so the surrounding scroll area scrolls) and has no menu."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.plotItem.setMenuEnabled(False)
        self.plotItem.hideButtons()
        self.plotItem.vb.setMouseEnabled(x=False, y=False)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)

    def showEvent(self, ev: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt override
        """On screen, the axes paint from a pixmap cache between changes (axes.cache_painting)."""
        super().showEvent(ev)
        from initviz.ui.panels.axes import cache_painting, on_screen

        if on_screen(self):
            for axis in self.plotItem.axes.values():
                cache_painting(axis["item"])

    def wheelEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        ev.ignore()


class PathCurve(QtWidgets.QGraphicsPathItem):
    """A polyline (or a row of dots) drawn entirely by Qt in C++ (no Python paint call per frame).

    pyqtgraph's PlotDataItem paints through Python and its setData costs about a millisecond;
    with dozens of curves per frame that Python time competes with the training thread for the
    GIL. Keeps the plotted arrays as ``xData``/``yData`` like PlotDataItem (the values given,
    before any log). ``log_y``: drawn at log10(y) for a plot in log mode (PlotItem's log mode
    only transforms its own items). ``dots``: a round dot of the pen's width at every point
    (each a very short round-capped segment) instead of a line.
    """

    def __init__(
        self, pen: QtGui.QPen, brush: Optional[QtGui.QBrush] = None, *, log_y: bool = False, dots: bool = False
    ) -> None:
        super().__init__()
        pen = QtGui.QPen(pen)
        pen.setCosmetic(True)
        if dots:
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
        self.setPen(pen)
        if brush is not None:
            self.setBrush(brush)
        self.log_y = log_y
        self.dots = dots
        self.xData = np.zeros(0)
        self.yData = np.zeros(0)

    def set_line(self, x: np.ndarray, y: np.ndarray) -> None:
        """Polyline (or dots) through the finite (x, y) points; a line breaks at NaN."""
        self.xData = np.asarray(x, dtype=np.float64)
        self.yData = np.asarray(y, dtype=np.float64)
        ys = safe_log10(self.yData) if self.log_y else self.yData
        ok = np.isfinite(self.xData) & np.isfinite(ys)
        if not ok.any():
            self.setPath(QtGui.QPainterPath())
            return
        if self.dots:
            xs, ys = self.xData[ok], ys[ok]
            xx = np.repeat(xs, 2)
            # Qt draws nothing for a zero-length segment; a tiny one gets its round caps: a dot
            xx[1::2] += 1e-6 * max(float(np.ptp(xs)), 1.0)
            self.setPath(pg.arrayToQPath(xx, np.repeat(ys, 2), connect="pairs"))
        elif ok.all():
            self.setPath(pg.arrayToQPath(self.xData, ys, connect="all"))
        else:
            self.setPath(pg.arrayToQPath(self.xData[ok], ys[ok], connect=_breaks(ok)))

    def set_steps(self, edges: np.ndarray, counts: np.ndarray) -> None:
        """A filled step histogram: counts[i] over [edges[i], edges[i+1]), closed to y = 0."""
        self.xData = np.asarray(edges, dtype=np.float64)
        self.yData = np.asarray(counts, dtype=np.float64)
        xs = np.repeat(self.xData, 2)
        ys = np.concatenate([[0.0], np.repeat(self.yData, 2), [0.0]])
        self.setPath(pg.arrayToQPath(xs, ys, connect="all"))


class DottedLine:
    """A lane's values per layer: a line with a dot at every layer, both PathCurves (cheap).

    ``xData``/``yData`` are the line's; ``sample`` is a PlotDataItem of the same look for a legend.
    """

    def __init__(self, colour: str, *, width: float = 2.0, dot: float = 6.5, log_y: bool = False) -> None:
        self.line = PathCurve(pg.mkPen(colour, width=width), log_y=log_y)
        self.marks = PathCurve(pg.mkPen(colour, width=dot), log_y=log_y, dots=True)
        self.sample = pg.PlotDataItem(pen=pg.mkPen(colour, width=width), symbol="o", symbolSize=dot, symbolBrush=colour, symbolPen=None)
        self.colour = colour

    @property
    def xData(self) -> np.ndarray:  # noqa: N802 - PlotDataItem's name
        return self.line.xData

    @property
    def yData(self) -> np.ndarray:  # noqa: N802
        return self.line.yData

    def add_to(self, plot: pg.PlotItem) -> None:
        plot.addItem(self.line)
        plot.addItem(self.marks)

    def remove_from(self, plot: pg.PlotItem) -> None:
        plot.removeItem(self.line)
        plot.removeItem(self.marks)

    def set_log(self, on: bool) -> None:
        self.line.log_y = self.marks.log_y = on

    def set_line(self, x: np.ndarray, y: np.ndarray) -> None:
        self.line.set_line(x, y)
        self.marks.set_line(x, y)


def _breaks(ok: np.ndarray) -> np.ndarray:
    """connect array for the kept points: 0 where the next kept point is not the next sample."""
    idx = np.flatnonzero(ok)
    connect = np.ones(len(idx), dtype=np.int32)
    connect[:-1] = (np.diff(idx) == 1).astype(np.int32)
    return connect


class LogEdgeMarkers:
    """What a log axis cannot place, drawn at its edges in each lane's colour.

    Exactly 0 (a zeros init: every std and gradient is 0) has no place on a log axis, and Inf/NaN
    none on any axis; without markers such a lane would simply be missing from the plot.
    Zeros: triangles at the bottom edge; Inf/NaN: crosses at the top. With several lanes each
    lane's markers sit a little left or right of the layer, so coinciding markers stay visible.
    Legend entries appear only while such markers are shown.
    """

    def __init__(self, plot: pg.PlotItem, legend: Optional[pg.LegendItem] = None, size: float = 11) -> None:
        from initviz.ui import theme

        self.plot = plot
        self.legend = legend
        self.size = size
        self.zero: list[pg.ScatterPlotItem] = []  # one per lane
        self.bad: list[pg.ScatterPlotItem] = []
        self._zero_pen = pg.mkPen("#555555", width=1)
        self._bad_pen = pg.mkPen(theme.BAD_COLOUR, width=1.5)
        # legend samples: neutral grey triangle, red cross
        self._zero_sample = pg.ScatterPlotItem(symbol="t", size=size, pen=self._zero_pen, brush=pg.mkBrush("#bbbbbb"))
        self._bad_sample = pg.ScatterPlotItem(symbol="x", size=size + 1, pen=self._bad_pen, brush=pg.mkBrush(theme.BAD_COLOUR))
        self._in_legend = {"zero": False, "bad": False}

    def _items(self, kind: str, colours: Sequence[str]) -> list[pg.ScatterPlotItem]:
        items = self.zero if kind == "zero" else self.bad
        while len(items) > len(colours):
            self.plot.removeItem(items.pop())
        for i, colour in enumerate(colours):
            if i == len(items):
                item = pg.ScatterPlotItem(
                    symbol="t" if kind == "zero" else "x",
                    size=self.size if kind == "zero" else self.size + 1,
                    pen=self._zero_pen if kind == "zero" else self._bad_pen,
                )
                item.setZValue(15)
                self.plot.addItem(item)
                items.append(item)
            if getattr(items[i], "_lane_colour", None) != colour:
                items[i]._lane_colour = colour
                items[i].setBrush(pg.mkBrush(colour))
        return items

    def set(
        self,
        x: np.ndarray,
        values: Sequence[np.ndarray],
        colours: Sequence[str],
        bottom: float,
        top: float,
        also_bad: Optional[Sequence[np.ndarray]] = None,
        mark_zeros: bool = True,
    ) -> tuple[int, int]:
        """Markers for one value array per lane; ``bottom``/``top`` in the view's (log10) coordinates.

        ``also_bad``: per lane, a boolean array of further points to mark Inf/NaN (e.g. a finite
        norm over a layer whose gradient held non-finite values). ``mark_zeros``: False on a linear
        axis, where 0 has its place. Returns (zeros, bad) marked.
        """
        x = np.asarray(x, dtype=np.float64)
        n = len(values)
        spread = 0.12 if n > 1 else 0.0
        zeros_total = bad_total = 0
        for kind in ("zero", "bad"):
            items = self._items(kind, colours[:n])
            for k, (item, v) in enumerate(zip(items, values)):
                v = np.asarray(v, dtype=np.float64)
                if kind == "zero":
                    mask = np.isfinite(v) & (v <= 0) if mark_zeros else np.zeros(v.shape, dtype=bool)
                else:
                    mask = ~np.isfinite(v)
                    if also_bad is not None and also_bad[k] is not None:
                        mask = mask | np.asarray(also_bad[k], dtype=bool)
                count = int(mask.sum())
                if kind == "zero":
                    zeros_total += count
                else:
                    bad_total += count
                y = bottom if kind == "zero" else top
                key = (mask.tobytes(), y, n, x.size)
                if getattr(item, "_marked", None) != key:  # setData costs: only on a change
                    item._marked = key
                    item.setData(x[mask] + spread * (k - (n - 1) / 2), np.full(count, y))
                    # an empty scatter is still asked for its bounds and painted (in Python) on
                    # every repaint of its plot: hidden, Qt skips it
                    item.setVisible(count > 0)
        if self.legend is not None:
            for kind, count, sample, label in (
                ("zero", zeros_total, self._zero_sample, "exactly 0 (off the log scale)"),
                ("bad", bad_total, self._bad_sample, "Inf/NaN"),
            ):
                if (count > 0) != self._in_legend[kind]:
                    self._in_legend[kind] = count > 0
                    if count > 0:
                        self.legend.addItem(sample, label)
                    else:
                        self.legend.removeItem(sample)
        return zeros_total, bad_total

    def forget_legend(self) -> None:
        """The legend was cleared: add the entries again when markers next show."""
        self._in_legend = {"zero": False, "bad": False}


def fit_dotted(lines: list, plot: pg.PlotItem, colours: Sequence[str], log_y: bool = False) -> list:
    """``lines`` made to hold one DottedLine per colour (in place): made, recoloured or removed."""
    while len(lines) > len(colours):
        lines.pop().remove_from(plot)
    for i, colour in enumerate(colours):
        if i < len(lines) and lines[i].colour == colour:
            continue
        line = DottedLine(colour, log_y=log_y)
        line.add_to(plot)
        if i < len(lines):
            lines[i].remove_from(plot)
            lines[i] = line
        else:
            lines.append(line)
    return lines


class CursorLines:
    """The scrubbed-step cursor and the divergence marker drawn on every plot over steps."""

    def __init__(self, plots: Sequence[pg.PlotItem]) -> None:
        from initviz.ui import theme

        self._cursors = []
        self._diverged = []
        for p in plots:
            c = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.CURSOR_COLOUR, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
            c.setZValue(20)
            c.hide()
            p.addItem(c, ignoreBounds=True)
            d = pg.InfiniteLine(
                angle=90,
                movable=False,
                pen=pg.mkPen(theme.BAD_COLOUR, width=2),
                label="Inf/NaN",
                labelOpts={"position": 0.9, "color": theme.BAD_COLOUR, "movable": False},
            )
            d.setZValue(19)
            d.hide()
            p.addItem(d, ignoreBounds=True)
            self._cursors.append(c)
            self._diverged.append(d)

    def update(self, frame: Frame) -> None:
        for c in self._cursors:
            if frame.cursor_step is None:
                c.hide()
            else:
                c.setValue(frame.cursor_step)
                c.show()
        div = frame.main.record.diverged_at
        for d in self._diverged:
            if div is None:
                d.hide()
            else:
                d.setValue(div[0])
                d.show()
