"""Runs the engine loop in a worker thread and hands the newest Snapshot to the GUI at <= 30 Hz.

The worker is a superqt ``GeneratorWorker`` around :func:`initviz.engine.loop.engine_loop` (Qt-free,
typed commands, tested without threads in tests/engine/test_engine_loop.py). The loop never signals
per step: it stores the newest :class:`~initviz.engine.snapshot.Snapshot` in a latest-value-wins
:class:`~initviz.engine.loop.Mailbox`, and a GUI ``QTimer`` polls that mailbox and emits
``state_ready`` only when something new is there.
"""

from __future__ import annotations

import collections
import queue
import statistics
import threading
import time
from typing import Any, Optional

from PySide6 import QtCore
from superqt.utils import GeneratorWorker

from initviz.engine import loop as cmds
from initviz.engine.config import RunConfig
from initviz.engine.loop import Mailbox, engine_loop
from initviz.engine.snapshot import Snapshot

EngineState = Snapshot  # the name the window and tests used before the snapshot moved to the engine

FRAME_INTERVAL_MS = 33  # GUI redraw poll: <= 30 Hz
# While training runs, a frame (drawing + the repaint Qt does after it) may cost at most this share
# of the time until the next one: every ms of Python on the GUI thread (pyqtgraph paints in Python)
# is a ms the training thread waits for the GIL, and on a busy machine a ms of CPU it does not get.
# A frame costing more than this share of the 33 ms budget spaces the frames out.
GUI_DUTY = 0.1
MAX_FRAME_INTERVAL_S = 0.5  # however slow frames are, at least two a second while training
FRAME_COSTS = 9  # the draw interval follows the median cost of this many recent frames
# The first build cannot be interrupted (it imports torch): closing the window meanwhile waits
# up to this long for the worker to see its Quit, so no worker outlives the window.
FIRST_BUILD_WAIT_S = 60.0


class EngineWorker(GeneratorWorker):
    """superqt's GeneratorWorker, minus its process-wide warnings capture.

    ``WorkerBase.run`` wraps the whole run in ``warnings.catch_warnings()``, which is global
    state in Python: for the app's lifetime it would reroute every thread's warnings and, on exit,
    restore filters over the ones set meanwhile (pytest's included). It also drops a RuntimeError
    raised by the generator (torch raises those) with only a warning. Here every exception,
    RuntimeError included, reaches ``errored``; and nothing escapes ``run`` (Qt would print
    "Error calling Python override of QRunnable::run()"), e.g. a signal whose receiver is gone.
    """

    def run(self) -> None:  # noqa: D102 - called by QThreadPool
        try:
            self.started.emit()
            self._running = True
            try:
                result = self.work()
                if isinstance(result, Exception):
                    raise result
                if not self.abort_requested:
                    self.returned.emit(result)
            except Exception as exc:  # noqa: BLE001 - everything must surface in the GUI
                self.errored.emit(exc)
            self._running = False
            self.finished.emit()
            self._finished.emit(self)
        except RuntimeError:  # the window (and the signals' C++ side) went first: nothing to tell
            self._running = False


