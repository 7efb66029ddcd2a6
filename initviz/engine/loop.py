"""The engine loop: owns the lanes, obeys typed commands, steps, publishes a Snapshot. Qt-free.

:class:`Engine` is the whole behaviour, driven by plain calls (``handle(command)``, ``tick()``),
so tests need no thread. :func:`engine_loop` is the generator the GUI's worker thread runs: it
drains a thread-safe inbox, lets the Engine act, and yields after every step (each ``yield`` is a
safe stop point). The newest Snapshot goes to a latest-value-wins :class:`Mailbox`.

No command can kill the loop: a command that fails (a file that does not open, a config that
does not build, a full disk, a training step that raises) is reported in ``Snapshot.error`` or
``Snapshot.notice`` and the run that was there goes on unchanged, still saveable.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Generator, Optional, Sequence, Union

from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.snapshot import Notice, Snapshot

GRID_INTERVAL_S = 0.5  # decision boundaries are recomputed at most this often while running
GRID_DUTY = 0.2  # ... and take at most about this share of the worker's time (deep, wide nets)
PUBLISH_INTERVAL_S = 1 / 40  # a new snapshot at most this often while running
IDLE_WAIT_S = 0.05  # longest the loop blocks on its inbox (bounds quit latency when idle)


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Train continuously (at the set speed)."""


@dataclass(frozen=True)
class Pause:
    """Stop training (a Step N under way stops too)."""


@dataclass(frozen=True)
class Step:
    """Pause, then train ``n`` more steps."""

    n: int = 1


@dataclass(frozen=True)
class Speed:
    """At most ``steps_per_second`` while playing; None = as fast as the engine goes."""

    steps_per_second: Optional[float] = None


@dataclass(frozen=True)
class Reset:
    """Start over with the same seed: the very same initial weights, history cleared."""


@dataclass(frozen=True)
class Reseed:
    """Start over with the next seed: new initial weights, history cleared."""


@dataclass(frozen=True)
class Apply:
    """Rebuild every lane from ``configs`` (lane names: ``names``, or None to name them after their inits)."""

    configs: tuple[RunConfig, ...]
    names: Optional[tuple[str, ...]] = None

    @classmethod
    def of(cls, spec: Any) -> "Apply":
        """From a RunConfig (one lane), a sequence of them, or (configs, names)."""
        configs, names = lane_spec(spec)
        return cls(tuple(configs), tuple(names) if names is not None else None)


@dataclass(frozen=True)
class ApplyLane:
    """Lane ``index`` takes ``config`` (settings every lane shares go to all); all restart at step 0."""

    index: int
    config: RunConfig


@dataclass(frozen=True)
class AddLane:
    """Add a copy of lane ``index``; every lane restarts at step 0 (they train in lockstep)."""

    index: int = 0


@dataclass(frozen=True)
class RemoveLane:
    """Drop lane ``index``; the others go on where they are."""

    index: int


@dataclass(frozen=True)
class Save:
    """Write every lane to ``path`` (answer: a "saved" or "save_failed" notice)."""

    path: str


@dataclass(frozen=True)
class Open:
    """Replace the lanes with the run saved in ``path`` (answer: "opened" or "open_failed")."""

    path: str


@dataclass(frozen=True)
class Pictures:
    """Compute per-unit pictures of hidden layer ``layer`` (1-based) while it is not None (Neurons tab)."""

    layer: Optional[int]


@dataclass(frozen=True)
class Grids:
    """Compute decision boundaries (a forward pass per lane) only while ``on``."""

    on: bool


@dataclass(frozen=True)
class Quit:
    """End the loop."""


Command = Union[Play, Pause, Step, Speed, Reset, Reseed, Apply, ApplyLane, AddLane, RemoveLane, Save, Open, Grids, Quit]


def lane_spec(spec: Any) -> tuple[list[RunConfig], Optional[list[str]]]:
    """A RunConfig (one lane), a sequence of RunConfigs, or (configs, names)."""
    if isinstance(spec, RunConfig):
        return [spec], None
    if isinstance(spec, tuple) and len(spec) == 2 and not isinstance(spec[0], RunConfig):
        configs, names = spec
        return list(configs), (list(names) if names is not None else None)
    return list(spec), None


def describe_failure(exc: BaseException) -> str:
    """A one-line description of an exception for the banner (no traceback, bounded length)."""
    if isinstance(exc, MemoryError):
        text = "not enough memory"
    else:
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, (ConfigError, OSError)) and type(exc).__name__ not in text and type(exc).__name__ != "RunFileError":
            text = f"{type(exc).__name__}: {text}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:399] + "…"


