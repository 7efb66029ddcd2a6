"""arch resmlp: residual blocks h + A * Linear(phi(norm(h))), their theory, config, CLI and scenario.

The variance growth is measured on a plain torch residual loop written here (not the engine's
model) and compared with the engine's theory, which is itself checked against closed forms:
He + ReLU doubles the stream's variance per block, BatchNorm in the branch adds a constant,
A = 1/sqrt(depth) multiplies by (1 + 1/depth).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from initviz.cli import main
from initviz.engine import ConfigError, RunConfig, Trainer
from initviz.engine.data import make_dataset
from initviz.engine.inits import describe_init
from initviz.engine.model import ResMLP, build_model
from initviz.engine.scenarios import get_scenario
from initviz.engine.theory import predict

WIDTH = 256
DEPTH = 12


def residual_config(**changes) -> RunConfig:
    base = dict(arch="resmlp", dataset="gaussian", input_dim=WIDTH, depth=DEPTH, width=WIDTH,
                activation="relu", init="kaiming_normal", batch_size=256)
    return RunConfig(**{**base, **changes}).validate()


def plain_residual_variances(x: torch.Tensor, depth: int, a: float, activation, norm: bool, seed: int) -> np.ndarray:
    """Per-block Var of the stream of a residual net written out by hand: He projection, then
    h <- h + a * W phi(norm(h)) with W ~ N(0, 2/width) (zero biases), norm = per-unit batch standardisation."""
    gen = torch.Generator().manual_seed(seed)
    width = WIDTH
    h = x @ (torch.randn(width, x.shape[1], generator=gen, dtype=torch.float64) * math.sqrt(2.0 / x.shape[1])).T
    out = []
    for _ in range(depth):
        w = torch.randn(width, width, generator=gen, dtype=torch.float64) * math.sqrt(2.0 / width)
        z = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5) if norm else h
        h = h + a * activation(z) @ w.T
        out.append(float(h.var(unbiased=False)))
    return np.array(out)


CASES = {
    "A=1": (dict(), 1.0, False),
    "A=1/sqrt(depth)": (dict(residual_scale="1/sqrt(depth)"), 1 / math.sqrt(DEPTH), False),
    "A=1, BatchNorm": (dict(batchnorm=True), 1.0, True),
    "A=0.5": (dict(residual_scale=0.5), 0.5, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stream_variance_growth_per_block_matches_theory(case: str) -> None:
    changes, a, norm = CASES[case]
    cfg = residual_config(**changes)
    x = make_dataset(cfg.dataset, cfg.seed, "cpu", input_dim=cfg.input_dim).x_train.double()[:512]
    theory = predict(cfg, x.float())
    q_theory = theory.act_std**2  # (L,)
    growth_theory = q_theory[1:] / q_theory[:-1]
    for seed in range(3):
        q = plain_residual_variances(x, DEPTH, a, torch.relu, norm, seed)
        growth = q[1:] / q[:-1]
        assert np.all(np.abs(np.log(growth / growth_theory)) < math.log(1.2)), (case, seed, growth, growth_theory)
        assert abs(math.log(q[0] / q_theory[0])) < math.log(1.2)


def test_theory_follows_the_closed_forms() -> None:
    cfg = residual_config()
    x = make_dataset(cfg.dataset, cfg.seed, "cpu", input_dim=cfg.input_dim).x_train
    q0 = 2.0 / WIDTH * float((x.double() ** 2).sum(1).mean())  # He projection: Var = 2/fan_in |x|^2
    blocks = np.arange(1, DEPTH + 1)
    # He + ReLU, A = 1: E[relu(z)^2] = q/2, width * Var(w) = 2, so q doubles
    np.testing.assert_allclose(predict(cfg, x).act_std**2, q0 * 2.0**blocks, rtol=1e-6)
    # A = 1/sqrt(depth): q multiplies by 1 + 1/depth, at most e in all
    q = predict(cfg.replace(residual_scale="1/sqrt(depth)"), x).act_std ** 2
    np.testing.assert_allclose(q, q0 * (1 + 1 / DEPTH) ** blocks, rtol=1e-6)
    assert q[-1] < math.e * q0
    # a normalised branch: z ~ N(0, 1), each block adds width * (2/width) * 1/2 = 1: linear growth
    np.testing.assert_allclose(predict(cfg.replace(batchnorm=True), x).act_std ** 2, q0 + blocks, rtol=1e-4)
    # Fixup: every branch zero, the stream is the projection's
    fix = predict(cfg.replace(residual_scale="fixup"), x)
    np.testing.assert_allclose(fix.act_std**2, q0, rtol=1e-6)
    np.testing.assert_allclose(fix.branch_std, 0.0)
    np.testing.assert_allclose(fix.grad_gain, 1.0)
    # the gradient grows backwards the same way: Var(dL/ds) x (1 + A^2 * 2 * P(z > 0)) = x2 per block
    np.testing.assert_allclose(predict(cfg, x).grad_gain, 2.0 ** ((DEPTH - blocks) / 2), rtol=1e-6)
    assert predict(cfg, x).band() is None  # the finite-width band draws MLPs only


def test_engine_model_is_the_residual_loop_and_probes_see_the_stream() -> None:
    cfg = residual_config(depth=4, width=32, input_dim=8, bias_init=0.05, batch_size=64)
    trainer = Trainer(cfg)
    model = trainer.model
    assert isinstance(model, ResMLP) and len(model.blocks) == 4
    x = make_dataset(cfg.dataset, cfg.seed, "cpu", input_dim=cfg.input_dim).x_train[:64]
    h = x @ model.proj.weight.T + model.proj.bias
    for block in model.blocks:
        h = h + torch.relu(h) @ block.linear.weight.T + block.linear.bias
    with torch.no_grad():
        torch.testing.assert_close(model(x), h @ model.head.weight.T + model.head.bias)
    rec = trainer.latest
    # every block's statistics equal the hand computation on the same batch
    batch = _first_batch(cfg)
    with torch.no_grad():
        h = batch @ model.proj.weight.T + model.proj.bias
        for i, block in enumerate(model.blocks):
            pre = h
            f = torch.relu(h) @ block.linear.weight.T + block.linear.bias
            h = h + f
            assert rec.act_std[i] == pytest.approx(float(h.double().std(unbiased=False)), rel=1e-5)
            assert rec.pre_std[i] == pytest.approx(float(pre.double().std(unbiased=False)), rel=1e-5)
            assert rec.branch_std[i] == pytest.approx(float(f.double().std(unbiased=False)), rel=1e-5)
            assert rec.dead[i] == pytest.approx(float((pre.amax(0) <= 0).double().mean()))
    assert trainer.theory.branch_std is not None and len(trainer.theory.branch_std) == 4


def _first_batch(cfg: RunConfig) -> torch.Tensor:
    """The batch record 0 measures: the trainer's batch stream, replayed from the same seed."""
    from initviz.engine.data import BatchStream

    data = make_dataset(cfg.dataset, cfg.seed, "cpu", input_dim=cfg.input_dim)
    x, _ = BatchStream(data, cfg.batch_size, cfg.seed).next()
    return x


