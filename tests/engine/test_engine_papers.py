"""The paper scenarios reproduce the published numbers: asserted on the numbers themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initviz.engine.papers import LN4, PAPERS, LaneData, evaluate, get_paper, paper_for
from initviz.engine.scenarios import get_scenario, load_scenarios
from initviz.engine.trainer import Trainer


def lanes_at_init(scenario_id: str, **changes) -> list[LaneData]:
    s = get_scenario(scenario_id)
    names = s.lane_names or tuple(c.init.label() for c in s.lane_configs)
    out = []
    for name, cfg in zip(names, s.lane_configs):
        t = Trainer(cfg.replace(**changes) if changes else cfg)
        out.append(LaneData(name, t.config, list(t.history), t.theory))
    return out


def test_every_paper_has_a_scenario_and_is_found_from_its_configs() -> None:
    scenarios = load_scenarios()
    for paper in PAPERS:
        s = get_scenario(paper.id, scenarios)
        assert paper_for(s.lane_configs, scenarios) is paper
        assert paper_for([c.replace(seed=5) for c in s.lane_configs], scenarios) is paper
    assert paper_for([get_scenario("he_relu", scenarios).config], scenarios) is None


def test_cs231n_tanh_stds() -> None:
    (lane,) = lanes_at_init("paper_cs231n_tanh")
    rec = lane.records[0]
    np.testing.assert_allclose(rec.act_std[:3], [0.213, 0.0476, 0.0106], rtol=0.05)
    np.testing.assert_allclose(lane.theory.act_std[:3], [0.213, 0.0476, 0.0106], rtol=0.05)
    assert evaluate(get_paper("paper_cs231n_tanh"), [lane]).verdict is True


def test_cs231n_relu_he_mean_and_std_in_every_layer() -> None:
    (lane,) = lanes_at_init("paper_cs231n_relu")
    rec = lane.records[0]
    np.testing.assert_allclose(rec.act_mean, 0.56, rtol=0.15)
    np.testing.assert_allclose(rec.act_std, 0.83, rtol=0.15)
    # closed forms for q = 2 |x|^2 / 500; the drawn inputs' mean |x|^2 / 500 is 1 within ~0.2%
    np.testing.assert_allclose(lane.theory.act_mean, 1 / math.sqrt(math.pi), rtol=3e-3)
    np.testing.assert_allclose(lane.theory.act_std, math.sqrt(1 - 1 / math.pi), rtol=3e-3)


def test_makemore_std_and_saturation() -> None:
    (lane,) = lanes_at_init("paper_makemore")
    rec = lane.records[0]
    np.testing.assert_allclose(rec.act_std, [0.75, 0.69, 0.67, 0.66, 0.66], atol=0.03)
    np.testing.assert_allclose(100 * rec.saturation, [20.25, 8.38, 6.62, 5.47, 6.12], atol=2.5)
    np.testing.assert_allclose(100 * lane.theory.saturation, [20.25, 8.38, 6.62, 5.47, 6.12], atol=1.5)


def test_selu_fixed_point() -> None:
    (lane,) = lanes_at_init("paper_selu")
    rec = lane.records[0]
    assert np.all(np.abs(rec.act_mean) < 0.05) and np.all(np.abs(rec.act_std**2 - 1) < 0.1)
    assert np.all(np.abs(lane.theory.act_std**2 - 1) < 0.01)


def test_orthogonal_preserves_norms_exactly_gaussian_does_not() -> None:
    ortho, gauss = lanes_at_init("paper_orthogonal")
    r_o = ortho.records[0].act_std[-1] / ortho.records[0].act_std[0]
    r_g = gauss.records[0].act_std[-1] / gauss.records[0].act_std[0]
    assert abs(r_o - 1) < 1e-3 < abs(r_g - 1)
    result = evaluate(get_paper("paper_orthogonal"), [ortho, gauss])
    assert [c.measured for c in result.checks] == pytest.approx([r_o, r_g])


def test_he2015_xavier_decays_2_to_the_minus_15_and_only_he_trains() -> None:
    xavier, he = lanes_at_init("paper_he2015", record_every=10)
    assert abs(math.log2(xavier.records[0].act_std[-1]) + 15) < 1.0
    assert 0.5 < he.records[0].act_std[-1] / he.records[0].act_std[0] < 2.0
    pending = evaluate(get_paper("paper_he2015"), [xavier, he])
    assert [c.matches for c in pending.checks if c.quantity == "training loss"] == [None, None]
    trained = []
    for lane in (xavier, he):
        t = Trainer(lane.config)
        t.step(300)
        trained.append(LaneData(lane.name, lane.config, list(t.history), lane.theory))
    losses = [np.mean([r.loss for r in lane.records if r.step > 250]) for lane in trained]
    assert losses[0] > 0.95 * LN4 and losses[1] < 0.8 * LN4
    assert evaluate(get_paper("paper_he2015"), trained).verdict is True