class Mailbox:
    """Latest-value-wins slot: the engine overwrites, the GUI reads; older snapshots are dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Optional[Snapshot] = None

    def put(self, state: Snapshot) -> None:
        with self._lock:
            self._state = state

    def peek(self) -> Optional[Snapshot]:
        with self._lock:
            return self._state


# --- the engine ----------------------------------------------------------------------------------


class Engine:
    """The lanes and everything the loop knows about them; each method is one thing the loop does.

    ``handle(cmd)`` obeys one command (never raises, except that Quit returns False);
    ``tick()`` trains one step if one is due; ``publish()`` puts a Snapshot in the mailbox.
    """

    def __init__(self, spec: Any, mailbox: Optional[Mailbox] = None, clock: Any = time.perf_counter) -> None:
        from initviz.engine.lanes import Lanes

        self.mailbox = mailbox if mailbox is not None else Mailbox()
        self.clock = clock
        if callable(spec):  # a factory of ready-made lanes (initviz inspect's ModelLanes): built here, in the worker
            self.lanes = spec()
        else:
            configs, names = lane_spec(spec)
            self.lanes = Lanes(configs, names)
        self.infos: list[Any] = []
        self.grids: Optional[tuple[Any, ...]] = None
        self.last_grid = -1e9
        self.grid_cost = 0.0  # seconds the last computation of every lane's grid took
        self.want_grids = False  # the decision boundary costs a forward pass per lane: only while shown
        self.picture_layer: Optional[int] = None  # the Neurons tab's layer while it is shown
        self.pictures: tuple[Any, ...] = ()
        self.last_pictures = -1e9
        self.notice: Optional[Notice] = None
        self.notices = 0
        self.playing = False
        self.pending = 0
        self.interval: Optional[float] = None  # seconds per step; None = as fast as possible
        self.next_due = 0.0
        self.version = 0
        self.build = 0
        self.error: Optional[str] = None
        self.stamps: collections.deque[float] = collections.deque(maxlen=400)
        self.costs: collections.deque[tuple[float, float]] = collections.deque(maxlen=50)
        self.last_publish = 0.0
        self._describe()

    # --- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether steps are due (playing, or a Step N under way)."""
        return self.playing or self.pending > 0

    def _describe(self) -> None:
        from initviz.engine.inits import describe_init

        # trainer-like lanes may describe their own init (a user's model is not the configured MLP)
        self.infos = [t.init_info() if hasattr(t, "init_info") else describe_init(t.config) for t in self.lanes.trainers]

    def _rebuilt(self, lanes: Any) -> None:
        """Take ``lanes`` as the run (a new network): stop, forget speed figures and grids."""
        self.lanes = lanes
        self.build += 1
        self.last_grid = -1e9
        self.grids = None  # the old network's boundary must not be shown for the new one
        self.pictures, self.last_pictures = (), -1e9
        self.playing = False
        self.pending = 0
        self.stamps.clear()
        self.costs.clear()
        self.error = None
        self._describe()

    def answer(self, kind: str, text: str) -> None:
        self.notices += 1
        self.notice = Notice(self.notices, kind, text)

    # --- publishing ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        now = self.clock()
        recent = [t for t in self.stamps if now - t <= 1.0]
        sps = 0.0
        if self.running and len(recent) >= 2 and recent[-1] > recent[0]:
            sps = (len(recent) - 1) / (recent[-1] - recent[0])
        train = sum(c[0] for c in self.costs)
        stats = sum(c[1] for c in self.costs)
        return Snapshot.of(
            self.lanes,
            self.infos,
            self.grids,
            version=self.version,
            build=self.build,
            unit_pictures=self.pictures,
            playing=self.playing,
            pending_steps=self.pending,
            steps_per_second=sps,
            probe_cost=stats / train if train > 0 else float("nan"),
            error=self.error,
            notice=self.notice,
        )

    def publish(self) -> Snapshot:
        self.version += 1
        now = self.clock()
        wait = max(GRID_INTERVAL_S, self.grid_cost / GRID_DUTY)
        if self.want_grids and (not self.running or now - self.last_grid >= wait):
            try:
                self.grids = tuple(t.decision_grid() for t in self.lanes.trainers)
            except Exception as exc:  # noqa: BLE001 - a picture must not stop training
                self.grids = tuple(None for _ in self.lanes.trainers)
                self.error = f"Could not compute the decision boundary: {describe_failure(exc)}"
            self.last_grid = self.clock()
            self.grid_cost = self.last_grid - now
        if self.picture_layer is not None and (not self.running or now - self.last_pictures >= wait):
            from initviz.engine.pictures import unit_pictures

            try:
                self.pictures = tuple(unit_pictures(t, self.picture_layer) for t in self.lanes.trainers)
            except Exception as exc:  # noqa: BLE001 - a picture must not stop training
                self.pictures = ()
                self.error = f"Could not compute the unit pictures: {describe_failure(exc)}"
            self.last_pictures = self.clock()
        self.last_publish = now
        state = self.snapshot()
        self.mailbox.put(state)
        return state

    # --- commands ------------------------------------------------------------------------
    def handle(self, cmd: Any) -> bool:
        """Obey one command; False for Quit. Any failure is reported, never raised."""
        if isinstance(cmd, Quit):
            return False
        try:
            self._obey(cmd)
        except Exception as exc:  # noqa: BLE001 - no input may kill the engine
            self._failed(cmd, exc)
        return True

    def _failed(self, cmd: Any, exc: BaseException) -> None:
        what = describe_failure(exc)
        if isinstance(cmd, Save):
            self.answer("save_failed", f"Could not save the run to {cmd.path}: {what}")
        elif isinstance(cmd, Open):
            self.answer("open_failed", what if Path(cmd.path).name in what else f"Could not open {cmd.path}: {what}")
        elif isinstance(cmd, (Apply, ApplyLane, AddLane, RemoveLane, Reset, Reseed)):
            self.error = f"Could not build this network: {what}. The previous network is still running."
        else:
            self.error = f"Could not do {type(cmd).__name__}: {what}. The run goes on unchanged."

    def _obey(self, cmd: Any) -> None:
        from initviz.engine import lanes as lanes_mod

        if isinstance(cmd, Play):
            self.playing, self.pending = True, 0
        elif isinstance(cmd, Pause):
            self.playing, self.pending = False, 0
        elif isinstance(cmd, Step):
            n = int(cmd.n)
            if n < 0:
                raise ValueError(f"cannot train {n} steps")
            self.playing = False
            self.pending += n
        elif isinstance(cmd, Pictures):
            self.picture_layer = None if cmd.layer is None else int(cmd.layer)
            self.last_pictures = -1e9
        elif isinstance(cmd, Grids):
            self.want_grids = bool(cmd.on)
            self.last_grid = -1e9
        elif isinstance(cmd, Speed):
            sps = cmd.steps_per_second
            if sps is not None and not float(sps) > 0:
                raise ValueError(f"{sps} steps per second is not a speed")
            self.interval = None if sps is None else 1.0 / float(sps)
            self.next_due = self.clock()
        elif isinstance(cmd, (Reset, Reseed)) and hasattr(self.lanes, "rebuilt"):  # ready-made lanes rebuild themselves
            self._rebuilt(self.lanes.rebuilt(None if isinstance(cmd, Reset) else self.lanes.seed + 1))
        elif isinstance(cmd, (ApplyLane, AddLane)) and hasattr(self.lanes, "rebuilt"):
            raise ConfigError("lanes", type(cmd).__name__, "an inspected model's lanes are set when it is opened (--lanes)")
        elif isinstance(cmd, Reset):  # built beside the old lanes: a failure leaves those as they were
            self._rebuilt(lanes_mod.Lanes(self.lanes.configs, self.lanes.names))
        elif isinstance(cmd, Reseed):
            seed = self.lanes.configs[0].seed + 1
            self._rebuilt(lanes_mod.Lanes([c.replace(seed=seed) for c in self.lanes.configs], self.lanes.names))
        elif isinstance(cmd, Apply):
            self._rebuilt(lanes_mod.Lanes(list(cmd.configs), list(cmd.names) if cmd.names is not None else None))
        elif isinstance(cmd, ApplyLane):
            configs, names = lanes_mod.edit_lane(self.lanes.configs, self.lanes.names, int(cmd.index), cmd.config)
            self._rebuilt(lanes_mod.Lanes(configs, names))
            if len(names) > 1:  # with one lane, Apply is the plain rebuild it always was
                self.answer("lanes", f"Lane {cmd.index + 1} ({names[cmd.index]}) rebuilt; every lane starts again at step 0")
        elif isinstance(cmd, AddLane):
            configs, names = lanes_mod.add_lane(self.lanes.configs, self.lanes.names, int(cmd.index))
            self._rebuilt(lanes_mod.Lanes(configs, names))
            self.answer("lanes", f"Added lane {len(names)} ({names[-1]}); every lane starts again at step 0")
        elif isinstance(cmd, RemoveLane):
            name = self.lanes.names[int(cmd.index)] if 0 <= int(cmd.index) < len(self.lanes) else "?"
            self.lanes.remove(int(cmd.index))
            step = self.lanes.step_count
            self._rebuilt(self.lanes)  # the same trainers, one fewer: a new lane set for the window
            self.answer("lanes", f"Removed lane {cmd.index + 1} ({name}); the others go on at step {step}")
        elif isinstance(cmd, Save):
            from initviz.engine.store import save_run

            self.playing, self.pending = False, 0
            saved = save_run(cmd.path, self.lanes)
            self.answer("saved", f"Saved {len(self.lanes)} lane(s) at step {self.lanes.step_count} to {saved}")
        elif isinstance(cmd, Open):
            from initviz.engine.store import load_run

            self.playing, self.pending = False, 0
            opened = load_run(cmd.path)
            self._rebuilt(opened)
            self.answer("opened", f"Opened {cmd.path}: {len(opened)} lane(s) at step {opened.step_count}")
        else:
            raise TypeError(f"unknown command {cmd!r}")

    # --- training ------------------------------------------------------------------------
    def timeout(self) -> float:
        """How long the loop may wait for a command before the next step is due."""
        if not self.running:
            return IDLE_WAIT_S
        if self.interval is not None:
            return min(max(self.next_due - self.clock(), 0.0), IDLE_WAIT_S)
        return 0.0

    def tick(self, dirty: bool = False) -> bool:
        """Train one step if one is due and publish when it is time; True if a step was made.

        ``dirty``: a command changed something, so publish even without a step. A step that
        raises pauses the run and is reported; the lanes keep every record made so far."""
        now = self.clock()
        if self.running and now >= self.next_due:
            try:
                made = self.lanes.step(1)
            except Exception as exc:  # noqa: BLE001 - torch errors, memory, a broken run
                self.playing, self.pending = False, 0
                self.error = (
                    f"Training stopped at step {self.lanes.step_count}: {describe_failure(exc)}. "
                    "The run up to there is kept (Save keeps it; Reset starts over)."
                )
                self.publish()
                return False
            self.stamps.append(self.clock())
            for recs in made:
                self.costs.append((sum(r.train_seconds for r in recs), sum(r.stats_seconds for r in recs)))
            if self.pending > 0:
                self.pending -= 1
            self.next_due = now + self.interval if self.interval is not None else 0.0
            finished_batch = not self.playing and self.pending == 0
            if finished_batch or self.clock() - self.last_publish >= PUBLISH_INTERVAL_S:
                self.publish()
            return True
        if dirty:
            self.publish()
        elif not self.running:
            # the finite-width band (~0.5 s of CPU per configuration) is drawn while idle, one
            # lane per tick so a command never waits for more than one
            pending = next((t for t in self.lanes.trainers if t.theory.band_pending or t.theory.scales_pending), None)
            if pending is not None:
                try:
                    pending.theory.band()
                    pending.theory.depth_scales()  # order/chaos caption: q*, chi_1, xi_c
                except Exception as exc:  # noqa: BLE001 - both are optional; never kill the loop
                    self.error = f"Could not compute the init's theory extras: {describe_failure(exc)}."
                self.publish()
        return False

    def run_commands(self, cmds: Sequence[Any]) -> bool:
        """Obey ``cmds`` in order, then tick once; False when one of them was Quit."""
        for cmd in cmds:
            if not self.handle(cmd):
                return False
        self.tick(dirty=bool(cmds))
        return True


