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


# --- any model (initviz inspect): layers named by module path, and the init that fixes them ----------

INIT_MATCH = 1.12  # a weight's std within this factor of a scheme's is called that scheme
INIT_OFF = 1.25  # ... more than this factor from what its activation needs: the wrong init
EXPLODES = 100.0  # activation std this factor above the first layer's: exploding
VANISHES = 1e-3  # ... below this share of it: vanished
NAMES_SHOWN = 3

# what each activation needs: (std in terms of fan_in, fan_out; the torch.nn.init call that gives it)
_NEEDS = {
    "relu": (lambda fi, fo: math.sqrt(2.0 / fi), "kaiming_normal_(nonlinearity='relu')"),
    "gelu": (lambda fi, fo: math.sqrt(2.0 / fi), "kaiming_normal_(nonlinearity='relu')"),
    "elu": (lambda fi, fo: math.sqrt(2.0 / fi), "kaiming_normal_(nonlinearity='relu')"),
    "leaky_relu": (lambda fi, fo: math.sqrt(2.0 / (1 + 0.01**2) / fi), "kaiming_normal_(a=0.01, nonlinearity='leaky_relu')"),
    "tanh": (lambda fi, fo: 5.0 / 3.0 * math.sqrt(2.0 / (fi + fo)), "xavier_normal_(gain=nn.init.calculate_gain('tanh'))"),
    "sigmoid": (lambda fi, fo: math.sqrt(2.0 / (fi + fo)), "xavier_normal_()"),
    "selu": (lambda fi, fo: 1.0 / math.sqrt(fi), "kaiming_normal_(nonlinearity='linear') (LeCun normal, for SELU)"),
    "linear": (lambda fi, fo: math.sqrt(2.0 / (fi + fo)), "xavier_normal_()"),
}


def guess_init_label(std: float, fan_in: int, fan_out: int, excess_kurtosis: float = math.nan, numel: int = 0) -> str:
    """The common init a weight of this ``std`` and fans looks like ("Xavier normal", "PyTorch
    default", "Kaiming (ReLU) normal", "N(0, 1)"...), else its std against Kaiming's. ``excess_kurtosis``
    tells uniform (-1.2) from normal (0) draws. ``numel``: the weight's size; a sample std is off by
    about 1/sqrt(2 numel), so the match is 3 of those wide (at least 4%, at most INIT_MATCH)."""
    if std == 0:
        return "constant (std 0)"
    if fan_in <= 0 or not math.isfinite(std):
        return f"std {std:.3g}"
    fo = max(fan_out, 1)
    xavier = math.sqrt(2.0 / (fan_in + fo))
    candidates = (
        ("Kaiming (ReLU)", math.sqrt(2.0 / fan_in)),
        ("Xavier", xavier),
        ("PyTorch default", 1.0 / math.sqrt(3.0 * fan_in)),
        ("LeCun", 1.0 / math.sqrt(fan_in)),
        ("Xavier (tanh gain)", 5.0 / 3.0 * xavier),
        ("Kaiming fan_out (ReLU)", math.sqrt(2.0 / fo)),
        ("N(0, 1)", 1.0),
    )
    tol = math.log(min(INIT_MATCH, 1 + max(0.04, 3 / math.sqrt(2 * numel))) if numel > 0 else INIT_MATCH)
    near = sorted((abs(math.log(std / s)), i) for i, (_, s) in enumerate(candidates) if abs(math.log(std / s)) <= tol)
    if not near:
        return f"std {std:.3g} ({std / candidates[0][1]:.2g}x Kaiming's)"
    label = _with_draw(candidates[near[0][1]][0], excess_kurtosis)
    # another scheme aiming at a different std this close cannot be told apart by the std: say both
    # (Xavier and LeCun aim at the same std when fan_in = fan_out: that is one answer, the first)
    other = [i for _, i in near[1:] if abs(math.log(candidates[i][1] / candidates[near[0][1]][1])) > 0.01]
    return f"{label} (or {_with_draw(candidates[other[0]][0], excess_kurtosis)})" if other else label


def _with_draw(label: str, excess_kurtosis: float) -> str:
    """'Xavier' + ' uniform' / ' normal' from the weights' excess kurtosis (-1.2 / 0)."""
    if label in ("PyTorch default", "N(0, 1)") or not math.isfinite(excess_kurtosis):
        return label
    if excess_kurtosis < -0.8:
        return f"{label} uniform"
    return f"{label} normal" if abs(excess_kurtosis) < 0.5 else label


def module_name(path: str) -> str:
    """A module path as Python indexes it: '2' -> '[2]', '0.conv' -> '[0].conv', 'blocks.2.fc' as it is."""
    head, dot, rest = path.partition(".")
    return f"[{head}]{dot}{rest}" if head.isdigit() else path


def init_fix(kind: str, fan_in: int, fan_out: int, std: float) -> Optional[str]:
    """The torch.nn.init call a layer of these fans needs before activation ``kind``, or None when
    its weights' ``std`` is already within INIT_OFF of what that call gives."""
    need = _NEEDS.get(kind)
    if need is None or fan_in <= 0 or not math.isfinite(std):
        return None
    want = need[0](fan_in, max(fan_out, 1))
    if std > 0 and abs(math.log(std / want)) <= math.log(INIT_OFF):
        return None
    return need[1]


