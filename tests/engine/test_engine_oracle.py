"""Oracle tests: every number of a StepRecord recomputed by hand with plain torch and numpy.

Record k is the network after k updates, measured on the batch it trains on next (the (k+1)-th
batch of ``BatchStream(data, batch_size, seed)``). So after ``trainer.step(k)`` the trainer's
model holds exactly the weights of record k, and ``engine_oracle`` runs its own functional
forward/backward (``retain_grad`` on each post-activation) on a copy of them and that batch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine_oracle import (
    Oracle,
    batch_for_record,
    dead_count,
    forward_backward,
    grad_exponent_hist,
    l2,
    pop_std,
    saturation_count,
    snapshot,
    symmetry,
    value_hist,
)
from initviz.engine import InitSpec, RunConfig, StepRecord, Trainer
from initviz.engine.config import ACTIVATIONS
from initviz.engine.probes import HIST_SAMPLE, LOG10_2, hist_scale, hist_stride

# The engine bins values in float32 (index = int(c + scale * x)); numpy bins in float64 against
# np.linspace edges. A value within one float32 ulp of an edge can land in the neighbouring bin,
# which moves one count between adjacent bins (2 in the L1 difference). Totals must match exactly.
EDGE_SLACK = 2  # values per layer allowed on the other side of an edge
RTOL = 1e-5  # float32 reductions in a different order than the float64 oracle


def oracle_for(trainer: Trainer, k: int) -> Oracle:
    """Recompute record k (the trainer must currently hold record k's weights)."""
    cfg = trainer.config
    assert trainer.step_count == k
    x, y = batch_for_record(cfg, k)
    return forward_backward(snapshot(trainer.model), cfg.activation, x, y)


def assert_close(name: str, layer: int, got: float, want: float, rtol: float = RTOL, atol: float = 0.0) -> None:
    assert math.isclose(got, want, rel_tol=rtol, abs_tol=atol), f"{name}[layer {layer}]: record {got!r}, oracle {want!r}"


def assert_hist(name: str, layer: int, counts, under, over, want: tuple[np.ndarray, int, int], n_values: int, slack: int) -> None:
    w_counts, w_under, w_over = want
    got_total = float(np.sum(counts, dtype=np.float64)) + float(under) + float(over)
    # exact integers without a subsample; scaled float32 counts otherwise
    assert math.isclose(got_total, n_values, rel_tol=1e-6), f"{name}[layer {layer}]: {got_total} values counted, expected {n_values}"
    assert math.isclose(w_counts.sum() + w_under + w_over, n_values, rel_tol=1e-9)  # the oracle itself
    diff = np.abs(np.asarray(counts, dtype=np.float64) - w_counts).sum() + abs(under - w_under) + abs(over - w_over)
    assert diff <= 2 * slack + 1e-3, f"{name}[layer {layer}]: {diff / 2} values in another bin than numpy puts them"


def _scaled(want: tuple[np.ndarray, int, int], scale: float) -> tuple[np.ndarray, float, float]:
    counts, under, over = want
    return counts * scale, under * scale, over * scale


def check_record(rec: StepRecord, o: Oracle, activation: str, *, slack: int = EDGE_SLACK) -> None:
    """Every per-layer number of `rec` against the oracle (finite records)."""
    L = len(o.post)
    assert rec.depth == L
    B, W = o.post[0].shape
    N = B * W
    for i in range(L):
        post, pre = o.post[i].astype(np.float64), o.pre[i].astype(np.float64)
        scale = post.std() + abs(post.mean())
        assert abs(rec.act_mean[i] - post.mean()) <= RTOL * scale, ("act_mean", i, rec.act_mean[i], post.mean())
        pscale = pre.std() + abs(pre.mean())
        assert abs(rec.pre_mean[i] - pre.mean()) <= RTOL * pscale, ("pre_mean", i, rec.pre_mean[i], pre.mean())
        assert_close("act_std", i, rec.act_std[i], pop_std(o.post[i]))
        assert_close("pre_std", i, rec.pre_std[i], pop_std(o.pre[i]))

        sat = saturation_count(activation, o.post[i])
        assert abs(rec.saturation[i] * N - sat) <= slack, ("saturation", i, rec.saturation[i] * N, sat)
        assert round(rec.dead[i] * W) == dead_count(activation, o.pre[i], o.post[i]), ("dead", i)
        assert abs(rec.symmetry[i] - symmetry(o.post[i])) <= 1e-5, ("symmetry", i, rec.symmetry[i], symmetry(o.post[i]))
        bad = int(np.sum(~np.isfinite(o.post[i]))) + int(np.sum(~np.isfinite(o.pre[i])))
        assert rec.nonfinite[i] == bad
        assert rec.grad_nonfinite[i] == int(np.sum(~np.isfinite(o.grad_post[i])))

        assert_close("grad_out_norm", i, rec.grad_out_norm[i], l2(o.grad_post[i]))
        assert_close("grad_norm", i, rec.grad_norm[i], l2(o.weight_grad[i]))
        assert_close("weight_std", i, rec.weight_std[i], pop_std(o.weight[i]))
        want_gdr = l2(o.weight_grad[i]) / l2(o.weight[i]) if l2(o.weight_grad[i]) > 0 else 0.0
        assert_close("grad_data_ratio", i, rec.grad_data_ratio[i], want_gdr)

        # histograms count the documented subsample: every st-th value, counts scaled
        st, scale = hist_stride(B, W), hist_scale(B, W)
        a, p, g = rec.act_spec, rec.pre_spec, rec.grad_spec
        bounded = activation in ("tanh", "sigmoid")  # documented: an output == hi is in the last bin
        assert_hist("act_hist", i, rec.act_hist[i], rec.act_under[i], rec.act_over[i],
                    _scaled(value_hist(o.post[i].reshape(-1)[::st], a.lo, a.hi, a.bins, closed_top=bounded), scale), N, slack * scale)
        assert_hist("pre_hist", i, rec.pre_hist[i], rec.pre_under[i], rec.pre_over[i],
                    _scaled(value_hist(o.pre[i].reshape(-1)[::st], p.lo, p.hi, p.bins, closed_top=False), scale), N, slack * scale)
        # gradient bins are powers of two: the oracle's exponent from frexp is exact, no slack
        assert_hist("grad_hist", i, rec.grad_hist[i], rec.grad_under[i], rec.grad_over[i],
                    _scaled(grad_exponent_hist(o.grad_post[i].reshape(-1)[::st], round(g.lo / LOG10_2), round(g.hi / LOG10_2)), scale),
                    N, 0)
    assert math.isclose(rec.loss, o.loss, rel_tol=1e-6), (rec.loss, o.loss)
    assert abs(rec.accuracy - o.accuracy) < 1e-6


# --- every activation, at init and after a few updates -------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("init", [InitSpec("normal", std=1.0), InitSpec("kaiming_uniform")], ids=["N(0,1)", "kaiming_u"])
def test_record_matches_hand_computation(activation: str, init: InitSpec) -> None:
    cfg = RunConfig(depth=4, width=32, batch_size=64, activation=activation, init=init, lr=0.02, seed=3)
    trainer = Trainer(cfg)
    check_record(trainer.latest, oracle_for(trainer, 0), activation)
    for k in (1, 2, 3):
        (rec,) = trainer.step()
        assert rec.step == k
        check_record(rec, oracle_for(trainer, k), activation)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_record_matches_hand_computation_with_adam(activation: str) -> None:
    cfg = RunConfig(depth=3, width=24, batch_size=48, activation=activation, optimizer="adam", lr=0.01, seed=5)
    trainer = Trainer(cfg)
    trainer.step(4)
    check_record(trainer.latest, oracle_for(trainer, 4), activation)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_record_matches_hand_computation_with_batchnorm(activation: str) -> None:
    cfg = RunConfig(depth=4, width=32, batch_size=64, activation=activation, init=InitSpec("normal", std=1.0),
                    batchnorm=True, seed=2)
    trainer = Trainer(cfg)
    check_record(trainer.latest, oracle_for(trainer, 0), activation)
    trainer.step(2)
    check_record(trainer.latest, oracle_for(trainer, 2), activation)


def test_dead_relu_units_are_counted_by_hand() -> None:
    # a strongly negative bias switches many units off for the whole batch
    cfg = RunConfig(depth=4, width=64, batch_size=32, activation="relu", init=InitSpec("normal", std=0.3),
                    bias_init=-1.0, seed=1)
    trainer = Trainer(cfg)
    o = oracle_for(trainer, 0)
    counts = [dead_count("relu", o.pre[i], o.post[i]) for i in range(4)]
    assert sum(counts) > 0 and min(counts) < 64  # the case is not vacuous
    check_record(trainer.latest, o, "relu")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_deep_network_matches_hand_computation(activation: str) -> None:
    """N(0,1) at depth 20 width 256: many outputs round to exactly ±1 (or 0/1), the bounded edge case."""
    cfg = RunConfig(depth=20, width=256, batch_size=64, activation=activation, init=InitSpec("normal", std=1.0))
    trainer = Trainer(cfg)
    rec = trainer.latest
    o = oracle_for(trainer, 0)
    check_record(rec, o, activation)
    top = 1.0
    at_top = [int(np.sum(o.post[i] == top)) for i in range(20)]
    assert sum(at_top) > 1000  # the documented case really occurs here
    assert np.all(rec.act_over == 0)  # outputs of exactly 1 are in the last bin, not overflow
    assert np.all(rec.act_hist[:, -1] >= at_top)
    assert np.all(rec.saturation[1:] > 0.5)


def test_record_k_is_measured_on_batch_k() -> None:
    """Loss and accuracy of records 0..5 equal a hand forward pass on the (k+1)-th batch only."""
    cfg = RunConfig(depth=3, width=16, batch_size=32, activation="tanh", seed=7)
    trainer = Trainer(cfg)
    recs = [trainer.latest]
    for k in range(1, 6):
        recs += trainer.step()
    # replay the weights: a fresh trainer stepped to k holds record k's weights
    for k, rec in enumerate(recs):
        replay = Trainer(cfg)
        replay.step(k)
        for j in range(6):
            o = forward_backward(snapshot(replay.model), "tanh", *batch_for_record(cfg, j))
            matches = math.isclose(rec.loss, o.loss, rel_tol=1e-6)
            assert matches == (j == k), (k, j, rec.loss, o.loss)


def test_histogram_totals_count_every_value() -> None:
    cfg = RunConfig(depth=6, width=40, batch_size=50, activation="relu", init=InitSpec("normal", std=1.0))
    trainer = Trainer(cfg)
    trainer.step(2)
    rec = trainer.latest
    n = 50 * 40
    for hist, under, over in [
        (rec.act_hist, rec.act_under, rec.act_over),
        (rec.pre_hist, rec.pre_under, rec.pre_over),
        (rec.grad_hist, rec.grad_under, rec.grad_over),
    ]:
        np.testing.assert_array_equal(hist.sum(1) + under + over, np.full(6, n))
    assert rec.act_hist.shape == (6, rec.act_spec.bins)
    assert rec.grad_hist.shape == (6, rec.grad_spec.bins)


def test_gradient_histogram_edges_are_powers_of_two() -> None:
    trainer = Trainer(RunConfig(depth=2, width=8))
    spec = trainer.latest.grad_spec
    assert spec.log10_abs
    np.testing.assert_allclose(spec.edges, np.arange(-40, 7) * np.log10(2.0), rtol=0, atol=1e-12)


def test_exact_zero_gradients_are_underflow() -> None:
    # zeros init with tanh: every dLoss/d(post-activation) is exactly 0
    trainer = Trainer(RunConfig(depth=3, width=16, batch_size=32, init=InitSpec("zeros")))
    rec = trainer.latest
    np.testing.assert_array_equal(rec.grad_under, np.full(3, 32 * 16))
    assert rec.grad_hist.sum() == 0 and rec.grad_over.sum() == 0
    np.testing.assert_array_equal(rec.grad_out_norm, np.zeros(3))


# --- update ratio: ||W_after - W_before|| / ||W_before|| --------------------------------------
def _measured_update_ratios(trainer: Trainer, steps: int) -> list[tuple[np.ndarray, list[float]]]:
    out = []
    for _ in range(steps):
        before = [w.detach().double().clone() for w in trainer.model.hidden_weights()]
        (rec,) = trainer.step()
        after = [w.detach().double() for w in trainer.model.hidden_weights()]
        want = [float((a - b).norm() / b.norm()) if b.norm() > 0 else (math.inf if (a - b).norm() > 0 else 0.0)
                for a, b in zip(after, before)]
        out.append((rec.update_ratio, want))
    return out


@pytest.mark.parametrize("optimizer,lr,momentum", [("sgd", 0.05, 0.9), ("sgd", 0.05, 0.0), ("adam", 0.01, 0.9)])
def test_update_ratio_matches_weight_change(optimizer: str, lr: float, momentum: float) -> None:
    # rtol 1e-3: W_after - W_before is a difference of float32 weights (the update is ~1e-3 of W)
    cfg = RunConfig(depth=4, width=32, batch_size=64, optimizer=optimizer, lr=lr, momentum=momentum,
                    init=InitSpec("xavier_normal"))
    trainer = Trainer(cfg)
    np.testing.assert_array_equal(trainer.latest.update_ratio, np.zeros(4))  # nothing moved yet
    for got, want in _measured_update_ratios(trainer, 3):
        np.testing.assert_allclose(got, want, rtol=1e-3)


def test_update_ratio_divides_by_the_weights_before_the_update() -> None:
    """Large updates make the two conventions differ: Adam moves every weight by ~lr = 10x its size."""
    cfg = RunConfig(depth=3, width=16, batch_size=32, optimizer="adam", lr=0.1, init=InitSpec("normal", std=0.01))
    trainer = Trainer(cfg)
    ((got, want),) = _measured_update_ratios(trainer, 1)
    assert min(want) > 5  # the weights grew ~10x
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_update_ratio_is_inf_for_a_zero_matrix_that_moves() -> None:
    """probes.weight_stats documents 'x / 0 is inf (a zero matrix that moves)'. Zeros init + sigmoid:
    the last hidden layer's weights are 0 until the head has learned, then they move."""
    cfg = RunConfig(depth=2, width=8, batch_size=32, activation="sigmoid", init=InitSpec("zeros"))
    trainer = Trainer(cfg)
    results = _measured_update_ratios(trainer, 2)
    got, want = results[1]  # step 2: layer 2 moves away from W = 0
    assert want[1] == math.inf
    assert got[1] == math.inf


# --- float precision of the statistics (regressions) -------------------------------------------
def test_constant_layer_has_zero_std_and_symmetry_one() -> None:
    """A layer whose outputs are all equal (W = 0, b = 0.3: every output is tanh(0.3)) has std 0
    and symmetry 1 by definition; _mean_std's float32 mean made the std 3e-8 and symmetry 0."""
    cfg = RunConfig(depth=3, width=64, batch_size=64, init=InitSpec("constant", value=0.0), bias_init=0.3)
    trainer = Trainer(cfg)
    o = oracle_for(trainer, 0)
    assert all(np.all(p == p.flat[0]) for p in o.post)  # really constant layers
    rec = trainer.latest
    np.testing.assert_array_equal(rec.act_std, np.zeros(3))
    np.testing.assert_array_equal(rec.symmetry, np.ones(3))


def test_identical_units_report_symmetry_one_within_1e_6() -> None:
    """Constant init: every unit of a layer is bit-identical, so symmetry is 1 (float64 oracle: 1 - 1e-16)."""
    cfg = RunConfig(depth=3, width=64, batch_size=64, init=InitSpec("constant", value=0.1))
    trainer = Trainer(cfg)
    o = oracle_for(trainer, 0)
    assert all(np.all(p == p[:, :1]) for p in o.post)
    np.testing.assert_allclose([symmetry(p) for p in o.post], 1.0, atol=1e-12)
    np.testing.assert_allclose(trainer.latest.symmetry, 1.0, atol=1e-6)


def test_weight_std_of_a_constant_matrix_is_zero() -> None:
    """weight_std from sum and sum of squares cancels catastrophically: constant 0.1 gave 2e-4."""
    cfg = RunConfig(depth=3, width=64, batch_size=32, init=InitSpec("constant", value=0.1))
    trainer = Trainer(cfg)
    assert all(float(w.detach().double().std(correction=0)) == 0.0 for w in trainer.model.hidden_weights())
    assert np.all(trainer.latest.weight_std <= 1e-6 * 0.1), trainer.latest.weight_std


def test_act_std_is_finite_for_large_finite_activations() -> None:
    """N(0,1) + ReLU, depth 20, width 256 at init: activations reach ~1e20, all finite. The float32
    sum of squares in _mean_std overflowed to an act_std of inf (and symmetry NaN)."""
    cfg = RunConfig(depth=20, width=256, batch_size=64, activation="relu", init=InitSpec("normal", std=1.0))
    trainer = Trainer(cfg)
    o = oracle_for(trainer, 0)
    assert all(np.isfinite(p).all() for p in o.post + o.pre)
    rec = trainer.latest
    assert np.all(rec.nonfinite == 0)
    np.testing.assert_allclose(rec.act_std, [pop_std(p) for p in o.post], rtol=RTOL)
    np.testing.assert_allclose(rec.pre_std, [pop_std(p) for p in o.pre], rtol=RTOL)
    assert np.all(np.isfinite(rec.symmetry))


# --- non-finite values ------------------------------------------------------------------------
def test_diverged_record_counts_match_hand_computation() -> None:
    """After the N(0,1)+ReLU run blows up: non-finite counts equal a hand count, histograms hold
    every value that is not NaN (±inf in under/overflow), and nothing raised."""
    cfg = RunConfig(depth=20, width=256, batch_size=64, activation="relu", init=InitSpec("normal", std=1.0))
    trainer = Trainer(cfg)
    for k in (1, 2):
        (rec,) = trainer.step()
        o = oracle_for(trainer, k)
        n = 64 * 256
        st, scale = hist_stride(64, 256), hist_scale(64, 256)  # the histograms' documented subsample
        for i in range(20):
            bad = int(np.sum(~np.isfinite(o.post[i]))) + int(np.sum(~np.isfinite(o.pre[i])))
            assert rec.nonfinite[i] == bad
            assert rec.grad_nonfinite[i] == int(np.sum(~np.isfinite(o.grad_post[i])))
            not_nan = scale * int(np.sum(~np.isnan(o.post[i].reshape(-1)[::st])))
            assert math.isclose(rec.act_hist[i].sum(dtype=np.float64) + rec.act_under[i] + rec.act_over[i], not_nan, rel_tol=1e-6)
            not_nan_pre = scale * int(np.sum(~np.isnan(o.pre[i].reshape(-1)[::st])))
            assert math.isclose(rec.pre_hist[i].sum(dtype=np.float64) + rec.pre_under[i] + rec.pre_over[i], not_nan_pre, rel_tol=1e-6)
            not_nan_g = scale * int(np.sum(~np.isnan(o.grad_post[i].reshape(-1)[::st])))
            assert math.isclose(rec.grad_hist[i].sum(dtype=np.float64) + rec.grad_under[i] + rec.grad_over[i], not_nan_g, rel_tol=1e-6)
        assert rec.nonfinite.sum() > 0


# --- the histograms' subsample -------------------------------------------------------------------
def test_hist_stride_is_exact_below_the_threshold_and_coprime_with_the_width_above() -> None:
    assert hist_stride(64, 32) == 1 and hist_scale(64, 32) == 1.0  # 2048 values: every value
    assert hist_stride(128, 64) == 1  # exactly HIST_SAMPLE values
    assert 128 * 64 == HIST_SAMPLE
    assert hist_stride(128, 256) == 5  # 32768 values: 4 shares a factor with 256, so 5
    assert hist_scale(128, 256) == 32768 / 6554
    assert hist_stride(128, 250) == 7  # 32000 values: 4, 5 and 6 share a factor with 250
    assert hist_stride(256, 129) == 5  # 33024 values
    assert hist_stride(3, 100_000) == 37


@pytest.mark.parametrize("activation,init", [("tanh", InitSpec("xavier_normal")), ("relu", InitSpec("kaiming_normal")),
                                             ("tanh", InitSpec("normal", std=1.0)), ("sigmoid", InitSpec("xavier_normal"))])
def test_subsampled_histograms_are_within_tv_005_of_the_full_ones(activation: str, init: InitSpec) -> None:
    """Total-variation distance between the recorded (subsampled, rescaled) histogram and numpy's
    histogram of every value of the layer is at most 0.05, at depth 20 width 256 batch 128."""
    cfg = RunConfig(depth=20, width=256, batch_size=128, activation=activation, init=init, lr=0.01)
    trainer = Trainer(cfg)
    trainer.step(3)
    rec = trainer.latest
    o = oracle_for(trainer, 3)
    assert hist_stride(128, 256) > 1  # this case is subsampled
    worst = 0.0
    for i in range(20):
        for counts, under, over, want in [
            (rec.act_hist[i], rec.act_under[i], rec.act_over[i],
             value_hist(o.post[i], rec.act_spec.lo, rec.act_spec.hi, rec.act_spec.bins, activation in ("tanh", "sigmoid"))),
            (rec.pre_hist[i], rec.pre_under[i], rec.pre_over[i],
             value_hist(o.pre[i], rec.pre_spec.lo, rec.pre_spec.hi, rec.pre_spec.bins, False)),
            (rec.grad_hist[i], rec.grad_under[i], rec.grad_over[i],
             grad_exponent_hist(o.grad_post[i], round(rec.grad_spec.lo / LOG10_2), round(rec.grad_spec.hi / LOG10_2))),
        ]:
            got = np.r_[under, counts, over].astype(np.float64)
            full = np.r_[want[1], want[0], want[2]].astype(np.float64)
            tv = 0.5 * np.abs(got / got.sum() - full / full.sum()).sum()
            worst = max(worst, tv)
    assert worst <= 0.05, worst
