"""What the init predicts for each layer, drawn beside what is measured.

Forward (mean field, zero-mean i.i.d. weights):
    q_1 = Var(w_1) * sum_i E[x_i^2] + Var(b)              (x: the real, standardised inputs)
    q_l = fan_in * Var(w_l) * E[phi(z_{l-1})^2] + Var(b),  z ~ N(b0, q)
with BatchNorm before the activation q_l = 1, and dropout p scaling E[phi^2] by 1/(1-p).
Expectations over the Gaussian are Gauss-Hermite quadratures of the real activation (torch).
Backward: Var(dL/dh_l) = fan_out * Var(w_{l+1}) * E[phi'(z_{l+1})^2] * Var(dL/dh_{l+1}).
``zeros`` and ``constant`` give networks whose units are all identical, so their prediction is
the exact deterministic recursion of one unit on the real training inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from initviz.engine.config import RunConfig
from initviz.engine.inits import bias_value, hidden_fans, kaiming_gain, predicted_bias_std, predicted_std
from initviz.engine.model import make_activation

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(121)
_WEIGHTS = _WEIGHTS / np.sqrt(2.0 * np.pi)  # E[f(xi)], xi ~ N(0, 1)
BN_EPS = 1e-5


@dataclass(frozen=True)
class Theory:
    """Predictions per hidden layer, each (L,), first layer first."""

    pre_std: np.ndarray  # std of the pre-activation (after BatchNorm when enabled)
    act_std: np.ndarray  # std of the post-activation
    grad_gain: np.ndarray  # predicted |dL/dh_l| relative to the last hidden layer's

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [float(v) for v in getattr(self, k)] for k in ("pre_std", "act_std", "grad_gain")}


def _phi_and_dphi(activation: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activation and its derivative at z, evaluated by torch in float64."""
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    y = make_activation(activation)(t)
    (dy,) = torch.autograd.grad(y.sum(), t, allow_unused=True) if y.requires_grad else (None,)
    d = dy.numpy() if dy is not None else np.ones_like(z)
    return y.detach().numpy(), d


def _gaussian_moments(activation: str, mean: float, q: float) -> tuple[float, float, float]:
    """E[phi(z)], E[phi(z)^2], E[phi'(z)^2] for z ~ N(mean, q)."""
    z = mean + np.sqrt(max(q, 0.0)) * _NODES
    y, d = _phi_and_dphi(activation, z)
    return float(_WEIGHTS @ y), float(_WEIGHTS @ y**2), float(_WEIGHTS @ d**2)


def _identical_units(config: RunConfig, x: np.ndarray) -> Theory:
    """Exact recursion for zeros/constant: one unit stands for all of them."""
    c = 0.0 if config.init.scheme == "zeros" else config.init.value
    b = bias_value(config)
    keep = 1.0 - config.dropout
    h = x.sum(1) * c + b  # z_1 per sample (every unit the same)
    pre_std, act_std, dphi = [], [], []
    for layer in range(config.depth):
        z = h
        if config.batchnorm:
            z = (z - z.mean()) / np.sqrt(z.var() + BN_EPS)
        y, d = _phi_and_dphi(config.activation, z)
        pre_std.append(z.std())
        act_std.append(y.std())
        dphi.append(float(np.mean(np.abs(d))))
        h = c * config.width * y + b  # next layer's pre-activation (dropout keeps the mean)
    gains = np.ones(config.depth)
    for layer in range(config.depth - 2, -1, -1):
        gains[layer] = gains[layer + 1] * abs(c) * config.width * dphi[layer + 1] / np.sqrt(keep)
    return Theory(np.array(pre_std), np.array(act_std), gains)


def predict(config: RunConfig, x_train: torch.Tensor) -> Theory:
    """Predicted per-layer stds and gradient gains for `config` on these training inputs."""
    x = x_train.detach().double().cpu().numpy()
    if config.init.scheme in ("zeros", "constant"):
        return _freeze(_identical_units(config, x))
    fans = hidden_fans(config, x.shape[1])
    kgain = kaiming_gain(config)
    mean = bias_value(config) if config.init.scheme != "pytorch_default" else 0.0
    keep = 1.0 - config.dropout
    second_moment = float((x**2).mean(0).sum())  # sum_i E[x_i^2]
    pre_std, act_std, dphi2 = [], [], []
    signal = second_moment  # E[h^2] summed over the layer's fan_in, per unit of Var(w)
    for fan_in, fan_out in fans:
        var_w = predicted_std(config.init, fan_in, fan_out, kgain) ** 2
        var_b = predicted_bias_std(config, fan_in) ** 2
        q = var_w * signal + var_b
        m = mean
        if config.batchnorm:
            q, m = (1.0, 0.0) if q > 0 else (0.0, 0.0)
        e1, e2, ed2 = _gaussian_moments(config.activation, m, q)
        pre_std.append(np.sqrt(q))
        act_std.append(np.sqrt(max(e2 - e1**2, 0.0)))
        dphi2.append(ed2)
        signal = config.width * e2 / keep
    gains = np.ones(config.depth)
    for layer in range(config.depth - 2, -1, -1):
        fan_in, fan_out = fans[layer + 1]
        var_w = predicted_std(config.init, fan_in, fan_out, kgain) ** 2
        factor = fan_out * var_w * dphi2[layer + 1] / keep
        if config.batchnorm:
            raw = var_w * config.width * _gaussian_moments(config.activation, 0.0, 1.0)[1]
            factor = factor / raw if raw > 0 else 0.0
        gains[layer] = gains[layer + 1] * np.sqrt(factor)
    return _freeze(Theory(np.array(pre_std), np.array(act_std), gains))


def _freeze(t: Theory) -> Theory:
    for a in (t.pre_std, t.act_std, t.grad_gain):
        a.setflags(write=False)
    return t
