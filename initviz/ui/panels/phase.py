"""The phase diagram: which weight variances train at which depths, with the order-to-chaos theory.

A heatmap of measured trainability over sigma_w^2 (x) and depth (y), one trained network per cell
(engine/sweep.py), filled as cells finish; over it the critical line chi_1 = 1 and the curve
depth = 6 xi_c (engine/phase.py). The sweep runs off the GUI thread (a superqt generator worker
iterating the engine's Sweep through a process pool or a Dask cluster); clicking a cell emits
``cell_clicked`` with that cell's RunConfig, so the window can load it into a lane.

Without a sweep (a fresh panel, or an export of a training run) it draws the theory alone for the
run's activation and bias variance, and marks where each lane's network sits on the diagram.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.config import ACTIVATIONS, RunConfig
from initviz.engine.sweep import PRESETS, CellResult, Sweep, SweepResult, SweepSpec, SweepTheory, sweep_theory
from initviz.ui import theme
from initviz.ui.panels.base import Frame, Panel, fmt

PHASE_HELP = (
    "<b>Phase diagram</b>: for which weight variances σw² and depths does this network train? Each cell "
    "is a real network trained for a short budget; its colour is the test accuracy above chance (or the "
    "drop of the loss). <b>Dashed</b>: the critical line χ₁ = 1 (left: ordered, signals fade; right: "
    "chaotic, nearby inputs decorrelate). <b>Orange</b>: depth = 6 ξ_c, about the deepest network that "
    "still trains (Schoenholz et al. 2017). Click a cell to load that network into a lane.<br><b>Healthy</b>: "
    "a cell inside the bright region, below the orange curve; near the critical line the bright region "
    "reaches deepest. Dark cells above the curve are networks too deep for their σw² to train."
)
MEASURES = {"test accuracy above chance": "trainability", "loss drop": "loss_drop"}
DEPTH_CAP = 4.0  # the 6 xi_c curve is drawn up to this many times the grid's deepest row


def _cell_edges(values: np.ndarray) -> tuple[float, float]:
    """The image's extent along one axis: half a step beyond the first and the last value."""
    v = np.asarray(values, dtype=np.float64)
    step = float(np.min(np.diff(np.sort(v)))) if v.size > 1 else max(abs(float(v[0])) * 0.2, 0.5)
    return float(v.min()) - step / 2, float(v.max()) + step / 2


