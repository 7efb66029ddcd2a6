"""Per-unit pictures on 2-D data: each hidden unit's output over the input plane.

TensorFlow Playground's most striking view, and the clearest picture of symmetry: under a zeros or
constant init every unit of a layer draws the same picture; under a random init each draws its own.
The plane is the decision boundary's (``Trainer.decision_grid``): the training inputs' box widened
by ``margin``, sampled on a ``resolution`` x ``resolution`` grid. Cost: one forward pass of
resolution^2 points through the first ``layer + 1`` blocks, in eval mode (BatchNorm uses its running
statistics, dropout is off), so it changes nothing of the training run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from initviz.engine.record import freeze

MAX_UNITS = 16  # pictures per lane: enough to see symmetry or variety, few enough to draw cheaply
IDENTICAL_TOLERANCE = 1e-6  # relative: units whose pictures differ less than this are the same


@dataclass(frozen=True)
class UnitPictures:
    """The outputs of the first units of one hidden layer over the input plane (rows = y)."""

    layer: int  # hidden layer, 1-based like every caption
    units: np.ndarray  # (n,) indices of the units shown
    outputs: np.ndarray  # (n, res, res) float32 post-activation outputs, row-major (y, x)
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: int  # units in the layer (n <= width)
    step: int
    identical: bool  # every shown unit draws the same picture (symmetry never broke)


def plane(x: torch.Tensor, resolution: int, margin: float) -> tuple[torch.Tensor, tuple[float, float], tuple[float, float]]:
    """(points (res*res, 2), x range, y range): the grid ``Trainer.decision_grid`` draws on."""
    lo = x.min(0).values - margin
    hi = x.max(0).values + margin
    gx = torch.linspace(float(lo[0]), float(hi[0]), resolution, device=x.device)
    gy = torch.linspace(float(lo[1]), float(hi[1]), resolution, device=x.device)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def unit_pictures(
    trainer: Any, layer: int, max_units: int = MAX_UNITS, resolution: int = 32, margin: float = 0.25
) -> Optional[UnitPictures]:
    """Hidden layer ``layer``'s (1-based, clamped to the depth) first ``max_units`` unit outputs
    over the input plane of ``trainer``'s run; None when its data is not 2-D."""
    if trainer.data.info.n_features != 2:
        return None
    model = trainer.model
    depth = len(model.blocks)
    layer = int(min(max(layer, 1), depth))
    with torch.no_grad():
        pts, x_range, y_range = plane(trainer.data.x_train, resolution, margin)
        model.eval()
        try:
            h = pts
            for block in model.blocks[:layer]:
                h = block(h)
        finally:
            model.train()
        width = h.shape[1]
        n = int(min(max_units, width))
        out = h[:, :n].T.reshape(n, resolution, resolution).to(torch.float32).cpu().numpy()
    finite = out[np.isfinite(out)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    spread = float(np.nanmax(np.abs(out - out[:1]))) if n > 1 and finite.size == out.size else (0.0 if n <= 1 else np.inf)
    return UnitPictures(
        layer=layer,
        units=freeze(np.arange(n)),
        outputs=freeze(out),
        x_range=x_range,
        y_range=y_range,
        width=int(width),
        step=int(trainer.step_count),
        identical=bool(spread <= IDENTICAL_TOLERANCE * max(scale, 1e-30)) if n > 1 else False,
    )
