"""Frames to export: a fresh copy of the frame on screen, and the run replayed step by step (GIF)."""

from __future__ import annotations

import dataclasses
from typing import Optional

from initviz.ui.export.options import GIF_MAX_FRAMES, ExportError
from initviz.ui.panels.base import Frame, pick_indices


def fresh_frame(frame: Frame, lanes: Optional[tuple] = None, cursor_step: object = ...) -> Frame:
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
    # Frame.upto: each lane's record at or before the step (the snapshot's search), fresh caches
    return [fresh_frame(frame.upto(steps[i]), None, None) for i in chosen]
