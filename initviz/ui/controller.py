"""Runs the engine in a worker thread and hands the newest state to the GUI at <= 30 Hz.

The worker is a superqt ``GeneratorWorker`` around :func:`engine_loop`: a plain generator that
owns the :class:`~initviz.engine.Trainer`, reads commands from a thread-safe queue and yields
after every step (each ``yield`` is a safe stop point). It never signals per step: it stores the
newest :class:`EngineState` in a latest-value-wins :class:`Mailbox`, and a GUI ``QTimer`` polls
that mailbox and emits ``state_ready`` only when something new is there.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Generator, Optional

from PySide6 import QtCore
from superqt.utils import GeneratorWorker

from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord

GRID_INTERVAL_S = 0.5  # decision boundaries are recomputed at most this often while running
GRID_DUTY = 0.2  # ... and take at most about this share of the worker's time (deep, wide nets)
FRAME_INTERVAL_MS = 33  # GUI redraw poll: <= 30 Hz
# While training runs, the GUI spends at most about this share of its time drawing: every ms of
# Python on the GUI thread is a ms the training thread waits for the GIL.
GUI_DUTY = 0.3
PUBLISH_INTERVAL_S = 1 / 40  # worker publishes a new snapshot at most this often while running
IDLE_WAIT_S = 0.05  # longest the worker blocks on its inbox (bounds quit latency when idle)


@dataclass(frozen=True)
class EngineState:
    """One snapshot of the run, published by the worker; immutable, safe to read from the GUI."""

    version: int  # increases with every publish
    build: int  # increases whenever the network is (re)built: apply, reset, reseed
    config: RunConfig
    latest: StepRecord
    records: tuple[StepRecord, ...]  # the engine's history at publish time, oldest first
    step_count: int
    theory: Any
    predicted_weight_std: Any  # describe_init(config).weight_std
    init_formula: str
    playing: bool
    pending_steps: int  # steps of a "Step N" still to do
    steps_per_second: float  # measured over the last second of stepping; 0 when idle
    probe_cost: float  # stats_seconds / train_seconds over the last recorded steps (NaN if unknown)
    error: Optional[str] = None  # a command the engine refused (e.g. a config it could not build)
    # --- lanes (several runs in lockstep); the single-lane fields above describe lane 0 ---
    names: tuple[str, ...] = ()
    lane_configs: tuple[RunConfig, ...] = ()
    lane_latest: tuple[StepRecord, ...] = ()
    lane_records: tuple[tuple[StepRecord, ...], ...] = ()
    lane_theory: tuple[Any, ...] = ()
    lane_weight_std: tuple[Any, ...] = ()
    grids: tuple[Any, ...] = ()  # per lane: engine DecisionGrid, or None (not 2-D data / not yet)
    # (id, kind, text): the answer to a save/open command; id increases with every answer
    notice: Optional[tuple[int, str, str]] = None


class Mailbox:
    """Latest-value-wins slot: the worker overwrites, the GUI reads; older states are dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Optional[EngineState] = None

    def put(self, state: EngineState) -> None:
        with self._lock:
            self._state = state

    def peek(self) -> Optional[EngineState]:
        with self._lock:
            return self._state


def _drain(inbox: "queue.Queue[tuple]", timeout: float) -> list[tuple]:
    """Every queued command, waiting up to ``timeout`` seconds for the first one."""
    cmds: list[tuple] = []
    try:
        cmds.append(inbox.get(timeout=timeout) if timeout > 0 else inbox.get_nowait())
    except queue.Empty:
        return cmds
    while True:
        try:
            cmds.append(inbox.get_nowait())
        except queue.Empty:
            return cmds


def _lane_spec(spec: Any) -> tuple[list[RunConfig], Optional[list[str]]]:
    """A RunConfig (one lane), a sequence of RunConfigs, or (configs, names)."""
    if isinstance(spec, RunConfig):
        return [spec], None
    if isinstance(spec, tuple) and len(spec) == 2 and not isinstance(spec[0], RunConfig):
        configs, names = spec
        return list(configs), (list(names) if names is not None else None)
    return list(spec), None