def test_scaled_and_fixup_blocks() -> None:
    cfg = residual_config(depth=3, width=16, input_dim=4, residual_scale=0.25, batch_size=32)
    model = build_model(cfg, 4, 3)
    x = torch.randn(32, 4)
    with torch.no_grad():
        h = model.proj(x)
        for block in model.blocks:
            h = h + 0.25 * block.linear(torch.relu(h))
        torch.testing.assert_close(model(x), model.head(h))
    fix = build_model(cfg.replace(residual_scale="fixup"), 4, 3)
    for block in fix.blocks:  # Fixup: the branch's Linear is zero, weight and bias
        assert not block.linear.weight.detach().any() and not block.linear.bias.detach().any()
    assert fix.proj.weight.detach().std() > 0 and fix.head.weight.detach().std() > 0  # the rest follows the scheme
    with torch.no_grad():
        torch.testing.assert_close(fix(x), fix.head(fix.proj(x)))
    info = describe_init(cfg.replace(residual_scale="fixup"), 4)
    assert np.all(info.weight_std == 0) and "Fixup" in info.formula
    assert np.allclose(describe_init(cfg, 4).weight_std, math.sqrt(2 / 16))  # branches are width x width


def test_fixup_branches_train_from_zero() -> None:
    t = Trainer(residual_config(depth=3, width=32, input_dim=8, residual_scale="fixup", batch_size=64, lr=0.01))
    assert np.all(t.latest.branch_std == 0) and np.all(t.latest.grad_norm > 0)
    t.step(2)
    assert np.all(t.latest.branch_std > 0)


# --- config ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 0, 0.5, 100, "1/sqrt(depth)", "fixup"])
def test_residual_scale_accepts_numbers_and_names(value) -> None:
    cfg = RunConfig(arch="resmlp", residual_scale=value).validate()
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert cfg.residual_factor() == {"1/sqrt(depth)": 1 / math.sqrt(10), "fixup": 1.0}.get(value, value)
    assert cfg.fixup is (value == "fixup")


@pytest.mark.parametrize("value", [-0.1, 100.5, math.nan, math.inf, True, None, "1/sqrt(width)", "", [1]])
def test_residual_scale_refuses_other_values(value) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(arch="resmlp", residual_scale=value).validate()
    err = info.value
    assert err.field == "residual_scale" and repr(value) in str(err)
    assert "1/sqrt(depth)" in err.allowed and "fixup" in err.allowed and "100" in err.allowed


