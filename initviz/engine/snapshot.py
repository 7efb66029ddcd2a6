"""One view of the run, built once per publish: what the window, the export and headless paths draw.

A :class:`LaneView` is one lane (one Trainer) frozen at publish time: its name, config, records,
theory, predicted weight std, init formula, layer names and decision grid. A :class:`Snapshot`
holds every lane plus the run-level fields the window shows (build, step count, play state,
speed, probe cost, the last error and notice). Both are immutable: the engine thread builds
them, any thread may read them. "The record at or before step s" is written once, here.

Qt-free (numpy and the engine's own types only).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional, Sequence

import numpy as np

from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord


def index_at_or_before(records: Sequence[StepRecord], step: int) -> int:
    """Index of the newest record whose step is <= ``step`` (0 when every record is later).

    ``records`` are in ascending step order (a History, or a tuple of one). Binary search."""
    i = bisect.bisect_right(records, int(step), key=lambda r: r.step) - 1
    return max(i, 0)


@dataclass(frozen=True)
class Notice:
    """The engine's answer to a command that succeeded or failed (Save, Open, lane edits...).

    ``id`` increases with every answer, so the window shows each one once. ``kind`` names the
    answer ("saved", "save_failed", "opened", "open_failed", "failed", ...)."""

    id: int
    kind: str
    text: str

    # (id, kind, text) unpacking and indexing, as the tuple this replaced
    def __iter__(self):
        return iter((self.id, self.kind, self.text))

    def __getitem__(self, i: int) -> Any:
        return (self.id, self.kind, self.text)[i]


@dataclass(frozen=True)
class LaneView:
    """One lane of the run as published: read-only, safe to share between threads."""

    name: str
    config: RunConfig
    records: tuple[StepRecord, ...]  # recorded history, oldest first (at least the record at init)
    theory: Any = None  # engine Theory (pre_std, act_std, grad_gain) or None
    predicted_weight_std: Optional[np.ndarray] = None  # describe_init(config).weight_std
    init_formula: str = ""
    layer_names: tuple[str, ...] = ()
    # a user's model (initviz inspect): what it is and what it trains on, said in place of the
    # built-in network's shape, activation and dataset (empty for the built-in architectures)
    model_label: str = ""
    grid: Any = None  # engine DecisionGrid of the newest weights, or None (not 2-D data / not computed)
    latest_record: Optional[StepRecord] = None  # the trainer's newest record (default: records[-1])

    @property
    def latest(self) -> StepRecord:
        return self.latest_record if self.latest_record is not None else self.records[-1]

    def index_at(self, step: int) -> int:
        """Index into ``records`` of the record at or before ``step``."""
        return index_at_or_before(self.records, step)

    def at(self, step: Optional[int]) -> StepRecord:
        """The record at or before ``step`` (the first record if every one is later); None: latest."""
        if step is None:
            return self.latest
        return self.records[self.index_at(step)]

    def upto(self, step: int) -> "LaneView":
        """This lane as it was at ``step``: the records up to and including ``at(step)``."""
        k = self.index_at(step)
        if k == len(self.records) - 1:
            return self
        return dataclasses.replace(self, records=self.records[: k + 1], latest_record=self.records[k])

    @classmethod
    def of(cls, name: str, trainer: Any, info: Any = None, grid: Any = None) -> "LaneView":
        """The view of a live Trainer; ``info``: its describe_init (computed when not given)."""
        if info is None and hasattr(trainer, "init_info"):  # a trainer-like lane that describes its own init
            info = trainer.init_info()
        if info is None:
            from initviz.engine.inits import describe_init

            info = describe_init(trainer.config)
        return cls(
            name=name,
            config=trainer.config,
            records=tuple(trainer.history),
            theory=trainer.theory,
            predicted_weight_std=info.weight_std,
            init_formula=info.formula,
            layer_names=tuple(trainer.layer_names),
            model_label=str(getattr(trainer, "model_label", "")),
            grid=grid,
            latest_record=trainer.latest,
        )


@dataclass(frozen=True)
class Snapshot:
    """Every lane and the run-level state at one publish (lane 0 answers the single-run names)."""

    lanes: tuple[LaneView, ...]
    version: int = 0  # increases with every publish
    build: int = 0  # increases whenever the lanes are (re)built: apply, reset, reseed, open, lane edits
    step_count: int = 0
    playing: bool = False
    pending_steps: int = 0  # steps of a "Step N" still to do
    steps_per_second: float = 0.0  # measured over the last second of stepping; 0 when idle
    probe_cost: float = math.nan  # stats_seconds / train_seconds over the last recorded steps
    error: Optional[str] = None  # a command the engine refused; the run goes on unchanged
    notice: Optional[Notice] = None  # the answer to the last command that gives one
    has_grids: bool = False  # decision grids were computed for these lanes (each may still be None)
    unit_pictures: tuple = ()  # per lane: engine.pictures.UnitPictures of the asked layer, or None (Neurons tab)

    # --- lane 0, for single-run readers -------------------------------------------------------
    @property
    def main(self) -> LaneView:
        return self.lanes[0]

    @property
    def config(self) -> RunConfig:
        return self.lanes[0].config

    @property
    def latest(self) -> StepRecord:
        return self.lanes[0].latest

    @property
    def records(self) -> tuple[StepRecord, ...]:
        return self.lanes[0].records

    @property
    def theory(self) -> Any:
        return self.lanes[0].theory

    @property
    def predicted_weight_std(self) -> Any:
        return self.lanes[0].predicted_weight_std

    @property
    def init_formula(self) -> str:
        return self.lanes[0].init_formula

    # --- per lane, as tuples --------------------------------------------------------------------
    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(lane.name for lane in self.lanes)

    @cached_property
    def lane_configs(self) -> tuple[RunConfig, ...]:
        return tuple(lane.config for lane in self.lanes)

    @cached_property
    def lane_latest(self) -> tuple[StepRecord, ...]:
        return tuple(lane.latest for lane in self.lanes)

    @cached_property
    def lane_records(self) -> tuple[tuple[StepRecord, ...], ...]:
        return tuple(lane.records for lane in self.lanes)

    @cached_property
    def lane_theory(self) -> tuple[Any, ...]:
        return tuple(lane.theory for lane in self.lanes)

    @cached_property
    def lane_weight_std(self) -> tuple[Any, ...]:
        return tuple(lane.predicted_weight_std for lane in self.lanes)

    @cached_property
    def grids(self) -> tuple[Any, ...]:
        """Per lane: the DecisionGrid (or None for data that is not 2-D); () when none was computed."""
        return tuple(lane.grid for lane in self.lanes) if self.has_grids else ()

    # --- time ---------------------------------------------------------------------------------
    def at(self, step: Optional[int]) -> tuple[StepRecord, ...]:
        """Every lane's record at or before ``step`` (None: the newest)."""
        return tuple(lane.at(step) for lane in self.lanes)

    def upto(self, step: int) -> "Snapshot":
        """The run as it was at ``step``: each lane's records up to it (grids kept as they are)."""
        return dataclasses.replace(self, lanes=tuple(lane.upto(step) for lane in self.lanes))

    @classmethod
    def of(cls, lanes: Any, infos: Optional[Sequence[Any]] = None, grids: Optional[Sequence[Any]] = None, **run: Any) -> "Snapshot":
        """The snapshot of an engine ``Lanes`` (its names and trainers); see ``from_trainers``."""
        return cls.from_trainers(lanes.names, lanes.trainers, infos, grids, **run)

    @classmethod
    def from_trainers(
        cls,
        names: Sequence[str],
        trainers: Sequence[Any],
        infos: Optional[Sequence[Any]] = None,
        grids: Optional[Sequence[Any]] = None,
        **run: Any,
    ) -> "Snapshot":
        """The snapshot of these trainers (lane i called names[i]). ``infos``: each lane's
        describe_init (computed when not given); ``grids``: each lane's DecisionGrid, or None
        when none was computed; ``run``: the run-level fields (step_count: the first lane's)."""
        infos = list(infos) if infos is not None else [None] * len(trainers)
        has = grids is not None and len(grids) == len(trainers)
        views = tuple(
            LaneView.of(name, t, info, grids[i] if has else None)
            for i, (name, t, info) in enumerate(zip(names, trainers, infos))
        )
        if trainers:
            run.setdefault("step_count", trainers[0].step_count)
        return cls(lanes=views, has_grids=has, **run)


__all__ = ["LaneView", "Notice", "Snapshot", "index_at_or_before"]