class PhaseView(pg.GraphicsLayoutWidget):
    """The heatmap, its overlays and a colour bar (items made once, updated with set*)."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "weight variance σw² (weights N(0, σw²/fan_in))")
        self.plot.setLabel("left", "depth (hidden layers)")
        self.plot.vb.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colormap = pg.colormap.get("viridis")
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=self.colormap, interactive=False, label="trainability")
        self.addItem(self.bar, row=0, col=1)
        self.critical = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.FOREGROUND, width=2, style=QtCore.Qt.PenStyle.DashLine))
        self.critical.setZValue(10)
        self.plot.addItem(self.critical, ignoreBounds=True)
        self.six_xi = pg.PlotDataItem(pen=pg.mkPen(theme.THEORY_COLOUR, width=3))
        self.six_xi.setZValue(11)
        self.plot.addItem(self.six_xi)
        self.diverged = pg.ScatterPlotItem(symbol="x", size=9, pen=pg.mkPen(theme.BAD_COLOUR, width=2), brush=pg.mkBrush(theme.BAD_COLOUR))
        self.diverged.setZValue(12)
        self.plot.addItem(self.diverged)
        self.lanes = pg.ScatterPlotItem(symbol="o", size=12, pen=pg.mkPen("w", width=1.5))
        self.lanes.setZValue(13)
        self.plot.addItem(self.lanes)
        self.legend = pg.LegendItem(colCount=4, horSpacing=14)
        self.addItem(self.legend, row=1, col=0, colspan=2)
        self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(theme.FOREGROUND, width=2, style=QtCore.Qt.PenStyle.DashLine)), "critical line χ₁ = 1")
        self.legend.addItem(self.six_xi, "depth = 6 ξ_c")
        self.legend.addItem(self.diverged, "diverged (Inf/NaN)")
        self._lanes_in_legend = False

    def set_extent(self, w_lo: float, w_hi: float, d_lo: float, d_hi: float) -> None:
        self.plot.setXRange(w_lo, w_hi, padding=0.02)
        self.plot.setYRange(d_lo, d_hi, padding=0.02)

    def set_theory(self, th: Optional[SweepTheory], depth_top: float) -> None:
        if th is None:
            self.critical.hide()
            self.six_xi.setData([], [])
            return
        if math.isfinite(th.critical_sigma_w2):
            self.critical.setValue(th.critical_sigma_w2)
            self.critical.show()
        else:
            self.critical.hide()
        y = np.asarray(th.curve_six_xi_c, dtype=np.float64).copy()
        y[~np.isfinite(y) | (y > DEPTH_CAP * depth_top)] = DEPTH_CAP * depth_top  # the curve's peak leaves the plot
        self.six_xi.setData(th.curve_sigma_w2, y)

    def set_cells(self, values: np.ndarray, w_axis: np.ndarray, d_axis: np.ndarray, diverged: np.ndarray) -> None:
        """values: (depths, sigma_w2) in 0..1, NaN where the cell is not done (drawn see-through)."""
        v = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
        rgba = self.colormap.map(v.ravel(), mode="byte").reshape(*values.shape, 4).copy()
        rgba[~np.isfinite(values)] = (235, 235, 235, 255)
        self.image.setImage(rgba, autoLevels=False)
        x0, x1 = _cell_edges(w_axis)
        y0, y1 = _cell_edges(d_axis)
        self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        dd, ww = np.nonzero(diverged)
        self.diverged.setData(np.asarray(w_axis)[ww], np.asarray(d_axis)[dd])

    def set_lanes(self, points: list[tuple[float, float, str]]) -> None:
        self.lanes.setData([p[0] for p in points], [p[1] for p in points], brush=[pg.mkBrush(p[2]) for p in points])
        if bool(points) != self._lanes_in_legend:
            self._lanes_in_legend = bool(points)
            if points:
                self.legend.addItem(self.lanes, "the lanes' networks")
            else:
                self.legend.removeItem(self.lanes)


class PhasePanel(Panel):
    """Phase diagram: a sweep's trainability heatmap with the critical line and 6 xi_c."""

    title = "Phase diagram"
    help_text = PHASE_HELP
    cell_clicked = QtCore.Signal(object)  # RunConfig of the clicked cell
    sweep_finished = QtCore.Signal(object)  # the SweepResult, when the last cell is in (or cancelled)

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.result: Optional[SweepResult] = None
        self.theory: Optional[SweepTheory] = None
        self._worker: Any = None
        self._sweep: Optional[Sweep] = None
        self._started = 0.0
        self._computed_seconds = 0.0
        self._theory_cache: dict[tuple, SweepTheory] = {}
        self._lane_points: list[tuple[float, float, str]] = []

        self.preset_box = QtWidgets.QComboBox()
        self.preset_box.addItems(list(PRESETS))
        self.preset_box.setToolTip("quick: 12 × 10 cells, 300 steps (about a minute on 2 cores); larger presets need more cores or a cluster")
        self.activation_box = QtWidgets.QComboBox()
        self.activation_box.addItems([a for a in ACTIVATIONS if a != "linear"])
        self.bias_box = QtWidgets.QDoubleSpinBox()
        self.bias_box.setRange(0.0, 10.0)
        self.bias_box.setDecimals(3)
        self.bias_box.setSingleStep(0.01)
        self.bias_box.setValue(0.05)
        self.bias_box.setToolTip("bias variance σb²: biases N(0, σb²)")
        self.measure_box = QtWidgets.QComboBox()
        self.measure_box.addItems(list(MEASURES))
        self.measure_box.currentIndexChanged.connect(self.redraw_result)
        self.workers_box = QtWidgets.QSpinBox()
        self.workers_box.setRange(0, 256)
        self.workers_box.setValue(0)
        self.workers_box.setSpecialValueText("all cores")
        self.workers_box.setToolTip("local worker processes (one torch thread each)")
        self.scheduler_edit = QtWidgets.QLineEdit()
        self.scheduler_edit.setPlaceholderText("Dask scheduler (optional), e.g. tcp://host:8786")
        self.run_button = QtWidgets.QPushButton("Run sweep")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QtWidgets.QLabel("no sweep yet: the theory alone")
        self.progress.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.readout = QtWidgets.QLabel(" ")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.readout.setWordWrap(True)

        # two rows, so the panel (and the window) still fits a 1024 px screen
        what, how = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for row, label, w in ((what, "preset", self.preset_box), (what, "activation", self.activation_box),
                              (what, "σb²", self.bias_box), (what, "colour", self.measure_box),
                              (how, "workers", self.workers_box)):  # fmt: skip
            row.addWidget(QtWidgets.QLabel(label))
            row.addWidget(w)
        what.addStretch(1)
        how.addWidget(self.scheduler_edit, 1)
        how.addWidget(self.run_button)
        how.addWidget(self.cancel_button)
        bar = QtWidgets.QVBoxLayout()
        bar.addLayout(what)
        bar.addLayout(how)
        self.controls = QtWidgets.QWidget()
        self.controls.setLayout(bar)
        bar.setContentsMargins(0, 0, 0, 0)
        self.view = PhaseView()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self.view.scene().sigMouseMoved.connect(self._hover)
        self.view.scene().sigMouseClicked.connect(self._clicked)
        app = QtWidgets.QApplication.instance()
        if app is not None:  # a tab gets no closeEvent: stop a running sweep when the app quits
            app.aboutToQuit.connect(self.stop_and_wait)

    # --- data in ---------------------------------------------------------------------------
    def spec_from_controls(self) -> SweepSpec:
        base = PRESETS[self.preset_box.currentText()]
        return SweepSpec(**{**base.to_dict(), "activation": self.activation_box.currentText(),
                            "sigma_b2": (float(self.bias_box.value()),)}).validate()  # fmt: skip

    def set_result(self, result: SweepResult, theory: Optional[SweepTheory] = None) -> None:
        """Show a sweep (finished or partial); theory computed here when not given."""
        self.result = result
        spec = result.spec
        if theory is None:
            theory = self._theory_for(spec.activation, spec.sigma_w2, spec.sigma_b2[0])
        self.theory = theory
        self.redraw_result()

    def _theory_for(self, activation: str, sigma_w2: tuple, sigma_b2: float, curve_points: int = 48) -> SweepTheory:
        key = (activation, tuple(sigma_w2), float(sigma_b2))
        hit = self._theory_cache.get(key)
        if hit is None:
            hit = self._theory_cache[key] = sweep_theory(activation, sigma_w2, sigma_b2, curve_points)
        return hit

    def export_state(self, other: "PhasePanel") -> None:
        """Give an export copy of this panel the same sweep (view options are copied by the exporter)."""
        if self.result is not None:
            other.set_result(self.result, self.theory)
        other.controls.hide()

    # --- drawing ---------------------------------------------------------------------------
    def draw(self, frame: Frame) -> None:
        """A frame of lanes: marks where each lane's network sits; without a sweep, the theory for
        the main lane's activation and bias variance."""
        if self.window().testAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen):
            self.controls.hide()  # an export copy on a slide: no buttons
        points = []
        for lane in frame.lanes:
            c = lane.config
            w = _lane_sigma_w2(lane)
            if w is not None:
                points.append((w, float(c.depth), lane.colour))
        self._lane_points = points
        if self.result is None:
            c = frame.main.config
            hi = max([4.0] + [1.1 * p[0] for p in points])  # every lane on the diagram
            grid = np.round(np.linspace(0.5, hi, 12), 6)
            th = self._theory_for(c.activation, tuple(float(v) for v in grid), float(c.bias_std) ** 2, curve_points=32)
            self.theory = th
            top = max(30.0, 1.3 * max((p[1] for p in points), default=0.0))
            self.view.set_cells(np.full((1, 1), np.nan), np.array([1.0]), np.array([1.0]), np.zeros((1, 1), bool))
            self.view.image.hide()
            self.view.set_theory(th, top)
            self.view.set_extent(0.5, hi, 0.0, top)
            self.progress.setText(f"{c.activation}, σb² = {c.bias_std ** 2:g}: theory only (run a sweep to measure)")
        self.view.set_lanes(points)

    def redraw_result(self) -> None:
        res = self.result
        if res is None:
            return
        spec = res.spec
        measure = MEASURES[self.measure_box.currentText()]
        values = res.grid(measure)
        diverged = res.grid("diverged") == 1.0
        w_axis = np.asarray(spec.sigma_w2, dtype=np.float64)
        d_axis = np.asarray(spec.depths, dtype=np.float64)
        self.view.image.show()
        self.view.set_cells(values, w_axis, d_axis, diverged)
        x0, x1 = _cell_edges(w_axis)
        y0, y1 = _cell_edges(d_axis)
        self.view.set_theory(self.theory, y1)
        self.view.set_extent(x0, x1, y0, _view_top(self.theory, y1))
        self.view.set_lanes(self._lane_points)
        self.progress.setText(self.progress_text())

    def progress_text(self) -> str:
        res = self.result
        if res is None:
            return ""
        spec, done, total = res.spec, len(res.cells), res.spec.n_cells
        head = (f"{spec.activation}, width {spec.width}, {spec.dataset}, {spec.steps} steps, σb² = {spec.sigma_b2[0]:g}: "
                f"{done}/{total} cells")  # fmt: skip
        crit = self.theory.critical_sigma_w2 if self.theory is not None else math.nan
        tail = f"   critical σw² = {fmt(crit, 4)}"
        if self.running and 0 < done < total:
            fresh = [c for c in res.cells if not c.cached]
            elapsed = time.perf_counter() - self._started
            if fresh and elapsed > 0:
                left = elapsed / len(fresh) * (total - done)
                return head + f", about {_duration(left)} left" + tail
        return head + tail

    # --- hover and click -------------------------------------------------------------------
    def cell_at(self, x: float, y: float) -> Optional[tuple[float, int]]:
        """The (sigma_w2, depth) of the grid cell containing plot point (x, y), or None."""
        if self.result is None:
            return None
        spec = self.result.spec
        w_axis = np.asarray(spec.sigma_w2)
        d_axis = np.asarray(spec.depths)
        x0, x1 = _cell_edges(w_axis)
        y0, y1 = _cell_edges(d_axis)
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return None
        return float(w_axis[np.argmin(np.abs(w_axis - x))]), int(d_axis[np.argmin(np.abs(d_axis - y))])

    def describe(self, sigma_w2: float, depth: int) -> str:
        """One line on a cell: what was measured and what theory says at its sigma_w2."""
        assert self.result is not None
        spec = self.result.spec
        text = f"σw² = {sigma_w2:g}, depth {depth}: "
        cell = next((c for c in self.result.cells if c.sigma_w2 == sigma_w2 and c.depth == depth), None)
        if cell is None:
            text += "not trained yet"
        else:
            text += (f"test accuracy {fmt(cell.test_accuracy)} (chance {fmt(cell.chance)}), loss {fmt(cell.initial_loss)} → "
                     f"{fmt(cell.loss)}, gradient layer 1 / last at init {fmt(cell.grad_ratio)}"
                     f"{', DIVERGED' if cell.diverged else ''}, {cell.seconds:.1f} s")  # fmt: skip
        th = self.theory
        if th is not None and sigma_w2 in set(th.sigma_w2.tolist()):
            i = int(np.flatnonzero(th.sigma_w2 == sigma_w2)[0])
            phase_name = "ordered" if th.chi1[i] < 1 else "chaotic"
            text += f"   |   theory: χ₁ = {fmt(th.chi1[i])} ({phase_name}), 6 ξ_c = {fmt(th.six_xi_c[i])} layers"
        return text + f"   (click: load this {spec.activation} network into a lane)"

    def _scene_to_cell(self, pos: QtCore.QPointF) -> Optional[tuple[float, int]]:
        if not self.view.plot.sceneBoundingRect().contains(pos):
            return None
        p = self.view.plot.vb.mapSceneToView(pos)
        return self.cell_at(p.x(), p.y())

    def _hover(self, pos: QtCore.QPointF) -> None:
        cell = self._scene_to_cell(pos)
        self.readout.setText(self.describe(*cell) if cell is not None else " ")

    def _clicked(self, event: Any) -> None:
        cell = self._scene_to_cell(event.scenePos())
        if cell is not None:
            self.click_cell(*cell)

    def click_cell(self, sigma_w2: float, depth: int) -> None:
        """Emit ``cell_clicked`` with the cell's RunConfig (what clicking the cell does)."""
        assert self.result is not None
        spec = self.result.spec
        self.cell_clicked.emit(spec.base_config(sigma_w2, spec.sigma_b2[0], depth).replace(record_every=1, test_every=25))

    # --- running a sweep off the GUI thread ----------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, spec: Optional[SweepSpec] = None, *, cache: Optional[str] = None, in_process: bool = False) -> None:
        """Run ``spec`` (default: the controls') in a worker thread; cells appear as they finish.

        ``in_process``: cells run in the worker thread itself (no process pool; tests, tiny grids).
        """
        if self.running:
            return
        from superqt.utils import thread_worker

        spec = spec or self.spec_from_controls()
        self._sweep = sweep = Sweep(spec, cache=cache)
        self.theory = None
        self.result = SweepResult(spec, ())
        self._started = time.perf_counter()
        workers = int(self.workers_box.value()) or None
        address = self.scheduler_edit.text().strip()

        @thread_worker(start_thread=False)
        def work():  # a generator: each yield is a cell (or the theory), and a safe stop point
            yield sweep_theory(spec.activation, spec.sigma_w2, spec.sigma_b2[0])
            if in_process:
                yield from sweep.results(None)
                return
            client = None
            if address:
                from initviz.engine.sweep import dask_executor

                client, executor = dask_executor(address)
            else:
                from initviz.engine.sweep import local_executor

                executor = local_executor(workers)
            try:
                yield from sweep.results(executor)
            finally:
                if client is not None:
                    client.close()
                else:
                    executor.shutdown(wait=True, cancel_futures=True)

        self._worker = work()
        self._worker.yielded.connect(self._got)
        self._worker.errored.connect(self._failed)
        self._worker.finished.connect(self._done)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setText(f"starting {spec.n_cells} cells…")
        self._worker.start()

    def cancel(self) -> None:
        """Stop the sweep: cells not started are dropped (a cached sweep resumes where it stopped)."""
        if self._sweep is not None:
            self._sweep.cancel()

    def _got(self, item: Any) -> None:
        if isinstance(item, SweepTheory):
            self.theory = item
            self._theory_cache[(item.activation, tuple(self.result.spec.sigma_w2), item.sigma_b2)] = item
        elif isinstance(item, CellResult) and self.result is not None:
            self.result = SweepResult(self.result.spec, self.result.cells + (item,))
        self.redraw_result()

    def _failed(self, exc: BaseException) -> None:
        self.progress.setText(f"sweep failed: {exc}")

    def _done(self) -> None:
        self._worker = None
        self._sweep = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.result is not None:
            self.progress.setText(self.progress_text())
            self.sweep_finished.emit(self.result)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.stop_and_wait()
        super().closeEvent(event)

    def stop_and_wait(self, timeout: float = 30.0) -> None:
        """Cancel and wait for the worker to end (window close, tests)."""
        if self._worker is None:
            return
        self.cancel()
        self._worker.quit()
        t0 = time.perf_counter()
        while self._worker is not None and time.perf_counter() - t0 < timeout:
            QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)


