"""Lanes: several runs in lockstep that share data, batch order, seed and shape."""

from __future__ import annotations

import pytest

from engine_oracle import assert_same_record
from initviz.engine import ConfigError, InitSpec, RunConfig, Trainer
from initviz.engine.lanes import MAX_LANES, SHARED, Lanes, check_lanes, compare_configs, scheme_list


def base(**kw) -> RunConfig:
    d = dict(depth=3, width=16, batch_size=32, seed=2)
    d.update(kw)
    return RunConfig(**d)


def test_a_lane_equals_the_same_config_run_alone() -> None:
    configs = [base(init=InitSpec("xavier_normal")), base(init=InitSpec("normal", std=1.0), activation="relu"),
               base(init=InitSpec("kaiming_normal"), dropout=0.2, optimizer="adam", lr=0.01)]
    lanes = Lanes(configs)
    steps = lanes.step(4)
    assert len(steps) == 4 and all(len(s) == 3 for s in steps)
    for i, cfg in enumerate(configs):
        alone = Trainer(cfg)
        assert_same_record(lanes.trainers[i].history[0], alone.latest)
        for k, rec in enumerate(alone.step(4)):
            assert_same_record(steps[k][i], rec)


OTHER = {"dataset": "moons", "seed": 3, "batch_size": 16, "depth": 4, "width": 8, "record_every": 2, "test_every": 5,
         "input_dim": 32}


def test_shared_fields() -> None:
    assert set(SHARED) == set(OTHER) | {"device"}  # device: a cpu and a cuda lane cannot both validate here


@pytest.mark.parametrize("name", sorted(OTHER))
def test_lanes_must_share(name: str) -> None:
    other = OTHER[name]
    a, b = base(), base(**{name: other})
    with pytest.raises(ConfigError) as info:
        check_lanes([a, b])
    assert info.value.field == f"lanes[1].{name}"
    assert repr(other) in str(info.value)


def test_lane_count_limits() -> None:
    with pytest.raises(ConfigError):
        check_lanes([])
    with pytest.raises(ConfigError):
        check_lanes([base()] * (MAX_LANES + 1))
    check_lanes([base()] * MAX_LANES)


def test_compare_configs_and_names() -> None:
    configs = compare_configs(base(), scheme_list(" zeros, normal ,xavier_normal,"))
    assert [c.init.scheme for c in configs] == ["zeros", "normal", "xavier_normal"]
    with pytest.raises(ConfigError):
        compare_configs(base(), ["zeros", "bogus"])
    lanes = Lanes([base(), base(lr=0.1)])
    assert len(set(lanes.names)) == 2  # same init label made unique


def test_lanes_reseed_together() -> None:
    lanes = Lanes([base(), base(init=InitSpec("kaiming_normal"))])
    lanes.step(2)
    recs = lanes.reseed()
    assert [c.seed for c in lanes.configs] == [3, 3]
    assert all(r.step == 0 for r in recs) and lanes.step_count == 0
