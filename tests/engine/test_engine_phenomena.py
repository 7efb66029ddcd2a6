"""The phenomena initviz exists to show, measured by the engine on real training runs."""

from __future__ import annotations

import numpy as np
import pytest

from engine_oracle import batch_for_record, forward_backward, snapshot
from initviz.engine import InitSpec, RunConfig, Trainer


def deep(activation: str, init: InitSpec, **kw) -> Trainer:
    return Trainer(RunConfig(depth=20, width=256, batch_size=64, activation=activation, init=init, **kw))


def test_zeros_init_never_gets_a_hidden_gradient() -> None:
    cfg = RunConfig(depth=5, width=32, batch_size=64, activation="tanh", init=InitSpec("zeros"), test_every=50,
                    lr=0.05)
    trainer = Trainer(cfg)
    recs = [trainer.latest, *trainer.step(100)]
    for rec in recs:
        np.testing.assert_array_equal(rec.grad_norm, np.zeros(5))
        np.testing.assert_array_equal(rec.grad_out_norm, np.zeros(5))
        np.testing.assert_array_equal(rec.update_ratio, np.zeros(5))
    for w in trainer.model.hidden_weights():
        assert int((w != 0).sum()) == 0
    # only the head's bias learns: the network predicts one class, the test accuracy stays at chance
    y = trainer.data.y_test.numpy()
    majority = np.bincount(y).max() / len(y)
    assert recs[-1].test_accuracy == pytest.approx(trainer.test_accuracy())
    assert recs[-1].test_accuracy <= majority + 1e-6
    assert recs[-1].test_accuracy < 0.45  # 3 spiral arms: chance is 1/3
    # for contrast, a random init of the same network learns
    ok = Trainer(cfg.replace(init=InitSpec("xavier_normal")))
    ok.step(100)
    assert ok.test_accuracy() > recs[-1].test_accuracy + 0.1


def test_constant_init_units_stay_identical_for_100_steps() -> None:
    cfg = RunConfig(depth=4, width=32, batch_size=64, activation="tanh", init=InitSpec("constant", value=0.1))
    trainer = Trainer(cfg)
    first = trainer.latest
    trainer.step(100)
    last = trainer.latest
    for rec in (first, last):
        assert np.all(rec.symmetry > 0.9999), rec.symmetry
    # every unit still has the same incoming weights and the same outputs
    for w in trainer.model.hidden_weights():
        assert bool((w == w[:1]).all())
    o = forward_backward(snapshot(trainer.model), "tanh", *batch_for_record(cfg, 100))
    for post in o.post:
        assert np.all(post == post[:, :1])
    assert np.any(last.grad_norm > 0)  # they do learn, all in the same way


def test_normal_1_tanh_saturates_deep_layers() -> None:
    rec = deep("tanh", InitSpec("normal", std=1.0)).latest
    assert rec.saturation[1:].mean() > 0.5
    assert np.all(rec.saturation[1:] > 0.5)
    # ... and the weight gradients grow toward the input instead of vanishing (ANCHORS.md)
    assert rec.grad_norm[0] > 1e3 * rec.grad_norm[-1]


def test_normal_001_tanh_signal_vanishes() -> None:
    rec = deep("tanh", InitSpec("normal", std=0.01)).latest
    assert rec.act_std[-1] < 1e-6 * rec.act_std[0]
    assert np.all(np.diff(rec.act_std) < 0)  # shrinks layer after layer
    assert np.all(rec.saturation == 0)


def test_kaiming_relu_keeps_activation_scale() -> None:
    rec = deep("relu", InitSpec("kaiming_normal")).latest
    s = rec.act_std[1:]
    assert s.max() / s.min() < 3.0, rec.act_std
    assert np.all(np.isfinite(rec.act_std))
    assert np.all(rec.saturation == 0)


