"""diagnose(): the caption for each classic failure, on records the engine really produced."""

from __future__ import annotations

from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.diagnosis import diagnose


def captions(cfg: RunConfig, steps: int = 0) -> list[str]:
    trainer = Trainer(cfg)
    if steps:
        trainer.step(steps)
    out = diagnose(trainer.latest, trainer.config)
    assert out and all(isinstance(c, str) and c for c in out)
    return out


def text(caps: list[str]) -> str:
    return " | ".join(caps).lower()


def deep(activation: str, init: InitSpec, **kw) -> RunConfig:
    return RunConfig(depth=20, width=256, batch_size=64, activation=activation, init=init, **kw)


def test_zeros_init_symmetry_never_broke() -> None:
    cfg = RunConfig(depth=5, width=32, init=InitSpec("zeros"))
    for steps in (0, 10):
        caps = captions(cfg, steps)
        assert "symmetry never broke" in text(caps)
        assert "all 32 units" in text(caps)
        assert "gradient is exactly 0" in text(caps)
        assert not text(caps).startswith("healthy")


def test_constant_init_symmetry_never_broke() -> None:
    caps = captions(RunConfig(depth=5, width=32, init=InitSpec("constant", value=0.1)), 20)
    assert "symmetry never broke" in text(caps)
    assert "healthy" not in text(caps)


def test_normal_1_tanh_is_saturated() -> None:
    caps = captions(deep("tanh", InitSpec("normal", std=1.0)))
    assert "saturated" in text(caps)
    assert "healthy" not in text(caps)
    # and the gradient spread across depth is reported (it grows toward the input)
    assert any("weight gradients at layer 1" in c for c in caps)


def test_normal_001_tanh_signal_dies_out() -> None:
    caps = captions(deep("tanh", InitSpec("normal", std=0.01)))
    assert "signal dies out" in text(caps)
    assert "healthy" not in text(caps)


def test_kaiming_relu_is_healthy() -> None:
    caps = captions(deep("relu", InitSpec("kaiming_normal")))
    assert len(caps) == 1 and caps[0].startswith("healthy"), caps


def test_xavier_tanh_is_healthy() -> None:
    caps = captions(RunConfig(depth=10, width=128, activation="tanh", init=InitSpec("xavier_normal")))
    assert caps[0].startswith("healthy"), caps


def test_diverged_run_mentions_inf_nan() -> None:
    caps = captions(deep("relu", InitSpec("normal", std=1.0)), steps=3)
    assert "inf/nan" in caps[0].lower()  # the most important caption comes first
    assert "healthy" not in text(caps)


def test_exploding_relu_at_init_is_not_called_healthy() -> None:
    """N(0,1) + ReLU at init: activations grow ~11x per layer to ~1e20 (finite). The record's
    act_std overflowed to inf, and diagnose skips its explosion check when any std is not finite,
    so this network was captioned 'healthy'."""
    caps = captions(deep("relu", InitSpec("normal", std=1.0)))
    assert not caps[0].startswith("healthy"), caps
    assert "explodes" in text(caps)


def test_saturated_sigmoid_and_dead_relu() -> None:
    sig = captions(deep("sigmoid", InitSpec("normal", std=1.0)))
    assert "saturated" in text(sig)
    dead = captions(RunConfig(depth=4, width=64, activation="relu", init=InitSpec("kaiming_normal"), bias_init=-3.0))
    assert "dead" in text(dead)
