"""Measure every hidden layer on one forward/backward pass; results come back as numpy.

How it works: a forward hook on each block's activation module keeps its input (the
pre-activation) and output (the post-activation), and ``Tensor.register_hook`` on the output
catches dLoss/d(post-activation) during backward. No full backward hooks (they break on in-place
ops and misfire on the first layer). All hidden layers have the same width, so pre- and
post-activations are copied once into reused ``(L, B, W)`` buffers (one copy each: ~0.1 ms at
depth 20, against ~12 more small torch calls per layer without it); the gradients are never
stacked whole (their norm is one foreach call, their histogram reads a strided sample).

Cost model ("statistics at the floor"): the device does only the big reductions, each full
tensor read as few times as possible -- row sums and an L2 norm per tensor (moments from raw
sums, :func:`moments_from_sums`), one scratch pass for saturation and dead units, three
histograms of a documented subsample counted by one bincount -- and everything crosses to the
host in one copy, where numpy finishes the small (L,) arithmetic (:func:`finish_layers`).
Exact slow paths run only where they are needed: layers whose raw sums would cancel, and
non-finite layers.

Definitions (documented in the README):

- histograms use fixed, half-open bins [a, b) (``hist_specs``); values below/above the range
  (``±inf`` included) are counted in ``*_under``/``*_over``, NaN in neither (see ``nonfinite``).
  For tanh and sigmoid the upper bound itself (an output of exactly 1) is in the last bin.
  The gradient histogram has one bin per power of two of |g|, edges given in log10 units.
  Where a layer holds more than HIST_SAMPLE (8192) values, the three histograms count a fixed
  diagonal subsample (:func:`hist_stride`), counts scaled to the layer's size; every other
  statistic below counts every value.
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
        self._cache: dict[tuple, torch.Tensor] = {}

    def buffer(self, name: str, like: torch.Tensor, dtype: Optional[torch.dtype] = None,
               shape: Optional[tuple[int, ...]] = None) -> torch.Tensor:
        """A scratch tensor reused across steps: fresh multi-MB allocations page-fault every step."""
        dtype = like.dtype if dtype is None else dtype
        shape = tuple(like.shape) if shape is None else shape
        buf = self._buffers.get(name)
        if buf is None or tuple(buf.shape) != shape or buf.dtype != dtype or buf.device != like.device:
            buf = torch.empty(shape, dtype=dtype, device=like.device)
            self._buffers[name] = buf
        return buf

    def numels_np(self, weights: list[torch.Tensor]) -> np.ndarray:
        """(L,) float64 element counts of the hidden weight matrices (numpy, cached)."""
        n = getattr(self, "_numels_np", None)
        if n is None or len(n) != len(weights):
            n = np.array([w.numel() for w in weights], dtype=np.float64)
            self._numels_np = n
        return n

    def stacked(self, name: str, tensors: list[Optional[torch.Tensor]]) -> torch.Tensor:
        """The captured per-layer tensors stacked to (L, B, W) into a reused buffer."""
        first = tensors[0]
        assert first is not None
        out = self.buffer(name, first, shape=(len(tensors), *first.shape))
        return torch.stack(tensors, out=out)  # type: ignore[arg-type]

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


def hist_index(x: torch.Tensor, spec: HistSpec, idx: torch.Tensor, scratch: torch.Tensor, has_nan: bool = True) -> None:
    """Fill idx (L, N) int32 with each value's column of a (bins + 3)-column histogram row.

    Columns: 0 = under (-inf included), 1..bins = the bins, bins + 1 = over (+inf included),
    bins + 2 = NaN. ``has_nan=False`` when x is known to hold no NaN skips a pass (gradients).
    ``scratch``: float32 like idx.
    """
    b = spec.bins
    if spec.log10_abs:
        # float32 exponent field: |x| in [2^(e-127), 2^(e-126)); 0 and denormals have e = 0.
        torch.bitwise_right_shift(x.view(torch.int32), 23, out=idx)  # any strides
        lo_e = GRAD_EXP_LO + 127
        idx.bitwise_and_(0xFF).clamp_(lo_e - 1, lo_e + b).sub_(lo_e - 1)  # under -> 0, over -> b + 1
        if has_nan:  # slow path, only when NaN is present: NaN to the last column
            idx.masked_fill_(torch.isnan(x), b + 2)
    else:
        scale = b / (spec.hi - spec.lo)
        torch.add(torch.tensor(1.0 - spec.lo * scale, device=x.device), x, alpha=scale, out=scratch)
        scratch.clamp_(0.0, b + 1.0).nan_to_num_(nan=b + 2.0)
        idx.copy_(scratch)  # float -> int32 truncates; every value is >= 0 here


def _offsets(probe: "LayerProbe", L: int, specs: tuple[HistSpec, ...], device: torch.device) -> torch.Tensor:
    """(len(specs) * L, 1) int32 start of each histogram row in one shared bincount (cached)."""
    key = ("offsets", L, tuple(s.bins for s in specs))
    off = probe._cache.get(key)
    if off is None:
        starts, pos = [], 0
        for spec in specs:
            for _ in range(L):
                starts.append(pos)
                pos += spec.bins + 3
        off = torch.tensor(starts, dtype=torch.int32, device=device).unsqueeze(1)
        probe._cache[key] = off
    return off


EPS32 = float(torch.finfo(torch.float32).eps)
ROUNDING = 16 * EPS32  # deviations below this share of |mean| are float32 rounding, not spread
# Moments come from raw float32 sums (one read of the data each). Where the variance is a small
# share of E[x^2] the subtraction E[x^2] - E[x]^2 would cancel, so those layers are redone
# two-pass (centred); below this share of E[x^2] a layer counts as at risk.
RISKY_SHARE = 0.05
# Histograms count a fixed subsample where a layer holds more than HIST_SAMPLE values: every
# s-th value of the layer's (batch, units) array in memory order, s the smallest stride >=
# B * W / HIST_SAMPLE that shares no factor with the width W, so the sample walks diagonally
# through examples and units (every example and every unit appears) -- counts scaled by
# N / (values sampled). Exact (every value) where B * W <= HIST_SAMPLE. A block of whole examples
# was tried first: gradients of a saturated net differ mostly between examples, and 32 of 128
# examples put their histogram 0.19 (total variation) from the full one; the diagonal sample
# stays within 0.05 (tests/engine/test_engine_oracle.py). Every other statistic counts every value.
HIST_SAMPLE = 8192


def hist_stride(batch: int, width: int) -> int:
    """The stride of the histograms' subsample (1 = every value)."""
    n = batch * width
    if n <= HIST_SAMPLE:
        return 1
    s = -(-n // HIST_SAMPLE)
    while math.gcd(s, width) != 1:
        s += 1
    return s


def hist_scale(batch: int, width: int) -> float:
    """Values in the layer over values the histograms count (1.0 when they count every value)."""
    n = batch * width
    return n / len(range(0, n, hist_stride(batch, width)))


def _moments(x: torch.Tensor, scratch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per layer of x (L, B, W), two-pass: mean, std, and the std's two parts (float64, (L,)).

    Law of total variance over (example b, unit u): Var = E_b[Var_u h] + Var_b(E_u h), i.e.
    ``within`` (units differ) + ``between`` (the common signal). One centred pass, no Welford.
    Row means of identical values are off by an ulp in float32, so squared deviations below
    the rounding floor count as 0: a constant layer has std 0, identical units symmetry 1.
    Used for the layers where the raw sums of :func:`moments_from_sums` would cancel.
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


def moments_from_sums(rows: np.ndarray, norm: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """(mean, within, between, at_risk) per layer from row sums (L, B) and L2 norms (L,).

    E[x^2] = norm^2 / N, E_b[m_b^2] with m_b = row sum / W: within = E[x^2] - E_b[m_b^2],
    between = E_b[m_b^2] - E[x]^2, in float64. ``at_risk`` marks layers where either part is
    below RISKY_SHARE of E[x^2] (the float32 sums' rounding could show): redo them two-pass.
    """
    L, B = rows.shape
    rm = rows.astype(np.float64) / width
    mean = rm.mean(1)
    ex2 = np.square(norm.astype(np.float64)) / (B * width)
    ebm2 = np.square(rm).mean(1)
    with np.errstate(invalid="ignore", over="ignore"):
        within = ex2 - ebm2
        between = ebm2 - np.square(mean)
        at_risk = (within < RISKY_SHARE * ex2) | (between < 0) | ((within + between) < RISKY_SHARE * ex2)
    return mean, np.maximum(within, 0.0), np.maximum(between, 0.0), at_risk


def _row_norms(x: torch.Tensor) -> torch.Tensor:
    """Row L2 norms of x (L, N); float64 only where float32's sum of squares overflowed."""
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


def measure_layers(
    probe: LayerProbe,
    activation: str,
    specs: tuple[HistSpec, HistSpec, HistSpec],
) -> dict[str, torch.Tensor]:
    """The big reductions over the captured layers, as device tensors (finished on the host by
    :func:`finish_layers`). Each full-size tensor is read as few times as possible:
    post: row sums, norm, and (|h| or |s - 0.5|) once into scratch for saturation and dead
    units; pre: row sums and norm; gradient: norm; histograms on the documented subsample."""
    with torch.no_grad():
        pre = probe.stacked("pre", probe.pre)  # (L, B, W)
        post = probe.stacked("post", probe.post)  # (L, B, W)
        L, B, W = pre.shape
        post2, pre2 = post.view(L, -1), pre.view(L, -1)
        out: dict[str, torch.Tensor] = {
            "post_rows": post.sum(2),  # (L, B)
            "post_norm": _row_norms(post2),  # (L,)
            "pre_rows": pre.sum(2),
            "pre_norm": _row_norms(pre2),
        }
        scratch = probe.buffer("scratch", post2, torch.float32)
        # saturation: in-place float compares on one scratch copy (bool reductions are slower)
        if activation == "tanh":
            torch.abs(post2, out=scratch)
            out["unit_max"] = scratch.view(L, B, W).amax(1)  # (L, W) max |h| over the batch
            out["saturated"] = scratch.gt_(TANH_SATURATION).sum(1)
        elif activation == "sigmoid":
            out["unit_max"] = post.amax(1)  # sigmoid >= 0: max h over the batch
            torch.sub(post2, 0.5, out=scratch).abs_()
            out["saturated"] = scratch.gt_(SIGMOID_SATURATION).sum(1)
        elif activation in RELU_FAMILY:
            out["unit_max"] = pre.amax(1)  # dead where the pre-activation is <= 0 on every example
        else:
            out["unit_max"] = torch.abs(post, out=scratch.view_as(post)).amax(1)

        # the three histograms of the documented subsample: indices into one buffer, one bincount
        st = hist_stride(B, W)
        n = len(range(0, B * W, st))
        idx = probe.buffer("hist_idx", post2, torch.int32, shape=(3, L, n))
        fscratch = probe.buffer("hist_f", post2, torch.float32, shape=(L, n))
        hist_index(post2[:, ::st], specs[0], idx[0], fscratch)  # strided views, no copy
        hist_index(pre2[:, ::st], specs[1], idx[1], fscratch)
        grads = probe.grad
        if all(g is not None for g in grads):
            # the gradient is read once for its norm and once for the subsample: never stacked whole
            out["grad_out_norm"] = norms(grads)  # type: ignore[arg-type]
            has_nan = not bool(torch.isfinite(out["grad_out_norm"]).all())
            sample = probe.stacked("grad_sample", [g.view(-1)[::st] for g in grads])  # type: ignore[union-attr]
            hist_index(sample, specs[2], idx[2], fscratch, has_nan)
        else:  # no backward pass reached the layers: every count 0 (the zeros spread to under)
            out["grad_out_norm"] = torch.zeros(L, device=post.device)
            idx[2].fill_(0)
        idx.view(3 * L, n).add_(_offsets(probe, L, specs, post.device))
        sizes = [L * (spec.bins + 3) for spec in specs]
        counts = torch.bincount(idx.view(-1), minlength=sum(sizes))
        for kind, spec, part in zip(("act_h", "pre_h", "grad_h"), specs, counts.split(sizes)):
            out[kind] = part.view(L, spec.bins + 3)
        if not all(g is not None for g in grads):
            out["grad_h"] = torch.zeros(L, specs[2].bins + 3, device=post.device)
    return out


def count_nonfinite(x: torch.Tensor, layers: list[int]) -> np.ndarray:
    """Non-finite values in each listed layer of x (L, B, W) (the slow path, on divergence only)."""
    with torch.no_grad():
        return (~torch.isfinite(x[layers])).view(len(layers), -1).sum(1).double().cpu().numpy()


def finish_layers(
    raw: dict[str, np.ndarray],
    probe: LayerProbe,
    activation: str,
    specs: tuple[HistSpec, HistSpec, HistSpec],
) -> dict[str, np.ndarray]:
    """The per-layer record fields (float64 (L,), histograms (L, bins + 3)) from the raw sums.

    The small arithmetic runs in numpy on the host: on (L,) arrays a numpy call costs a
    fraction of a torch call. Layers at risk of cancellation and non-finite layers get their
    exact slow paths from the stacked tensors the probe still holds.
    """
    post_rows, pre_rows = raw["post_rows"], raw["pre_rows"]
    L, B = post_rows.shape
    pre, post = probe._buffers["pre"], probe._buffers["post"]
    W = post.shape[2]
    res: dict[str, np.ndarray] = {}
    for kind, rows, x in (("act", post_rows, post), ("pre", pre_rows, pre)):
        mean, within, between, risky = moments_from_sums(rows, raw[f"{'post' if kind == 'act' else 'pre'}_norm"], W)
        layer_sum = rows.sum(1)
        finite = np.isfinite(layer_sum)
        redo = np.flatnonzero(risky & finite)
        if redo.size:
            with torch.no_grad():
                sub = x[torch.as_tensor(redo)]
                m, _, w, b = _moments(sub, torch.empty_like(sub))
            mean[redo], within[redo], between[redo] = m.numpy(), w.numpy(), b.numpy()
        bad = np.flatnonzero(~finite)
        if bad.size:  # NaN or inf somewhere (or finite values summing past float32): the mean is
            # what the values give, the spread NaN, as two-pass float32 arithmetic would give
            with torch.no_grad():
                sub = x[torch.as_tensor(bad)]
                m, _, w, b = _moments(sub, torch.empty_like(sub))
            mean[bad], within[bad], between[bad] = m.numpy(), w.numpy(), b.numpy()
        res[f"{kind}_mean"], res[f"{kind}_std"] = mean, np.sqrt(within + between)
        res[f"_{kind}_bad"] = np.zeros(L)
        if bad.size:
            res[f"_{kind}_bad"][bad] = count_nonfinite(x, bad.tolist())
        if kind == "act":
            total = within + between
            with np.errstate(invalid="ignore", divide="ignore"):
                sym = np.where(total > 0, between / np.where(total > 0, total, 1.0), 1.0)
            res["symmetry"] = np.where(np.isfinite(total), sym, np.nan)
    res["pre_mean"], res["pre_std"] = res.pop("pre_mean"), res.pop("pre_std")
    res["nonfinite"] = res.pop("_act_bad") + res.pop("_pre_bad")
    res["saturation"] = raw["saturated"] / (B * W) if "saturated" in raw else np.zeros(L)
    unit_max = raw["unit_max"]
    with np.errstate(invalid="ignore"):
        res["dead"] = ((unit_max <= 0) if activation in RELU_FAMILY else (unit_max == 0)).sum(1) / W
    res["grad_out_norm"] = raw["grad_out_norm"].astype(np.float64)
    gfinite = np.isfinite(res["grad_out_norm"])
    res["grad_nonfinite"] = np.zeros(L)
    if not gfinite.all() and all(g is not None for g in probe.grad):
        with torch.no_grad():
            for i in np.flatnonzero(~gfinite).tolist():
                res["grad_nonfinite"][i] = float((~torch.isfinite(probe.grad[i])).sum())

    scale = hist_scale(B, W)
    for kind, spec in zip(("act", "pre", "grad"), specs):
        h = raw[f"{kind}_h"].astype(np.float64)
        if kind == "act" and activation in BOUNDED:  # exactly ±1 (tanh) or 0/1 (sigmoid): edge bins
            b = spec.bins
            h[:, b] += h[:, b + 1]
            h[:, b + 1] = 0
        res[f"{kind}_h"] = h * scale if scale != 1 else h
    return res


def weight_stats(
    grad_norm: np.ndarray,
    w_norm: np.ndarray,
    w_sum: np.ndarray,
    numels: np.ndarray,
    weights: list[torch.Tensor],
    update: Optional[tuple[np.ndarray, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Weight-gradient norm, weight std, update:data and grad:data ratios of each hidden layer.

    From norms and sums taken once per step (the optimizer's, while the weights were hot).
    ``update`` is (||W_after - W_before||, ||W_before||) of this step's update, or None (record 0).
    """
    grad_norm, w_norm = grad_norm.astype(np.float64), w_norm.astype(np.float64)
    # Var = E[w^2] - E[w]^2 from the norm already computed; where that would cancel
    # (|mean| >> std, e.g. a constant init) recompute those layers two-pass.
    means = w_sum.astype(np.float64) / numels
    var = np.maximum(np.square(w_norm) / numels - np.square(means), 0.0)
    weight_std = np.sqrt(var)
    risky = np.flatnonzero(var < 1e-3 * np.square(means))
    if risky.size:
        with torch.no_grad():
            for i in risky.tolist():
                w = weights[i]
                m = float(w.double().mean())
                sd = float(torch.linalg.vector_norm(w - w.mean()).double()) / math.sqrt(w.numel())
                weight_std[i] = 0.0 if sd <= ROUNDING * abs(m) else sd
    with np.errstate(divide="ignore", invalid="ignore"):
        if update is None:
            update_ratio = np.zeros_like(w_norm)
        else:
            # relative to the weights the update was applied to: x / 0 = inf (a zero matrix
            # that moves), 0 / 0 = 0 (nothing moved)
            change, before = update[0].astype(np.float64), update[1].astype(np.float64)
            update_ratio = np.where(change == 0, 0.0, change / before)
        grad_data_ratio = np.where(grad_norm == 0, 0.0, grad_norm / w_norm)
    return {"grad_norm": grad_norm, "weight_std": weight_std, "update_ratio": update_ratio,
            "grad_data_ratio": grad_data_ratio}
