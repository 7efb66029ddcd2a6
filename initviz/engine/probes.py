"""Measure every hidden layer on one forward/backward pass; results come back as numpy.

How it works: a forward hook on each block's activation module keeps its input (the
pre-activation) and output (the post-activation), and ``Tensor.register_hook`` on the output
catches dLoss/d(post-activation) during backward. No full backward hooks (they break on in-place
ops and misfire on the first layer). All hidden layers have the same width, so the captured
tensors stack to ``(L, B, W)`` and every statistic is a handful of vectorised torch ops on the
compute device; everything is packed into one float64 vector and crosses to the host once.

Definitions (documented in the README):

- histograms use fixed, half-open bins [a, b) (``hist_specs``); values below/above the range
  (``±inf`` included) are counted in ``*_under``/``*_over``, NaN in neither (see ``nonfinite``).
  For tanh and sigmoid the upper bound itself (an output of exactly 1) is in the last bin.
  The gradient histogram has one bin per power of two of |g|, edges given in log10 units.
- saturation: fraction of post-activations with ``|tanh| > 0.97`` (Karpathy's threshold: the
  local gradient 1 - t² is below 6% of its peak) or ``|sigmoid - 0.5| > 0.485`` (the same 6%
  of sigmoid's peak gradient). 0 for activations that do not saturate.
- dead: fraction of units that are off for the whole batch: pre-activation <= 0 on every
  example for the ReLU family (relu, leaky_relu, gelu, elu, selu), output exactly 0 on every
  example for the others.
- symmetry: the share of a layer's activation variance that is common to all its units,
  ``Var_b(mean_u h[b, u]) / Var_{b,u}(h[b, u])``. 1 when every unit is identical (or the layer
  is constant), about 1/width for independent units.
- grad_out_norm: L2 norm of dLoss/d(post-activation) over batch and units.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torch import nn

from initviz.engine.model import MLP
from initviz.engine.record import HistSpec

RELU_FAMILY = ("relu", "leaky_relu", "gelu", "elu", "selu")
TANH_SATURATION = 0.97
SIGMOID_SATURATION = 0.485  # |s - 0.5| beyond this is within 1.5% of 0 or 1

ACT_BINS = 200  # 200 bins put tanh's 0.97 and sigmoid's 0.015/0.985 exactly on bin edges
# Post-activation histogram range per activation (fixed so frames compare across steps).
ACT_RANGES = {
    "tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0),
    "relu": (0.0, 4.0),
    "leaky_relu": (-1.0, 4.0),
    "gelu": (-0.5, 4.0),
    "elu": (-1.0, 4.0),
    "selu": (-2.0, 4.0),
    "linear": (-4.0, 4.0),
}
BOUNDED = ("tanh", "sigmoid")  # outputs never exceed the range: x == hi goes in the last bin
PRE_RANGE = (-6.0, 6.0)
PRE_BINS = 120
# Gradient histogram: one bin per power of two of |dLoss/d(post-activation)|, read straight from
# the float32 exponent bits; |g| in [2^-40, 2^6), i.e. about 1e-12 to 64. Edges in log10 units.
GRAD_EXP_LO, GRAD_EXP_HI = -40, 6
LOG10_2 = 0.30102999566398120


def hist_specs(activation: str) -> tuple[HistSpec, HistSpec, HistSpec]:
    """(post-activation, pre-activation, gradient) histogram specs for an activation."""
    lo, hi = ACT_RANGES[activation]
    return (
        HistSpec(lo, hi, ACT_BINS),
        HistSpec(*PRE_RANGE, PRE_BINS),
        HistSpec(GRAD_EXP_LO * LOG10_2, GRAD_EXP_HI * LOG10_2, GRAD_EXP_HI - GRAD_EXP_LO, log10_abs=True),
    )


class LayerProbe:
    """Hooks the activations of an MLP; ``enabled`` switches capturing on for one pass."""

    def __init__(self, model: MLP) -> None:
        self.depth = len(model.blocks)
        self.enabled = False
        self.pre: list[Optional[torch.Tensor]] = [None] * self.depth
        self.post: list[Optional[torch.Tensor]] = [None] * self.depth
        self.grad: list[Optional[torch.Tensor]] = [None] * self.depth
        self._handles = [
            block.act.register_forward_hook(self._make_hook(i)) for i, block in enumerate(model.blocks)
        ]
        self._buffers: dict[str, torch.Tensor] = {}

    def buffer(self, name: str, like: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """A scratch tensor reused across steps: fresh multi-MB allocations page-fault every step."""
        dtype = like.dtype if dtype is None else dtype
        buf = self._buffers.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != dtype or buf.device != like.device:
            buf = torch.empty(like.shape, dtype=dtype, device=like.device)
            self._buffers[name] = buf
        return buf

    def numels(self, weights: list[torch.Tensor]) -> torch.Tensor:
        """(L,) float64 element counts of the hidden weight matrices (cached)."""
        n = self._buffers.get("numels")
        if n is None or len(n) != len(weights):
            n = torch.tensor([w.numel() for w in weights], dtype=torch.float64, device=weights[0].device)
            self._buffers["numels"] = n
        return n

    def stacked(self, name: str, tensors: list[Optional[torch.Tensor]]) -> torch.Tensor:
        """The captured per-layer tensors stacked to (L, B, W) into a reused buffer."""
        first = tensors[0]
        assert first is not None
        like = first.new_empty((len(tensors), *first.shape))
        return torch.stack(tensors, out=self.buffer(name, like))  # type: ignore[arg-type]

    def _make_hook(self, i: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if not self.enabled:
                return
            self.pre[i] = inputs[0].detach()
            self.post[i] = output.detach()
            if output.requires_grad:

                def keep_grad(g: torch.Tensor) -> None:
                    self.grad[i] = g.detach()

                output.register_hook(keep_grad)

        return hook

    def clear(self) -> None:
        self.pre = [None] * self.depth
        self.post = [None] * self.depth
        self.grad = [None] * self.depth

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def _row_offsets(L: int, width: int, device: torch.device) -> torch.Tensor:
    return (torch.arange(L, device=device, dtype=torch.int32) * width).unsqueeze(1)


def _nan_column(x: torch.Tensor, idx: torch.Tensor, b: int) -> torch.Tensor:
    """Slow path, only when NaN is present: send NaN to the last column."""
    return torch.where(torch.isnan(x), torch.full_like(idx, b + 2), idx)


def histogram_rows(
    x: torch.Tensor, spec: HistSpec, has_nan: bool = True, probe: Optional["LayerProbe"] = None
) -> torch.Tensor:
    """Row-wise histograms of x (L, N) -> (L, bins + 3) counts with fixed, half-open bins.

    Columns: 0 = under (-inf included), 1..bins = the bins, bins + 1 = over (+inf included),
    bins + 2 = NaN. Pass has_nan=False when x is known to hold no NaN (skips a pass).
    One bincount counts every row. With a probe, scratch space is reused between calls.
    """
    L, b = x.shape[0], spec.bins

    def scratch(name: str, dtype: torch.dtype) -> torch.Tensor:
        if probe is None:
            return torch.empty(x.shape, dtype=dtype, device=x.device)
        return probe.buffer(name, x, dtype)

    idx = scratch("hist_idx", torch.int32)
    if spec.log10_abs:
        # float32 exponent field: |x| in [2^(e-127), 2^(e-126)); 0 and denormals have e = 0.
        torch.bitwise_right_shift(x.contiguous().view(torch.int32), 23, out=idx)
        lo_e = GRAD_EXP_LO + 127
        idx.bitwise_and_(0xFF).clamp_(lo_e - 1, lo_e + b).sub_(lo_e - 1)  # under -> 0, over -> b + 1
        if has_nan:
            idx = _nan_column(x, idx, b)
    else:
        scale = b / (spec.hi - spec.lo)
        shifted = scratch("hist_f", torch.float32)
        torch.add(torch.tensor(1.0 - spec.lo * scale, device=x.device), x, alpha=scale, out=shifted)
        shifted.clamp_(0.0, b + 1.0).nan_to_num_(nan=b + 2.0)
        idx.copy_(shifted)  # float -> int32 truncates; every value is >= 0 here
    idx.add_(_row_offsets(L, b + 3, x.device))
    return torch.bincount(idx.view(-1), minlength=L * (b + 3)).view(L, b + 3)


EPS32 = float(torch.finfo(torch.float32).eps)
ROUNDING = 16 * EPS32  # deviations below this share of |mean| are float32 rounding, not spread


def _moments(x: torch.Tensor, scratch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per layer of x (L, B, W): mean, std, and the std's two parts (float64, each (L,)).

    Law of total variance over (example b, unit u): Var = E_b[Var_u h] + Var_b(E_u h), i.e.
    ``within`` (units differ) + ``between`` (the common signal). One centred pass, no Welford.
    Row means of identical values are off by an ulp in float32, so squared deviations below
    the rounding floor count as 0: a constant layer has std 0, identical units symmetry 1.
    """
    L, B, W = x.shape
    row_mean = x.mean(2)  # (L, B)
    centred = torch.sub(x, row_mean.unsqueeze(2), out=scratch.view_as(x))
    within = torch.linalg.vector_norm(centred, dim=(1, 2))
    if bool(torch.isinf(within).any()):  # finite values whose squares overflow float32
        within = torch.linalg.vector_norm(centred, dim=(1, 2), dtype=torch.float64)
    within = within.double().square() / (B * W)
    rm = row_mean.double()
    floor = (ROUNDING * rm.abs()).square().mean(1)
    within = torch.where(within <= floor, torch.zeros_like(within), within)
    between = rm.var(1, correction=0)
    between = torch.where(between <= floor, torch.zeros_like(between), between)
    return rm.mean(1), (within + between).sqrt(), within, between


