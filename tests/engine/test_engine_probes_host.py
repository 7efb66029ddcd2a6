"""The checks finish_layers runs on the host after the one copy (no device sync per reduction):
a gradient norm whose float32 sum of squares overflowed is redone in float64, and a layer whose
gradient holds NaN gets its histogram row redone with NaN in no column (the fast path puts NaN in
the overflow column). Each checked against numpy on the same values."""

from __future__ import annotations

import numpy as np
import torch

from engine_oracle import grad_exponent_hist
from initviz.engine import RunConfig, Trainer
from initviz.engine.probes import LOG10_2, finish_layers, hist_scale, hist_stride, measure_layers
from initviz.engine.trainer import _to_host


def _captured(depth: int = 3, width: int = 96, batch: int = 128) -> Trainer:
    """A trainer whose probe holds a captured pass (width * batch > HIST_SAMPLE: subsampled)."""
    t = Trainer(RunConfig(depth=depth, width=width, batch_size=batch, activation="tanh", seed=2))
    t._forward_backward(record=True)
    return t


def _finish(t: Trainer) -> dict[str, np.ndarray]:
    raw = _to_host(measure_layers(t.probe, "tanh", t.specs))
    return finish_layers(raw, t.probe, "tanh", t.specs)


def test_gradient_nan_is_in_no_histogram_column_and_inf_in_overflow() -> None:
    t = _captured()
    g = t.probe.grad[1].clone()
    flat = g.view(-1)
    flat[::7] = float("nan")
    flat[3::11] = float("inf")
    flat[5::13] = -float("inf")
    t.probe.grad[1] = g
    res = _finish(t)
    B, W = g.shape
    st, scale = hist_stride(B, W), hist_scale(B, W)
    assert st > 1  # the documented subsample, not every value
    spec = t.specs[2]
    counts, under, over = grad_exponent_hist(g.numpy().reshape(-1)[::st], round(spec.lo / LOG10_2), round(spec.hi / LOG10_2))
    row = res["grad_h"][1]
    np.testing.assert_allclose(row[1 : spec.bins + 1], counts * scale, rtol=1e-9)
    assert np.isclose(row[0], under * scale) and np.isclose(row[spec.bins + 1], over * scale)
    assert over > 0  # the infinities are there, and the NaN are not among them
    assert res["grad_nonfinite"][1] == int((~torch.isfinite(g)).sum())
    assert np.isnan(res["grad_out_norm"][1])
    # the other layers are untouched by the slow path: their gradients are finite
    assert np.all(np.isfinite(res["grad_out_norm"][[0, 2]]))


def test_gradient_norm_that_overflows_float32_is_redone_in_float64() -> None:
    t = _captured()
    g = t.probe.grad[0] * 1e25  # finite values whose squares pass float32's range
    assert torch.isfinite(g).all() and not torch.isfinite(torch.linalg.vector_norm(g))
    t.probe.grad[0] = g
    res = _finish(t)
    want = np.linalg.norm(g.numpy().astype(np.float64))
    assert np.isfinite(res["grad_out_norm"][0])
    np.testing.assert_allclose(res["grad_out_norm"][0], want, rtol=1e-6)
    assert res["grad_nonfinite"][0] == 0