def engine_loop(
    config: Any,
    inbox: "queue.Queue[tuple]",
    mailbox: Mailbox,
    done: threading.Event,
    torch_threads: Optional[int] = 1,
) -> Generator[None, None, None]:
    """Own a Trainer in the worker thread: obey commands, step, publish snapshots, yield often.

    ``config`` is one RunConfig (one lane), a list of them, or (configs, names): lanes trained
    in lockstep. Commands (tuples): ("play",), ("pause",), ("step", n), ("speed", steps/s | None),
    ("reset",), ("reseed",), ("config", RunConfig | [RunConfig] | (configs, names)),
    ("save", path), ("open", path), ("grids", on), ("quit",).
    """
    try:
        # Imported here so torch loads in the worker, not while the window is trying to appear.
        from initviz.engine.config import ConfigError
        from initviz.engine.inits import describe_init
        from initviz.engine.lanes import Lanes
        from initviz.engine.store import RunFileError, load_run, save_run

        if torch_threads:
            import torch

            # leave a core to the GUI thread: small matmuls gain little from more threads
            torch.set_num_threads(torch_threads)

        configs, names = _lane_spec(config)
        lanes = Lanes(configs, names)
        infos = [describe_init(t.config) for t in lanes.trainers]
        grids: tuple[Any, ...] = ()
        last_grid = -1e9
        notice: Optional[tuple[int, str, str]] = None
        notices = 0
        want_grids = False  # the decision boundary costs a forward pass per lane: only while shown
        grid_cost = 0.0  # seconds the last computation of every lane's grid took
        playing = False
        pending = 0
        interval: Optional[float] = None  # seconds per step; None = as fast as possible
        next_due = 0.0
        version = 0
        build = 0
        error: Optional[str] = None
        stamps: collections.deque[float] = collections.deque(maxlen=400)
        costs: collections.deque[tuple[float, float]] = collections.deque(maxlen=50)
        last_publish = 0.0

        def publish() -> None:
            nonlocal version, last_publish, grids, last_grid, grid_cost
            version += 1
            now = time.perf_counter()
            wait = max(GRID_INTERVAL_S, grid_cost / GRID_DUTY)
            if want_grids and (not (playing or pending) or now - last_grid >= wait):
                grids = tuple(t.decision_grid() for t in lanes.trainers)
                last_grid = time.perf_counter()
                grid_cost = last_grid - now
            trainer = lanes.trainers[0]
            last_publish = now
            recent = [t for t in stamps if now - t <= 1.0]
            sps = 0.0
            if (playing or pending) and len(recent) >= 2 and recent[-1] > recent[0]:
                sps = (len(recent) - 1) / (recent[-1] - recent[0])
            train = sum(c[0] for c in costs)
            stats = sum(c[1] for c in costs)
            mailbox.put(
                EngineState(
                    version=version,
                    build=build,
                    config=trainer.config,
                    latest=trainer.latest,
                    records=tuple(trainer.history),
                    step_count=trainer.step_count,
                    theory=trainer.theory,
                    predicted_weight_std=infos[0].weight_std,
                    init_formula=infos[0].formula,
                    playing=playing,
                    pending_steps=pending,
                    steps_per_second=sps,
                    probe_cost=stats / train if train > 0 else float("nan"),
                    error=error,
                    names=tuple(lanes.names),
                    lane_configs=tuple(t.config for t in lanes.trainers),
                    lane_latest=tuple(t.latest for t in lanes.trainers),
                    lane_records=tuple(tuple(t.history) for t in lanes.trainers),
                    lane_theory=tuple(t.theory for t in lanes.trainers),
                    lane_weight_std=tuple(i.weight_std for i in infos),
                    grids=grids,
                    notice=notice,
                )
            )

        def rebuilt() -> None:
            nonlocal build, playing, pending, infos, last_grid, grids
            build += 1
            last_grid = -1e9
            grids = ()  # the old network's boundary must not be shown for the new one
            playing = False
            pending = 0
            stamps.clear()
            costs.clear()
            infos = [describe_init(t.config) for t in lanes.trainers]

        def answer(kind: str, text: str) -> None:
            nonlocal notice, notices
            notices += 1
            notice = (notices, kind, text)

        publish()
        yield
        while True:
            running = playing or pending > 0
            if not running:
                timeout = IDLE_WAIT_S
            elif interval is not None:
                timeout = min(max(next_due - time.perf_counter(), 0.0), IDLE_WAIT_S)
            else:
                timeout = 0.0
            dirty = False
            for cmd in _drain(inbox, timeout):
                kind = cmd[0]
                dirty = True
                if kind == "quit":
                    return
                if kind == "play":
                    playing, pending = True, 0
                elif kind == "pause":
                    playing, pending = False, 0
                elif kind == "step":
                    playing = False
                    pending += int(cmd[1])
                elif kind == "grids":
                    want_grids = bool(cmd[1])
                    last_grid = -1e9
                elif kind == "speed":
                    interval = None if cmd[1] is None else 1.0 / float(cmd[1])
                    next_due = time.perf_counter()
                elif kind == "reset":
                    lanes.reset()
                    error = None
                    rebuilt()
                elif kind == "reseed":
                    lanes.reseed()
                    error = None
                    rebuilt()
                elif kind == "config":
                    try:
                        new = Lanes(*_lane_spec(cmd[1]))
                    except (ValueError, ConfigError) as exc:  # keep the old run
                        error = f"Could not build this network: {exc}"
                    else:
                        lanes, error = new, None
                        rebuilt()
                elif kind == "save":
                    playing, pending = False, 0
                    try:
                        saved = save_run(cmd[1], lanes)
                    except (OSError, RunFileError, ValueError) as exc:
                        answer("save_failed", f"Could not save the run to {cmd[1]}: {exc}")
                    else:
                        answer("saved", f"Saved {len(lanes)} lane(s) at step {lanes.step_count} to {saved}")
                elif kind == "open":
                    try:
                        opened = load_run(cmd[1])
                    except (RunFileError, OSError) as exc:  # the open run goes on unchanged
                        answer("open_failed", str(exc))
                    else:
                        lanes, error = opened, None
                        rebuilt()
                        answer("opened", f"Opened {cmd[1]}: {len(lanes)} lane(s) at step {lanes.step_count}")
            now = time.perf_counter()
            if (playing or pending > 0) and now >= next_due:
                made = lanes.step(1)
                stamps.append(time.perf_counter())
                for recs in made:
                    costs.append((sum(r.train_seconds for r in recs), sum(r.stats_seconds for r in recs)))
                if pending > 0:
                    pending -= 1
                next_due = now + interval if interval is not None else 0.0
                finished_batch = not playing and pending == 0
                if finished_batch or time.perf_counter() - last_publish >= PUBLISH_INTERVAL_S:
                    publish()
                # let the GUI thread take the GIL between steps (keeps frames and clicks prompt)
                time.sleep(0)
            elif dirty:
                publish()
            yield
    finally:
        done.set()