def _view_top(th: Optional[SweepTheory], grid_top: float) -> float:
    """The plot's top: the grid's, raised (up to twice) so the chaotic side's 6 xi_c curve shows where
    theory puts the frontier when the grid stops below it."""
    if th is None or not math.isfinite(th.critical_sigma_w2):
        return grid_top
    right = th.curve_six_xi_c[(th.curve_sigma_w2 > th.critical_sigma_w2) & np.isfinite(th.curve_six_xi_c)]
    if not right.size:
        return grid_top
    return float(min(2.0 * grid_top, max(grid_top, 1.1 * right.min())))


def _lane_sigma_w2(lane: Any) -> Optional[float]:
    """fan_in x the predicted variance of a lane's deeper hidden weights (its place on the x axis)."""
    stds = lane.predicted_weight_std
    if stds is None or not len(stds):
        return None
    w = float(stds[-1]) ** 2 * lane.config.width
    return w if math.isfinite(w) and w > 0 else None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_panel(panel: QtWidgets.QWidget, fmt_name: str, size: tuple[int, int] = (1600, 1000)) -> bytes:
    """The panel drawn offscreen as PNG, SVG or PDF bytes (what ``initviz sweep`` writes)."""
    from PySide6 import QtSvg

    controls = getattr(panel, "controls", None)
    if controls is not None:
        controls.hide()
    panel.resize(*size)
    panel.ensurePolished()
    app = QtWidgets.QApplication.instance()
    for _ in range(2):
        panel.layout().activate()
        panel.render(QtGui.QImage(1, 1, QtGui.QImage.Format.Format_ARGB32), QtCore.QPoint(0, 0), QtGui.QRegion(0, 0, 1, 1))
        if app is not None:
            app.processEvents()
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    w, h = size
    if fmt_name == "png":
        img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
        img.fill(QtGui.QColor("white"))
        painter = QtGui.QPainter(img)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        panel.render(painter, QtCore.QPoint(0, 0))
        painter.end()
        img.save(buf, "PNG")
    elif fmt_name == "svg":
        gen = QtSvg.QSvgGenerator()
        gen.setOutputDevice(buf)
        gen.setSize(QtCore.QSize(w, h))
        gen.setViewBox(QtCore.QRect(0, 0, w, h))
        gen.setTitle("initviz phase diagram")
        painter = QtGui.QPainter(gen)
        panel.render(painter, QtCore.QPoint(0, 0))
        painter.end()
    elif fmt_name == "pdf":
        writer = QtGui.QPdfWriter(buf)
        writer.setResolution(96)
        writer.setPageSize(QtGui.QPageSize(QtCore.QSizeF(w * 0.75, h * 0.75), QtGui.QPageSize.Unit.Point, "slide"))
        writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
        painter = QtGui.QPainter(writer)
        page = painter.viewport()
        painter.scale(page.width() / w, page.height() / h)
        panel.render(painter, QtCore.QPoint(0, 0))
        painter.end()
        del writer
    else:
        raise ValueError(f"format: {fmt_name!r} is not allowed; choose png, svg or pdf")
    buf.close()
    return bytes(buf.data())
