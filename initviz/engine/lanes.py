"""Several runs side by side: lanes that share data, batch order and seed, stepped in lockstep.

Lanes may differ in init (scheme and parameters), activation, BatchNorm, dropout, optimizer and
learning rate; everything that decides which examples a step sees (dataset, seed, batch size) and
the shape of the network (depth, width) is shared, so the panels compare like with like. Each
lane is an ordinary Trainer: a lane's records equal those of the same config run alone.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.record import StepRecord

MAX_LANES = 4
SHARED = ("dataset", "seed", "batch_size", "depth", "width", "device", "record_every", "test_every", "input_dim")


def lane_label(config: RunConfig) -> str:
    return config.init.label()


def _unique(labels: list[str], configs: Sequence[RunConfig]) -> list[str]:
    """Make lane names unique by adding what differs (activation, BN, lr) or a number."""
    out = list(labels)
    for i, (label, cfg) in enumerate(zip(labels, configs)):
        if labels.count(label) > 1:
            extra = [cfg.activation]
            if cfg.batchnorm:
                extra.append("BN")
            extra.append(f"lr {cfg.lr:g}")
            out[i] = f"{label} ({', '.join(extra)})"
    seen: dict[str, int] = {}
    for i, name in enumerate(out):
        if name in seen:
            seen[name] += 1
            out[i] = f"{name} #{seen[name]}"
        else:
            seen[name] = 1
    return out


def check_lanes(configs: Sequence[RunConfig]) -> None:
    """Raise ConfigError unless 1..4 valid configs agree on everything lanes must share."""
    if not 1 <= len(configs) <= MAX_LANES:
        raise ConfigError("lanes", len(configs), f"expected 1 to {MAX_LANES} lanes")
    for i, cfg in enumerate(configs):
        cfg.validate()
        for name in SHARED:
            a, b = getattr(configs[0], name), getattr(cfg, name)
            if a != b:
                raise ConfigError(
                    f"lanes[{i}].{name}", b, f"every lane must share {name} ({a!r} in lane 1)"
                )


def compare_configs(base: RunConfig, schemes: Sequence[str]) -> list[RunConfig]:
    """One config per init scheme, everything else from base (the CLI's --compare)."""
    configs = []
    for scheme in schemes:
        scheme = scheme.strip()
        init = dataclasses.replace(base.init, scheme=scheme)
        configs.append(dataclasses.replace(base, init=init))
    for cfg in configs:
        cfg.validate()
    check_lanes(configs)
    return configs



class LaneAccessors:
    """What every lanes object answers from its ``trainers`` (Lanes, and inspect's ModelLanes)."""

    trainers: list

    def __len__(self) -> int:
        return len(self.trainers)

    @property
    def configs(self) -> list[RunConfig]:
        return [t.config for t in self.trainers]

    @property
    def step_count(self) -> int:
        return self.trainers[0].step_count

    @property
    def latest(self) -> list[StepRecord]:
        return [t.latest for t in self.trainers]


class Lanes(LaneAccessors):
    """Trainers advanced together; records come back as one list per step, lane order."""

    def __init__(self, configs: Sequence[RunConfig], names: Optional[Sequence[str]] = None) -> None:
        from initviz.engine.budget import check_memory
        from initviz.engine.record import HISTORY_BYTES, History
        from initviz.engine.trainer import Trainer

        check_lanes(configs)
        check_memory(configs)  # refuse what would not fit before allocating any of it
        # the lanes share one run's history budget: four lanes must not take four times the memory
        self.trainers = [Trainer(cfg, History(max_bytes=HISTORY_BYTES // len(configs))) for cfg in configs]
        self.names = list(names) if names is not None else _unique([lane_label(c) for c in configs], configs)
        if len(self.names) != len(self.trainers):
            raise ConfigError("names", self.names, f"expected {len(self.trainers)} lane names")

    def step(self, n: int = 1) -> list[list[StepRecord]]:
        """n lockstep steps; for each recorded step, the records of every lane."""
        out: list[list[StepRecord]] = []
        for _ in range(n):
            made = [t.step(1) for t in self.trainers]
            if made[0]:
                out.append([m[0] for m in made])
        return out

    def reset(self) -> list[StepRecord]:
        return [t.reset() for t in self.trainers]

    def reseed(self, seed: Optional[int] = None) -> list[StepRecord]:
        new = self.trainers[0].config.seed + 1 if seed is None else seed
        return [t.reseed(new) for t in self.trainers]

    def remove(self, index: int) -> None:
        """Drop lane ``index``; the others go on where they are (they stay in lockstep)."""
        if len(self.trainers) <= 1:
            raise ConfigError("lanes", len(self.trainers), "the last lane cannot be removed")
        if not 0 <= index < len(self.trainers):
            raise ConfigError("lane", index + 1, f"expected a lane from 1 to {len(self.trainers)}")
        del self.trainers[index]
        del self.names[index]


# --- editing a set of lanes (pure: configs and names in, configs and names out) ----------------


def _fresh_name(base: str, taken: Sequence[str]) -> str:
    """``base``, or ``base #2``, ``base #3``... whichever no other lane has."""
    if base not in taken:
        return base
    n = 2
    while f"{base} #{n}" in taken:
        n += 1
    return f"{base} #{n}"


def _check_index(configs: Sequence[RunConfig], index: int) -> None:
    if not 0 <= index < len(configs):
        raise ConfigError("lane", index + 1, f"expected a lane from 1 to {len(configs)}")


def edit_lane(
    configs: Sequence[RunConfig], names: Sequence[str], index: int, config: RunConfig
) -> tuple[list[RunConfig], list[str]]:
    """Lane ``index`` takes ``config``; the others keep theirs, except the settings every lane
    shares (SHARED: data, seed, batch, shape...), which ``config`` sets for all. A lane whose init
    changed is renamed after it (unless another lane has that name); the others keep their names."""
    _check_index(configs, index)
    config = config.validate()
    shared = {name: getattr(config, name) for name in SHARED}
    out = [config if i == index else dataclasses.replace(c, **shared).validate() for i, c in enumerate(configs)]
    new_names = list(names)
    if config.init != configs[index].init:
        others = [n for i, n in enumerate(names) if i != index]
        new_names[index] = _fresh_name(lane_label(config), others)
    check_lanes(out)
    return out, new_names


def add_lane(configs: Sequence[RunConfig], names: Sequence[str], index: int) -> tuple[list[RunConfig], list[str]]:
    """A copy of lane ``index`` added after the last lane (named "<name> copy")."""
    _check_index(configs, index)
    if len(configs) >= MAX_LANES:
        raise ConfigError("lanes", len(configs) + 1, f"at most {MAX_LANES} lanes can run side by side")
    out = [*configs, configs[index]]
    check_lanes(out)
    return out, [*names, _fresh_name(f"{names[index]} copy", names)]


def remove_lane(configs: Sequence[RunConfig], names: Sequence[str], index: int) -> tuple[list[RunConfig], list[str]]:
    """Every lane but ``index`` (the last lane cannot go)."""
    _check_index(configs, index)
    if len(configs) <= 1:
        raise ConfigError("lanes", len(configs), "the last lane cannot be removed")
    return [c for i, c in enumerate(configs) if i != index], [n for i, n in enumerate(names) if i != index]


def scheme_list(text: str) -> list[str]:
    """'zeros, normal,xavier_normal' -> ['zeros', 'normal', 'xavier_normal'] (validated later)."""
    return [s.strip() for s in text.split(",") if s.strip()]


__all__ = [
    "Lanes", "MAX_LANES", "SHARED", "add_lane", "check_lanes", "compare_configs", "edit_lane", "lane_label",
    "remove_lane", "scheme_list",
]  # fmt: skip
