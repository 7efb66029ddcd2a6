"""The general probe (anyprobe.py) against torch recomputations written here, and against the MLP
probe it must agree with number for number."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initviz.engine.anyprobe import AnyProbe, ProbePoint, activation_name, find_probe_points, find_weight_layers
from initviz.engine.config import RunConfig
from initviz.engine.probes import finish_layers, measure_layers
from initviz.engine.trainer import Trainer


# --- oracle ------------------------------------------------------------------------------------
def channel_rows(x: torch.Tensor) -> torch.Tensor:
    """(B, C, *spatial) -> (B * spatial, C) float64; (B, W) unchanged."""
    x = x.detach().double()
    return x.movedim(1, -1).reshape(-1, x.shape[1]) if x.dim() > 2 else x


def oracle(pre: torch.Tensor, post: torch.Tensor, grad: torch.Tensor, activation: str) -> dict[str, float]:
    """Every scalar statistic of one layer, by hand, in float64."""
    p, h = channel_rows(pre), channel_rows(post)
    N, C = h.shape
    row_mean = h.mean(1)
    out = {
        "act_mean": float(h.mean()),
        "act_std": float(h.std(unbiased=False)),
        "pre_mean": float(p.mean()),
        "pre_std": float(p.std(unbiased=False)),
        "symmetry": float(row_mean.var(unbiased=False) / h.var(unbiased=False)),
        "grad_out_norm": float(grad.double().norm()),
    }
    if activation == "tanh":
        out["saturation"] = float((h.abs() > 0.97).double().mean())
    else:
        out["saturation"] = 0.0
    if activation in ("relu", "leaky_relu", "gelu", "elu", "selu"):
        out["dead"] = float((p.amax(0) <= 0).double().mean())
    else:
        out["dead"] = float((h.abs().amax(0) == 0).double().mean())
    return out


def check_against(got: dict[str, np.ndarray], i: int, expect: dict[str, float], n_values: int) -> None:
    for key, value in expect.items():
        assert got[key][i] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    for kind in ("act_h", "pre_h", "grad_h"):  # every value counted once (under/over/NaN columns included)
        assert got[kind][i].sum() == pytest.approx(n_values), kind


# --- a small CNN -------------------------------------------------------------------------------
class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.act1 = nn.ReLU(inplace=True)  # in place: the probe must keep the pre-activation first
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.act2 = nn.Tanh()
        self.head = nn.Linear(6 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act2(self.conv2(self.act1(self.conv1(x))))
        return self.head(h.flatten(1))


def test_cnn_matches_a_hand_recomputation():
    torch.manual_seed(0)
    model = SmallCNN()
    with torch.no_grad():
        model.conv1.weight.mul_(3.0)  # make tanh saturate a bit and some ReLU channels die
        model.conv1.bias.fill_(-0.3)
        model.conv1.weight[0].zero_()  # channel 0 is off at every example and position: dead
        model.conv1.bias[0] = -1.0
        model.conv2.weight.mul_(6.0)  # and tanh saturates
    x = torch.randn(5, 1, 8, 8)
    y = torch.tensor([0, 1, 2, 0, 1])
    points = find_probe_points(model)
    assert [(p.name, p.activation) for p in points] == [("act1", "relu"), ("act2", "tanh")]
    probe = AnyProbe(points)
    probe.enabled = True
    F.cross_entropy(model(x), y).backward()
    probe.enabled = False
    weights = [m.weight for _, m in find_weight_layers(model)]
    layers, wstats = probe.snapshot(weights)

    # the same forward written out with functional calls on the same parameters
    z1 = F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)
    h1 = torch.relu(z1)
    h1.retain_grad()
    z2 = F.conv2d(h1, model.conv2.weight, model.conv2.bias, stride=2, padding=1)
    h2 = torch.tanh(z2)
    h2.retain_grad()
    logits = F.linear(h2.flatten(1), model.head.weight, model.head.bias)
    grads = [t.grad.clone() for t in weights]
    F.cross_entropy(logits, y).backward()
    check_against(layers, 0, oracle(z1, h1, h1.grad, "relu"), z1.numel())
    check_against(layers, 1, oracle(z2, h2, h2.grad, "tanh"), z2.numel())
    assert layers["dead"][0] > 0 and layers["saturation"][1] > 0  # the cases are exercised
    # histogram of the post-activation: exact counts (fewer values than the subsample)
    spec = probe.specs[1][0]
    ref, _ = np.histogram(channel_rows(h2).numpy().ravel(), bins=spec.edges)
    assert np.array_equal(layers["act_h"][1][1 : spec.bins + 1], ref)
    # weight side: the model's own gradients (snapshot taken before the oracle's backward added to them)
    for i, t in enumerate(weights):
        assert wstats["grad_norm"][i] == pytest.approx(float(grads[i].double().norm()), rel=1e-6)
        assert wstats["weight_std"][i] == pytest.approx(float(t.detach().double().std(unbiased=False)), rel=1e-6)


# --- a residual net: one ReLU module used twice, in place, called with a keyword ------------------
class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(input=self.conv1(x))  # keyword input
        out = self.conv2(out)
        return self.relu(out + x)  # the same module again


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.blocks = nn.Sequential(ResBlock(4), ResBlock(4))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def test_residual_net_shared_inplace_keyword_matches_recomputation():
    torch.manual_seed(1)
    model = ResNet()
    x = torch.randn(3, 2, 6, 6)
    y = torch.tensor([0, 1, 1])
    points = find_probe_points(model, x)
    assert [p.name for p in points] == ["blocks.0.relu", "blocks.0.relu#2", "blocks.1.relu", "blocks.1.relu#2"]
    probe = AnyProbe(points)
    probe.enabled = True
    F.cross_entropy(model(x), y).backward()
    probe.enabled = False
    layers, _ = probe.snapshot()

    pres, posts = [], []
    h = F.conv2d(x, model.stem.weight, model.stem.bias, padding=1)
    for blk in model.blocks:
        z = F.conv2d(h, blk.conv1.weight, blk.conv1.bias, padding=1)
        a = torch.relu(z)
        a.retain_grad()
        z2 = F.conv2d(a, blk.conv2.weight, blk.conv2.bias, padding=1) + h
        h2 = torch.relu(z2)
        h2.retain_grad()
        pres += [z, z2]
        posts += [a, h2]
        h = h2
    F.cross_entropy(F.linear(h.mean((2, 3)), model.head.weight, model.head.bias), y).backward()
    for i, (z, a) in enumerate(zip(pres, posts)):
        expect = oracle(z, a, a.grad, "relu")
        assert expect["pre_mean"] < expect["act_mean"]  # the pre-activation really has its negatives
        check_against(layers, i, expect, z.numel())


def test_probe_point_not_reached_is_nan_and_a_fresh_pass_reuses_buffers():
    torch.manual_seed(2)
    model = SmallCNN()
    probe = AnyProbe(find_probe_points(model))
    probe.enabled = True
    with torch.no_grad():
        model.act1(torch.randn(2, 4, 8, 8))  # only the first point runs, without gradients
    layers, _ = probe.snapshot()
    assert np.isfinite(layers["act_std"][0]) and np.isnan(layers["act_std"][1])
    assert layers["grad_out_norm"][0] == 0 and layers["grad_h"][0].sum() == 0


def test_activation_names_of_module_types():
    assert activation_name(nn.ReLU(inplace=True)) == "relu"
    assert activation_name(nn.ReLU6()) == "relu"
    assert activation_name(nn.Hardtanh()) == "tanh"
    assert activation_name(nn.LeakyReLU(0.2)) == "leaky_relu"
    assert activation_name(nn.SiLU()) == "gelu"
    assert activation_name(nn.Softsign()) == "linear"
    assert activation_name(nn.Linear(2, 2)) is None
    with pytest.raises(ValueError, match="swish"):
        ProbePoint("x", nn.ReLU(), "swish")


# --- the same numbers as the MLP probe -----------------------------------------------------------
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_mlp_same_numbers_as_layer_probe(activation):
    cfg = RunConfig(depth=4, width=32, activation=activation, batch_size=300, init="xavier_normal")  # 9600 > subsample
    t = Trainer(cfg)
    m = t.model
    probe = AnyProbe([ProbePoint(f"blocks.{i}.act", b.act, activation) for i, b in enumerate(m.blocks)])
    x, y = t.data.x_train[:300], t.data.y_train[:300]
    t.probe.clear()
    t.probe.enabled = probe.enabled = True
    m.zero_grad()
    F.cross_entropy(m(x), y).backward()
    t.probe.enabled = probe.enabled = False
    raw = {k: v.double().cpu().numpy() for k, v in measure_layers(t.probe, activation, t.specs).items()}
    ref = finish_layers(raw, t.probe, activation, t.specs)
    got, wstats = probe.snapshot(m.hidden_weights())
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=0, err_msg=key)
    np.testing.assert_allclose(wstats["grad_norm"], [float(w.grad.norm()) for w in m.hidden_weights()], rtol=1e-6)
