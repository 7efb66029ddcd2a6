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

FRAME_INTERVAL_MS = 33  # GUI redraw poll: <= 30 Hz
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


def engine_loop(
    config: RunConfig,
    inbox: "queue.Queue[tuple]",
    mailbox: Mailbox,
    done: threading.Event,
    torch_threads: Optional[int] = 1,
) -> Generator[None, None, None]:
    """Own a Trainer in the worker thread: obey commands, step, publish snapshots, yield often.

    Commands (tuples): ("play",), ("pause",), ("step", n), ("speed", steps_per_second | None),
    ("reset",), ("reseed",), ("config", RunConfig), ("quit",).
    """
    try:
        # Imported here so torch loads in the worker, not while the window is trying to appear.
        from initviz.engine import Trainer
        from initviz.engine.inits import describe_init

        if torch_threads:
            import torch

            # leave a core to the GUI thread: small matmuls gain little from more threads
            torch.set_num_threads(torch_threads)

        trainer = Trainer(config)
        info = describe_init(trainer.config)
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
            nonlocal version, last_publish
            version += 1
            now = time.perf_counter()
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
                    predicted_weight_std=info.weight_std,
                    init_formula=info.formula,
                    playing=playing,
                    pending_steps=pending,
                    steps_per_second=sps,
                    probe_cost=stats / train if train > 0 else float("nan"),
                    error=error,
                )
            )

        def rebuilt() -> None:
            nonlocal build, playing, pending, info
            build += 1
            playing = False
            pending = 0
            stamps.clear()
            costs.clear()
            info = describe_init(trainer.config)

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
                elif kind == "speed":
                    interval = None if cmd[1] is None else 1.0 / float(cmd[1])
                    next_due = time.perf_counter()
                elif kind == "reset":
                    trainer.reset()
                    error = None
                    rebuilt()
                elif kind == "reseed":
                    trainer.reseed()
                    error = None
                    rebuilt()
                elif kind == "config":
                    try:
                        new = Trainer(cmd[1])
                    except ValueError as exc:  # ConfigError and friends: keep the old run
                        error = f"Could not build this network: {exc}"
                    else:
                        trainer, error = new, None
                        rebuilt()
            now = time.perf_counter()
            if (playing or pending > 0) and now >= next_due:
                made = trainer.step(1)
                stamps.append(time.perf_counter())
                for rec in made:
                    costs.append((rec.train_seconds, rec.stats_seconds))
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
        self._inbox: "queue.Queue[tuple]" = queue.Queue()
        self._mailbox = Mailbox()
        self._done = threading.Event()
        self._worker: Optional[EngineWorker] = None
        self._last_version = -1
        self._force = False
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
        self._inbox.put(("quit",))
        worker.quit()
        ok = self._done.wait(timeout)
        # the QRunnable emits its last signals right after the generator ends
        pool = QtCore.QThreadPool.globalInstance()
        ok = pool.waitForDone(max(int(timeout * 1000), 1)) and ok
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

    def _restart_or_send(self, kind: str) -> None:
        if self.running:
            self._send(kind)
            self._set_playing(False)
        else:  # the worker died: start again from the last config
            state = self.state
            self.start(state.config if state is not None and kind == "reset" else None)
            if kind == "reseed":
                self._send("reseed")

    # --- GUI side ------------------------------------------------------------------------
    def poll(self) -> None:
        """Frame timer tick: emit the newest state if it changed since the last tick."""
        state = self._mailbox.peek()
        if state is None or (state.version == self._last_version and not self._force):
            return
        self._force = False
        self._last_version = state.version
        self.state_ready.emit(state)

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
