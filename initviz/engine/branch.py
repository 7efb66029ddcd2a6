"""The residual branches' own size: std of each block's A * f(h), for arch resmlp.

The layer probes (probes.py) see each block's pre-activation and its output, the residual stream;
this one hooks the same residual sums (``ResidualSum``, whose third input is the branch f(h)) and
captures on the passes the layer probe captures (it follows that probe's ``enabled``).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from initviz.engine.model import ResMLP


class BranchProbe:
    """std over (batch, units) of each residual branch A * f(h), on the recorded pass."""

    def __init__(self, model: ResMLP, follow: Any) -> None:
        self.follow = follow  # an object with ``enabled`` (the trainer's LayerProbe)
        self.scales = [float(b.join.scale) for b in model.blocks]
        self.branch: list[Optional[torch.Tensor]] = [None] * len(model.blocks)
        self._handles = [b.join.register_forward_hook(self._make_hook(i)) for i, b in enumerate(model.blocks)]

    def _make_hook(self, i: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if self.follow.enabled:
                self.branch[i] = inputs[2].detach()

        return hook

    def measure(self) -> torch.Tensor:
        """(L,) float64 std of A * f(h) per block (NaN if the pass was not captured); clears the capture."""
        branch, self.branch = self.branch, [None] * len(self.branch)
        if not branch or any(f is None for f in branch):
            return torch.full((len(branch),), float("nan"), dtype=torch.float64)
        with torch.no_grad():
            x = torch.stack(branch)  # type: ignore[arg-type]  # (L, B, W)
            # centred before the norm: a branch with a large bias would cancel in E[x^2] - E[x]^2
            centred = x - x.mean((1, 2), keepdim=True, dtype=torch.float64).to(x.dtype)
            std = torch.linalg.vector_norm(centred, dim=(1, 2), dtype=torch.float64) / (x[0].numel() ** 0.5)
            return std * torch.tensor(self.scales, dtype=torch.float64, device=x.device).abs()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