def _count_nonfinite(x: torch.Tensor, row_sum: torch.Tensor) -> torch.Tensor:
    """Non-finite values per row; the count pass runs only when a row's sum is not finite."""
    if bool(torch.isfinite(row_sum).all()):
        return torch.zeros_like(row_sum)
    return (~torch.isfinite(x)).sum(1).to(row_sum.dtype)


def measure_layers(
    probe: LayerProbe,
    activation: str,
    specs: tuple[HistSpec, HistSpec, HistSpec],
) -> list[torch.Tensor]:
    """Per-layer statistics as a list of device tensors (packed and moved to host by the caller)."""
    with torch.no_grad():
        pre = probe.stacked("pre", probe.pre)  # (L, B, W)
        post = probe.stacked("post", probe.post)  # (L, B, W)
        L, _, W = pre.shape
        post2 = post.view(L, -1)
        pre2 = pre.view(L, -1)

        scratch = probe.buffer("hist_f", post2, torch.float32)
        act_mean, act_std, within, between = _moments(post, scratch)
        pre_mean, pre_std, _, _ = _moments(pre, scratch)
        post_bad = _count_nonfinite(post2, act_mean)
        pre_bad = _count_nonfinite(pre2, pre_mean)
        nonfinite = post_bad + pre_bad

        act_h = histogram_rows(post2, specs[0], has_nan=bool(post_bad.any()), probe=probe)
        pre_h = histogram_rows(pre2, specs[1], has_nan=bool(pre_bad.any()), probe=probe)
        b = specs[0].bins
        if activation in BOUNDED:  # exactly ±1 (tanh) or 0/1 (sigmoid) belong to the edge bins
            act_h[:, b] += act_h[:, b + 1]
            act_h[:, b + 1] = 0

        # saturation straight from the histogram: the threshold is a bin edge
        if activation == "tanh":
            k = round((TANH_SATURATION + 1.0) / 2.0 * b)  # bins beyond +-0.97
            saturation = (act_h[:, 1 : 1 + b - k].sum(1) + act_h[:, 1 + k : 1 + b].sum(1)) / post2.shape[1]
        elif activation == "sigmoid":
            k = round((0.5 + SIGMOID_SATURATION) * b)
            saturation = (act_h[:, 1 : 1 + b - k].sum(1) + act_h[:, 1 + k : 1 + b].sum(1)) / post2.shape[1]
        else:
            saturation = torch.zeros(L, device=post.device)

        if activation in RELU_FAMILY:
            dead = (pre.amax(1) <= 0).sum(1) / W
        else:
            dead = (torch.abs(post, out=scratch.view_as(post)).amax(1) == 0).sum(1) / W

        # Symmetry: the share of the variance common to all units; 1 for a constant layer.
        total = within + between
        symmetry = torch.where(total > 0, between / total, torch.ones_like(total))
        symmetry = torch.where(torch.isfinite(total), symmetry, torch.full_like(total, float("nan")))

        if all(g is not None for g in probe.grad):
            grad = probe.stacked("grad", probe.grad).view(L, -1)
            grad_out_norm = _norms_rows(grad)
            grad_nonfinite = _count_nonfinite(grad, grad_out_norm)
            grad_h = histogram_rows(grad, specs[2], has_nan=bool(grad_nonfinite.any()), probe=probe)
        else:  # no backward pass reached the layers
            grad_out_norm = torch.zeros(L, device=post.device)
            grad_nonfinite = torch.zeros(L, device=post.device)
            grad_h = torch.zeros(L, specs[2].bins + 3, device=post.device)

    return [
        act_mean,
        act_std,
        pre_mean,
        pre_std,
        saturation,
        dead,
        symmetry,
        nonfinite,
        grad_out_norm,
        grad_nonfinite,
        act_h,
        pre_h,
        grad_h,
    ]


