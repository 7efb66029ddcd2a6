"""The ready-made pairs: two lanes that differ in one thing, showing what their text promises."""

from __future__ import annotations

import numpy as np

from initviz.cli import main
from initviz.engine.lanes import Lanes
from initviz.engine.scenarios import get_scenario, scenario_from_dict


def test_a_lane_may_change_its_own_settings() -> None:
    sc = get_scenario("pair_saturation_batchnorm")
    plain, rescued = sc.lane_configs
    assert (plain.batchnorm, rescued.batchnorm) == (False, True)
    assert plain.init == rescued.init and sc.lane_names == ("N(0, 1)", "N(0, 1) + BatchNorm")
    bad = {"id": "x", "title": "t", "explanation": "e", "look_for": "l", "lanes": [{"scheme": "zeros", "config": {"init": "he"}}]}
    try:
        scenario_from_dict(bad, "bad.json")
    except Exception as exc:  # noqa: BLE001 - the message is what matters
        assert "bad.json" in str(exc) and "lanes[].config" in str(exc)
    else:
        raise AssertionError("a lane's config may not set its init")


def test_batchnorm_rescues_the_saturated_lane_at_init() -> None:
    sc = get_scenario("pair_saturation_batchnorm")
    configs = [c.replace(depth=6) for c in sc.lane_configs]  # the same story in fewer layers (quicker)
    plain, rescued = Lanes(configs, sc.lane_names).latest
    # saturation: share of post-activations with |tanh| > 0.97, deep layers (the text says ~85% vs ~2%)
    assert plain.saturation[1:].min() > 0.7 and rescued.saturation.max() < 0.1


def test_xavier_decays_on_relu_and_he_does_not() -> None:
    sc = get_scenario("pair_xavier_he_relu")
    lanes = Lanes(sc.lane_configs, sc.lane_names)
    xavier, he = lanes.latest
    # Var halves per ReLU layer under Xavier (fan_in = fan_out): std x 1/sqrt(2) per layer
    ratio = xavier.act_std[-1] / xavier.act_std[1]
    expected = 0.5 ** ((len(xavier.act_std) - 2) / 2)
    assert expected / 4 < ratio < expected * 4
    assert 0.5 < he.act_std[-1] / he.act_std[1] < 2


def test_the_cli_runs_a_pair_with_each_lanes_settings(tmp_path) -> None:
    import json

    assert main(["run", "--scenario", "pair_saturation_batchnorm", "--steps", "1", "--depth", "3", "--out", str(tmp_path), "-q"]) == 0
    lanes = json.loads((tmp_path / "stats.json").read_text())["lanes"]
    assert [lane["config"]["batchnorm"] for lane in lanes] == [False, True]
    assert [lane["config"]["depth"] for lane in lanes] == [3, 3]  # a flag goes to every lane
    assert np.isfinite(lanes[0]["loss"][0])
