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


def host_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """(L,) float32 L2 norm of each tensor in one call, no overflow check: the host checks
    (:func:`fix_overflow`), so no device sync per call."""
    return torch.stack(torch._foreach_norm(tensors))


def fix_overflow(norm: np.ndarray, rows: "list[torch.Tensor] | torch.Tensor") -> np.ndarray:
    """float64 norms of the rows whose float32 norm overflowed to inf (finite values whose
    squares pass float32's range); NaN and finite norms stay. ``rows[i]``: the values of norm i."""
    over = np.flatnonzero(np.isposinf(norm))
    if over.size:
        norm = norm.astype(np.float64)
        with torch.no_grad():
            for i in over.tolist():
                norm[i] = float(torch.linalg.vector_norm(rows[i], dtype=torch.float64))
    return norm


class _Plan:
    """The buffers and views :func:`measure_layers` works in, made once per (L, B, W, device,
    specs): at depth 10 a step's statistics are ~40 torch calls, and rebuilding ~20 views and
    buffer lookups per step cost a quarter of them again."""

    def __init__(self, L: int, B: int, W: int, like: torch.Tensor, specs: tuple[HistSpec, HistSpec, HistSpec]) -> None:
        dev = like.device
        self.key = (L, B, W, dev, specs)
        self.both = torch.empty((2, L, B, W), dtype=like.dtype, device=dev)  # [0] post, [1] pre
        self.post, self.pre = self.both[0], self.both[1]
        self.both_rows = self.both.view(2 * L, -1)
        self.post2, self.pre2 = self.post.view(L, -1), self.pre.view(L, -1)
        self.scratch = torch.empty((L, B * W), dtype=torch.float32, device=dev)
        self.scratch3 = self.scratch.view(L, B, W)
        self.st = st = hist_stride(B, W)
        self.n = n = len(range(0, B * W, st))
        self.post_s, self.pre_s = self.post2[:, ::st], self.pre2[:, ::st]  # strided views, no copy
        self.idx = torch.empty((3, L, n), dtype=torch.int32, device=dev)
        self.idx_rows, self.idx_flat = self.idx.view(3 * L, n), self.idx.view(-1)
        self.fscratch = torch.empty((L, n), dtype=torch.float32, device=dev)
        self.sample = torch.empty((L, n), dtype=like.dtype, device=dev)
        # one row of (bins + 3) columns per kind and layer in one shared bincount
        starts, pos = [], 0
        for spec in specs:
            for _ in range(L):
                starts.append(pos)
                pos += spec.bins + 3
        self.offsets = torch.tensor(starts, dtype=torch.int32, device=dev).unsqueeze(1)
        self.sizes = [L * (spec.bins + 3) for spec in specs]
        self.minlength = pos
        self.const = [torch.tensor(1.0 - spec.lo * spec.bins / (spec.hi - spec.lo), device=dev) for spec in specs[:2]]


def _plan(probe: "LayerProbe", first: torch.Tensor, specs: tuple[HistSpec, HistSpec, HistSpec]) -> _Plan:
    B, W = first.shape
    key = (probe.depth, B, W, first.device, specs)
    plan = getattr(probe, "_plan", None)
    if plan is None or plan.key != key or plan.both.dtype != first.dtype:
        plan = _Plan(probe.depth, B, W, first, specs)
        probe._plan = plan  # type: ignore[attr-defined]
        probe._buffers["post"], probe._buffers["pre"] = plan.post, plan.pre  # the slow paths' (L, B, W)
    return plan


def _value_index(const: torch.Tensor, x: torch.Tensor, spec: HistSpec, idx: torch.Tensor,
                 scratch: torch.Tensor) -> None:
    """:func:`hist_index` of a value histogram with its constant made once (the same numbers)."""
    b = spec.bins
    torch.add(const, x, alpha=b / (spec.hi - spec.lo), out=scratch)
    scratch.clamp_(0.0, b + 1.0).nan_to_num_(nan=b + 2.0)
    idx.copy_(scratch)  # float -> int32 truncates; every value is >= 0 here