class Controller(QtCore.QObject):
    """GUI-side handle on the engine worker: commands in, ``state_ready`` out at <= 30 Hz."""

    state_ready = QtCore.Signal(object)  # a new Snapshot to draw
    run_failed = QtCore.Signal(str)  # the worker died; the message says why
    playing_changed = QtCore.Signal(bool)

    def __init__(self, config: Any, parent: Optional[QtCore.QObject] = None, torch_threads: Optional[int] = 1) -> None:
        super().__init__(parent)
        self.config = config  # what a new worker builds: a RunConfig, [RunConfig] or (configs, names)
        self.torch_threads = torch_threads
        self.playing = False
        self.speed: Optional[float] = None
        self.want_grids = False
        self.picture_layer: Optional[int] = None  # the Neurons tab's layer while shown
        self._inbox: "queue.Queue[Any]" = queue.Queue()
        self._mailbox = Mailbox()
        self._done = threading.Event()
        self._worker: Optional[EngineWorker] = None
        self._last_version = -1
        self._force = False
        self._not_before = 0.0
        self._emitted_at = 0.0
        self._costs: collections.deque[float] = collections.deque(maxlen=FRAME_COSTS)
        self.draw_interval = FRAME_INTERVAL_MS / 1000  # seconds between frames while training
        self._closing = False
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.timeout.connect(self.poll)

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether a worker thread is alive."""
        return self._worker is not None and not self._done.is_set()

    @property
    def state(self) -> Optional[Snapshot]:
        """The newest published snapshot (may not be drawn yet)."""
        return self._mailbox.peek()

    def start(self, config: Any = None) -> None:
        """Start a worker that builds ``config`` (or the current one); stops any previous worker."""
        if config is not None:
            self.config = config
        if self.running:
            self.shutdown()
        self._closing = False
        self._inbox = queue.Queue()
        self._done = threading.Event()
        self._mailbox = Mailbox()  # a fresh one: versions restart with every worker
        self._last_version = -1
        if self.speed is not None:
            self._inbox.put(cmds.Speed(self.speed))
        if self.want_grids:
            self._inbox.put(cmds.Grids(True))
        if self.picture_layer is not None:
            self._inbox.put(cmds.Pictures(self.picture_layer))
        worker = EngineWorker(engine_loop, self.config, self._inbox, self._mailbox, self._done, self.torch_threads)
        worker.errored.connect(self._on_error)
        self._worker = worker
        self._set_playing(False)
        worker.start()
        self.timer.start()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the worker and the frame timer; True if the thread ended within ``timeout`` s
        (during the first build, which cannot be interrupted, up to FIRST_BUILD_WAIT_S)."""
        self._closing = True
        self.timer.stop()
        worker, self._worker = self._worker, None
        if worker is None:
            return True
        if self._mailbox.peek() is None:
            timeout = max(timeout, FIRST_BUILD_WAIT_S)
        # The generator returns at its next look at the inbox (after the step in progress).
        # Not worker.quit() first: superqt would then stop resuming the generator, so it would
        # never reach its own end (and its cleanup) in the worker thread.
        self._inbox.put(cmds.Quit())
        deadline = time.perf_counter() + timeout
        # wait with sleep (releases the GIL): the worker needs it to see the Quit
        while not self._done.is_set() and time.perf_counter() < deadline:
            time.sleep(0.002)
        ok = self._done.is_set()
        if not ok:
            worker.quit()  # last resort: stop at the next yield
        # The QRunnable emits its last signals right after the generator ends and needs the GIL
        # for that: wait with sleep (releases the GIL), not QThreadPool.waitForDone (keeps it).
        pool = QtCore.QThreadPool.globalInstance()
        end = max(deadline, time.perf_counter() + 0.5)
        while pool.activeThreadCount() and time.perf_counter() < end:
            time.sleep(0.002)
        ok = ok and pool.activeThreadCount() == 0
        self._set_playing(False)
        return ok

    # --- commands ------------------------------------------------------------------------
    def send(self, cmd: Any) -> None:
        """Queue one engine command (initviz.engine.loop); the answer comes in a later Snapshot."""
        self._inbox.put(cmd)

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

    def _send_paused(self, cmd: Any) -> bool:
        """Send a command that pauses the run (False when no worker is alive)."""
        if not self.running:
            return False
        self.send(cmd)
        self._set_playing(False)
        return True

    def play(self) -> None:
        if self.running:
            self.send(cmds.Play())
            self._set_playing(True)

    def pause(self) -> None:
        self.send(cmds.Pause())
        self._set_playing(False)

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, n: int = 1) -> None:
        """Pause, then train ``n`` steps."""
        self._send_paused(cmds.Step(int(n)))

    def set_speed(self, steps_per_second: Optional[float]) -> None:
        """Limit playback to ``steps_per_second``; None = as fast as the engine goes."""
        self.speed = steps_per_second
        self.send(cmds.Speed(steps_per_second))

    def reset(self) -> None:
        """Same seed again: identical initial weights, history cleared."""
        self._restart_or_send(cmds.Reset())

    def reseed(self) -> None:
        """Next seed: new initial weights, history cleared."""
        self._restart_or_send(cmds.Reseed())

    def apply(self, config: RunConfig) -> None:
        """Rebuild as one lane from ``config`` (already validated by the caller)."""
        self.config = config
        if not self._send_paused(cmds.Apply.of(config)):
            self.start(config)

    def apply_lanes(self, configs: list[RunConfig], names: Optional[list[str]] = None) -> None:
        """Rebuild as lanes trained side by side (a scenario with lanes)."""
        self.config = (list(configs), list(names) if names is not None else None)
        if not self._send_paused(cmds.Apply.of(self.config)):
            self.start(self.config)

    def apply_lane(self, index: int, config: RunConfig) -> None:
        """Lane ``index`` takes ``config``; the other lanes keep theirs (shared settings go to all)."""
        if not self._send_paused(cmds.ApplyLane(int(index), config)):
            self._restart_then(cmds.ApplyLane(int(index), config))

    def add_lane(self, index: int) -> None:
        """Add a copy of lane ``index`` (every lane restarts at step 0)."""
        if not self._send_paused(cmds.AddLane(int(index))):
            self._restart_then(cmds.AddLane(int(index)))

    def remove_lane(self, index: int) -> None:
        """Remove lane ``index`` (the others go on)."""
        if not self._send_paused(cmds.RemoveLane(int(index))):
            self._restart_then(cmds.RemoveLane(int(index)))

    def set_want_grids(self, on: bool) -> None:
        """Compute decision boundaries (a forward pass per lane, <= 2 per second) only while shown."""
        if on != self.want_grids:
            self.want_grids = on
            self.send(cmds.Grids(on))

    def set_picture_layer(self, layer: Optional[int]) -> None:
        """Compute per-unit pictures of hidden ``layer`` (None: stop) only while the Neurons tab shows."""
        if layer != self.picture_layer:
            self.picture_layer = layer
            self.send(cmds.Pictures(layer))

    def save_run(self, path: str) -> None:
        """Ask the worker to write every lane to ``path`` (answer: Snapshot.notice)."""
        self._send_paused(cmds.Save(str(path)))

    def open_run(self, path: str) -> None:
        """Ask the worker to replace the lanes with a saved run (answer: Snapshot.notice)."""
        self._send_paused(cmds.Open(str(path)))

    def _last_spec(self) -> Any:
        """The lanes of the newest snapshot, as (configs, names); else the configured spec."""
        state = self.state
        if state is not None and state.lanes:
            return (list(state.lane_configs), list(state.names))
        return self.config

    def _restart_then(self, cmd: Any) -> None:
        """The worker died: start again from the last lanes, then send ``cmd``."""
        self.start(self._last_spec())
        self.send(cmd)

    def _restart_or_send(self, cmd: Any) -> None:
        if self._send_paused(cmd):
            return
        # the worker died: start again from the last lanes
        self.start(self._last_spec() if isinstance(cmd, cmds.Reset) else None)
        if isinstance(cmd, cmds.Reseed):
            self.send(cmd)

    # --- GUI side ------------------------------------------------------------------------
    def poll(self) -> None:
        """Frame timer tick: emit the newest snapshot if it changed since the last tick."""
        state = self._mailbox.peek()
        if state is None or (state.version == self._last_version and not self._force):
            return
        if self.playing and not self._force and time.perf_counter() < self._not_before:
            return  # frame budget: the last frame was expensive, let training run
        self._force = False
        self._last_version = state.version
        self._emitted_at = time.perf_counter()
        self.state_ready.emit(state)

    def frame_done(self, seconds: float, paint: float = 0.0) -> None:
        """A frame cost the GUI ``seconds`` of drawing and ``paint`` of repainting after it: the
        next frame comes when the median recent cost is GUI_DUTY of the time between frames
        (33 ms to MAX_FRAME_INTERVAL_S), so training keeps the GIL and the CPU most of the time."""
        self._costs.append(max(0.0, seconds) + max(0.0, paint))
        cost = statistics.median(self._costs)
        self.draw_interval = min(max(cost / GUI_DUTY, FRAME_INTERVAL_MS / 1000), MAX_FRAME_INTERVAL_S)
        self._not_before = self._emitted_at + self.draw_interval - 0.002  # a poll tick early is fine

    def request_redraw(self) -> None:
        """Emit the current snapshot again at the next tick (after a view change)."""
        self._force = True

    def _on_error(self, exc: BaseException) -> None:
        if self._closing:
            return
        self._worker = None
        self._done.set()
        self._set_playing(False)
        self.run_failed.emit(f"{type(exc).__name__}: {exc}")
