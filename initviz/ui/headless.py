"""Panels and Frames without a window: what ``initviz export`` renders.

Builds the same Frame the main window draws (one Lane per trainer, lane colours from the theme)
straight from engine trainers, and the panel classes of the window by name. Nothing is shown:
Qt runs on its offscreen platform unless QT_QPA_PLATFORM says otherwise.
"""

from __future__ import annotations

import os
import sys
import time
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from initviz import registry

DASHBOARD_NAME = registry.DASHBOARD
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints", "This plugin does not support raise")


def ensure_app():  # -> QtWidgets.QApplication
    """The running QApplication, or a new one on Qt's offscreen platform (no window, no display).

    Offscreen is used whenever QT_QPA_PLATFORM is unset, display or not: the pictures then do not
    depend on the desktop's DPI or scaling, so the same command gives the same pixels anywhere.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["initviz-export"])
    from initviz.ui.theme import apply_theme

    apply_theme()
    return app


def panel_classes() -> dict[str, type]:
    """{panel id: panel class} of every registered panel, in tab order."""
    return {spec.id: spec.load() for spec in registry.PANELS}


def frame_from_trainers(names: Sequence[str], trainers: Sequence[Any], grid_history: tuple = ()):  # -> Frame
    """The Frame the window would draw for these trainers (lane i in theme colour i), newest record,
    with each lane's decision grid (2-D data) and ``grid_history`` (earlier grids, for GIFs).
    Built from the same Snapshot the window's engine publishes."""
    from initviz.engine.snapshot import Snapshot
    from initviz.ui.panels.base import Frame

    for t in trainers:
        t.theory.band()  # the finite-width band the window draws once the worker is idle
    snapshot = Snapshot.from_trainers(names, trainers, grids=tuple(t.decision_grid() for t in trainers))
    from initviz.engine.pictures import unit_pictures

    frame = Frame.of(snapshot, grid_history=grid_history)
    return dataclasses.replace(frame, unit_pictures=tuple(unit_pictures(t, 1) for t in trainers))


# --- the export command ------------------------------------------------------------------------------


class UsageError(ValueError):
    """Bad command-line input: the CLI prints it as one line and exits with status 2."""


@dataclass
class ExportPlan:
    """What ``initviz export`` will write, checked before any training."""

    out: Path
    formats: list[str]
    targets: list[str]  # panel names and/or "dashboard"
    size: tuple[int, int]
    scale: float
    zoom: Optional[float]
    fps: float
    step_range: tuple[Optional[int], Optional[int]]
    max_frames: int
    title: Optional[str]
    timing: bool
    files: list[Path] = field(default_factory=list)
    lanes: Optional[str] = None  # --lanes as given: names or 1-based numbers (resolve_lanes, once the names are known)