def _norms_rows(x: torch.Tensor) -> torch.Tensor:
    """Row L2 norms; recomputed in float64 only where float32's sum of squares overflowed."""
    n = torch.linalg.vector_norm(x, dim=1)
    if bool(torch.isinf(n).any()):
        n = torch.linalg.vector_norm(x, dim=1, dtype=torch.float64)
    return n


def norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of each tensor; float64 only where float32's sum of squares overflowed."""
    n = torch.stack(torch._foreach_norm(tensors))
    if bool(torch.isinf(n).any()):
        n = torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float64))
    return n


def weight_stats(
    probe: LayerProbe, model: MLP, update: Optional[tuple[torch.Tensor, torch.Tensor]]
) -> list[torch.Tensor]:
    """Weight-gradient norm, weight std, update:data and grad:data ratios of each hidden layer.

    ``update`` is (||W_after - W_before||, ||W_before||) of this step's update, or None (record 0).
    """
    with torch.no_grad():
        weights = model.hidden_weights()
        grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in weights]
        grad_norm = norms(grads).double()
        w_norm = norms(weights).double()
        # Var = E[w^2] - E[w]^2 from the norm already computed; where that would cancel
        # (|mean| >> std, e.g. a constant init) recompute those layers two-pass.
        means = torch.stack([w.mean() for w in weights]).double()
        n = probe.numels(weights)
        var = (w_norm.square() / n - means.square()).clamp_(min=0.0)
        weight_std = var.sqrt()
        risky = (var < 1e-3 * means.square()).tolist()
        if any(risky):
            for i in (i for i, r in enumerate(risky) if r):
                w = weights[i]
                sd = torch.linalg.vector_norm(w - w.mean()).double() / math.sqrt(w.numel())
                weight_std[i] = 0.0 if sd <= ROUNDING * abs(float(means[i])) else sd
        if update is None:
            update_ratio = torch.zeros_like(w_norm)
        else:
            # relative to the weights the update was applied to: x / 0 = inf (a zero matrix
            # that moves), 0 / 0 = 0 (nothing moved)
            change, before = update[0].double(), update[1].double()
            update_ratio = torch.where(change == 0, torch.zeros_like(change), change / before)
        grad_data_ratio = torch.where(grad_norm == 0, torch.zeros_like(grad_norm), grad_norm / w_norm)
    return [grad_norm, weight_std, update_ratio, grad_data_ratio]


def pack(tensors: list[torch.Tensor]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """One device->host transfer for a list of tensors: a float64 vector and the shapes."""
    shapes = [tuple(t.shape) for t in tensors]
    flat = torch.cat([t.detach().reshape(-1) for t in tensors]).to(torch.float64)  # cat promotes dtypes
    return flat.cpu().numpy(), shapes


def unpack(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    out = []
    pos = 0
    for shape in shapes:
        n = int(np.prod(shape)) if shape else 1
        out.append(flat[pos : pos + n].reshape(shape))
        pos += n
    return out