def measure_layers(
    probe: LayerProbe,
    activation: str,
    specs: tuple[HistSpec, HistSpec, HistSpec],
) -> dict[str, torch.Tensor]:
    """The big reductions over the captured layers, as device tensors (finished on the host by
    :func:`finish_layers`). Each full-size tensor is read as few times as possible, in as few
    calls as possible (at depth 10 the calls, not the data, cost): post and pre stacked into one
    (2, L, B, W) buffer, one row-sum and one norm call for both; (|h| or |s - 0.5|) once into
    scratch for saturation and dead units; gradient: one norm call; histograms on the documented
    subsample, one bincount. Overflow and NaN checks run on the host after the one copy
    (:func:`finish_layers`), not as a device sync per reduction."""
    with torch.no_grad():
        first = probe.post[0]
        assert first is not None
        L = probe.depth
        P = _plan(probe, first, specs)
        torch.stack(probe.post, out=P.post)  # type: ignore[arg-type]
        torch.stack(probe.pre, out=P.pre)  # type: ignore[arg-type]
        rows = P.both.sum(3)  # (2, L, B)
        nrm = torch.linalg.vector_norm(P.both_rows, dim=1)  # (2L,), inf checked on the host
        out: dict[str, torch.Tensor] = {"rows": rows, "norms": nrm}
        scratch = P.scratch
        # saturation: in-place float compares on one scratch copy (bool reductions are slower)
        if activation == "tanh":
            torch.abs(P.post2, out=scratch)
            out["unit_max"] = P.scratch3.amax(1)  # (L, W) max |h| over the batch
            out["saturated"] = scratch.gt_(TANH_SATURATION).sum(1)
        elif activation == "sigmoid":
            out["unit_max"] = P.post.amax(1)  # sigmoid >= 0: max h over the batch
            torch.sub(P.post2, 0.5, out=scratch).abs_()
            out["saturated"] = scratch.gt_(SIGMOID_SATURATION).sum(1)
        elif activation in RELU_FAMILY:
            out["unit_max"] = P.pre.amax(1)  # dead where the pre-activation is <= 0 on every example
        else:
            out["unit_max"] = torch.abs(P.post, out=P.scratch3).amax(1)

        # the three histograms of the documented subsample: indices into one buffer, one bincount
        idx = P.idx
        _value_index(P.const[0], P.post_s, specs[0], idx[0], P.fscratch)
        _value_index(P.const[1], P.pre_s, specs[1], idx[1], P.fscratch)
        grads = probe.grad
        have_grads = all(g is not None for g in grads)
        if have_grads:
            # the gradient is read once for its norm and once for the subsample: never stacked whole.
            # NaN goes to the over column here; finish_layers redoes the layers whose norm is NaN.
            out["grad_out_norm"] = host_norms(grads)  # type: ignore[arg-type]
            n, st = P.n, P.st
            torch.stack([torch.as_strided(g, (n,), (st,)) for g in grads], out=P.sample)  # type: ignore[arg-type]
            hist_index(P.sample, specs[2], idx[2], P.fscratch, has_nan=False)
        else:  # no backward pass reached the layers: every count 0 (the zeros spread to under)
            out["grad_out_norm"] = torch.zeros(L, device=first.device)
            idx[2].fill_(0)
        P.idx_rows.add_(P.offsets)
        counts = torch.bincount(P.idx_flat, minlength=P.minlength)
        out["counts"] = counts
        if not have_grads:
            out["grad_zero"] = torch.ones(1)
    return out


def split_raw(raw: dict[str, np.ndarray], specs: tuple[HistSpec, HistSpec, HistSpec]) -> dict[str, np.ndarray]:
    """The host arrays of :func:`measure_layers` under finish_layers' keys (views, no copies)."""
    if "rows" not in raw:
        return raw
    rows, nrm = raw.pop("rows"), raw.pop("norms")
    L = rows.shape[1]
    raw["post_rows"], raw["pre_rows"], raw["post_norm"], raw["pre_norm"] = rows[0], rows[1], nrm[:L], nrm[L:]
    counts, pos = raw.pop("counts"), 0
    for kind, spec in zip(("act_h", "pre_h", "grad_h"), specs):
        size = L * (spec.bins + 3)
        raw[kind] = counts[pos : pos + size].reshape(L, spec.bins + 3)
        pos += size
    if raw.pop("grad_zero", None) is not None:
        raw["grad_h"] = np.zeros((L, specs[2].bins + 3))
    return raw


def grad_hist_rows(probe: LayerProbe, layers: list[int], spec: HistSpec) -> np.ndarray:
    """The exact gradient histogram rows (NaN in its own column) of the listed layers, on the same
    subsample as :func:`measure_layers` (the slow path, for layers whose gradient holds NaN)."""
    rows = np.zeros((len(layers), spec.bins + 3))
    with torch.no_grad():
        for j, i in enumerate(layers):
            g = probe.grad[i]
            assert g is not None
            st = hist_stride(*g.shape)
            sample = g.reshape(1, -1)[:, ::st]
            idx = torch.empty(sample.shape, dtype=torch.int32)
            hist_index(sample, spec, idx, torch.empty(sample.shape), has_nan=True)
            rows[j] = torch.bincount(idx.view(-1), minlength=spec.bins + 3).numpy()
    return rows


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
    raw = split_raw(raw, specs)
    post_rows = np.asarray(raw["post_rows"], dtype=np.float64)  # float32 from the device: sum in float64
    pre_rows = np.asarray(raw["pre_rows"], dtype=np.float64)
    L, B = post_rows.shape
    pre, post = probe._buffers["pre"], probe._buffers["post"]
    W = post.shape[2]
    res: dict[str, np.ndarray] = {}
    for kind, rows, x in (("act", post_rows, post), ("pre", pre_rows, pre)):
        norm = fix_overflow(raw[f"{'post' if kind == 'act' else 'pre'}_norm"], x.view(L, -1))
        mean, within, between, risky = moments_from_sums(rows, norm, W)
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
    have_grads = all(g is not None for g in probe.grad)
    gnorm = raw["grad_out_norm"]
    res["grad_out_norm"] = (fix_overflow(gnorm, probe.grad) if have_grads else gnorm).astype(np.float64)  # type: ignore[arg-type]
    gfinite = np.isfinite(res["grad_out_norm"])
    res["grad_nonfinite"] = np.zeros(L)
    grad_h = raw["grad_h"]
    if not gfinite.all() and have_grads:
        with torch.no_grad():
            for i in np.flatnonzero(~gfinite).tolist():
                res["grad_nonfinite"][i] = float((~torch.isfinite(probe.grad[i])).sum())  # type: ignore[arg-type]
        nan_layers = np.flatnonzero(np.isnan(res["grad_out_norm"]))
        if nan_layers.size:  # the fast histogram put NaN in the over column: redo those rows exactly
            grad_h = grad_h.astype(np.float64)
            grad_h[nan_layers] = grad_hist_rows(probe, nan_layers.tolist(), specs[2])

    scale = hist_scale(B, W)
    for kind, spec in zip(("act", "pre", "grad"), specs):
        h = (grad_h if kind == "grad" else raw[f"{kind}_h"]).astype(np.float64)
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
