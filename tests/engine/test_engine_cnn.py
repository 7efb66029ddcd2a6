"""arch cnn: conv 3x3 layers on the 8x8 digits: fans as torch counts them, the init's mode, the trainer's
records against a hand recomputation, the theory's recursion, names, scenario, budget and saved runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initviz.cli import main
from initviz.engine import ConfigError, RunConfig, Trainer
from initviz.engine.budget import lane_bytes
from initviz.engine.inits import cnn_plan, describe_init, hidden_fans
from initviz.engine.model import CNN, build_model
from initviz.engine.scenarios import get_scenario

from engine_oracle import batch_for_record


def cnn_config(**changes) -> RunConfig:
    base = dict(arch="cnn", dataset="digits", depth=6, width=8, activation="relu", init="kaiming_normal", batch_size=32)
    return RunConfig(**{**base, **changes}).validate()


def test_fans_are_torchs():
    cfg = cnn_config(depth=7, width=5)
    model = build_model(cfg, 64, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7
    torch_fans = [nn.init._calculate_fan_in_and_fan_out(c.weight) for c in convs]
    assert hidden_fans(cfg, 64) == torch_fans
    assert torch_fans[0] == (9, 45)  # one input channel: fan_in = 1*3*3, fan_out = 5*3*3
    assert [c.out_channels for c in convs] == [5, 5, 5, 10, 10, 20, 20]
    assert [c.stride[0] for c in convs] == [1, 1, 1, 2, 1, 2, 1]
    assert [p.side_out for p in cnn_plan(cfg)] == [8, 8, 8, 4, 4, 2, 2]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_mode_sets_the_weight_std_and_the_formula_says_it(mode):
    cfg = cnn_config(depth=3, width=32, init={"scheme": "kaiming_normal", "mode": mode})
    model = build_model(cfg, 64, 10)
    info = describe_init(cfg)
    for block, fans, predicted in zip(model.blocks, hidden_fans(cfg, 64), info.weight_std):
        fan = fans[0] if mode == "fan_in" else fans[1]
        assert predicted == pytest.approx(np.sqrt(2.0 / fan))
        assert float(block.conv.weight.detach().std()) == pytest.approx(predicted, rel=0.12)
    assert f"fan = {mode}" in info.formula and "fan_in = C_in·3·3" in info.formula
    assert "(layer 1: 9, 288)" in info.formula  # 32 channels out of one: fan_out = 32*9


@pytest.mark.parametrize("scheme", ["orthogonal", "xavier_normal", "pytorch_default", "lecun_normal"])
def test_predicted_weight_std_of_every_conv(scheme):
    cfg = cnn_config(depth=3, width=16, init=scheme)
    model = build_model(cfg, 64, 10)
    for block, predicted in zip(model.blocks, describe_init(cfg).weight_std):
        w = block.conv.weight.detach().double()
        assert float(w.std(unbiased=False)) == pytest.approx(predicted, rel=0.1), (scheme, tuple(w.shape))


def test_cnn_needs_the_digits():
    with pytest.raises(ConfigError, match="dataset.*8x8"):
        RunConfig(arch="cnn", dataset="spirals").validate()
    with pytest.raises(ConfigError, match="residual_scale"):
        cnn_config(residual_scale=0.5)


def test_record_matches_a_hand_recomputation():
    cfg = cnn_config(activation="tanh", init="xavier_normal", bias_init=0.1)
    t = Trainer(cfg)
    rec = t.latest
    x, y = batch_for_record(cfg, 0)
    h = x.view(-1, 1, 8, 8).requires_grad_()
    posts, pres = [], []
    for block, layer in zip(t.model.blocks, cnn_plan(cfg)):
        z = F.conv2d(h, block.conv.weight.detach(), block.conv.bias.detach(), stride=layer.stride, padding=1)
        h = torch.tanh(z)
        h.retain_grad()
        pres.append(z)
        posts.append(h)
    loss = F.cross_entropy(F.linear(h.mean((2, 3)), t.model.head.weight.detach(), t.model.head.bias.detach()), y)
    loss.backward()
    assert rec.loss == pytest.approx(float(loss.detach()), rel=1e-5)
    for i, (z, a) in enumerate(zip(pres, posts)):
        rows = a.detach().double().movedim(1, -1).reshape(-1, a.shape[1])  # (B*H*W, C): channels are the units
        assert rec.act_std[i] == pytest.approx(float(rows.std(unbiased=False)), rel=1e-5)
        assert rec.pre_mean[i] == pytest.approx(float(z.detach().double().mean()), rel=1e-5, abs=1e-7)
        assert rec.symmetry[i] == pytest.approx(float(rows.mean(1).var(unbiased=False) / rows.var(unbiased=False)), rel=1e-4)
        assert rec.saturation[i] == pytest.approx(float((rows.abs() > 0.97).double().mean()), abs=1e-12)
        assert rec.grad_out_norm[i] == pytest.approx(float(a.grad.double().norm()), rel=1e-5)
        n = rec.act_hist[i].sum() + rec.act_under[i] + rec.act_over[i]
        assert n == pytest.approx(z.numel(), rel=1e-6)  # every value counted (scaled where subsampled)
    for i, block in enumerate(t.model.blocks):
        w = block.conv.weight
        assert rec.grad_norm[i] == pytest.approx(float(w.grad.double().norm()), rel=1e-5)
        assert rec.weight_std[i] == pytest.approx(float(w.detach().double().std(unbiased=False)), rel=1e-5)
    assert t.layer_names == [f"blocks.{i}.conv" for i in range(cfg.depth)]
    modules = dict(t.model.named_modules())
    assert all(isinstance(modules[n], nn.Conv2d) for n in t.layer_names)


def test_dead_channel_is_off_everywhere():
    cfg = cnn_config(depth=2)
    t = Trainer(cfg)
    with torch.no_grad():  # channel 3 of layer 1 can never turn on
        t.model.blocks[0].conv.weight[3].zero_()
        t.model.blocks[0].conv.bias[3] = -1.0
    t.history.clear()  # measure the changed net as a fresh record 0
    t.batches._pos = 0
    t._forward_backward(record=True)
    rec = t._emit(update_norms=None, train_seconds=0.0)
    assert rec.dead[0] == pytest.approx(1 / 8) and rec.dead[1] == 0


def test_theory_follows_the_measured_depth_profile():
    """The padding-aware recursion against a wide, large-batch net at init: within 15% per layer."""
    for mode in ("fan_in", "fan_out"):
        cfg = cnn_config(width=32, batch_size=512, init={"scheme": "kaiming_normal", "mode": mode})
        t = Trainer(cfg)
        measured, predicted = t.latest.act_std, t.theory.act_std
        assert np.all(np.abs(predicted / measured - 1) < 0.15), (mode, measured, predicted)
        wg = t.latest.grad_norm / t.latest.grad_norm[-1]
        assert np.all(np.abs(t.theory.weight_grad_gain / wg - 1) < 0.3), (mode, wg, t.theory.weight_grad_gain)
    # zero padding alone: a linear net at fan_in loses the share of taps outside the image, T/9 per layer
    cfg = cnn_config(depth=1, activation="linear", init={"scheme": "kaiming_normal", "mode": "fan_in"})
    from initviz.engine.theory import _taps

    assert _taps(8, 1) == (22 / 8, 22 / 8) and _taps(8, 2) == (11 / 4, 11 / 8)


def test_scenarios_ship():
    s = get_scenario("cnn_fan_modes")
    assert [c.init.mode for c in s.lane_configs] == ["fan_in", "fan_out"]
    assert all(c.arch == "cnn" for c in s.lane_configs)
    r = get_scenario("residual_scaling")
    assert r.config.depth == 50 and [c.residual_scale for c in r.lane_configs] == [1.0, "1/sqrt(depth)", "fixup"]


def test_budget_counts_the_conv_activations():
    small, wide = cnn_config(width=8), cnn_config(width=64)
    assert lane_bytes(wide, history=False) > 8 * (lane_bytes(small, history=False) - 8 * 2**20) / 2  # activations scale with channels
    # the conv weights: sum of C_in * C_out * 9 over layers, times weights + grads + momentum
    params = sum(p.numel() for p in CNN(64, 10, wide).parameters())
    assert lane_bytes(wide, history=False) > 3 * 4 * params


def test_saved_cnn_run_loads_and_continues_identically(tmp_path: Path):
    from initviz.engine.lanes import Lanes
    from initviz.engine.store import load_run, save_run

    cfg = cnn_config(depth=3, width=4, batchnorm=True, batch_size=16)
    original = Lanes([cfg])
    original.step(3)
    opened = load_run(save_run(tmp_path / "cnn.initviz", original))
    assert opened.trainers[0].config == cfg
    for a, b in zip(original.step(2), opened.step(2)):
        assert np.array_equal(a[0].act_std, b[0].act_std) and np.array_equal(a[0].grad_norm, b[0].grad_norm)


def test_cli_run_names_layers_by_module_path(tmp_path: Path):
    import json

    assert main(["run", "--arch", "cnn", "--dataset", "digits", "--depth", "2", "--width", "4", "--steps", "1",
                 "--out", str(tmp_path), "-q"]) == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["config"]["arch"] == "cnn"
    assert stats["layers"] == ["blocks.0.conv", "blocks.1.conv"]
    assert len(stats["theory_act_std"]) == 2 and all(v > 0 for v in stats["theory_act_std"])
