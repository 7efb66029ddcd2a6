"""Phase-diagram sweeps (engine/sweep.py): cells are the normal engine's runs, results stream,
cache and resume as strict JSON, reproduce from seeds, and run through a Dask LocalCluster."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from initviz.engine import phase
from initviz.engine.config import ConfigError
from initviz.engine.data import BatchStream, make_dataset
from initviz.engine.model import build_model
from initviz.engine.sweep import (
    SCHEMA,
    CellCache,
    CellResult,
    Sweep,
    SweepResult,
    SweepSpec,
    cells_csv,
    local_executor,
    run_cell,
    sweep_theory,
)

TINY = SweepSpec(sigma_w2=(1.0, 3.0), depths=(2, 3), width=16, steps=6, batch_size=32)


def test_cell_config_draws_weights_and_biases_at_the_cell_variances() -> None:
    spec = SweepSpec(width=256, dataset="digits")
    cfg = spec.base_config(2.0, 0.3, 3)
    model = build_model(cfg, 64, 10)
    w = torch.cat([b.linear.weight.detach().reshape(-1) for b in model.blocks[1:]])
    bias = torch.cat([b.linear.bias.detach() for b in model.blocks])
    assert float(w.var()) * 256 == pytest.approx(2.0, rel=0.02)  # sigma_w2 / fan_in
    assert float(bias.var()) == pytest.approx(0.3, rel=0.15)  # 768 draws of N(0, sigma_b2)
    assert abs(float(bias.mean())) < 0.1


def test_spec_errors_name_the_field() -> None:
    for kwargs, name in [({"sigma_w2": (-1.0,)}, "sigma_w2"), ({"depths": (0,)}, "depths"),
                         ({"activation": "swish"}, "activation"), ({"sigma_w2": ()}, "sigma_w2"),
                         ({"steps": -1}, "steps")]:  # fmt: skip
        with pytest.raises(ConfigError) as info:
            SweepSpec(**kwargs).validate()
        assert info.value.field == name


def test_grad_ratio_is_the_first_batch_gradient_ratio_at_init() -> None:
    cfg = TINY.base_config(3.0, 0.05, 3)
    res = run_cell(cfg.to_json(), 0, 3.0, 0.05, torch_threads=0)
    data = make_dataset(cfg.dataset, cfg.seed, "cpu")
    model = build_model(cfg, 64, 10)
    x, y = BatchStream(data, cfg.batch_size, cfg.seed).next()
    F.cross_entropy(model(x), y).backward()
    ratio = float(model.blocks[0].linear.weight.grad.norm() / model.blocks[-1].linear.weight.grad.norm())
    assert res["grad_ratio"] == pytest.approx(ratio, rel=1e-5)
    # no training: the final loss is the initial one, computed on the whole training split
    assert res["loss"] == pytest.approx(res["initial_loss"], rel=1e-12)
    with torch.no_grad():
        assert res["initial_loss"] == pytest.approx(float(F.cross_entropy(model(data.x_train), data.y_train)), rel=1e-5)


def test_sweep_streams_caches_resumes_and_reproduces(tmp_path) -> None:
    seen = []
    first = Sweep(TINY, cache=tmp_path).run(on_result=lambda r, done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(first.cells) == 4 and not any(c.cached for c in first.cells)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 4
    for f in files:  # strict JSON: no NaN/Infinity tokens
        json.loads(f.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in {f.name}"))
    again = Sweep(TINY, cache=tmp_path).run()
    assert all(c.cached for c in again.cells)
    assert sorted(again.cells, key=lambda c: c.key) == sorted(first.cells, key=lambda c: c.key)
    fresh = Sweep(TINY).run()  # no cache: trained again from the same seeds
    strip = lambda cells: sorted((c.key, c.test_accuracy, c.loss, c.grad_ratio) for c in cells)  # noqa: E731
    assert strip(fresh.cells) == strip(first.cells)


def test_cancel_stops_and_resume_finishes(tmp_path) -> None:
    sweep = Sweep(TINY, cache=tmp_path)
    got = []
    for r in sweep.results():
        got.append(r)
        sweep.cancel()
    assert len(got) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    resumed = Sweep(TINY, cache=tmp_path).run()
    assert len(resumed.cells) == 4 and sum(c.cached for c in resumed.cells) == 1


def test_a_diverged_cell_is_written_as_null_and_read_back_as_nan(tmp_path) -> None:
    cell = CellResult(1.0, 0.05, 3, math.nan, 0.1, math.inf, 2.3, True, math.nan, 0.5, 0.1, key="abc")
    CellCache(tmp_path).put(cell)
    data = json.loads((tmp_path / "abc.json").read_text())
    assert data["loss"] is None and data["train_accuracy"] is None and data["diverged"] is True
    back = CellCache(tmp_path).get("abc")
    assert back is not None and math.isnan(back.loss) and back.cached
    assert math.isnan(back.loss_drop) and back.trainability == 0.0


def test_grid_frontier_json_and_csv() -> None:
    spec = SweepSpec(sigma_w2=(1.0, 2.0), depths=(2, 10, 20), steps=1)
    accs = {(1.0, 2): 0.9, (1.0, 10): 0.6, (1.0, 20): 0.1, (2.0, 2): 0.9, (2.0, 10): 0.9, (2.0, 20): 0.8}
    cells = tuple(CellResult(w, 0.05, d, a, a, 1.0, 2.0, False, 1.0, 0.1, 0.1, key=f"{w}-{d}") for (w, d), a in accs.items())
    result = SweepResult(spec, cells)
    g = result.grid()
    assert g.shape == (3, 2)
    assert g[0, 0] == pytest.approx((0.9 - 0.1) / 0.9)
    assert list(result.frontier(0.5)) == [10.0, 20.0]
    theory = sweep_theory("tanh", spec.sigma_w2, 0.05)
    doc = json.loads(result.to_json(theory))
    assert doc["schema"] == SCHEMA
    assert set(doc["cells"][0]) >= {"sigma_w2", "sigma_b2", "depth", "test_accuracy", "loss", "diverged", "seconds"}
    assert doc["theory"]["critical_sigma_w2"] == pytest.approx(phase.critical_sigma_w2("tanh", 0.05))
    assert doc["theory"]["chi1"] == pytest.approx(list(phase.chi1("tanh", np.array([1.0, 2.0]), 0.05)))
    assert doc["theory"]["six_xi_c"] == pytest.approx(list(phase.six_xi_c("tanh", np.array([1.0, 2.0]), 0.05)))
    assert set(SweepResult.from_json(result.to_json()).cells) == set(result.cells)
    lines = cells_csv(result).splitlines()
    assert len(lines) == 7 and lines[0].startswith("sigma_w2,sigma_b2,depth")


def test_a_process_pool_gives_the_same_cells() -> None:
    spec = SweepSpec(sigma_w2=(1.5,), depths=(2, 3), width=16, steps=4, batch_size=32)
    here = sorted((c.key, c.test_accuracy, c.loss) for c in Sweep(spec).run().cells)
    with local_executor(1) as pool:
        there = sorted((c.key, c.test_accuracy, c.loss) for c in Sweep(spec).run(pool).cells)
    assert there == here


def test_a_dask_local_cluster_runs_a_2x2_sweep() -> None:
    distributed = pytest.importorskip("distributed")
    here = sorted((c.key, c.test_accuracy, c.loss) for c in Sweep(TINY).run().cells)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster, timeout="30s") as client:
            result = Sweep(TINY).run(client.get_executor(pure=False))
    torch.set_num_threads(1)
    assert sorted((c.key, c.test_accuracy, c.loss) for c in result.cells) == here


def test_the_order_to_chaos_scenario_says_what_theory_and_the_network_do() -> None:
    from initviz.engine.scenarios import get_scenario

    sc = get_scenario("order_to_chaos")
    sigma_w2 = [round(c.init.std**2 * c.width, 3) for c in sc.lane_configs]
    assert sigma_w2 == [0.6, 1.76, 20.0]
    assert sc.config.bias_std**2 == pytest.approx(0.05, rel=1e-6)
    six = phase.six_xi_c("tanh", np.array(sigma_w2), 0.05)
    assert six[0] == pytest.approx(9, abs=0.5) and six[2] == pytest.approx(21, abs=0.5) and six[1] > 1000
    assert all(s < sc.config.depth for s in (six[0], six[2]))  # past 6 xi_c: ordered and chaotic lanes
    ratios = [run_cell(c.to_json(), 0, w, 0.05, torch_threads=0)["grad_ratio"] for c, w in zip(sc.lane_configs, sigma_w2)]
    assert 1e-5 < ratios[0] < 1e-3 and 0.2 < ratios[1] < 5 and 1e5 < ratios[2] < 1e7  # the look_for text