class EngineWorker(GeneratorWorker):
    """superqt's GeneratorWorker, minus its process-wide warnings capture.

    ``WorkerBase.run`` wraps the whole run in ``warnings.catch_warnings()``, which is global
    state in Python: for the app's lifetime it would reroute every thread's warnings and, on exit,
    restore filters over the ones set meanwhile (pytest's included). It also drops a RuntimeError
    raised by the generator (torch raises those) with only a warning. Here every exception,
    RuntimeError included, reaches ``errored``.
    """

    def run(self) -> None:  # noqa: D102 - called by QThreadPool
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


class Controller(QtCore.QObject):
    """GUI-side handle on the engine worker: commands in, ``state_ready`` out at <= 30 Hz."""

    state_ready = QtCore.Signal(object)  # a new EngineState to draw
    run_failed = QtCore.Signal(str)  # the worker died; the message says why
    playing_changed = QtCore.Signal(bool)

    def __init__(self, config: RunConfig, parent: Optional[QtCore.QObject] = None, torch_threads: Optional[int] = 1) -> None:
        super().__init__(parent)
        self.config = config
        self.torch_threads = torch_threads
        self.playing = False
        self.speed: Optional[float] = None
        self.want_grids = False
        self._inbox: "queue.Queue[tuple]" = queue.Queue()
        self._mailbox = Mailbox()
        self._done = threading.Event()
        self._worker: Optional[EngineWorker] = None
        self._last_version = -1
        self._force = False
        self._not_before = 0.0
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
    def state(self) -> Optional[EngineState]:
        """The newest published state (may not be drawn yet)."""
        return self._mailbox.peek()

    def start(self, config: Optional[RunConfig] = None) -> None:
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
            self._inbox.put(("speed", self.speed))
        if self.want_grids:
            self._inbox.put(("grids", True))
        worker = EngineWorker(engine_loop, self.config, self._inbox, self._mailbox, self._done, self.torch_threads)
        worker.errored.connect(self._on_error)
        self._worker = worker
        self._set_playing(False)
        worker.start()
        self.timer.start()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the worker and the frame timer; True if the thread ended within ``timeout`` s."""
        self._closing = True
        self.timer.stop()
        worker, self._worker = self._worker, None
        if worker is None:
            return True
        # The generator returns at its next look at the inbox (after the step in progress).
        # Not worker.quit() first: superqt would then stop resuming the generator, so it would
        # never reach its own end (and its cleanup) in the worker thread.
        self._inbox.put(("quit",))
        deadline = time.perf_counter() + timeout
        ok = self._done.wait(timeout)
        if not ok:
            worker.quit()  # last resort: stop at the next yield
        # The QRunnable emits its last signals right after the generator ends and needs the GIL
        # for that: wait with sleep (releases the GIL), not QThreadPool.waitForDone (keeps it).
        pool = QtCore.QThreadPool.globalInstance()
        while pool.activeThreadCount() and time.perf_counter() < deadline:
            time.sleep(0.002)
        ok = ok and pool.activeThreadCount() == 0
        self._set_playing(False)
        return ok

    # --- commands ------------------------------------------------------------------------
    def _send(self, *cmd: Any) -> None:
        self._inbox.put(tuple(cmd))

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

    def play(self) -> None:
        if self.running:
            self._send("play")
            self._set_playing(True)

    def pause(self) -> None:
        self._send("pause")
        self._set_playing(False)

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, n: int = 1) -> None:
        """Pause, then train ``n`` steps."""
        if self.running:
            self._send("step", int(n))
            self._set_playing(False)

    def set_speed(self, steps_per_second: Optional[float]) -> None:
        """Limit playback to ``steps_per_second``; None = as fast as the engine goes."""
        self.speed = steps_per_second
        self._send("speed", steps_per_second)

    def reset(self) -> None:
        """Same seed again: identical initial weights, history cleared."""
        self._restart_or_send("reset")

    def reseed(self) -> None:
        """Next seed: new initial weights, history cleared."""
        self._restart_or_send("reseed")

    def apply(self, config: RunConfig) -> None:
        """Rebuild the network from ``config`` (already validated by the caller)."""
        self.config = config
        if self.running:
            self._send("config", config)
            self._set_playing(False)
        else:
            self.start(config)

    def apply_lanes(self, configs: list[RunConfig], names: Optional[list[str]] = None) -> None:
        """Rebuild as lanes trained side by side (a scenario with lanes)."""
        self.config = (list(configs), list(names) if names is not None else None)
        if self.running:
            self._send("config", self.config)
            self._set_playing(False)
        else:
            self.start(self.config)

    def set_want_grids(self, on: bool) -> None:
        """Compute decision boundaries (a forward pass per lane, <= 2 per second) only while shown."""
        if on != self.want_grids:
            self.want_grids = on
            self._send("grids", on)

    def save_run(self, path: str) -> None:
        """Ask the worker to write every lane to ``path`` (answer: EngineState.notice)."""
        if self.running:
            self._send("save", str(path))
            self._set_playing(False)

    def open_run(self, path: str) -> None:
        """Ask the worker to replace the lanes with a saved run (answer: EngineState.notice)."""
        if self.running:
            self._send("open", str(path))
            self._set_playing(False)

    def _restart_or_send(self, kind: str) -> None:
        if self.running:
            self._send(kind)
            self._set_playing(False)
        else:  # the worker died: start again from the last config
            state = self.state
            spec = (list(state.lane_configs), list(state.names)) if state is not None and state.lane_configs else None
            self.start(spec if kind == "reset" else None)
            if kind == "reseed":
                self._send("reseed")

    # --- GUI side ------------------------------------------------------------------------
    def poll(self) -> None:
        """Frame timer tick: emit the newest state if it changed since the last tick."""
        state = self._mailbox.peek()
        if state is None or (state.version == self._last_version and not self._force):
            return
        if self.playing and not self._force and time.perf_counter() < self._not_before:
            return  # frame budget: the last frame was expensive, let training run
        self._force = False
        self._last_version = state.version
        self.state_ready.emit(state)

    def frame_done(self, seconds: float) -> None:
        """The GUI took ``seconds`` to draw a frame; space the next one to keep GUI_DUTY."""
        self._not_before = time.perf_counter() + max(0.0, seconds / GUI_DUTY - seconds - FRAME_INTERVAL_MS / 1000)

    def request_redraw(self) -> None:
        """Emit the current state again at the next tick (after a view change)."""
        self._force = True

    def _on_error(self, exc: BaseException) -> None:
        if self._closing:
            return
        self._worker = None
        self._done.set()
        self._set_playing(False)
        self.run_failed.emit(f"{type(exc).__name__}: {exc}")
