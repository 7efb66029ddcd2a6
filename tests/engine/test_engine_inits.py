"""Init schemes: the weights the engine samples have the std that inits.predicted_std claims."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from initviz.engine import InitSpec, RunConfig
from initviz.engine.config import INIT_SCHEMES
from initviz.engine.inits import (
    FORMULAS,
    bias_value,
    describe_init,
    kaiming_gain,
    predicted_bias_std,
    predicted_std,
)
from initviz.engine.model import build_model

N_IN = 128  # layer 1 is 128 -> 512 (rectangular), layer 2 is 512 -> 512
WIDTH = 512

# One spec per scheme, with non-default parameters where the scheme has them.
SPECS = {
    "zeros": InitSpec("zeros"),
    "constant": InitSpec("constant", value=0.37),
    "normal": InitSpec("normal", std=0.5),
    "uniform": InitSpec("uniform", bound=0.3),
    "xavier_uniform": InitSpec("xavier_uniform", gain=1.5),
    "xavier_normal": InitSpec("xavier_normal"),
    "kaiming_uniform": InitSpec("kaiming_uniform"),
    "kaiming_normal": InitSpec("kaiming_normal"),
    "lecun_normal": InitSpec("lecun_normal"),
    "orthogonal": InitSpec("orthogonal", gain=1.3),
    "pytorch_default": InitSpec("pytorch_default"),
}


def test_every_scheme_has_a_spec_here() -> None:
    assert set(SPECS) == set(INIT_SCHEMES)
    assert set(FORMULAS) == set(INIT_SCHEMES)


def _hidden(cfg: RunConfig, n_in: int = N_IN) -> list[torch.nn.Linear]:
    model = build_model(cfg, n_in, 10)
    return [b.linear for b in model.blocks]


def _std(t: torch.Tensor) -> float:
    return float(t.detach().double().std(correction=0))


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_sampled_weight_std_matches_prediction(scheme: str, activation: str) -> None:
    cfg = RunConfig(depth=2, width=WIDTH, activation=activation, init=SPECS[scheme], bias_init=0.05, seed=11)
    layers = _hidden(cfg)
    kgain = kaiming_gain(cfg)
    info = describe_init(cfg, n_features=N_IN)
    for layer, (fan_in, fan_out) in zip(layers, [(N_IN, WIDTH), (WIDTH, WIDTH)]):
        assert tuple(layer.weight.shape) == (fan_out, fan_in)
        want = predicted_std(cfg.init, fan_in, fan_out, kgain)
        got = _std(layer.weight)
        if scheme in ("zeros", "constant"):
            assert want == 0.0 and got == 0.0
        else:
            assert got == pytest.approx(want, rel=0.02), (scheme, fan_in, fan_out)
    np.testing.assert_allclose(info.weight_std, [predicted_std(cfg.init, N_IN, WIDTH, kgain),
                                                 predicted_std(cfg.init, WIDTH, WIDTH, kgain)])


def test_exact_values_of_zeros_and_constant() -> None:
    zeros = _hidden(RunConfig(depth=2, width=64, init=InitSpec("zeros"), bias_init=0.2))
    for layer in zeros:
        assert torch.count_nonzero(layer.weight) == 0
        assert torch.count_nonzero(layer.bias) == 0  # zeros means zeros everywhere, bias_init ignored
    const = _hidden(RunConfig(depth=2, width=64, init=InitSpec("constant", value=-0.25), bias_init=0.2))
    for layer in const:
        assert torch.all(layer.weight == -0.25)
        assert torch.all(layer.bias == 0.2)


@pytest.mark.parametrize("scheme", [s for s in INIT_SCHEMES if s not in ("zeros", "pytorch_default")])
def test_biases_take_bias_init(scheme: str) -> None:
    for bias in (0.0, -0.3):
        cfg = RunConfig(depth=2, width=32, init=SPECS[scheme], bias_init=bias)
        model = build_model(cfg, 2, 3)
        assert bias_value(cfg) == bias
        for layer in [*(b.linear for b in model.blocks), model.head]:
            assert torch.all(layer.bias == bias)


def test_pytorch_default_matches_nn_linear() -> None:
    """nn.Linear's own init: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in)."""
    spec = InitSpec("pytorch_default")
    assert predicted_std(spec, 512, 512) == pytest.approx(1 / math.sqrt(3 * 512), rel=1e-12)
    assert round(predicted_std(spec, 512, 512), 4) == 0.0255  # not 0.0625 = 1/sqrt(256)
    cfg = RunConfig(depth=2, width=WIDTH, init=spec, bias_init=0.4, seed=4)
    layers = _hidden(cfg, n_in=512)
    bound = 1 / math.sqrt(512)
    for layer in layers:
        w, b = layer.weight.detach(), layer.bias.detach()
        assert _std(w) == pytest.approx(0.02552, rel=0.02)
        assert float(w.abs().max()) <= bound
        assert float(w.abs().max()) > 0.99 * bound  # uniform: fills the interval
        assert float(b.abs().max()) <= bound
        assert torch.count_nonzero(b) == b.numel()  # random, bias_init does not apply
        assert _std(b) == pytest.approx(predicted_bias_std(cfg, 512), rel=0.15)
    # and it is what torch's own nn.Linear does with the same RNG state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        ref = torch.nn.Linear(512, 512)
    assert _std(ref.weight) == pytest.approx(_std(layers[1].weight), rel=0.02)


