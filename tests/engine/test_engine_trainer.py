"""Trainer and History: determinism, reset/reseed, recording cadence, immutable records."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from engine_oracle import assert_same_record
from initviz.engine import ConfigError, History, InitSpec, RunConfig, StepRecord, Trainer
from initviz.engine.data import BatchStream, make_dataset



def small(**kw) -> RunConfig:
    base = dict(depth=3, width=16, batch_size=32, activation="tanh", init=InitSpec("xavier_normal"), seed=1)
    base.update(kw)
    return RunConfig(**base)


def array_fields(rec: StepRecord) -> list[str]:
    return [f.name for f in dataclasses.fields(rec) if isinstance(getattr(rec, f.name), np.ndarray)]


def weights_of(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


# --- reset / reseed / determinism ----------------------------------------------------------
def test_reset_gives_identical_weights_and_records() -> None:
    trainer = Trainer(small(lr=0.1))
    w0 = weights_of(trainer)
    run1 = [trainer.latest, *trainer.step(10)]
    assert any(not torch.equal(w0[k], v) for k, v in weights_of(trainer).items())  # it trained
    rec0 = trainer.reset()
    assert trainer.step_count == 0 and len(trainer.history) == 1
    for k, v in weights_of(trainer).items():
        assert torch.equal(w0[k], v), k
    assert_same_record(rec0, run1[0])
    run2 = [rec0, *trainer.step(10)]
    for a, b in zip(run1, run2):
        assert_same_record(a, b)


def test_reseed_changes_weights() -> None:
    trainer = Trainer(small(seed=4))
    w0 = weights_of(trainer)
    rec = trainer.reseed()
    assert trainer.config.seed == 5 and rec.step == 0
    assert not torch.equal(w0["blocks.0.linear.weight"], trainer.model.blocks[0].linear.weight)
    assert rec.loss != Trainer(small(seed=4)).latest.loss
    trainer.reseed(4)  # back to the first seed: the first weights again
    for k, v in weights_of(trainer).items():
        assert torch.equal(w0[k], v), k


@pytest.mark.parametrize("extra", [{}, {"dropout": 0.3}, {"batchnorm": True, "optimizer": "adam", "lr": 0.01}],
                         ids=["plain", "dropout", "batchnorm-adam"])
def test_two_trainers_same_config_identical_records(extra: dict) -> None:
    cfg = small(**extra)
    a, b = Trainer(cfg), Trainer(cfg)
    ra = [a.latest, *a.step(8)]
    # b is stepped interleaved with foreign use of torch's global RNG: must not matter
    rb = [b.latest]
    for _ in range(8):
        torch.manual_seed(12345)
        torch.rand(100)
        rb += b.step()
    for x, y in zip(ra, rb):
        assert_same_record(x, y)


def test_dropout_changes_the_run() -> None:
    plain = Trainer(small()).step(3)[-1]
    dropped = Trainer(small(dropout=0.5)).step(3)[-1]
    assert plain.loss != dropped.loss


@pytest.mark.parametrize("k", [2, 5])
def test_record_every_records_only_multiples(k: int) -> None:
    trainer = Trainer(small(record_every=k, test_every=1))
    made = trainer.step(12)
    assert [r.step for r in made] == list(range(k, 13, k))
    np.testing.assert_array_equal(trainer.history.steps, [0, *range(k, 13, k)])
    assert trainer.step_count == 12
    # the trajectory does not depend on how often it is measured
    every = Trainer(small(record_every=1, test_every=1))
    every.step(12)
    for rec in made:
        assert_same_record(rec, next(r for r in every.history if r.step == rec.step))


def test_records_generator_yields_successive_steps() -> None:
    trainer = Trainer(small(record_every=3))
    gen = trainer.records()
    assert [next(gen).step for _ in range(4)] == [3, 6, 9, 12]


def test_test_accuracy_only_on_multiples_of_test_every() -> None:
    trainer = Trainer(small(test_every=5))
    recs = [trainer.latest, *trainer.step(12)]
    for r in recs:
        if r.step % 5 == 0:
            assert 0.0 <= r.test_accuracy <= 1.0, r.step
        else:
            assert math.isnan(r.test_accuracy), r.step
    assert recs[10].test_accuracy == pytest.approx(
        Trainer(small(test_every=5)).step(10)[-1].test_accuracy
    )


def test_test_accuracy_uses_eval_mode_and_restores_train_mode() -> None:
    trainer = Trainer(small(dropout=0.5, batchnorm=True))
    a = trainer.test_accuracy()
    b = trainer.test_accuracy()
    assert a == b  # no dropout randomness in eval mode
    assert trainer.model.training


# --- records are immutable and private -----------------------------------------------------
def test_records_are_read_only() -> None:
    trainer = Trainer(small())
    rec = trainer.step(2)[-1]
    for name in array_fields(rec):
        arr = getattr(rec, name)
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError):
            arr[...] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.loss = 0.0  # type: ignore[misc]


def test_records_share_no_memory() -> None:
    trainer = Trainer(small())
    recs = [trainer.latest, *trainer.step(2)]
    arrays = [(i, n, getattr(r, n)) for i, r in enumerate(recs) for n in array_fields(r)]
    for a in range(len(arrays)):
        for b in range(a + 1, len(arrays)):
            assert not np.shares_memory(arrays[a][2], arrays[b][2]), (arrays[a][:2], arrays[b][:2])
    # nor with the live model
    for rec in recs:
        for n in array_fields(rec):
            for p in trainer.model.parameters():
                assert not np.shares_memory(getattr(rec, n), p.detach().numpy())


def test_record_arrays_have_layer_shapes() -> None:
    from initviz.engine.record import LAYER_FIELDS

    rec = Trainer(small(depth=5)).latest
    for name in LAYER_FIELDS:
        assert getattr(rec, name).shape == (5,), name
    assert rec.depth == 5 and rec.nbytes > 0


# --- history ------------------------------------------------------------------------------
def test_history_thinning_keeps_first_and_newest() -> None:
    hist = History(max_bytes=1, min_capacity=8)
    trainer = Trainer(small(), history=hist)
    seen_len = []
    for _ in range(100):
        trainer.step()
        seen_len.append(len(hist))
        steps = hist.steps
        assert steps[0] == 0 and steps[-1] == trainer.step_count
        assert np.all(np.diff(steps) > 0)
    assert hist.capacity == 8
    assert max(seen_len) <= 8
    assert len(hist) >= 4  # it thins, it does not empty
    assert hist.latest is trainer.latest


def test_history_default_capacity_from_byte_budget() -> None:
    hist = History(max_bytes=10 * 2**20, min_capacity=4)
    trainer = Trainer(small(depth=4), history=hist)
    assert hist.capacity == max(4, 10 * 2**20 // trainer.latest.nbytes)


def test_history_refuses_steps_out_of_order() -> None:
    trainer = Trainer(small())
    trainer.step(2)
    with pytest.raises(ValueError):
        trainer.history.append(trainer.history[0])


def test_history_lookup_and_series() -> None:
    trainer = Trainer(small(record_every=2))
    trainer.step(10)
    h = trainer.history
    assert h.index_at_or_before(5) == 2  # steps 0, 2, 4, ...
    assert h.index_at_or_before(-3) == 0
    assert h.index_at_or_before(100) == len(h) - 1
    assert h.series("loss").shape == (6,)
    assert h.series("act_std").shape == (6, 3)
    assert h.nbytes == sum(r.nbytes for r in h)


# --- configurations that must run ---------------------------------------------------------
@pytest.mark.parametrize("extra", [{"batchnorm": True}, {"dropout": 0.5}, {"batchnorm": True, "dropout": 0.2}])
def test_batchnorm_and_dropout_configs_train(extra: dict) -> None:
    trainer = Trainer(small(activation="relu", init=InitSpec("kaiming_normal"), **extra))
    recs = trainer.step(5)
    for r in recs:
        assert np.isfinite(r.loss)
        assert r.diverged_at is None
        assert np.all(np.isfinite(r.act_std))
    assert trainer.model.training


def test_reconfigure_rejects_bad_config_and_keeps_the_run() -> None:
    trainer = Trainer(small())
    trainer.step(3)
    bad = dataclasses.replace(trainer.config, width=0)
    with pytest.raises(ConfigError):
        trainer.reconfigure(bad)
    assert trainer.config.width == 16 and trainer.step_count == 3
    rec = trainer.reconfigure(trainer.config.replace(width=8))
    assert rec.step == 0 and trainer.model.blocks[0].linear.weight.shape == (8, 2)


@pytest.mark.parametrize("dataset", ["spirals", "moons", "circles", "xor", "blobs", "digits"])
def test_every_dataset_trains(dataset: str) -> None:
    trainer = Trainer(small(dataset=dataset))
    rec = trainer.step(2)[-1]
    assert np.isfinite(rec.loss)
    assert trainer.model.blocks[0].linear.in_features == trainer.data.x_train.shape[1]


def test_datasets_are_seeded_and_standardised() -> None:
    a, b = make_dataset("moons", 3), make_dataset("moons", 3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, make_dataset("moons", 4).x_train)
    np.testing.assert_allclose(a.x_train.double().mean(0).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(a.x_train.double().std(0, correction=0).numpy(), 1.0, rtol=1e-5)
    assert len(a.x_test) == 240 and len(a.x_train) == 960


def test_batch_stream_visits_every_example_once_per_epoch() -> None:
    data = make_dataset("xor", 0)
    stream = BatchStream(data, 96, seed=2)
    seen = torch.cat([stream.next()[0] for _ in range(10)])  # 960 = one epoch
    assert len(torch.unique(seen, dim=0)) == 960
    other = BatchStream(data, 96, seed=2)
    assert torch.equal(other.next()[0], seen[:96])


def test_history_byte_budget_holds_after_reconfigure_to_a_deeper_network() -> None:
    """History.capacity is computed from the first record ever appended; clear() (called by every
    reset/reconfigure) kept it, so a run rebuilt 20x deeper kept 20x the byte budget in memory."""
    budget = 200_000
    hist = History(max_bytes=budget, min_capacity=4)
    trainer = Trainer(small(depth=2, width=8), history=hist)
    trainer.reconfigure(trainer.config.replace(depth=40))
    big = trainer.latest.nbytes
    trainer.step(80)
    assert len(hist) <= max(4, budget // big)
    assert hist.nbytes <= budget + big  # at most one record over the budget
