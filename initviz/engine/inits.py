"""Init schemes: each applied through torch.nn.init, with its formula and predicted weight std.

The predicted std follows torch's conventions exactly: ``calculate_gain`` multiplies the std
(Kaiming std = gain / sqrt(fan)), and ``nn.Linear``'s own default is
kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std = 1/sqrt(3 fan_in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from initviz.engine.config import CNN_KERNEL, CNN_SIDE, CNN_STAGES, ConvLayer, InitSpec, RunConfig, cnn_plan  # noqa: F401 (re-exported)

FORMULAS = {
    "zeros": "W = 0, b = 0: every unit computes the same thing, forever",
    "constant": "W = c, b = 0: every unit identical (symmetry never breaks)",
    "normal": "W ~ N(0, σ²)",
    "uniform": "W ~ U(-a, a),  std = a/√3",
    "xavier_uniform": "W ~ U(-a, a),  a = gain·√(6/(fan_in+fan_out))",
    "xavier_normal": "W ~ N(0, σ²),  σ = gain·√(2/(fan_in+fan_out))",
    "kaiming_uniform": "W ~ U(-a, a),  a = gain·√(3/fan),  gain = calculate_gain(φ)",
    "kaiming_normal": "W ~ N(0, σ²),  σ = gain/√fan,  gain = calculate_gain(φ)",
    "lecun_normal": "W ~ N(0, σ²),  σ = 1/√fan_in",
    "orthogonal": "W = gain·Q,  Q with orthonormal rows or columns",
    "pytorch_default": "nn.Linear's own: W, b ~ U(-1/√fan_in, 1/√fan_in),  std = 1/√(3·fan_in)",
}


def kaiming_gain(config: RunConfig) -> float:
    nl = config.resolved_nonlinearity()
    if nl == "leaky_relu":
        return nn.init.calculate_gain("leaky_relu", 0.01)
    return nn.init.calculate_gain(nl)


def predicted_std(spec: InitSpec, fan_in: int, fan_out: int, kgain: float = 1.0) -> float:
    """The std of a weight matrix's entries that the scheme aims for."""
    s = spec.scheme
    if s == "zeros":
        return 0.0
    if s == "constant":
        return 0.0  # all entries equal: no spread at all
    if s == "normal":
        return spec.std
    if s == "uniform":
        return spec.bound / math.sqrt(3.0)
    if s in ("xavier_uniform", "xavier_normal"):
        return spec.gain * math.sqrt(2.0 / (fan_in + fan_out))
    if s in ("kaiming_uniform", "kaiming_normal"):
        fan = fan_in if spec.mode == "fan_in" else fan_out
        return kgain / math.sqrt(fan)
    if s == "lecun_normal":
        return 1.0 / math.sqrt(fan_in)
    if s == "orthogonal":
        return spec.gain / math.sqrt(max(fan_in, fan_out))
    if s == "pytorch_default":
        return 1.0 / math.sqrt(3.0 * fan_in)
    raise ValueError(f"unknown init scheme {s!r}")


def conv_weight_std(spec: InitSpec, layer: ConvLayer, kgain: float = 1.0) -> float:
    """predicted_std for a conv layer: torch's fans, except orthogonal, which torch applies to the weight
    flattened to (C_out, C_in*k*k): its rows or columns are orthonormal, so std = gain/sqrt(max of those)."""
    if spec.scheme == "orthogonal":
        return spec.gain / math.sqrt(max(layer.c_out, layer.fan_in))
    return predicted_std(spec, layer.fan_in, layer.fan_out, kgain)


def predicted_bias_std(config: RunConfig, fan_in: int) -> float:
    """Spread of the bias entries: pytorch_default's own, or ``bias_std`` (zeros: none)."""
    if config.init.scheme == "pytorch_default":
        return 1.0 / math.sqrt(3.0 * fan_in)
    return 0.0 if config.init.scheme == "zeros" else config.bias_std


def bias_value(config: RunConfig) -> float:
    """The constant biases start at (zeros init means zeros everywhere)."""
    return 0.0 if config.init.scheme == "zeros" else config.bias_init


