"""unit_pictures(): each unit's output over the input plane, checked against a forward pass by hand."""

from __future__ import annotations

import numpy as np
import torch

from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.pictures import unit_pictures


def cfg(init: InitSpec, **kw) -> RunConfig:
    return RunConfig(depth=3, width=24, batch_size=32, activation="tanh", init=init, **kw)


def test_outputs_equal_a_hand_forward_pass_on_the_decision_grid() -> None:
    t = Trainer(cfg(InitSpec("xavier_normal")))
    p = unit_pictures(t, layer=2, max_units=5, resolution=12)
    g = t.decision_grid(resolution=12)
    assert (p.x_range, p.y_range) == (g.x_range, g.y_range)  # the boundary's plane
    assert p.outputs.shape == (5, 12, 12) and p.width == 24 and p.layer == 2 and p.step == 0
    # by hand: the grid point of row i (y), column j (x), through blocks 1 and 2 in eval mode
    xs = np.linspace(*g.x_range, 12)
    ys = np.linspace(*g.y_range, 12)
    i, j = 7, 3
    h = torch.tensor([[xs[j], ys[i]]], dtype=torch.float32)
    t.model.eval()
    with torch.no_grad():
        for b in t.model.blocks[:2]:
            h = torch.tanh(b.linear(h))
    t.model.train()
    np.testing.assert_allclose(p.outputs[:, i, j], h[0, :5].numpy(), rtol=1e-5, atol=1e-6)
    assert not p.identical
    assert not p.outputs.flags.writeable


def test_zeros_and_constant_inits_draw_one_picture_for_every_unit() -> None:
    for init in (InitSpec("zeros"), InitSpec("constant", value=0.1)):
        t = Trainer(cfg(init))
        t.step(3)
        p = unit_pictures(t, layer=3)
        assert p.identical, init
        assert np.ptp(p.outputs, axis=0).max() <= 1e-6 * max(np.abs(p.outputs).max(), 1e-30)
        assert p.step == 3


def test_layer_is_clamped_and_other_data_has_none() -> None:
    t = Trainer(cfg(InitSpec("kaiming_normal")))
    assert unit_pictures(t, layer=99).layer == 3
    assert unit_pictures(t, layer=0).layer == 1
    digits = Trainer(RunConfig(depth=2, width=16, dataset="digits"))
    assert unit_pictures(digits, layer=1) is None
