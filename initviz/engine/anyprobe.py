"""Probes for any network: one probe point per activation call, each with its own shape.

The MLP probe (probes.py) stacks equal-width layers as (L, B, W); this one makes no such
assumption, so it measures a CNN, a residual net or a user's own ``nn.Module``. Every
statistic is the one the MLP path records, with the same definitions and pitfalls handled
(probes.py's module docstring), computed by the same pure functions; the record keys are the
same (``finish`` returns what ``probes.finish_layers`` returns).

Units and examples: a tensor (B, C, *spatial) has C units (channels) and B * prod(spatial)
"examples" (every example at every position): the mean over units, symmetry across channels
(the rows are (B·H·W, C)), and a dead channel is off on every example and every position.
A (B, W) tensor is the MLP's (examples, units).

Capture: a forward pre-hook copies the activation's input (before an in-place activation
overwrites it) and a forward hook copies its output, each once into a reused (N, C) buffer in
the units-last layout (so a later in-place op in the model cannot change what was captured);
``Tensor.register_hook`` on the output keeps dLoss/d(output). A module called twice in one
forward pass gets a point per call ("act", "act#2"), found by running an example through the
model (:func:`find_probe_points` with ``inputs``). Keyword inputs of the activation module are
read too. Everything measured crosses to the host in one copy (:func:`to_host`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn

from initviz.engine.probes import (
    ACT_RANGES,
    BOUNDED,
    RELU_FAMILY,
    SIGMOID_SATURATION,
    TANH_SATURATION,
    _moments,
    _row_norms,
    hist_index,
    hist_scale,
    hist_specs,
    hist_stride,
    moments_from_sums,
    norms,
    weight_stats,
)
from initviz.engine.record import HistSpec

# Activation module type -> the probes' activation name (histogram range, saturation, dead rule).
# Subclasses count as their base (isinstance, first match in this order).
ACTIVATION_TYPES: tuple[tuple[type, str], ...] = (
    (nn.Tanh, "tanh"),
    (nn.Hardtanh, "tanh"),  # ReLU6 is a Hardtanh subclass: listed before it below would not match
    (nn.Sigmoid, "sigmoid"),
    (nn.Hardsigmoid, "sigmoid"),
    (nn.ReLU, "relu"),
    (nn.Softplus, "relu"),
    (nn.LeakyReLU, "leaky_relu"),
    (nn.PReLU, "leaky_relu"),
    (nn.GELU, "gelu"),
    (nn.SiLU, "gelu"),
    (nn.Mish, "gelu"),
    (nn.Hardswish, "gelu"),
    (nn.ELU, "elu"),
    (nn.CELU, "elu"),
    (nn.SELU, "selu"),
)
# Element-wise activation modules with no range of their own: hooked, histogrammed as "linear".
OTHER_ACTIVATIONS: tuple[type, ...] = (nn.Softsign, nn.Tanhshrink, nn.Hardshrink, nn.Softshrink, nn.LogSigmoid, nn.RReLU)


def activation_name(module: nn.Module) -> Optional[str]:
    """The probes' activation name of an activation module, "linear" for an unknown element-wise
    one, None for a module that is not an activation."""
    if isinstance(module, nn.ReLU6):
        return "relu"
    for cls, name in ACTIVATION_TYPES:
        if isinstance(module, cls):
            return name
    if isinstance(module, OTHER_ACTIVATIONS):
        return "linear"
    return None


@dataclass(frozen=True, eq=False)
class ProbePoint:
    """One measured layer: an activation module's ``call``-th call (0-based) in a forward pass.

    ``name`` is the module path ("blocks.3.act"; "#2" appended for a second call), ``activation``
    a key of probes.ACT_RANGES (it picks the histogram range and the saturation/dead rules).
    """

    name: str
    module: nn.Module
    activation: str
    call: int = 0

    def __post_init__(self) -> None:
        if self.activation not in ACT_RANGES:
            raise ValueError(f"activation {self.activation!r} of probe point {self.name!r}: choose one of {', '.join(ACT_RANGES)}")


def _call_model(model: nn.Module, inputs: Any, kwargs: Optional[Mapping[str, Any]]) -> None:
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    model(*args, **dict(kwargs or {}))


def find_probe_points(
    model: nn.Module, inputs: Any = None, kwargs: Optional[Mapping[str, Any]] = None
) -> list[ProbePoint]:
    """A probe point for every activation module of ``model``, in forward order.

    Without ``inputs``: one point per module, in ``named_modules`` order. With ``inputs`` (a
    tensor or a tuple of positional arguments, plus ``kwargs``): one forward pass under no_grad
    (eval mode, restored after) finds the order the activations run in and one point per call,
    so a module used twice gives "act" and "act#2"; modules that never run are left out.
    """
    named = [(name or type(model).__name__, m, activation_name(m)) for name, m in model.named_modules()]
    named = [(n, m, a) for n, m, a in named if a is not None]
    if inputs is None:
        return [ProbePoint(n, m, a) for n, m, a in named]
    by_id = {id(m): (n, a) for n, m, a in named}
    order: list[tuple[int, int]] = []  # (module id, call index) in the order they run
    calls: dict[int, int] = {}

    def pre_hook(module: nn.Module, args: Any) -> None:
        k = calls.get(id(module), 0)
        calls[id(module)] = k + 1
        order.append((id(module), k))

    seen: set[int] = set()
    handles = []
    for _, m, _ in named:
        if id(m) not in seen:  # a module registered under two names is hooked once
            seen.add(id(m))
            handles.append(m.register_forward_pre_hook(pre_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            _call_model(model, inputs, kwargs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    modules = {id(m): m for _, m, _ in named}
    points = []
    for mid, k in order:
        name, act = by_id[mid]
        points.append(ProbePoint(name if k == 0 else f"{name}#{k + 1}", modules[mid], act, k))
    return points


def find_weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(module path, module) of every Linear and Conv layer with a weight, in named_modules order."""
    kinds = (nn.Linear, nn.modules.conv._ConvNd)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds) and getattr(m, "weight", None) is not None]