def init_linear(layer: nn.Linear, config: RunConfig) -> None:
    """Initialise one Linear layer's weight and bias in place, through torch.nn.init."""
    spec = config.init
    w = layer.weight
    s = spec.scheme
    with torch.no_grad():
        if s == "pytorch_default":
            layer.reset_parameters()  # exactly what nn.Linear does on its own
            return
        if s == "zeros":
            nn.init.zeros_(w)
        elif s == "constant":
            nn.init.constant_(w, spec.value)
        elif s == "normal":
            nn.init.normal_(w, 0.0, spec.std)
        elif s == "uniform":
            nn.init.uniform_(w, -spec.bound, spec.bound)
        elif s == "xavier_uniform":
            nn.init.xavier_uniform_(w, gain=spec.gain)
        elif s == "xavier_normal":
            nn.init.xavier_normal_(w, gain=spec.gain)
        elif s in ("kaiming_uniform", "kaiming_normal"):
            nl = config.resolved_nonlinearity()
            a = 0.01 if nl == "leaky_relu" else 0.0
            fn = nn.init.kaiming_uniform_ if s == "kaiming_uniform" else nn.init.kaiming_normal_
            fn(w, a=a, mode=spec.mode, nonlinearity=nl)
        elif s == "lecun_normal":
            # LeCun normal = Kaiming normal with the linear gain 1 and fan_in.
            nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear")
        elif s == "orthogonal":
            nn.init.orthogonal_(w, gain=spec.gain)
        else:  # pragma: no cover - validated earlier
            raise ValueError(f"unknown init scheme {s!r}")
        if layer.bias is not None:
            if config.bias_std > 0 and s != "zeros":
                nn.init.normal_(layer.bias, bias_value(config), config.bias_std)
            else:
                nn.init.constant_(layer.bias, bias_value(config))


@dataclass(frozen=True)
class InitInfo:
    """What the UI shows next to the scheme: the formula and the std it predicts per layer."""

    scheme: str
    formula: str
    weight_std: np.ndarray  # (L,) predicted std of each hidden layer's weights

    def summary(self) -> str:
        stds = self.weight_std
        runs = _runs(stds)
        if len(runs) > 2:  # e.g. a CNN whose channels double per stage: one entry per run of equal values
            parts = [f"{a + 1}" + (f"-{b + 1}" if b > a else "") + f" {stds[a]:.4g}" for a, b in runs]
            return "predicted weight std: layers " + ", ".join(parts)
        if len(stds) > 1 and not np.allclose(stds[1:], stds[0]):
            return f"predicted weight std: layer 1 {stds[0]:.4g}, layers 2+ {stds[1]:.4g}"
        return f"predicted weight std: {stds[0]:.4g}" if len(stds) else ""


def hidden_fans(config: RunConfig, n_features: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each hidden Linear layer (resmlp: each block's branch Linear, width x width;
    cnn: each conv layer's C_in*k*k, C_out*k*k)."""
    if config.arch == "cnn":
        return [(c.fan_in, c.fan_out) for c in cnn_plan(config)]
    if config.arch == "resmlp":
        return [(config.width, config.width)] * config.depth
    fans = []
    fan_in = n_features
    for _ in range(config.depth):
        fans.append((fan_in, config.width))
        fan_in = config.width
    return fans


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of (nearly) equal consecutive values."""
    runs: list[tuple[int, int]] = []
    for i, v in enumerate(values):
        if runs and np.isclose(v, values[runs[-1][0]]):
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def describe_init(config: RunConfig, n_features: int | None = None) -> InitInfo:
    """Formula and predicted std for the configured scheme and network shape."""
    if n_features is None:
        from initviz.engine.data import dataset_info

        n_features = dataset_info(config.dataset, config.input_dim).n_features
    kgain = kaiming_gain(config)
    if config.arch == "cnn":
        stds = np.array([conv_weight_std(config.init, layer, kgain) for layer in cnn_plan(config)])
    else:
        stds = np.array([predicted_std(config.init, fi, fo, kgain) for fi, fo in hidden_fans(config, n_features)])
    if config.fixup:
        stds = np.zeros(config.depth)  # Fixup zero-initialises every branch's Linear
    formula = FORMULAS[config.init.scheme]
    s = config.init.scheme
    if s in ("kaiming_uniform", "kaiming_normal"):
        formula += f" = {kgain:.4g} ({config.resolved_nonlinearity()}), fan = {config.init.mode}"
    elif s == "normal":
        formula += f",  σ = {config.init.std:g}"
    elif s == "constant":
        formula = formula.replace("c", f"{config.init.value:g}", 1)
    elif s in ("xavier_uniform", "xavier_normal", "orthogonal"):
        formula += f",  gain = {config.init.gain:g}"
    if config.arch == "cnn":
        first = cnn_plan(config)[0]
        formula += f";  conv {CNN_KERNEL}×{CNN_KERNEL}: fan_in = C_in·{CNN_KERNEL}·{CNN_KERNEL}, fan_out = C_out·{CNN_KERNEL}·{CNN_KERNEL}"
        formula += f" (layer 1: {first.fan_in}, {first.fan_out})"
    if config.fixup:
        formula += ";  Fixup: each residual branch's Linear W = 0, b = 0"
    stds.setflags(write=False)
    return InitInfo(s, formula, stds)
