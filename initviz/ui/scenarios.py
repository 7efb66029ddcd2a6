"""Guided scenarios: one click sets up a network that shows one lesson about initialisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from initviz.engine.config import RunConfig


@dataclass(frozen=True)
class Scenario:
    """A named starting point: what to look at and the config changes (from the defaults)."""

    name: str
    lesson: str
    changes: dict[str, Any] = field(default_factory=dict)

    def config(self) -> RunConfig:
        return RunConfig().replace(**self.changes)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "Saturation: tanh with N(0, 1) weights",
        "Weights far too large for tanh: from layer 1 on most units sit at ±1 where tanh is flat. "
        "Watch the heatmap's dark edges, then the Gradients panel: the weight gradients do not simply "
        "vanish, they grow toward the input.",
        {"depth": 20, "width": 128, "activation": "tanh", "init": {"scheme": "normal", "std": 1.0}},
    ),
    Scenario(
        "Collapse: tanh with N(0, 0.01²) weights",
        "Weights far too small: each layer shrinks the signal ~50x, so deep layers output a single spike at 0 "
        "and their gradients vanish. Nothing learns.",
        {"depth": 20, "width": 128, "activation": "tanh", "init": {"scheme": "normal", "std": 0.01}},
    ),
    Scenario(
        "Healthy: tanh with Xavier",
        "Var(w) = 2/(fan_in+fan_out) keeps the variance about constant through depth: every row of the "
        "heatmap looks alike and the measured std follows the prediction.",
        {"depth": 20, "width": 128, "activation": "tanh", "init": {"scheme": "xavier_normal", "gain": 1.0}},
    ),
    Scenario(
        "Explosion: ReLU with N(0, 1) weights",
        "Each ReLU layer multiplies the signal's scale by about √(width/2) = 8: activations and then "
        "the loss overflow to Inf/NaN. Look for the red marker.",
        {"depth": 30, "width": 128, "activation": "relu", "init": {"scheme": "normal", "std": 1.0}},
    ),
    Scenario(
        "Healthy: ReLU with Kaiming (He)",
        "std = gain/√fan_in with gain √2 for ReLU: the scale survives 20 layers.",
        {"depth": 20, "width": 128, "activation": "relu", "init": {"scheme": "kaiming_normal", "mode": "fan_in"}},
    ),
    Scenario(
        "Vanishing: ReLU with nn.Linear's default init",
        "PyTorch's default std is 1/√(3·fan_in), not He: a ReLU layer keeps only 1/6 of the variance, "
        "so the signal fades with depth.",
        {"depth": 20, "width": 128, "activation": "relu", "init": {"scheme": "pytorch_default"}},
    ),
    Scenario(
        "Symmetry: every weight the same constant",
        "All units of a layer compute the same thing and get the same gradient: symmetry stays at 1 "
        "and the network can never use its width.",
        {"depth": 6, "width": 64, "activation": "tanh", "init": {"scheme": "constant", "value": 0.05}},
    ),
    Scenario(
        "Zeros: all weights 0",
        "Every hidden unit outputs the same value and the hidden weights get no gradient at all.",
        {"depth": 6, "width": 64, "activation": "tanh", "init": {"scheme": "zeros"}},
    ),
    Scenario(
        "Dead ReLUs: negative bias",
        "A bias of -1 switches most ReLU units off for every input; dead units pass no gradient.",
        {"depth": 10, "width": 64, "activation": "relu", "init": {"scheme": "kaiming_normal"}, "bias_init": -1.0},
    ),
    Scenario(
        "Sigmoid, 10 layers, Xavier",
        "Sigmoid's slope is at most 1/4 and its output is not centred: gradients shrink layer by layer.",
        {"depth": 10, "width": 64, "activation": "sigmoid", "init": {"scheme": "xavier_normal"}},
    ),
    Scenario(
        "BatchNorm rescues N(0, 1)",
        "The saturating tanh N(0, 1) network again, with BatchNorm before each tanh: every layer is "
        "re-standardised, the init scale stops mattering.",
        {"depth": 20, "width": 128, "activation": "tanh", "init": {"scheme": "normal", "std": 1.0}, "batchnorm": True},
    ),
)

DEFAULT_SCENARIO = SCENARIOS[0]


def default_config() -> RunConfig:
    """What the app opens on: a run that shows something within seconds of pressing Play."""
    return DEFAULT_SCENARIO.config()