def plan_export(args: Any) -> ExportPlan:
    """Check the export flags of ``args`` (argparse namespace); UsageError names what is wrong."""
    from initviz.ui.export import FORMATS, parse_size

    formats = [f.strip().lower().lstrip(".") for f in str(args.format).split(",") if f.strip()]
    if not formats:
        raise UsageError("--format: give at least one of " + ",".join(FORMATS))
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"--format: {f!r} is not a format; choose from {','.join(FORMATS)} (comma-separated)")
    formats = list(dict.fromkeys(formats))
    known = panel_classes()
    targets: list[str] = []
    for t in (s.strip().lower().replace("-", "_") for s in str(args.panels).split(",")):
        if not t:
            continue
        if t == "all":
            targets.extend(known)
        elif t in known or t == DASHBOARD_NAME:
            targets.append(t)
        else:
            raise UsageError(f"--panels: {t!r} is not a panel; choose from {','.join(known)}, all, {DASHBOARD_NAME}")
    targets = list(dict.fromkeys(targets))
    if not targets and any(f not in ("json", "csv") for f in formats):
        raise UsageError("--panels: name at least one panel, all, or dashboard")
    try:
        size = parse_size(args.size)
    except ValueError as exc:
        raise UsageError(f"--size: {exc}") from None
    if not 0.25 <= args.scale <= 8:
        raise UsageError(f"--scale: {args.scale:g} is not allowed; expected 0.25 to 8 (e.g. 2 for a sharper picture)")
    w, h = size
    if w * args.scale * h * args.scale > 8192 * 8192:
        raise UsageError(f"--size/--scale: {w}x{h} at {args.scale:g}x is too many pixels (at most 8192 x 8192)")
    if args.zoom is not None and not 0.5 <= args.zoom <= 4:
        raise UsageError(f"--zoom: {args.zoom:g} is not allowed; expected 0.5 to 4")
    if not 0.1 <= args.fps <= 50:
        raise UsageError(f"--fps: {args.fps:g} is not allowed; expected 0.1 to 50")
    if args.frames < 1:
        raise UsageError(f"--frames: {args.frames} is not allowed; expected 1 or more")
    step_range = parse_range(args.range, args.steps)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a folder")
    plan = ExportPlan(out, formats, targets, size, float(args.scale), args.zoom, float(args.fps), step_range,
                      int(args.frames), args.title, bool(args.timing))  # fmt: skip
    plan.lanes = getattr(args, "lanes", None)
    plan.files = planned_files(plan)
    if not getattr(args, "force", False):
        existing = [p for p in plan.files if p.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UsageError(f"--out: {existing[0]} exists{more}; add --force to replace it")
    return plan


def resolve_lanes(text: Optional[str], names: Sequence[str]) -> Optional[tuple[str, ...]]:
    """``--lanes`` ('zeros,He' or '1,3') -> the lane names, in the run's order; None for all.
    UsageError names the valid names and numbers."""
    if text is None or not text.strip():
        return None
    chosen: set[str] = set()
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item.isdigit() and 1 <= int(item) <= len(names):
            chosen.add(names[int(item) - 1])
            continue
        match = [n for n in names if n == item] or [n for n in names if n.lower() == item.lower()]
        if not match:
            valid = ", ".join(names)
            raise UsageError(f"--lanes: {item!r} is not a lane of this run; choose from {valid} or 1-{len(names)} (comma-separated)")
        chosen.add(match[0])
    if not chosen:
        raise UsageError(f"--lanes: name at least one lane: {', '.join(names)} or 1-{len(names)}")
    return tuple(n for n in names if n in chosen)


def planned_files(plan: ExportPlan) -> list[Path]:
    """Every file ``plan`` writes: stats.<fmt> for data, <panel id>.<fmt> per picture."""
    data = [plan.out / f"stats.{f}" for f in plan.formats if f in ("json", "csv")]
    pictures = [plan.out / f"{t}.{f}" for t in plan.targets for f in plan.formats if f not in ("json", "csv")]
    return data + pictures


def parse_range(text: Optional[str], steps: int) -> tuple[Optional[int], Optional[int]]:
    """'A:B', 'A:' or ':B' -> (A, B) within 0..steps; None means the first / last recorded step."""
    if text is None or text.strip() in ("", ":"):
        return None, None
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--range: {text!r} is not a step range; write A:B, e.g. 0:{steps}")
    try:
        a = int(parts[0]) if parts[0].strip() else None
        b = int(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise UsageError(f"--range: {text!r} is not a step range; A and B must be whole numbers, e.g. 0:{steps}") from None
    if (a is not None and not 0 <= a <= steps) or (b is not None and not 0 <= b <= steps):
        raise UsageError(f"--range: {text} lies outside the run's steps 0:{steps}")
    if a is not None and b is not None and a > b:
        raise UsageError(f"--range: {text} is empty (the first step is after the last)")
    return a, b


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a line every quarter otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last_quarter = -1
        self._last_time = 0.0

    def __call__(self, label: str, done: int, total: int, what: str) -> bool:
        if self.quiet or total <= 0:
            return True
        if self.tty:
            now = time.perf_counter()
            if done == total or now - self._last_time > 0.1:
                self._last_time = now
                end = "\n" if done >= total else ""
                print(f"\r{label}: {100 * done // total:3d}%  {what}\x1b[K", end=end, file=sys.stderr, flush=True)
        else:
            quarter = 4 * done // total
            if quarter != self._last_quarter:
                self._last_quarter = quarter
                print(f"{label}: {100 * done // total}% ({what})", file=sys.stderr, flush=True)
        return True

    def reset(self) -> None:
        self._last_quarter = -1


def run_export(
    plan: ExportPlan, names: Sequence[str], trainers: Sequence[Any], quiet: bool = False, grid_history: tuple = ()
) -> list[Path]:
    """Render and write every requested file of ``plan`` into plan.out; ExportError on failure.

    ``grid_history``: (step, grids) computed while training, so a GIF's boundary moves with it."""
    from PySide6 import QtCore

    from initviz.ui.export import (
        DATA_FORMATS,
        ExportError,
        SlideCanvas,
        SlideOptions,
        data_bytes,
        figure_bytes,
        gif_bytes,
        history_frames,
        write_bytes_atomic,
    )

    shown = resolve_lanes(plan.lanes, names)  # before any file is written
    ensure_app()
    try:
        plan.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create the folder {plan.out}: {exc.strerror or exc}.") from exc
    frame = frame_from_trainers(names, trainers, grid_history)
    written: list[Path] = []
    for fmt in plan.formats:
        if fmt in DATA_FORMATS:
            written.append(write_bytes_atomic(plan.out / f"stats.{fmt}", data_bytes(frame, fmt, timing=plan.timing)))
    picture_formats = [f for f in plan.formats if f not in DATA_FORMATS]
    if not picture_formats:
        return written
    options = SlideOptions(plan.size[0], plan.size[1], plan.scale, plan.zoom, plan.title).check()
    classes = panel_classes()
    frames = None
    if "gif" in picture_formats:
        frames = history_frames(frame, plan.step_range[0], plan.step_range[1], plan.max_frames)
    progress = _Progress(quiet)
    previous = QtCore.qInstallMessageHandler(_quiet_offscreen_handler)
    try:
        for target in plan.targets:
            sources = [classes[i] for i in registry.dashboard_ids()] if target == DASHBOARD_NAME else [classes[target]]
            canvas = SlideCanvas(sources)
            canvas.show_lanes(shown)
            try:
                static = [f for f in picture_formats if f != "gif"]
                if static:
                    canvas.prepare(frame, options)
                    for fmt in static:
                        written.append(write_bytes_atomic(plan.out / f"{target}.{fmt}", figure_bytes(canvas, fmt, options)))
                if frames is not None:
                    progress.reset()
                    label = f"{target}.gif"
                    data = gif_bytes(canvas, frames, options, plan.fps, lambda d, t, w: progress(label, d, t, w))
                    written.append(write_bytes_atomic(plan.out / f"{target}.gif", data))
            finally:
                canvas.dispose()
    finally:
        QtCore.qInstallMessageHandler(previous)
    return written


def _quiet_offscreen_handler(mode: Any, context: Any, message: str) -> None:
    """Drop the offscreen plugin's harmless notices; print everything else as Qt would."""
    if any(message.startswith(n) for n in OFFSCREEN_NOISE):
        return
    print(message, file=sys.stderr)


def export_command(args: Any, configs: Sequence[Any], fail: Callable[[str], int], names: Optional[Sequence[str]] = None) -> int:
    """The body of ``initviz export`` after the run configuration is known (cli.py handles that)."""
    from initviz.engine.lanes import Lanes
    from initviz.ui.export import ExportError

    try:
        plan = plan_export(args)
    except UsageError as exc:
        return fail(str(exc))
    t0 = time.perf_counter()
    lanes = Lanes(configs, names)
    try:
        resolve_lanes(plan.lanes, lanes.names)  # a bad --lanes is told before the training
    except UsageError as exc:
        return fail(str(exc))
    show = not args.quiet
    # an animated boundary needs the boundary as it was: computed along the way (a forward pass each)
    grid_log = None
    if "gif" in plan.formats and ("boundary" in plan.targets or DASHBOARD_NAME in plan.targets):
        from initviz.ui.panels.boundary import GridLog

        grid_log = GridLog(capacity=plan.max_frames + 1)
        grid_log.add(0, tuple(t.decision_grid() for t in lanes.trainers))
    done, chunk = 0, max(1, args.steps // 20)
    if grid_log is not None:
        chunk = max(1, min(chunk, args.steps // max(plan.max_frames, 1)))
    while done < args.steps:
        n = min(chunk, args.steps - done)
        lanes.step(n)
        done += n
        if grid_log is not None:
            grid_log.add(0, tuple(t.decision_grid() for t in lanes.trainers))
        if show and sys.stderr.isatty():
            print(f"\rtraining: step {done}/{args.steps}", end="", file=sys.stderr, flush=True)
    if show and sys.stderr.isatty() and args.steps:
        print(file=sys.stderr)
    try:
        files = run_export(
            plan, lanes.names, lanes.trainers, quiet=args.quiet, grid_history=grid_log.entries() if grid_log else ()
        )
    except ExportError as exc:
        message = str(exc)
        if message.startswith(("No recorded step", "The step range")):
            return fail(f"--range: {message}")
        print(f"initviz export: error: {message}", file=sys.stderr)
        return 1
    if show:
        lanes_txt = f"{len(lanes.names)} lanes" if len(lanes.names) > 1 else "1 run"
        print(f"{lanes_txt}, {args.steps} steps, exported in {time.perf_counter() - t0:.1f} s")
        print("wrote " + ", ".join(str(p) for p in files))
    return 0


def export_saved_run(args: Any, path: Path, fail: Callable[[str], int]) -> int:
    """``initviz export --run FILE``: a saved run's panels and data (``--steps`` more trained first).

    The file goes through the engine's bounded loader: a refused file is one line and status 2."""
    from argparse import Namespace

    from initviz.engine.store import RunFileError, load_run
    from initviz.ui.export import ExportError

    t0 = time.perf_counter()
    try:
        lanes = load_run(path)
    except RunFileError as exc:
        return fail(str(exc))
    if args.steps:
        lanes.step(args.steps)
    try:
        plan = plan_export(Namespace(**{**vars(args), "steps": lanes.step_count}))
        files = run_export(plan, lanes.names, lanes.trainers, quiet=args.quiet)
    except UsageError as exc:
        return fail(str(exc))
    except ExportError as exc:
        print(f"initviz export: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{path.name}: {len(lanes)} lane(s) at step {lanes.step_count}, exported in {time.perf_counter() - t0:.1f} s")
        print("wrote " + ", ".join(str(p) for p in files))
    return 0