def drain(inbox: "queue.Queue[Any]", timeout: float) -> list[Any]:
    """Every queued command, waiting up to ``timeout`` seconds for the first one."""
    cmds: list[Any] = []
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
    config: Any,
    inbox: "queue.Queue[Any]",
    mailbox: Mailbox,
    done: threading.Event,
    torch_threads: Optional[int] = 1,
) -> Generator[None, None, None]:
    """Own an Engine in the worker thread: obey commands, step, publish snapshots, yield often.

    ``config``: one RunConfig (one lane), a list of them, or (configs, names). Commands: the
    dataclasses above. Ends at Quit (also one sent while the first network is being built).
    """
    try:
        if torch_threads:
            import torch  # imported here so torch loads in the worker, not while the window appears

            # leave a core to the GUI thread: small matmuls gain little from more threads
            torch.set_num_threads(torch_threads)
        early = drain(inbox, 0.0)  # a Quit sent while torch loaded: do not build at all
        if any(isinstance(c, Quit) for c in early):
            return
        engine = Engine(config, mailbox)
        engine.publish()
        yield
        if early and not engine.run_commands(early):
            return
        while True:
            cmds = drain(inbox, engine.timeout())
            if not engine.run_commands(cmds):
                return
            # let the GUI thread take the GIL between steps (keeps frames and clicks prompt)
            time.sleep(0)
            yield
    finally:
        done.set()


__all__ = [
    "AddLane", "Apply", "ApplyLane", "Command", "Engine", "Grids", "Mailbox", "Open", "Pause", "Play", "Quit",
    "RemoveLane", "Reseed", "Reset", "Save", "Speed", "Step", "describe_failure", "drain", "engine_loop", "lane_spec",
]  # fmt: skip