def test_xavier_relu_decays() -> None:
    rec = deep("relu", InitSpec("xavier_normal")).latest
    # Var(w) = 2/(fan_in+fan_out) = 1/fan_in halves E[h^2] per ReLU layer: std / sqrt(2) per layer
    assert rec.act_std[-1] < 0.01 * rec.act_std[1]
    ratio = rec.act_std[2:] / rec.act_std[1:-1]
    assert np.median(ratio) == pytest.approx(1 / np.sqrt(2), rel=0.15)


def test_normal_1_relu_diverges_without_an_exception() -> None:
    trainer = deep("relu", InitSpec("normal", std=1.0))
    recs = trainer.step(3)
    rec = recs[-1]
    assert rec.diverged_at is not None
    step, layer = rec.diverged_at
    assert 0 <= step <= 3 and 0 <= layer <= 20
    assert any(r.nonfinite.sum() > 0 for r in recs)
    assert rec.nonfinite.sum() > 0
    msg = rec.diverged_message()
    assert msg is not None and "Inf/NaN" in msg and f"step {step}" in msg
    # histograms still count whatever is not NaN (±inf included, in under/overflow)
    n = 64 * 256
    totals = rec.act_hist.sum(1) + rec.act_under + rec.act_over
    assert np.all(totals <= n) and np.all(totals >= 0)
    assert totals.sum() > 0
    # the record is carried forward and stepping on stays quiet
    more = trainer.step(2)
    assert all(r.diverged_at == rec.diverged_at for r in more)


def test_normal_1_relu_first_divergence_location() -> None:
    """diverged_at points at the first record and the first layer with a non-finite value."""
    trainer = deep("relu", InitSpec("normal", std=1.0))
    recs = [trainer.latest, *trainer.step(3)]
    first = next(r for r in recs if r.nonfinite.sum() > 0 or not np.isfinite(r.loss) or r.grad_nonfinite.sum() > 0)
    step, layer = recs[-1].diverged_at
    assert step == first.step
    if first.nonfinite.sum() > 0:
        assert layer == int(np.flatnonzero(first.nonfinite > 0)[0])
    assert all(r.diverged_at is None for r in recs if r.step < step)


@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform"])
@pytest.mark.parametrize("activation,depth", [("tanh", 8), ("relu", 4)])
def test_theory_tracks_measured_act_std_at_init(scheme: str, activation: str, depth: int) -> None:
    """Mean-field prediction within 25% at width 256. ReLU is checked to depth 4 only: at finite
    width its layer-to-layer norm fluctuations compound (seed 0 drifts 44% by layer 8 at width 256)."""
    trainer = Trainer(RunConfig(depth=depth, width=256, batch_size=256, activation=activation, init=InitSpec(scheme)))
    rec = trainer.latest
    np.testing.assert_allclose(rec.act_std, trainer.theory.act_std, rtol=0.25)
    np.testing.assert_allclose(rec.pre_std, trainer.theory.pre_std, rtol=0.25)


def test_theory_is_exact_for_constant_init_on_the_whole_training_set() -> None:
    """zeros/constant: the prediction is the exact one-unit recursion on the training inputs, so
    with one batch holding the whole training split it equals the measurement."""
    cfg = RunConfig(depth=5, width=16, batch_size=4096, activation="tanh", init=InitSpec("constant", value=0.05),
                    bias_init=0.1)
    trainer = Trainer(cfg)
    assert trainer.batches.batch_size == len(trainer.data.x_train)
    np.testing.assert_allclose(trainer.latest.act_std, trainer.theory.act_std, rtol=1e-4)
    np.testing.assert_allclose(trainer.latest.pre_std, trainer.theory.pre_std, rtol=1e-4)


def test_batchnorm_rescues_normal_1_tanh() -> None:
    plain = deep("tanh", InitSpec("normal", std=1.0)).latest
    bn = deep("tanh", InitSpec("normal", std=1.0), batchnorm=True).latest
    assert bn.saturation.mean() < 0.1
    assert bn.saturation.mean() < plain.saturation.mean() / 5
    np.testing.assert_allclose(bn.pre_std, 1.0, rtol=1e-3)  # BatchNorm's own job (gamma=1, beta=0)
