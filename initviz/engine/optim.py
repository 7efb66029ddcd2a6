"""SGD (with momentum) and Adam written out, step for step what torch.optim computes on the CPU.

Why not ``torch.optim``: constructing any ``torch.optim.Optimizer`` imports ``torch._dynamo``
(about +71 MB of RSS per process), and the trainer wants the update's size and the updated
weights' norm and sum of each hidden layer while they are hot in the cache. These classes do
exactly the arithmetic of torch's single-tensor (CPU default) code path, op for op, so the
weights match ``torch.optim.SGD``/``Adam`` bit for bit (tests/engine/test_engine_optim.py), and
their ``state_dict`` has torch's layout (``momentum_buffer``; ``step``, ``exp_avg``,
``exp_avg_sq``), which saved runs store.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import torch


class _Optimizer:
    """The common part: parameters, per-parameter state, zero_grad and (load_)state_dict."""

    defaults: dict[str, Any]

    def __init__(self, params: Iterable[torch.Tensor], defaults: dict[str, Any]) -> None:
        self.params = list(params)
        self.defaults = defaults
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = False) -> None:
        grads = [p.grad for p in self.params if p.grad is not None]
        if set_to_none:
            for p in self.params:
                p.grad = None
        elif grads:
            torch._foreach_zero_(grads)

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: {"state": {param index: {name: tensor}}, "param_groups": [...]}."""
        state = {i: dict(self.state[p]) for i, p in enumerate(self.params) if p in self.state}
        group = {**self.defaults, "params": list(range(len(self.params)))}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the state of a state_dict (tensors cast to each parameter's dtype, 'step' kept)."""
        new: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        for i, s in state_dict.get("state", {}).items():
            p = self.params[int(i)]
            new[p] = {k: (v.clone() if k == "step" else v.to(dtype=p.dtype, device=p.device).clone())
                      for k, v in s.items()}
        self.state = new

    @staticmethod
    def _tracked(track: Sequence[torch.Tensor]) -> dict[int, int]:
        """id(param) -> position in track."""
        return {id(p): i for i, p in enumerate(track)}

    @staticmethod
    def _track_out(track: Sequence[torch.Tensor], moves: list[Optional[torch.Tensor]], scale: float) -> torch.Tensor:
        """(len(track), 3) float32: scale * ||moves[j]||, ||track[j]||, sum track[j]; a parameter
        without a gradient did not move (0). All norms in one foreach call (at depth 10 one call
        per layer and quantity costs more than the reading)."""
        zero = torch.zeros(())
        L = len(track)
        norms = torch._foreach_norm([zero if m is None else m for m in moves] + list(track))
        out = torch.stack([*norms, *(p.sum() for p in track)]).view(3, L).t()
        if scale != 1.0:
            out[:, 0] *= scale
        return out

    def step(self, track: Sequence[torch.Tensor] = ()) -> Optional[torch.Tensor]:
        """Update every parameter. With ``track``: a (len(track), 3) float32 tensor per tracked
        parameter of (||update||, ||p after||, sum of p after), taken while p is in the cache."""
        raise NotImplementedError


class SGD(_Optimizer):
    """torch.optim.SGD(params, lr, momentum): no dampening, no Nesterov, no weight decay."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": 0, "weight_decay": 0,
                                  "nesterov": False, "maximize": False})
        self.lr, self.momentum = lr, momentum

    @torch.no_grad()
    def step(self, track: Sequence[torch.Tensor] = ()) -> Optional[torch.Tensor]:
        where = self._tracked(track)
        moves: list[Optional[torch.Tensor]] = [None] * len(track)
        for p in self.params:
            grad = p.grad
            if grad is None:
                continue
            if self.momentum != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.detach().clone()
                    state["momentum_buffer"] = buf
                else:
                    buf.mul_(self.momentum).add_(grad, alpha=1)
                grad = buf
            p.add_(grad, alpha=-self.lr)
            j = where.get(id(p))
            if j is not None:
                moves[j] = grad  # SGD moves p by exactly lr * grad (or lr * momentum buffer)
        return self._track_out(track, moves, self.lr) if track else None


class Adam(_Optimizer):
    """torch.optim.Adam(params, lr): betas (0.9, 0.999), eps 1e-8, no weight decay, no amsgrad."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": 0, "amsgrad": False,
                                  "maximize": False})
        self.lr, self.betas, self.eps = lr, betas, eps

    @torch.no_grad()
    def step(self, track: Sequence[torch.Tensor] = ()) -> Optional[torch.Tensor]:
        where = self._tracked(track)
        moves: list[Optional[torch.Tensor]] = [None] * len(track)
        beta1, beta2 = self.betas
        for p in self.params:
            grad = p.grad
            if grad is None:
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = torch.tensor(0.0, dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
            step_t += 1
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = step_t.item()
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = self.lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            j = where.get(id(p))
            if j is not None:
                before = p.detach().clone()
                p.addcdiv_(exp_avg, denom, value=-step_size)
                moves[j] = before.sub_(p)  # the real change
            else:
                p.addcdiv_(exp_avg, denom, value=-step_size)
        return self._track_out(track, moves, 1.0) if track else None


def make(params: Iterable[torch.Tensor], name: str, lr: float, momentum: float) -> _Optimizer:
    """The optimizer a RunConfig names ('sgd' uses momentum, 'adam' ignores it)."""
    if name == "adam":
        return Adam(params, lr=lr)
    return SGD(params, lr=lr, momentum=momentum)


__all__ = ["SGD", "Adam", "make"]
