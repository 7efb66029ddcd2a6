"""The main window: transport toolbar, experiment dock, diagnosis banner, panels and timeline."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from initviz import registry
from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord
from initviz.engine.snapshot import Snapshot
from initviz.ui.controller import GUI_DUTY, Controller
from initviz.ui.help import HelpDialog
from initviz.ui.panels.banner import DiagnosisBanner
from initviz.ui.panels.boundary import GridLog
from initviz.ui.panels.base import Frame, Panel
from initviz.ui.panels.experiment import ExperimentPanel
from initviz.ui.panels.timeline import Timeline
from initviz.ui.text import elide, plain_html

APP_TITLE = "initviz: what weight initialisation does to every layer"
# a 1 ms timer, not 0 ms: Qt delivers a 0 ms single shot as a posted call, ahead of the repaint
PAINT_TIMER_S = 0.001
SPEEDS: tuple[tuple[str, Optional[float]], ...] = (
    ("1 step/s", 1.0),
    ("3 steps/s", 3.0),
    ("10 steps/s", 10.0),
    ("30 steps/s", 30.0),
    ("100 steps/s", 100.0),
    ("max", None),
)


class MainWindow(QtWidgets.QMainWindow):
    """initviz's window. Draws the newest engine state (or a scrubbed step) at <= 30 Hz."""

    frame_drawn = QtCore.Signal(float)  # seconds the last frame took to draw (benchmarks, tests)

    def __init__(
        self,
        config: RunConfig,
        *,
        torch_threads: Optional[int] = 1,
        lanes: Optional[Sequence[RunConfig]] = None,
        names: Optional[Sequence[str]] = None,
    ) -> None:
        """``config`` alone: one lane. ``lanes`` (and ``names``): runs side by side, in lockstep."""
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.resize(1600, 1000)
        spec = (list(lanes), list(names) if names is not None else None) if lanes else config
        self.controller = Controller(spec, self, torch_threads=torch_threads)
        self.controller.state_ready.connect(self.on_state)
        self.controller.run_failed.connect(self.on_run_failed)
        self.controller.playing_changed.connect(self._playing_changed)
        self.state: Optional[Snapshot] = None
        self.cursor_step: Optional[int] = None  # None = live
        self.grid_log = GridLog()  # decision boundaries computed so far: shown when scrubbing back
        self.shown_record: Optional[StepRecord] = None
        self._diagnosed: Optional[tuple[int, int]] = None
        self._drawn_build = -1
        self._shown_error: Optional[str] = None
        self.last_frame_seconds = 0.0
        self.last_paint_seconds = 0.0  # GUI CPU time of the repaint after the last frame
        self._draw_cpu = 0.0
        self._drawn_at = 0.0
        self._shown_interval = -1
        # fires after the repaint that follows a drawn frame: measures what that repaint cost
        self._paint_timer = QtCore.QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._paint_timer.setInterval(round(1000 * PAINT_TIMER_S))
        self._paint_timer.timeout.connect(self._painted)
        self.help_dialog: Optional[HelpDialog] = None
        self._notice_seen = 0
        self.hidden_lanes: set[str] = set()  # lanes left out of every panel (by name; UI only)
        self.selected_lane: Optional[str] = None  # the lane the info lines describe (Experiment's)

        # --- panels: one tab per registered panel, in registry order ---
        self._panels: dict[str, Panel] = {spec.id: spec.load()() for spec in registry.PANELS}
        self.panels: list[Panel] = list(self._panels.values())
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        for n, (spec, p) in enumerate(zip(registry.PANELS, self.panels)):
            p.setObjectName(f"panel_{spec.id}")
            self.tabs.addTab(p, spec.title.replace("&", "&&"))
            self.tabs.setTabToolTip(n, QtGui.QTextDocumentFragment.fromHtml(p.help_text).toPlainText() + f"\n(Ctrl+{n + 1})")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.panel("neurons").layer_changed.connect(self._ask_pictures)
        self.panel("phase").cell_clicked.connect(self.load_cell)

        self.banner = DiagnosisBanner()
        self.timeline = Timeline()
        self.timeline.step_selected.connect(self.scrub_to)
        self.timeline.live_requested.connect(self.go_live)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 2)
        lay.setSpacing(4)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.timeline)
        self.setCentralWidget(central)

        # --- experiment dock ---
        self.experiment = ExperimentPanel(config)
        self.experiment.apply_requested.connect(self.apply_config)
        self.experiment.lanes_requested.connect(self.apply_lanes)
        self.experiment.lane_apply_requested.connect(self.apply_lane)
        self.experiment.lane_add_requested.connect(self.add_lane)
        self.experiment.lane_remove_requested.connect(self.remove_lane)
        self.experiment.lane_selected.connect(self._lane_selected)
        self.experiment.lane_visibility_changed.connect(self.set_lane_visible)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.experiment)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.experiment_dock = QtWidgets.QDockWidget("Experiment", self)
        self.experiment_dock.setObjectName("experimentDock")
        self.experiment_dock.setWidget(scroll)
        self.experiment_dock.setFeatures(
            QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.experiment_dock)
        self.resizeDocks([self.experiment_dock], [330], QtCore.Qt.Orientation.Horizontal)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        from initviz.ui import shortcuts

        shortcuts.install(self)  # keys that always work, View > Zoom, the dock's restore
        self.statusBar().showMessage("Building the network…")
        self.banner.show_message("Building the network… (the first start loads PyTorch)")

    # ------------------------------------------------------------------ actions, menus
    def _action(self, text: str, slot: Callable, shortcut: Optional[str] = None, tip: str = "") -> QtGui.QAction:
        act = QtGui.QAction(text, self)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            tip = f"{tip} ({QtGui.QKeySequence(shortcut).toString(QtGui.QKeySequence.SequenceFormat.NativeText)})"
        act.setToolTip(tip.strip())
        act.setStatusTip(tip.strip())
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.play_action = self._action("Play", self.toggle_play, "Space", "Play / pause training")
        self._play_icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
        self.play_action.setIcon(self._play_icon)
        self.step_action = self._action("Step", lambda: self.controller.step(1), "Right", "Train one step")
        self.step_n_action = self._action("Step N", self.step_n, "Shift+Right", "Train N steps (N in the box)")
        self.reset_action = self._action(
            "Reset", self.controller.reset, "Ctrl+R", "Start over with the same seed: the very same initial weights"
        )
        self.reseed_action = self._action(
            "Reseed", self.controller.reseed, "Ctrl+Shift+R", "Start over with the next seed: new initial weights"
        )
        self.apply_action = self._action("Apply settings", self.experiment.apply, "Ctrl+Return", "Rebuild the network from the experiment panel")
        self.live_action = self._action("Follow live", self.go_live, "End", "Timeline: follow training again")
        self.quit_action = self._action("Quit", self.close, "Ctrl+Q", "Quit initviz")
        self.save_action = self._action("Save run…", self.save_run_dialog, "Ctrl+S", "Save every lane (settings, weights, history) to a .initviz file")
        self.open_action = self._action("Open run…", self.open_run_dialog, "Ctrl+O", "Open a saved .initviz run: scrub it or train on")
        self.export_action = self._action(
            "Export…", self.show_export, "Ctrl+E", "Export a panel or the dashboard as a slide (PNG/SVG/PDF), a GIF, or the data"
        )
        self.help_action = self._action("Help…", self.show_help, "F1", "Formulas, panels and shortcuts")
        self.about_action = self._action("About initviz", self.show_about)
        self.pre_action = self._action("Show pre-activations", self._toggle_pre, "Ctrl+P", "Activations: show z instead of φ(z)")
        self.pre_action.setCheckable(True)
        self.panel_actions = []
        for n, spec in enumerate(registry.PANELS):
            act = self._action(
                spec.title.replace("&", "&&"), lambda _=False, i=n: self.tabs.setCurrentIndex(i), f"Ctrl+{n + 1}",
                f"Show the {spec.title} panel: {spec.summary}",
            )  # fmt: skip
            self.panel_actions.append(act)

    def _build_toolbar(self) -> None:
        tb = QtWidgets.QToolBar("Transport")
        tb.setObjectName("transport")
        tb.setMovable(False)
        tb.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setIconSize(QtCore.QSize(16, 16))
        font = tb.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        tb.setFont(font)
        self.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, tb)
        tb.addAction(self.play_action)
        tb.addAction(self.step_action)
        tb.addSeparator()
        tb.addAction(self.step_n_action)
        self.step_n_box = QtWidgets.QSpinBox()
        self.step_n_box.setObjectName("stepN")
        self.step_n_box.setRange(1, 1_000_000)
        self.step_n_box.setValue(100)
        self.step_n_box.setToolTip("N for Step N (Shift+Right)")
        # give the keyboard back to the window, so Space and Right work again after typing N
        self.step_n_box.editingFinished.connect(lambda: self.tabs.setFocus())
        tb.addWidget(self.step_n_box)
        tb.addSeparator()
        tb.addWidget(QtWidgets.QLabel(" Speed "))
        self.speed_box = QtWidgets.QComboBox()
        self.speed_box.setObjectName("speed")
        for label, sps in SPEEDS:
            self.speed_box.addItem(label, sps)
        self.speed_box.setCurrentIndex(len(SPEEDS) - 1)
        self.speed_box.setToolTip("Playback speed: steps per second, or max = as fast as the engine trains")
        self.speed_box.currentIndexChanged.connect(lambda _: self.controller.set_speed(self.speed_box.currentData()))
        tb.addWidget(self.speed_box)
        tb.addSeparator()
        tb.addAction(self.reset_action)
        tb.addAction(self.reseed_action)
        spacer = QtWidgets.QWidget()
        spacer.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        self.step_label = QtWidgets.QLabel("step –")
        self.step_label.setObjectName("stepCounter")
        self.step_label.setToolTip("Optimizer steps done so far (step 0 = at initialisation)")
        bold = self.step_label.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.step_label.setFont(bold)
        self.rate_label = QtWidgets.QLabel("")
        self.rate_label.setObjectName("stepsPerSecond")
        self.rate_label.setToolTip("Training speed measured over the last second")
        self.cost_label = QtWidgets.QLabel("")
        self.cost_label.setObjectName("probeCost")
        self.cost_label.setToolTip(
            "Measured cost of the instrumentation: time spent computing the per-layer statistics\n"
            "as a share of the time spent training (forward + backward + update), over the last 50 records"
        )
        for w in (self.step_label, self.rate_label, self.cost_label):
            w.setMinimumWidth(90)
            w.setContentsMargins(10, 0, 10, 0)
            tb.addWidget(w)
        for act in (self.play_action, self.step_action, self.step_n_action, self.reset_action, self.reseed_action):
            button = tb.widgetForAction(act)
            if button is not None:
                button.setObjectName(f"button_{act.text().replace(' ', '_').lower()}")
        self.play_button = tb.widgetForAction(self.play_action)
        self.play_button.setMinimumWidth(90)
        self.toolbar = tb

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run = mb.addMenu("&Run")
        for act in (self.play_action, self.step_action, self.step_n_action):
            run.addAction(act)
        run.addSeparator()
        speed_menu = run.addMenu("Speed")
        for i, (label, _) in enumerate(SPEEDS):
            speed_menu.addAction(label, lambda i=i: self.speed_box.setCurrentIndex(i))
        run.addSeparator()
        run.addAction(self.reset_action)
        run.addAction(self.reseed_action)
        run.addAction(self.apply_action)
        view = mb.addMenu("&View")
        for act in self.panel_actions:
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.pre_action)
        view.addAction(self.live_action)
        view.addAction(self.experiment_dock.toggleViewAction())
        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.help_action)
        help_menu.addAction(self.about_action)
        for menu in (file_menu, run, view, help_menu):
            menu.setToolTipsVisible(True)
        self.menus = {"File": file_menu, "Run": run, "View": view, "Help": help_menu}

    # ------------------------------------------------------------------ engine
    def start_engine(self) -> None:
        """Start the worker: it imports torch and builds the network off the GUI thread."""
        self.controller.want_grids = self.tabs.currentWidget() is self.boundary
        neurons = self.panel("neurons")
        self.controller.picture_layer = neurons.layer if self.tabs.currentWidget() is neurons else None
        self.controller.start()

    def toggle_play(self) -> None:
        self.controller.toggle_play()

    def step_n(self) -> None:
        self.controller.step(self.step_n_box.value())

    def apply_config(self, config: RunConfig) -> None:
        self.banner.show_message("Building the network…")
        self.go_live()
        self.controller.apply(config)

    def apply_lanes(self, configs: list, names: Optional[list] = None) -> None:
        """Rebuild as several lanes side by side (a comparison scenario)."""
        self.banner.show_message("Building the networks…")
        self.go_live()
        self.hidden_lanes.clear()
        self.controller.apply_lanes(list(configs), list(names) if names is not None else None)

    def load_cell(self, config: RunConfig) -> None:
        """A phase-diagram cell becomes the run (its depth differs from any other lane's, and depth is
        shared by lanes): shown on the Overview and training, so the learner watches it work or fail."""
        init = config.init
        name = f"σw²={(init.std or 0.0) ** 2 * config.width:.3g}, depth {config.depth}"
        self.apply_lanes([config], [name])
        self.tabs.setCurrentWidget(self.panel("overview"))
        self.controller.play()

    # ------------------------------------------------------------------ lanes
    def panel(self, panel_id: str) -> Panel:
        """The window's panel with this registry id (KeyError naming the ids otherwise)."""
        if panel_id not in self._panels:
            registry.get(panel_id)  # raises with the valid ids
        return self._panels[panel_id]

    def apply_lane(self, index: int, config: RunConfig) -> None:
        """Apply: lane ``index`` takes ``config``, the other lanes keep theirs (all restart at step 0)."""
        self.banner.show_message("Building the network…" if self._lane_count() <= 1 else f"Rebuilding lane {index + 1}…")
        self.go_live()
        self.controller.apply_lane(index, config)

    def add_lane(self, index: int) -> None:
        """Add a copy of lane ``index``."""
        self.banner.show_message("Building the networks…")
        self.go_live()
        self.controller.add_lane(index)

    def remove_lane(self, index: int) -> None:
        """Remove lane ``index``; the others go on."""
        self.go_live()
        self.controller.remove_lane(index)

    def set_lane_visible(self, name: str, visible: bool) -> None:
        """Show or hide the lane called ``name`` in every panel (it keeps training)."""
        if visible:
            self.hidden_lanes.discard(name)
        else:
            self.hidden_lanes.add(name)
        self.experiment.hidden = set(self.hidden_lanes)
        self.redraw()

    def _lane_count(self) -> int:
        return len(self.state.lanes) if self.state is not None else 1

    def _lane_selected(self, index: int) -> None:
        state = self.state
        if state is not None and 0 <= index < len(state.lanes):
            self.selected_lane = state.lanes[index].name
            self._show_summary()
            self._diagnosed = None
            self.redraw()

    def _show_summary(self) -> None:
        """The status bar: the settings of the lane the Experiment panel shows, named."""
        state = self.state
        if state is None:
            return
        lane = next((v for v in state.lanes if v.name == self.selected_lane), state.lanes[0])
        text = self._config_summary(lane.config, lane.model_label)
        if len(state.lanes) > 1:
            text = f"Lane {state.lanes.index(lane) + 1} ({_short(lane.name)}): {text}"
        self.statusBar().showMessage(text)

    # ------------------------------------------------------------------ save / open
    RUN_FILTER = "initviz runs (*.initviz);;All files (*)"

    def save_run_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save run", "run.initviz", self.RUN_FILTER)
        if path:
            self._run_path = path
            self.controller.save_run(path)

    def open_run_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open run", "", self.RUN_FILTER)
        if path:
            self._run_path = path
            self.controller.open_run(path)

    def _show_notice(self, notice: tuple[int, str, str]) -> None:
        """The worker's answer to Save / Open: errors in a message box, the rest in the status bar."""
        _, kind, text = notice
        if kind == "open_failed":
            QtWidgets.QMessageBox.warning(self, "Could not open the run", plain_html(text))  # file fields: never rich text
        elif kind == "save_failed":
            QtWidgets.QMessageBox.warning(self, "Could not save the run", plain_html(text))
        else:
            if kind == "opened":  # a saved run is not the scenario that was chosen before
                self.experiment.forget_scenario()
            if kind in ("opened", "saved") and getattr(self, "_run_path", None):
                self.setWindowTitle(f"{Path(self._run_path).name} — {APP_TITLE}")  # the file this run is in
            self.statusBar().showMessage(text, 8000)

    def _playing_changed(self, playing: bool) -> None:
        self.play_action.setText("Pause" if playing else "Play")
        self.play_action.setIcon(self._pause_icon if playing else self._play_icon)
        if playing:
            self.go_live()

    def on_run_failed(self, message: str) -> None:
        """The worker died: say so where people look, and how to go on."""
        self.banner.show_message(f"Training stopped by an error: {message}. Press Reset or Apply to start again.", "bad")
        self.statusBar().showMessage(f"Error: {message}")

    # ------------------------------------------------------------------ drawing
    def on_state(self, state: EngineState) -> None:
        """A new engine state (<= 30 Hz): update counters and redraw the visible panel."""
        t0, cpu0 = time.perf_counter(), time.thread_time()
        first = self.state is None
        self.state = state
        self.grid_log.add(state.build, state.grids)
        if state.build != self._drawn_build:
            self._drawn_build = state.build
            self.cursor_step = None  # a new network: follow it
            names = list(state.names)
            self.hidden_lanes &= set(names)
            self.experiment.set_lanes(names, list(state.lane_configs), self.hidden_lanes)
            self.selected_lane = self.experiment.selected_name
            if first:
                self.experiment.refresh_formula()
            self._show_summary()
        self.step_label.setText(f"step {state.step_count:,}")
        self.rate_label.setText(f"{state.steps_per_second:,.0f} steps/s" if state.steps_per_second > 0 else "paused")
        cost = state.probe_cost
        self.cost_label.setText(f"measuring: +{100 * cost:.0f}% time" if math.isfinite(cost) else "measuring: –")
        self._draw()
        if state.notice is not None and state.notice[0] != self._notice_seen:
            self._notice_seen = state.notice[0]
            # after this frame: a modal box must not block the frame bookkeeping below
            QtCore.QTimer.singleShot(0, lambda n=state.notice: self._show_notice(n))
        if state.error and state.error != self._shown_error:
            # a command the engine could not do (a config it could not build, a step that failed):
            # the run that was there goes on, and the engine's message says so
            self.banner.show_message(state.error, "bad")
            self.statusBar().showMessage(state.error)
            self._diagnosed = None  # the diagnosis comes back with the next drawn step
        self._shown_error = state.error
        self.last_frame_seconds = time.perf_counter() - t0
        # the repaint Qt does for this frame comes after this slot: the paint timer fires after it
        # and hands the frame's whole cost to the controller, which spaces the frames by it
        # (CPU time of this thread: on a busy machine wall time would count the waits for a core)
        self._draw_cpu = time.thread_time() - cpu0
        self._drawn_at = time.thread_time()
        self._paint_timer.start()
        self.frame_drawn.emit(self.last_frame_seconds)

    def _painted(self) -> None:
        """The repaint after the last drawn frame is done: the frame's CPU cost to the controller."""
        self.last_paint_seconds = time.thread_time() - self._drawn_at  # and whatever else ran meanwhile
        self.controller.frame_done(self._draw_cpu, self.last_paint_seconds)
        interval = round(1000 * self.controller.draw_interval)
        if interval != self._shown_interval:
            self._shown_interval = interval
            self.rate_label.setToolTip(
                "Training speed measured over the last second.\n"
                f"While training, the window draws every {interval} ms ({1000 / interval:.0f} frames/s): a frame "
                f"(drawing and repainting) may take {100 * GUI_DUTY:.0f}% of the GUI's time, the rest is left to training"
            )

    def draw_interval_ms(self) -> float:
        """Milliseconds between frames while training (grows when frames are costly)."""
        return 1000 * self.controller.draw_interval

    def current_frame(self) -> Optional[Frame]:
        """The Frame on screen: the snapshot's shown lanes, newest records when live, else the scrubbed step."""
        if self.state is None:
            return None
        return Frame.of(
            self.state, self.cursor_step, hidden=self.hidden_lanes, grid_history=self.grid_log.entries(), focus=self.selected_lane
        )

    def _draw(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        record = frame.main.record
        self.shown_record = record
        self.timeline.set_history_records(frame.main.records, record.step, self.cursor_step is None)
        key = (self.state.build, record.step)
        if key != self._diagnosed:
            self._diagnosed = key
            self._show_diagnosis(frame, scrubbed=self.cursor_step is not None)
        panel = self.tabs.currentWidget()
        if isinstance(panel, Panel):
            panel.show_frame(frame)
        self._show_phase(frame)

    def _show_phase(self, frame: Frame) -> None:
        """The selected lane's order/chaos sentence (q*, chi_1, xi_c) under the init's formula."""
        from initviz.ui.help import depth_scale_sentence

        lane = frame.lanes[frame.focus] if frame.lanes else None
        scales = lane.theory.depth_scales_if_ready() if lane is not None and lane.theory is not None else None
        text = depth_scale_sentence(scales.chi1, scales.q_star, scales.xi_c) if scales is not None else ""
        self.experiment.set_phase_caption(text)

    def _show_diagnosis(self, frame: Frame, scrubbed: bool) -> None:
        from initviz.engine.diagnosis import diagnose

        record = frame.main.record
        many = len(frame.lanes) > 1
        lines: list[str] = []
        later: list[str] = []  # each lane's further lines come after every lane's first one
        diverged = []
        for lane in frame.lanes:
            try:
                got = diagnose(lane.record, lane.config, initial=lane.records[0] if lane.records else None)
            except Exception as exc:  # noqa: BLE001 - a caption must never take the window down
                got = [f"(diagnosis failed: {exc})"]
            # with lanes, each line names its lane: "N(0, 1²): layer 3: 98% of units saturated"
            named = [f"{elide(lane.name)}: {line}" if many else line for line in got]
            lines.extend(named[:1])
            later.extend(named[1:])
            msg = lane.record.diverged_message()
            if msg:
                diverged.append(f"{elide(lane.name)}: {msg}" if many else msg)
        prefix = f"At step {record.step}: " if scrubbed or record.step == 0 else ""
        if record.step == 0 and not scrubbed:
            prefix = "At initialisation: "
        self.banner.show_diagnosis(lines + later, "; ".join(diverged) or None, prefix)

    def redraw(self) -> None:
        """Redraw the current frame now (view change, tab change, scrub)."""
        if self.state is not None:
            self._draw()

    def _ask_pictures(self, *_: object) -> None:
        """Per-unit pictures cost a forward pass per lane: asked for only while the Neurons tab shows."""
        neurons = self.panel("neurons")
        self.controller.set_picture_layer(neurons.layer if self.tabs.currentWidget() is neurons else None)

    def _tab_changed(self, _: int) -> None:
        self.controller.set_want_grids(self.tabs.currentWidget() is self.boundary)
        self._ask_pictures()
        self.redraw()

    def scrub_to(self, step: int) -> None:
        """Show every panel at recorded ``step`` (leaves live mode)."""
        self.cursor_step = int(step)
        self.redraw()

    def go_live(self) -> None:
        """Follow training again."""
        if self.cursor_step is not None:
            self.cursor_step = None
            self.redraw()

    def _toggle_pre(self, checked: bool) -> None:
        self.activations.set_kind("pre" if checked else "act")

    @staticmethod
    def _config_summary(c: RunConfig, model: str = "") -> str:
        """``model``: a user's model's own label (initviz inspect), said instead of the built-in network's."""
        extras = (" · BatchNorm" if c.batchnorm else "") + (f" · dropout {c.dropout:g}" if c.dropout else "")
        network = model or f"{c.network_label()} · {c.activation} · init {c.init.label()} · {c.dataset}"
        return f"{network} · {c.optimizer} lr {c.lr:g} · batch {c.batch_size} · seed {c.seed}{extras}"

    # ------------------------------------------------------------------ help, closing
    def show_export(self) -> None:
        """File > Export…: the dialog exports what is on screen now (training may go on)."""
        from initviz.ui.export_dialog import ExportDialog

        frame = self.current_frame()
        if frame is None:
            self.statusBar().showMessage("Nothing to export yet: the network is still being built", 4000)
            return
        ExportDialog({spec.title: self._panels[spec.id] for spec in registry.PANELS}, frame, self).open()

    def show_help(self) -> None:
        if self.help_dialog is None:
            self.help_dialog = HelpDialog(self)
        self.help_dialog.show()
        self.help_dialog.raise_()

    def show_about(self) -> None:
        from initviz import __version__

        QtWidgets.QMessageBox.about(
            self,
            "About initviz",
            f"<b>initviz {__version__}</b><br>Watch what weight initialisation does to a deep network, layer by layer, live.",
        )

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop the worker (within about a second) before the window goes."""
        self._paint_timer.stop()
        self.controller.shutdown(timeout=1.0)
        from initviz.ui import shortcuts

        shortcuts.uninstall(self)
        if self.help_dialog is not None:
            self.help_dialog.close()
        super().closeEvent(event)


def _short(text: str, limit: int = 40) -> str:
    """User text cut to ``limit`` characters for a one-line place (the full text stays elsewhere)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _panel_property(panel_id: str) -> property:
    return property(lambda self: self._panels[panel_id], doc=f"The {registry.get(panel_id).title} panel.")


# window.overview, window.loss, ...: one read-only attribute per registered panel
for _spec in registry.PANELS:
    if hasattr(QtWidgets.QMainWindow, _spec.id):
        raise RuntimeError(f"panel id {_spec.id!r} clashes with a QMainWindow attribute")
    setattr(MainWindow, _spec.id, _panel_property(_spec.id))
