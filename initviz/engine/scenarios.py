"""Guided scenarios from the lessons, stored as JSON under resources/scenarios/.

Each file: ``id``, ``order``, ``title``, ``explanation``, ``look_for``, ``config`` (settings that
differ from RunConfig's defaults) and optionally ``lanes``: a list of init specs, one per lane,
trained side by side on the shared config; a lane's optional ``name`` is what the app calls it and
its optional ``config`` the settings it alone changes (e.g. ``{"batchnorm": true}``).

Scenario files may also come from a person: the folders named in the ``INITVIZ_SCENARIOS``
environment variable (separated by ``os.pathsep``) are read after the shipped ones. A file that
cannot be read or does not validate is skipped with one warning line on stderr naming the file
and the problem; the others load.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.lanes import check_lanes

DEFAULT_SCENARIO = "four_classic_inits"
USER_FOLDERS_ENV = "INITVIZ_SCENARIOS"
MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 500  # per folder
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 4000
MAX_NAME_CHARS = 80
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


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


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    from initviz.engine.safe_io import plain

    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "expected a non-empty text")
    if len(value) > limit:
        raise ConfigError(key, value, f"expected at most {limit} characters")
    if key == "title":
        return plain(value, limit)  # one line
    return "".join(ch for ch in value if ch.isprintable() or ch in "\n\t")


def _lanes(base: RunConfig, lanes_spec: Any) -> tuple[tuple[RunConfig, ...], Optional[tuple[str, ...]]]:
    from initviz.engine.safe_io import plain

    if not isinstance(lanes_spec, list) or not all(isinstance(spec, Mapping) for spec in lanes_spec):
        raise ConfigError("lanes", lanes_spec, "expected a list of init specs (objects with 'scheme')")
    specs = [dict(spec) for spec in lanes_spec]
    given = [spec.pop("name", None) for spec in specs]
    lanes = tuple(_lane_config(base, spec.pop("config", None), {**base.init.__dict__, **spec}) for spec in specs)
    check_lanes(lanes)
    names: Optional[tuple[str, ...]] = None
    if any(n is not None for n in given):
        if not all(isinstance(n, str) and n.strip() for n in given) or len(set(given)) != len(given):
            raise ConfigError("lanes", given, "give every lane a distinct, non-empty name, or none")
        if any(len(n) > MAX_NAME_CHARS for n in given):
            raise ConfigError("lanes", given, f"lane names are at most {MAX_NAME_CHARS} characters")
        names = tuple(plain(n, MAX_NAME_CHARS).strip() for n in given)
    return lanes, names


def scenario_from_dict(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build and validate a scenario; errors (ConfigError only) name the file and the field."""
    try:
        if not isinstance(data, Mapping):
            raise ConfigError("scenario", data, "expected a JSON object with id, title, explanation and look_for")
        sid = data["id"]
        if not isinstance(sid, str) or not _ID.fullmatch(sid):
            raise ConfigError("id", sid, "expected 1 to 64 letters, digits, '_', '-' or '.'")
        base = RunConfig.from_dict(data.get("config", {}))
        lanes_spec = data.get("lanes")
        lanes, names = _lanes(base, lanes_spec) if lanes_spec else ((base,), None)
        order = data.get("order", 0)
        if not isinstance(order, int) or isinstance(order, bool) or not -10**6 <= order <= 10**6:
            raise ConfigError("order", order, "expected a whole number")
        return Scenario(
            id=sid,
            title=_text(data, "title", MAX_TITLE_CHARS),
            explanation=_text(data, "explanation", MAX_TEXT_CHARS),
            look_for=_text(data, "look_for", MAX_TEXT_CHARS),
            config=base,
            lane_configs=lanes,
            order=order,
            lane_names=names,
        )
    except KeyError as exc:
        raise ConfigError(f"{source}: {exc.args[0]}", None, "this key is required") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.field}", exc.value, exc.allowed) from None
    except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        error = ConfigError(source, None, "malformed")
        Exception.__init__(error, f"{source}: the scenario is malformed ({type(exc).__name__}: {str(exc)[:80]})")
        raise error from None