def _first_tensor(args: tuple, kwargs: Mapping[str, Any]) -> Optional[torch.Tensor]:
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            return a
    return None


def _units_last(x: torch.Tensor) -> torch.Tensor:
    """x (B, C, *spatial) as (B, *spatial, C): a view; (B, W) unchanged; 0-/1-D as (N, 1)."""
    if x.dim() < 2:
        return x.reshape(-1, 1)
    return x.movedim(1, -1) if x.dim() > 2 else x


class AnyProbe:
    """Hooks the probe points; ``enabled`` switches capturing on for one forward/backward pass.

    Per pass: ``measure()`` (device tensors) -> :func:`to_host` (the one copy) -> ``finish()``
    (the record's per-layer arrays, keyed as ``probes.finish_layers`` keys them); ``snapshot()``
    does all three. ``clear()`` before each captured pass.
    """

    def __init__(self, points: Sequence[ProbePoint]) -> None:
        self.points = list(points)
        if not self.points:
            raise ValueError("no probe points: the model has no activation module to measure")
        self.depth = len(self.points)
        self.enabled = False
        self.specs = [hist_specs(p.activation) for p in self.points]
        self.pre: list[Optional[torch.Tensor]] = [None] * self.depth  # (N, C) each, units last
        self.post: list[Optional[torch.Tensor]] = [None] * self.depth
        self.grad: list[Optional[torch.Tensor]] = [None] * self.depth  # the output's own shape
        self._slot: dict[tuple[int, int], int] = {(id(p.module), p.call): i for i, p in enumerate(self.points)}
        self._calls: dict[int, int] = {}
        self._pending: dict[int, list[int]] = {}  # module id -> point indices whose forward is running
        self._buffers: dict[tuple[int, str], torch.Tensor] = {}
        self._handles = []
        seen: set[int] = set()
        for p in self.points:
            if id(p.module) in seen:
                continue
            seen.add(id(p.module))
            self._handles.append(p.module.register_forward_pre_hook(self._pre_hook, with_kwargs=True))
            self._handles.append(p.module.register_forward_hook(self._post_hook, with_kwargs=True))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.points]

    # --- capture --------------------------------------------------------------------------
    def _copy(self, i: int, kind: str, x: torch.Tensor) -> torch.Tensor:
        """x in the units-last layout, copied into point i's reused buffer: (N, C)."""
        v = _units_last(x.detach())
        shape = (int(np.prod(v.shape[:-1], dtype=np.int64)), int(v.shape[-1]))
        buf = self._buffers.get((i, kind))
        if buf is None or tuple(buf.shape) != shape or buf.dtype != x.dtype or buf.device != x.device:
            buf = torch.empty(shape, dtype=x.dtype, device=x.device)
            self._buffers[(i, kind)] = buf
        buf.view(v.shape).copy_(v)
        return buf

    def _pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if not self.enabled:
            return
        k = self._calls.get(id(module), 0)
        self._calls[id(module)] = k + 1
        i = self._slot.get((id(module), k))
        self._pending.setdefault(id(module), []).append(-1 if i is None else i)
        x = _first_tensor(args, kwargs)
        if i is not None and x is not None:
            self.pre[i] = self._copy(i, "pre", x)  # before an in-place activation overwrites it

    def _post_hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if not self.enabled:
            return
        stack = self._pending.get(id(module))
        i = stack.pop() if stack else -1
        if i < 0 or not isinstance(output, torch.Tensor):
            return
        self.post[i] = self._copy(i, "post", output)
        if output.requires_grad:

            def keep_grad(g: torch.Tensor) -> None:
                self.grad[i] = g.detach()

            output.register_hook(keep_grad)

    def clear(self) -> None:
        self.pre = [None] * self.depth
        self.post = [None] * self.depth
        self.grad = [None] * self.depth
        self._calls.clear()
        self._pending.clear()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def numels_np(self, weights: list[torch.Tensor]) -> np.ndarray:
        """(len(weights),) float64 element counts (what the trainer's weight statistics divide by)."""
        return np.array([w.numel() for w in weights], dtype=np.float64)

    # --- measuring ------------------------------------------------------------------------
    def captured(self) -> list[bool]:
        """Per point: did the pass reach it (pre- and post-activation both captured, same shape)?"""
        return [a is not None and b is not None and a.shape == b.shape for a, b in zip(self.pre, self.post)]

    def measure(self, weights: Optional[Sequence[torch.Tensor]] = None) -> dict[str, torch.Tensor]:
        """The big reductions of the captured pass as device tensors (what probes.measure_layers
        computes per layer): per point p{i}.post_rows (N,), .post_norm, .pre_rows, .pre_norm,
        .unit_max (C,), .saturated; grad_out_norm (L,); hist: every point's three histograms
        counted by one bincount. With ``weights``: w.grad_norm, w.norm, w.sum, each (len,)."""
        out: dict[str, torch.Tensor] = {}
        ok = self.captured()
        self._ok = ok
        idx_parts: list[torch.Tensor] = []
        pos = 0
        self._hist_slots: list[Optional[tuple[int, ...]]] = []
        with torch.no_grad():
            dev = next((t.device for t in self.post if t is not None), torch.device("cpu"))
            grads_ok = [ok[i] and self.grad[i] is not None and self.grad[i].numel() == self.post[i].numel()
                        for i in range(self.depth)]
            present = [self.grad[i] for i in range(self.depth) if grads_ok[i]]
            gn = norms(present) if present else torch.zeros(0, device=dev)  # type: ignore[arg-type]
            has_nan = bool(present) and not bool(torch.isfinite(gn).all())
            full = torch.zeros(self.depth, dtype=gn.dtype, device=dev)
            if present:
                full[torch.tensor([i for i in range(self.depth) if grads_ok[i]], device=dev)] = gn
            out["grad_out_norm"] = full
            for i, p in enumerate(self.points):
                if not ok[i]:
                    self._hist_slots.append(None)
                    continue
                pre, post = self.pre[i], self.post[i]
                N, C = post.shape  # type: ignore[union-attr]
                k = f"p{i}."
                out[k + "post_rows"] = post.sum(1)  # type: ignore[union-attr]
                out[k + "post_norm"] = _row_norms(post.view(1, -1))  # type: ignore[union-attr]
                out[k + "pre_rows"] = pre.sum(1)  # type: ignore[union-attr]
                out[k + "pre_norm"] = _row_norms(pre.view(1, -1))  # type: ignore[union-attr]
                act = p.activation
                if act == "tanh":
                    a = post.abs()  # type: ignore[union-attr]
                    out[k + "unit_max"] = a.amax(0)
                    out[k + "saturated"] = a.gt_(TANH_SATURATION).sum().reshape(1)
                elif act == "sigmoid":
                    out[k + "unit_max"] = post.amax(0)  # type: ignore[union-attr]
                    out[k + "saturated"] = torch.sub(post, 0.5).abs_().gt_(SIGMOID_SATURATION).sum().reshape(1)  # type: ignore[arg-type]
                elif act in RELU_FAMILY:
                    out[k + "unit_max"] = pre.amax(0)  # type: ignore[union-attr]
                else:
                    out[k + "unit_max"] = post.abs().amax(0)  # type: ignore[union-attr]
                st = hist_stride(N, C)
                n = len(range(0, N * C, st))
                idx = torch.empty((3, 1, n), dtype=torch.int32, device=dev)
                scratch = torch.empty((1, n), dtype=torch.float32, device=dev)
                specs = self.specs[i]
                hist_index(post.view(1, -1)[:, ::st], specs[0], idx[0], scratch)  # type: ignore[union-attr]
                hist_index(pre.view(1, -1)[:, ::st], specs[1], idx[1], scratch)  # type: ignore[union-attr]
                starts = []
                for j, spec in enumerate(specs):
                    starts.append(pos)
                    if j < 2:
                        idx[j].add_(pos)
                    if j < 2 or grads_ok[i]:
                        idx_parts.append(idx[j].view(-1))  # a view: the gradient's row is filled below
                    pos += spec.bins + 3
                if grads_ok[i]:
                    g = self.grad[i].reshape(1, -1)[:, ::st]  # type: ignore[union-attr]
                    hist_index(g, specs[2], idx[2], scratch, has_nan)
                    idx[2].add_(starts[2])
                self._hist_slots.append(tuple(starts))
            if idx_parts:
                out["hist"] = torch.bincount(torch.cat(idx_parts), minlength=pos)
            if weights is not None:
                ws = list(weights)
                grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in ws]
                out["w.grad_norm"] = norms(grads)
                out["w.norm"] = norms(ws)
                out["w.sum"] = torch.stack([w.sum() for w in ws])
        return out

    def finish(self, raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The per-layer record fields from :func:`to_host` of :meth:`measure`: float64 (L,) for
        act_mean .. grad_nonfinite, histograms act_h/pre_h/grad_h (L, bins + 3) per kind (every
        point's activation may differ: each row is counted in that point's own bins, so points
        of one kind share bins when they share an activation). Points the pass did not reach: NaN."""
        L = self.depth
        res = {k: np.full(L, np.nan) for k in ("act_mean", "act_std", "pre_mean", "pre_std", "symmetry", "saturation", "dead")}
        res["nonfinite"] = np.zeros(L)
        res["grad_nonfinite"] = np.zeros(L)
        res["grad_out_norm"] = np.asarray(raw["grad_out_norm"], dtype=np.float64).copy()
        hists = {kind: np.zeros((L, self.specs[0][j].bins + 3)) for j, kind in enumerate(("act", "pre", "grad"))}
        counts = raw.get("hist")
        for i, p in enumerate(self.points):
            if not self._ok[i]:
                continue
            k = f"p{i}."
            pre, post = self.pre[i], self.post[i]
            N, C = post.shape  # type: ignore[union-attr]
            for kind, name, x in (("act", "post", post), ("pre", "pre", pre)):
                rows = np.asarray(raw[k + name + "_rows"]).reshape(1, N)
                mean, within, between, risky = moments_from_sums(rows, np.asarray(raw[k + name + "_norm"]).reshape(1), C)
                finite = bool(np.isfinite(rows.sum()))
                if (risky[0] and finite) or not finite:  # exact two-pass (probes.finish_layers' slow paths)
                    with torch.no_grad():
                        sub = x.view(1, N, C)  # type: ignore[union-attr]
                        m, _, w, b = _moments(sub, torch.empty_like(sub))
                    mean, within, between = m.numpy(), w.numpy(), b.numpy()
                res[f"{kind}_mean"][i] = mean[0]
                res[f"{kind}_std"][i] = np.sqrt(within[0] + between[0])
                if not finite:
                    with torch.no_grad():
                        res["nonfinite"][i] += float((~torch.isfinite(x)).sum())  # type: ignore[arg-type]
                if kind == "act":
                    total = within[0] + between[0]
                    sym = between[0] / total if total > 0 else 1.0
                    res["symmetry"][i] = sym if np.isfinite(total) else np.nan
            sat = raw.get(k + "saturated")
            res["saturation"][i] = float(sat[0]) / (N * C) if sat is not None else 0.0
            unit_max = np.asarray(raw[k + "unit_max"])
            with np.errstate(invalid="ignore"):
                dead = (unit_max <= 0) if p.activation in RELU_FAMILY else (unit_max == 0)
            res["dead"][i] = dead.sum() / C
            g = self.grad[i]
            if not np.isfinite(res["grad_out_norm"][i]) and g is not None:
                with torch.no_grad():
                    res["grad_nonfinite"][i] = float((~torch.isfinite(g)).sum())
            scale = hist_scale(N, C)
            slots = self._hist_slots[i]
            assert slots is not None and counts is not None
            for j, kind in enumerate(("act", "pre", "grad")):
                spec = self.specs[i][j]
                h = np.asarray(counts[slots[j] : slots[j] + spec.bins + 3], dtype=np.float64).copy()
                if kind == "act" and p.activation in BOUNDED:  # exactly the upper bound: last bin
                    h[spec.bins] += h[spec.bins + 1]
                    h[spec.bins + 1] = 0
                if hists[kind].shape[1] != h.shape[0]:
                    raise ValueError(f"probe point {p.name!r}: {kind} histogram has {h.shape[0] - 3} bins, others {hists[kind].shape[1] - 3}")
                hists[kind][i] = h * scale if scale != 1 else h
        res["act_h"], res["pre_h"], res["grad_h"] = hists["act"], hists["pre"], hists["grad"]
        return res

    def finish_weights(
        self,
        raw: Mapping[str, np.ndarray],
        weights: Sequence[torch.Tensor],
        update: Optional[tuple[np.ndarray, np.ndarray]] = None,
    ) -> dict[str, np.ndarray]:
        """grad_norm, weight_std, update_ratio, grad_data_ratio per weight (probes.weight_stats),
        from a :meth:`measure` that was given ``weights``; ``update``: (||dW||, ||W before||) or None."""
        ws = list(weights)
        return weight_stats(np.asarray(raw["w.grad_norm"]), np.asarray(raw["w.norm"]), np.asarray(raw["w.sum"]),
                            self.numels_np(ws), ws, update)

    def snapshot(
        self,
        weights: Optional[Sequence[torch.Tensor]] = None,
        update: Optional[tuple[np.ndarray, np.ndarray]] = None,
    ) -> tuple[dict[str, np.ndarray], Optional[dict[str, np.ndarray]]]:
        """measure -> one host copy -> finish (and finish_weights when ``weights`` are given)."""
        raw = to_host(self.measure(weights))
        layers = self.finish(raw)
        return layers, (self.finish_weights(raw, weights, update) if weights is not None else None)

    @property
    def act_specs(self) -> list[tuple[HistSpec, HistSpec, HistSpec]]:
        """Per point: its (post, pre, gradient) histogram specs."""
        return list(self.specs)


def to_host(raw: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Every tensor of ``raw`` on the host, as float64 numpy of its shape, in one device -> host copy."""
    names = list(raw)
    if not names:
        return {}
    with torch.no_grad():
        flat = torch.cat([raw[k].reshape(-1).double() for k in names])
    host = flat.cpu().numpy()
    parts, pos = {}, 0
    for k in names:
        n = raw[k].numel()
        parts[k] = host[pos : pos + n].reshape(raw[k].shape)
        pos += n
    return parts


def points_for(modules: Iterable[tuple[str, nn.Module, str]]) -> list[ProbePoint]:
    """Probe points for explicitly named modules: (name, module, activation) each, one call."""
    return [ProbePoint(n, m, a) for n, m, a in modules]