def test_residual_scale_needs_resmlp_and_arch_is_a_choice() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(residual_scale="fixup").validate()
    assert info.value.field == "residual_scale" and "resmlp" in info.value.allowed
    with pytest.raises(ConfigError) as info:
        RunConfig(arch="transformer").validate()  # cnn became an arch of its own (#14)
    assert info.value.field == "arch" and "mlp, resmlp" in info.value.allowed
    assert RunConfig().arch == "mlp" and RunConfig().residual_scale == 1.0


# --- CLI ---------------------------------------------------------------------------------------
def test_cli_arch_and_residual_scale_flags(tmp_path: Path) -> None:
    args = ["run", "--arch", "resmlp", "--residual-scale", "1/sqrt(depth)", "--depth", "4", "--width", "16",
            "--activation", "relu", "--init", "kaiming_normal", "--steps", "1", "--out", str(tmp_path), "-q"]
    assert main(args) == 0
    data = json.loads((tmp_path / "stats.json").read_text())
    assert data["config"]["arch"] == "resmlp" and data["config"]["residual_scale"] == "1/sqrt(depth)"
    assert np.asarray(data["branch_std"]).shape == (2, 4) and len(data["theory_branch_std"]) == 4
    assert np.asarray(data["act_std"]).shape == (2, 4)
    assert main([*args[:4], "0.5", *args[5:]]) == 0
    assert json.loads((tmp_path / "stats.json").read_text())["config"]["residual_scale"] == 0.5
    assert main(["run", "--steps", "1", "--depth", "2", "--out", str(tmp_path), "-q"]) == 0
    assert "branch_std" not in json.loads((tmp_path / "stats.json").read_text())  # mlp: no such key


@pytest.mark.parametrize("args", [["--arch", "cnn"], ["--arch", "resmlp", "--residual-scale", "huge"], ["--residual-scale", "0.5"]])
def test_cli_bad_residual_flags_exit_2(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        rc = main(["run", *args, "--steps", "0", "--out", str(tmp_path), "-q"])
    except SystemExit as exc:  # argparse's own choices check exits
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert ("arch" in err or "residual_scale" in err) and len(err.strip().splitlines()) == 1


# --- scenario ----------------------------------------------------------------------------------
def test_residual_scenario_lanes_differ_only_in_residual_scale() -> None:
    s = get_scenario("residual_scaling")
    assert s.lane_names == ("A = 1", "A = 1/√depth", "Fixup")
    assert [c.residual_scale for c in s.lane_configs] == [1.0, "1/sqrt(depth)", "fixup"]
    for c in s.lane_configs:
        assert c.arch == "resmlp" and c.depth == 50 and c.activation == "relu" and c.init.scheme == "kaiming_normal"
        assert c.replace(residual_scale=1.0) == s.lane_configs[0]
    # the numbers its look-for text gives, at step 0 (the theory lines; the measured ones are in the text)
    x = make_dataset(s.config.dataset, s.config.seed, "cpu").x_train
    unscaled, scaled, fixup = (predict(c, x).act_std for c in s.lane_configs)
    assert unscaled[-1] == pytest.approx(4.7e7, rel=0.02) and unscaled[9] == pytest.approx(45, rel=0.05)
    assert scaled[0] == pytest.approx(1.43, abs=0.01) and scaled[-1] == pytest.approx(2.32, abs=0.01)
    assert np.allclose(fixup, fixup[0]) and fixup[0] == pytest.approx(1.41, abs=0.01)
    assert "4.7e7" in s.look_for and "2.32" in s.look_for


def test_saved_resmlp_run_keeps_branch_std_and_continues_identically(tmp_path: Path) -> None:
    from initviz.engine.lanes import Lanes
    from initviz.engine.store import load_run, save_run

    cfg = residual_config(depth=3, width=16, input_dim=4, residual_scale="1/sqrt(depth)", batchnorm=True, batch_size=32)
    original = Lanes([cfg])
    original.step(5)
    opened = load_run(save_run(tmp_path / "res.initviz", original))
    assert opened.trainers[0].config == cfg
    for a, b in zip(original.trainers[0].history, opened.trainers[0].history, strict=True):
        assert a.branch_std is not None and np.array_equal(a.branch_std, b.branch_std)
        assert np.array_equal(a.act_std, b.act_std)
    for a, b in zip(original.step(2), opened.step(2)):
        assert np.array_equal(a[0].branch_std, b[0].branch_std) and np.array_equal(a[0].grad_norm, b[0].grad_norm)