def _names(names: list[str]) -> str:
    shown = ", ".join(module_name(n) for n in names[:NAMES_SHOWN])
    return shown + (f" … ({len(names)} layers)" if len(names) > NAMES_SHOWN else "")


def diagnose_model(record: StepRecord, layers: list, guesses: list, initial: Optional[StepRecord] = None) -> list[str]:
    """Captions for a user's model (``layers``: engine.inspect.Layer per probe point, ``guesses``: the
    InitGuess of each one's weight at build, or None): which layers are saturated, dead, collapsed or
    exploding, and for the layers whose init does not suit their activation, the init to use
    ("blocks.2.fc: ReLU after Xavier normal: use kaiming_normal_(nonlinearity='relu')")."""
    now, problems = _model_findings(record, layers)
    if problems or (initial is not None and _model_findings(initial, layers)[1]):
        now.extend(_suggestions(layers, guesses))
    if initial is not None and initial.step < record.step:
        # every finding at init whose kind is not also found now (saturated, exploding, ...)
        kinds_now = {line.split(":")[0] for line in now}
        at_init = [line for line in _model_findings(initial, layers)[0]
                   if not line.startswith(HEALTHY) and line.split(":")[0] not in kinds_now]  # fmt: skip
        now[:0] = [f"at init: {line}" for line in at_init]
    return now


def _model_findings(record: StepRecord, layers: list) -> tuple[list[str], bool]:
    out: list[str] = []
    names = [module_name(l.name) for l in layers]
    msg = record.diverged_message()
    if msg:
        at = names[record.diverged_at[1]] if record.diverged_at and record.diverged_at[1] < len(names) else "the output"
        out.append(f"Inf/NaN from step {record.diverged_at[0]} at {at}: the values overflowed")  # type: ignore[index]
    sat = [i for i, l in enumerate(layers) if l.kind in ("tanh", "sigmoid") and record.saturation[i] > SATURATED]
    if sat:
        worst = max(sat, key=lambda i: record.saturation[i])
        where = f"{names[worst]}" if len(sat) == 1 else f"{_names([names[i] for i in sat])} (worst {names[worst]}"
        out.append(f"saturated: {where}: {record.saturation[worst]:.0%} of outputs at the bounds{')' if len(sat) > 1 else ''}: "
                   "gradients through them are ~0")  # fmt: skip
    dead = [i for i, l in enumerate(layers) if l.kind in ("relu", "leaky_relu", "gelu", "elu", "selu") and record.dead[i] > DEAD]
    if dead:
        worst = max(dead, key=lambda i: record.dead[i])
        where = f"{names[worst]}" if len(dead) == 1 else f"{_names([names[i] for i in dead])} (worst {names[worst]}"
        out.append(f"dead: {where}: {record.dead[worst]:.0%} of units never active on this batch{')' if len(dead) > 1 else ''}")
    sym = np.nan_to_num(record.symmetry, nan=0.0)
    col = [i for i in range(len(layers)) if sym[i] >= SYMMETRIC and record.act_std[i] > 0]
    col += [i for i in range(len(layers)) if record.act_std[i] == 0 and i not in col]
    if col:
        col.sort()
        out.append(f"collapsed: {_names([names[i] for i in col])}: every unit computes the same thing (symmetry never breaks)")
    std = record.act_std
    if len(layers) > 1 and np.all(np.isfinite(std)) and std[0] > 0:
        big = [i for i in range(1, len(layers)) if std[i] > EXPLODES * std[0]]
        if big:
            out.append(f"exploding: {_names([names[i] for i in big])}: activation std grows from {std[0]:.2g} at {names[0]} "
                       f"to {std[big[-1]]:.2g} at {names[big[-1]]}")  # fmt: skip
        fall = std[0] / std[-1] if std[-1] > 0 else math.inf
        if not big and fall >= DECAYS:
            verb = "dies out" if std[-1] < VANISHES * std[0] else "decays"
            out.append(f"the signal {verb}: activation std falls {_pow10(fall)}x from {std[0]:.2g} at {names[0]} "
                       f"to {std[-1]:.2g} at {names[-1]}")  # fmt: skip
    problems = bool(out)
    if not out:
        through = f"; the activation std stays within {DECAYS:.0f}x through {len(layers)} layers" if len(layers) > 1 else ""
        out.append(f"{HEALTHY}: no layer saturated, dead, collapsed or exploding{through}")
    return out, problems


def _suggestions(layers: list, guesses: list) -> list[str]:
    """One line per (activation, init found, fix): the weight layers to re-initialise."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for layer, guess in zip(layers, guesses):
        if guess is None or not layer.weight or getattr(layer, "normed", False):
            continue  # a norm layer between the weights and the activation sets the scale itself
        fix = init_fix(layer.kind, layer.fan_in, layer.fan_out, guess.std)
        if fix is None:
            continue
        key = (layer.type_name, guess.label, fix)
        if layer.weight not in groups.setdefault(key, []):
            groups[key].append(layer.weight)
    return [f"{_names(ws)}: {act} after {label}: use {fix}" for (act, label, fix), ws in groups.items()]