def _lane_config(base: RunConfig, changes: Any, init: dict) -> RunConfig:
    """A lane: the shared config with the lane's own ``config`` changes (e.g. BatchNorm) and init."""
    if changes is None:
        return base.replace(init=init)
    if not isinstance(changes, Mapping) or "init" in changes:
        raise ConfigError("lanes[].config", changes, "an object of run settings other than init (the lane's init is the lane itself)")
    return RunConfig.from_dict({**base.to_dict(), **changes}).replace(init=init)


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


_warned: set[str] = set()  # each problem is reported once per process, not at every lookup


def _warn_once(line: str) -> None:
    if line not in _warned:
        _warned.add(line)
        _warn(line)


def user_folders() -> list[Path]:
    """The folders named in INITVIZ_SCENARIOS, in order."""
    raw = os.environ.get(USER_FOLDERS_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def _entries(folder: Any) -> Iterable[Any]:
    from initviz.engine.safe_io import plain

    try:
        entries = sorted((e for e in folder.iterdir() if e.name.endswith(".json")), key=lambda e: e.name)
    except OSError as exc:
        _warn_once(plain(f"initviz: warning: cannot read the scenario folder {folder}: {exc.strerror or exc}", 400))
        return []
    if len(entries) > MAX_FILES:
        _warn_once(plain(f"initviz: warning: {folder} holds {len(entries)} scenario files; reading the first {MAX_FILES}", 400))
    return entries[:MAX_FILES]


def _read(entry: Any) -> Any:
    """A scenario file's JSON: through safe_io for a real file, bounded for a packaged one."""
    from initviz.engine.safe_io import InputFileError, load_json_file, parse_json

    try:
        if isinstance(entry, Path):
            return load_json_file(entry, "scenario", MAX_FILE_BYTES)
        with entry.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise InputFileError(f"scenario {entry.name} is larger than {MAX_FILE_BYTES // 1024} KB")
        return parse_json(data, f"scenario {entry.name}")
    except OSError as exc:
        raise InputFileError(f"scenario {entry.name} cannot be read ({exc.strerror or exc})") from None


def load_scenarios(
    folders: Optional[Iterable[Path]] = None, warn: Optional[Callable[[str], None]] = None
) -> list[Scenario]:
    """Every shipped scenario, then those in the user's folders, in lesson order.

    A bad file is skipped with one warning line naming it and the problem (``warn``: default
    stderr, once per process); so is a file whose id another file already has.
    """
    from initviz.engine.safe_io import InputFileError, plain

    tell = warn or _warn_once

    def warn(line: str) -> None:
        tell(plain(line, 400))  # one line: a file name may hold a newline
    shipped = resources.files("initviz.resources").joinpath("scenarios")
    sources: list[Any] = [shipped, *(user_folders() if folders is None else folders)]
    out: dict[str, Scenario] = {}
    for folder in sources:
        for entry in _entries(folder):
            label = entry.name if folder is shipped else str(entry)
            try:
                scenario = scenario_from_dict(_read(entry), entry.name)
            except (InputFileError, ConfigError) as exc:
                warn(f"initviz: warning: skipped scenario {label}: {exc}")
                continue
            if scenario.id in out:
                warn(f"initviz: warning: skipped scenario {label}: its id {scenario.id!r} is already taken")
                continue
            out[scenario.id] = scenario
    return sorted(out.values(), key=lambda s: (s.order, s.id))


def get_scenario(scenario_id: str, scenarios: Optional[list[Scenario]] = None) -> Scenario:
    """The scenario with this id; ConfigError listing the ids when there is none."""
    scenarios = load_scenarios() if scenarios is None else scenarios
    for s in scenarios:
        if s.id == scenario_id:
            return s
    raise ConfigError("scenario", scenario_id, "choose one of " + ", ".join(s.id for s in scenarios))
