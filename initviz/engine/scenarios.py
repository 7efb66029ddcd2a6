"""Guided scenarios from the lessons, stored as JSON under resources/scenarios/.

Each file: ``id``, ``order``, ``title``, ``explanation``, ``look_for``, ``config`` (settings that
differ from RunConfig's defaults) and optionally ``lanes``: a list of init specs, one per lane,
trained side by side on the shared config; a lane's optional ``name`` is what the app calls it and
its optional ``config`` the settings it alone changes (e.g. ``{"batchnorm": true}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, Optional

from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.lanes import check_lanes

DEFAULT_SCENARIO = "four_classic_inits"


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    explanation: str
    look_for: str
    config: RunConfig
    lane_configs: tuple[RunConfig, ...]  # one per lane; (config,) for a single run
    order: int = 0
    lane_names: Optional[tuple[str, ...]] = None  # display names of the lanes (None: from their inits)

    @property
    def is_comparison(self) -> bool:
        return len(self.lane_configs) > 1


def scenario_from_dict(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build and validate a scenario; errors name the file and the field."""
    try:
        sid = str(data["id"])
        base = RunConfig.from_dict(data.get("config", {}))
        lanes_spec = data.get("lanes")
        names: Optional[tuple[str, ...]] = None
        if lanes_spec:
            specs = [dict(spec) for spec in lanes_spec]
            given = [spec.pop("name", None) for spec in specs]
            lanes = tuple(_lane_config(base, spec.pop("config", None), spec) for spec in specs)
            check_lanes(lanes)
            if any(n is not None for n in given):
                if not all(isinstance(n, str) and n.strip() for n in given) or len(set(given)) != len(given):
                    raise ConfigError("lanes", given, "give every lane a distinct, non-empty name, or none")
                names = tuple(str(n).strip() for n in given)
        else:
            lanes = (base,)
        return Scenario(
            id=sid,
            title=str(data["title"]),
            explanation=str(data["explanation"]),
            look_for=str(data["look_for"]),
            config=base,
            lane_configs=lanes,
            order=int(data.get("order", 0)),
            lane_names=names,
        )
    except KeyError as exc:
        raise ConfigError(f"{source}: {exc.args[0]}", None, "this key is required") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.field}", exc.value, exc.allowed) from None


def _lane_config(base: RunConfig, changes: Any, init: dict) -> RunConfig:
    """A lane: the shared config with the lane's own ``config`` changes (e.g. BatchNorm) and init."""
    if changes is None:
        return base.replace(init=init)
    if not isinstance(changes, Mapping) or "init" in changes:
        raise ConfigError("lanes[].config", changes, "an object of run settings other than init (the lane's init is the lane itself)")
    return RunConfig.from_dict({**base.to_dict(), **changes}).replace(init=init)


def load_scenarios() -> list[Scenario]:
    """Every shipped scenario, in lesson order."""
    folder = resources.files("initviz.resources").joinpath("scenarios")
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            out.append(scenario_from_dict(json.loads(entry.read_text(encoding="utf-8")), entry.name))
    return sorted(out, key=lambda s: (s.order, s.id))


def get_scenario(scenario_id: str, scenarios: Optional[list[Scenario]] = None) -> Scenario:
    """The scenario with this id; ConfigError listing the ids when there is none."""
    scenarios = load_scenarios() if scenarios is None else scenarios
    for s in scenarios:
        if s.id == scenario_id:
            return s
    raise ConfigError("scenario", scenario_id, "choose one of " + ", ".join(s.id for s in scenarios))
