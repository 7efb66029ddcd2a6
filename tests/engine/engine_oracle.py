"""Independent re-computation of a step record with plain torch (micrograd-style oracles).

Nothing here uses the engine's probes: the forward pass is written out with ``torch.nn.functional``
on copies of the trainer's parameters, ``retain_grad`` on every post-activation gives
dLoss/d(post-activation), and every statistic is recomputed in float64 from those tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from initviz.engine.config import RunConfig
from initviz.engine.data import BatchStream, make_dataset

ACTS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "gelu": F.gelu,
    "elu": F.elu,
    "selu": F.selu,
    "linear": lambda z: z,
}
RELU_FAMILY = ("relu", "leaky_relu", "gelu", "elu", "selu")


def batch_for_record(config: RunConfig, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch record k of a run with `config` was measured on: the (k+1)-th of the stream."""
    stream = BatchStream(make_dataset(config.dataset, config.seed, config.device), config.batch_size, config.seed)
    for _ in range(k):
        stream.next()
    return stream.next()


@dataclass
class Params:
    """Detached copies of every parameter of the trainer's MLP (hidden layers, then head)."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    bn: list[tuple[torch.Tensor, torch.Tensor] | None]
    head_w: torch.Tensor
    head_b: torch.Tensor


def snapshot(model: torch.nn.Module) -> Params:
    blocks = list(model.blocks)
    bn = []
    for b in blocks:
        if isinstance(b.norm, torch.nn.BatchNorm1d):
            bn.append((b.norm.weight.detach().clone(), b.norm.bias.detach().clone()))
        else:
            bn.append(None)
    return Params(
        [b.linear.weight.detach().clone() for b in blocks],
        [b.linear.bias.detach().clone() for b in blocks],
        bn,
        model.head.weight.detach().clone(),
        model.head.bias.detach().clone(),
    )


@dataclass
class Oracle:
    pre: list[np.ndarray]  # each (B, W) float32
    post: list[np.ndarray]
    grad_post: list[np.ndarray]  # dLoss/d(post-activation)
    weight: list[np.ndarray]  # hidden weights the pass used
    weight_grad: list[np.ndarray]
    loss: float
    accuracy: float


def forward_backward(params: Params, activation: str, x: torch.Tensor, y: torch.Tensor) -> Oracle:
    """Forward + backward of the MLP written out by hand (dropout must be 0)."""
    act = ACTS[activation]
    ws = [w.clone().requires_grad_(True) for w in params.weights]
    bs = [b.clone().requires_grad_(True) for b in params.biases]
    pres, posts = [], []
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = F.linear(h, w, b)
        if params.bn[i] is not None:
            gamma, beta = params.bn[i]
            z = F.batch_norm(z, None, None, gamma, beta, training=True, momentum=0.1, eps=1e-5)
        z.retain_grad()
        out = act(z)
        if out is z:  # linear: post-activation is the pre-activation itself
            out = z.view_as(z)
        out.retain_grad()
        pres.append(z)
        posts.append(out)
        h = out
    logits = F.linear(h, params.head_w, params.head_b)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return Oracle(
        pre=[p.detach().numpy().copy() for p in pres],
        post=[p.detach().numpy().copy() for p in posts],
        grad_post=[p.grad.detach().numpy().copy() for p in posts],
        weight=[w.detach().numpy().copy() for w in ws],
        weight_grad=[w.grad.detach().numpy().copy() for w in ws],
        loss=float(loss.detach()),
        accuracy=float((logits.argmax(1) == y).double().mean()),
    )


# --- statistics, float64, written from the definitions ------------------------------------------
def pop_std(a: np.ndarray) -> float:
    return float(np.std(a.astype(np.float64)))


def saturation_count(activation: str, post: np.ndarray) -> int:
    p = post.astype(np.float64)
    if activation == "tanh":
        return int(np.sum(np.abs(p) > 0.97))
    if activation == "sigmoid":
        return int(np.sum(np.abs(p - 0.5) > 0.485))
    return 0


def dead_count(activation: str, pre: np.ndarray, post: np.ndarray) -> int:
    if activation in RELU_FAMILY:
        return int(np.sum(np.all(pre <= 0, axis=0)))
    return int(np.sum(np.all(post == 0, axis=0)))


def symmetry(post: np.ndarray) -> float:
    h = post.astype(np.float64)
    total = h.var()
    if total == 0:
        return 1.0
    return float(h.mean(1).var() / total)


def l2(a: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64).ravel()))


def grad_exponent_hist(g: np.ndarray, lo_exp: int = -40, hi_exp: int = 6) -> tuple[np.ndarray, int, int]:
    """(counts, under, over) with one bin per power of two: bin j holds 2^(lo+j) <= |g| < 2^(lo+j+1).

    Exact zeros and |g| < 2^lo go to under; float32 denormals (< 2^-126) are below any bin anyway.
    """
    a = np.abs(g.astype(np.float64)).ravel()
    a = a[~np.isnan(a)]
    nz = a[(a > 0) & np.isfinite(a)]
    _, e = np.frexp(nz)  # nz = m * 2^e with m in [0.5, 1): floor(log2 nz) = e - 1
    floor_log2 = e - 1
    bins = hi_exp - lo_exp
    under = int(np.sum(a == 0)) + int(np.sum(floor_log2 < lo_exp))
    over = int(np.sum(floor_log2 >= hi_exp)) + int(np.sum(np.isinf(a)))
    inside = floor_log2[(floor_log2 >= lo_exp) & (floor_log2 < hi_exp)] - lo_exp
    counts = np.bincount(inside, minlength=bins)
    return counts, under, over


def value_hist(values: np.ndarray, lo: float, hi: float, bins: int, closed_top: bool) -> tuple[np.ndarray, int, int]:
    """(counts, under, over) on np.linspace edges; numpy's last bin is closed, so values == hi go in it
    when `closed_top` and to `over` otherwise (the engine's half-open convention)."""
    v = values.astype(np.float64).ravel()
    v = v[~np.isnan(v)]
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(v[(v >= lo) & (v <= hi)], bins=edges)
    under = int(np.sum(v < lo))
    over = int(np.sum(v > hi))
    if not closed_top:
        at_top = int(np.sum(v == hi))
        counts[-1] -= at_top
        over += at_top
    return counts, under, over


def assert_same_record(a, b) -> None:
    """Bit-identical StepRecords: arrays with np.array_equal (NaN == NaN), other fields with ==
    (timings excepted)."""
    import dataclasses

    for f in dataclasses.fields(a):
        if f.name in ("train_seconds", "stats_seconds"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name
        elif isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), f.name
        else:
            assert x == y, f.name


def relative_error(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def isclose(a: float, b: float, rtol: float = 1e-5, atol: float = 0.0) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