def test_bias_std_is_zero_outside_pytorch_default() -> None:
    for scheme in INIT_SCHEMES:
        cfg = RunConfig(init=SPECS[scheme])
        want = 1 / math.sqrt(3 * 64) if scheme == "pytorch_default" else 0.0
        assert predicted_bias_std(cfg, 64) == pytest.approx(want)


@pytest.mark.parametrize(
    "activation,nonlinearity,gain",
    [
        ("tanh", "auto", 5.0 / 3.0),
        ("relu", "auto", math.sqrt(2.0)),
        ("gelu", "auto", math.sqrt(2.0)),
        ("elu", "auto", math.sqrt(2.0)),
        ("leaky_relu", "auto", math.sqrt(2.0 / (1 + 0.01**2))),
        ("selu", "auto", 0.75),
        ("sigmoid", "auto", 1.0),
        ("linear", "auto", 1.0),
        ("relu", "linear", 1.0),
        ("tanh", "relu", math.sqrt(2.0)),
    ],
)
def test_kaiming_gain_multiplies_the_std(activation: str, nonlinearity: str, gain: float) -> None:
    """Kaiming std = gain / sqrt(fan), gain from torch's calculate_gain (not sqrt(gain / fan))."""
    cfg = RunConfig(depth=2, width=WIDTH, activation=activation,
                    init=InitSpec("kaiming_normal", nonlinearity=nonlinearity), seed=2)
    assert kaiming_gain(cfg) == pytest.approx(gain, rel=1e-12)
    want = gain / math.sqrt(WIDTH)
    assert predicted_std(cfg.init, WIDTH, WIDTH, kaiming_gain(cfg)) == pytest.approx(want, rel=1e-12)
    got = _std(_hidden(cfg)[1].weight)
    assert got == pytest.approx(want, rel=0.02)
    if gain != 1.0:
        assert abs(got - math.sqrt(gain / WIDTH)) > 0.05 * want  # the mixed-up convention is visibly off


@pytest.mark.parametrize("scheme", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_fan_out_mode(scheme: str) -> None:
    cfg = RunConfig(depth=2, width=WIDTH, activation="relu", init=InitSpec(scheme, mode="fan_out"), seed=6)
    layer1 = _hidden(cfg)[0]  # fan_in 128, fan_out 512
    want = math.sqrt(2.0) / math.sqrt(WIDTH)
    assert predicted_std(cfg.init, N_IN, WIDTH, kaiming_gain(cfg)) == pytest.approx(want)
    assert _std(layer1.weight) == pytest.approx(want, rel=0.02)
    assert describe_init(cfg, n_features=N_IN).weight_std[0] == pytest.approx(want)


def test_orthogonal_is_orthogonal() -> None:
    cfg = RunConfig(depth=2, width=WIDTH, init=InitSpec("orthogonal", gain=1.3), seed=3)
    sq = _hidden(cfg)[1].weight.detach().double()
    np.testing.assert_allclose((sq @ sq.T).numpy(), 1.3**2 * np.eye(WIDTH), atol=1e-5)
    rect = _hidden(cfg)[0].weight.detach().double()  # (512, 128): orthonormal columns
    np.testing.assert_allclose((rect.T @ rect).numpy(), 1.3**2 * np.eye(N_IN), atol=1e-5)


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    cfg = RunConfig(depth=3, width=32, init=InitSpec("kaiming_normal"), seed=9)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_model(cfg, 2, 3).state_dict()
    assert torch.equal(torch.rand(3), expected_next)  # build_model draws from a private stream
    torch.manual_seed(999)
    b = build_model(cfg, 2, 3).state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    c = build_model(cfg.replace(seed=10), 2, 3).state_dict()
    assert not torch.equal(a["blocks.0.linear.weight"], c["blocks.0.linear.weight"])


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_describe_init(scheme: str) -> None:
    cfg = RunConfig(depth=4, width=48, activation="tanh", init=SPECS[scheme])
    info = describe_init(cfg)  # spirals: 2 input features
    assert info.scheme == scheme
    assert isinstance(info.formula, str) and "W" in info.formula
    assert info.weight_std.shape == (4,)
    kgain = kaiming_gain(cfg)
    np.testing.assert_allclose(
        info.weight_std, [predicted_std(cfg.init, 2, 48, kgain)] + [predicted_std(cfg.init, 48, 48, kgain)] * 3
    )
    with pytest.raises(ValueError):
        info.weight_std[0] = 1.0  # read-only
    assert isinstance(info.summary(), str) and "predicted weight std" in info.summary()


def test_describe_init_formula_shows_parameters() -> None:
    kaiming = describe_init(RunConfig(activation="tanh", init=InitSpec("kaiming_normal"))).formula
    assert "1.667" in kaiming and "tanh" in kaiming
    assert "0.37" in describe_init(RunConfig(init=InitSpec("constant", value=0.37))).formula
    assert "0.5" in describe_init(RunConfig(init=InitSpec("normal", std=0.5))).formula
    assert "1.5" in describe_init(RunConfig(init=InitSpec("xavier_uniform", gain=1.5))).formula
