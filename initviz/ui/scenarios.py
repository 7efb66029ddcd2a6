"""The guided scenarios the window offers: the engine's, shipped as JSON in resources/scenarios/.

Comparison scenarios run their lanes side by side; the window opens on the engine's default
(four classic inits: zeros, N(0, 1), Xavier, He).
"""

from __future__ import annotations

from initviz.engine.config import RunConfig
from initviz.engine.scenarios import DEFAULT_SCENARIO, Scenario, get_scenario, load_scenarios

DEFAULT_SCENARIO_ID = DEFAULT_SCENARIO  # four classic inits side by side
SINGLE_DEFAULT_ID = "normal_tanh_saturation"  # what a single-run view opens on (screenshots, tests)


def all_scenarios() -> list[Scenario]:
    """Every shipped scenario in lesson order (comparisons included)."""
    return load_scenarios()


def default_config() -> RunConfig:
    """The single-run default: tanh with N(0, 1) weights, 20 x 128, saturating from step 0."""
    return get_scenario(SINGLE_DEFAULT_ID).config


def default_scenario() -> Scenario:
    """What the app opens on: the engine's default scenario (four lanes)."""
    return get_scenario(DEFAULT_SCENARIO_ID)


def lesson_text(scenario: Scenario) -> str:
    """The scenario's explanation and what to look for, as shown under the scenario box."""
    return f"{scenario.explanation}\n\nLook for: {scenario.look_for}"


__all__ = ["Scenario", "all_scenarios", "default_config", "default_scenario", "lesson_text", "DEFAULT_SCENARIO_ID"]
