"""Plain-language captions of what is wrong with a record, most important first."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord

SATURATED = 0.5  # a layer with more than half its outputs saturated is called saturated
DEAD = 0.5
SYMMETRIC = 0.99
VANISHED_STD = 1e-3  # post-activation std below this: the signal has died out
GRAD_SPREAD = 1e3  # weight-gradient norms spanning this factor across depth
DECAYS = 10.0  # activation std falling this factor from layer 1 to the last: the signal decays
SHRINKS = 3.0  # ... this factor: it shrinks with depth (Xavier + tanh at depth 50: 3.2x)
HEALTHY = "healthy"


def _worst(values: np.ndarray) -> tuple[int, float]:
    v = np.nan_to_num(values, nan=-1.0)
    i = int(np.argmax(v))
    return i, float(values[i])


def _pow10(x: float) -> str:
    return f"10^{round(math.log10(x))}" if x >= 100 else f"{x:.0f}"


def diagnose(record: StepRecord, config: RunConfig, initial: Optional[StepRecord] = None) -> list[str]:
    """Captions such as 'layer 7: 92% of units saturated'; ['healthy: ...'] when nothing is wrong.

    ``initial``: the run's record at step 0. After training the first caption then tells the
    init's story too ("at init: the signal dies out …; now: healthy after training"): what the
    init did stays said however the network has changed since.
    """
    now = _findings(record, config)
    if initial is None or initial.step >= record.step:
        return now
    at_init = _findings(initial, config)
    if at_init[0].startswith(HEALTHY) or at_init[0] == now[0]:
        return now  # nothing to tell about the init, or the same words as now
    if now[0].startswith(HEALTHY):
        return [f"at init: {at_init[0]}; now: healthy after training"]
    return [f"at init: {at_init[0]}; now: {now[0]}", *now[1:]]


def _findings(record: StepRecord, config: RunConfig) -> list[str]:
    """What is wrong with one record, most important first."""
    out: list[str] = []
    L = record.depth
    width = config.width

    msg = record.diverged_message()
    if msg:
        out.append(f"{msg}: the values overflowed and training cannot recover")

    sym = np.nan_to_num(record.symmetry, nan=0.0)
    if L and np.all(sym >= SYMMETRIC):
        out.append(f"all {width} units in every layer are identical: symmetry never broke")
    elif np.any(sym >= SYMMETRIC):
        layers = np.flatnonzero(sym >= SYMMETRIC) + 1
        out.append(f"layers {_span(layers)}: every unit computes the same thing (symmetry)")

    std = record.act_std
    finite = np.isfinite(std)
    if config.activation in ("tanh", "sigmoid"):
        i, frac = _worst(record.saturation)
        if frac > SATURATED:
            n_sat = int(np.sum(record.saturation > SATURATED))
            extra = f" ({n_sat} of {L} layers over {SATURATED:.0%})" if n_sat > 1 else ""
            out.append(f"layer {i + 1}: {frac:.0%} of units saturated{extra}: gradients through them are ~0")
    if config.activation in ("relu", "leaky_relu", "gelu", "elu", "selu"):
        i, frac = _worst(record.dead)
        if frac > DEAD:
            out.append(f"layer {i + 1}: {frac:.0%} of units dead (never active on this batch)")

    if L > 1 and finite.all() and std[0] > 0 and not np.all(sym >= SYMMETRIC):
        # one threshold per wording, far from where training moves the numbers: no flicker
        fall = std[0] / std[-1] if std[-1] > 0 else math.inf
        if std[-1] < VANISHED_STD and fall >= DECAYS:
            out.append(
                f"the signal dies out: activation std falls from {std[0]:.2g} at layer 1 "
                f"to {std[-1]:.1e} at layer {L}"
            )
        elif fall >= DECAYS:
            out.append(f"the signal decays: activation std falls {fall:.0f}x from layer 1 to layer {L}")
        elif fall >= SHRINKS:
            out.append(f"the signal shrinks with depth: activation std falls {fall:.1f}x over {L} layers")
        elif std[-1] > std[0] * 100:
            out.append(f"the signal explodes: activation std grows from {std[0]:.2g} to {std[-1]:.2g}")

    g = record.grad_norm
    if L > 1 and np.all(np.isfinite(g)):
        pos = g[g > 0]
        if pos.size == 0 and record.step >= 0 and not msg:
            out.append("every hidden weight gradient is exactly 0: nothing below the output layer learns")
        elif pos.size == L:
            lo, hi = int(np.argmin(g)), int(np.argmax(g))
            ratio = g[hi] / g[lo]
            if ratio > GRAD_SPREAD:
                out.append(
                    f"weight gradients at layer {hi + 1} are {_pow10(ratio)} times those at layer {lo + 1}"
                )

    if not out:
        out.append(f"{HEALTHY}: activations and gradients keep their scale through every layer")
    return out


def _span(layers: np.ndarray) -> str:
    if len(layers) > 3 and layers[-1] - layers[0] == len(layers) - 1:
        return f"{layers[0]}-{layers[-1]}"
    return ", ".join(str(x) for x in layers[:6]) + ("…" if len(layers) > 6 else "")
