"""Lanes in lockstep, scenarios as data, saved runs that reopen exactly and refuse bad files."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from initviz.cli import main
from initviz.engine import ConfigError, InitSpec, RunConfig, StepRecord, Trainer
from initviz.engine.lanes import Lanes, check_lanes, compare_configs
from initviz.engine.scenarios import DEFAULT_SCENARIO, get_scenario, load_scenarios, scenario_from_dict
from initviz.engine.store import RunFileError, load_run, save_run

SMALL = RunConfig(depth=4, width=16, batch_size=32)


def assert_same_record(a: StepRecord, b: StepRecord) -> None:
    for f in dataclasses.fields(a):
        if f.name in ("train_seconds", "stats_seconds"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=True), f.name
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y), f.name
        else:
            assert x == y, f.name


# --- lanes ------------------------------------------------------------------------------------
def test_lanes_see_identical_batches() -> None:
    lanes = Lanes(compare_configs(SMALL, ["zeros", "normal", "xavier_normal"]))
    seen = []
    for t in lanes.trainers:
        seen.append([t.batches.next()[0].clone() for _ in range(5)])
    for other in seen[1:]:
        assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(seen[0], other))


def test_a_lane_equals_the_same_config_run_alone() -> None:
    configs = compare_configs(SMALL, ["normal", "kaiming_normal"])
    lanes = Lanes(configs)
    lanes.step(15)
    alone = Trainer(configs[1])
    alone.step(15)
    assert len(alone.history) == len(lanes.trainers[1].history) == 16
    for a, b in zip(alone.history, lanes.trainers[1].history):
        assert_same_record(a, b)


def test_lanes_advance_in_lockstep_and_differ_by_init() -> None:
    lanes = Lanes(compare_configs(SMALL, ["zeros", "kaiming_normal"]))
    made = lanes.step(4)
    assert [[r.step for r in step] for step in made] == [[1, 1], [2, 2], [3, 3], [4, 4]]
    zeros, he = lanes.latest
    assert np.all(zeros.symmetry > 0.999) and np.all(he.symmetry < 0.5)
    assert lanes.names == ["zeros", "kaiming_normal"]


def test_lanes_share_one_history_budget_and_thin_alike() -> None:
    from initviz.engine.record import HISTORY_BYTES

    lanes = Lanes(compare_configs(SMALL, ["zeros", "normal", "xavier_normal", "kaiming_normal"]))
    for t in lanes.trainers:  # four lanes take one run's memory, not four times it
        assert t.history.max_bytes == HISTORY_BYTES // 4
        assert t.history.capacity == max(t.history.min_capacity, HISTORY_BYTES // 4 // t.latest.nbytes)
    assert Lanes([SMALL]).trainers[0].history.max_bytes == HISTORY_BYTES
    # a small budget so thinning happens here: every lane keeps the same steps
    for t in lanes.trainers:
        first = t.latest
        t.history.clear()
        t.history.max_bytes = 40 * first.nbytes
        t.history.min_capacity = 8
        t.history.append(first)
    lanes.step(150)
    kept = [[r.step for r in t.history] for t in lanes.trainers]
    assert all(k == kept[0] for k in kept) and kept[0][0] == 0 and kept[0][-1] == 150
    assert len(kept[0]) <= 40


def test_lanes_must_share_data_and_shape() -> None:
    with pytest.raises(ConfigError, match=r"lanes\[1\]\.seed"):
        check_lanes([SMALL, SMALL.replace(seed=3)])
    with pytest.raises(ConfigError, match="1 to 4 lanes"):
        compare_configs(SMALL, ["zeros", "normal", "uniform", "orthogonal", "lecun_normal"])
    with pytest.raises(ConfigError, match="init.scheme"):
        compare_configs(SMALL, ["zeros", "nope"])


def test_compare_cli_writes_every_lane(tmp_path: Path) -> None:
    rc = main(["run", "--compare", "zeros,normal,xavier_normal,kaiming_normal", "--depth", "3", "--width", "8",
               "--steps", "4", "--out", str(tmp_path), "-q"])
    assert rc == 0
    data = json.loads((tmp_path / "stats.json").read_text())
    assert [lane["config"]["init"]["scheme"] for lane in data["lanes"]] == ["zeros", "normal", "xavier_normal", "kaiming_normal"]
    for lane in data["lanes"]:
        assert lane["steps"] == [0, 1, 2, 3, 4] and np.asarray(lane["act_std"]).shape == (5, 3)
    csv_lines = (tmp_path / "stats.csv").read_text().splitlines()
    assert csv_lines[0].startswith("lane,step,layer")
    assert len(csv_lines) == 1 + 4 * 5 * 3


# --- scenarios --------------------------------------------------------------------------------
def test_every_lesson_scenario_ships_and_validates() -> None:
    scenarios = load_scenarios()
    ids = [s.id for s in scenarios]
    for needed in ("zeros", "constant", "normal_tanh_saturation", "normal_tanh_vanishing", "xavier_tanh",
                   "xavier_relu", "he_relu", "pytorch_default", "normal_relu_explosion", "normal_tanh_batchnorm",
                   DEFAULT_SCENARIO):
        assert needed in ids
    for s in scenarios:
        assert s.title and s.explanation and s.look_for
    classic = get_scenario(DEFAULT_SCENARIO)
    assert [c.init.scheme for c in classic.lane_configs] == ["zeros", "normal", "xavier_normal", "kaiming_normal"]
    assert get_scenario("constant").config.init.value == 0.1
    assert get_scenario("normal_tanh_batchnorm").config.batchnorm is True
    assert classic.lane_names == ("zeros", "N(0, 1)", "Xavier", "He")  # what the app and its exports call them


def test_scenario_lane_names_are_all_or_none_and_distinct() -> None:
    def scenario(lanes: list) -> dict:
        return {"id": "x", "title": "t", "explanation": "e", "look_for": "l", "lanes": lanes}

    named = scenario_from_dict(scenario([{"scheme": "zeros", "name": "flat"}, {"scheme": "xavier_normal", "name": "X"}]))
    assert named.lane_names == ("flat", "X") and [c.init.scheme for c in named.lane_configs] == ["zeros", "xavier_normal"]
    assert scenario_from_dict(scenario([{"scheme": "zeros"}, {"scheme": "xavier_normal"}])).lane_names is None
    for bad in (
        [{"scheme": "zeros", "name": "a"}, {"scheme": "xavier_normal"}],  # one named, one not
        [{"scheme": "zeros", "name": "a"}, {"scheme": "xavier_normal", "name": "a"}],  # twice the same
        [{"scheme": "zeros", "name": " "}, {"scheme": "xavier_normal", "name": "b"}],  # blank
    ):
        with pytest.raises(ConfigError, match="lanes"):
            scenario_from_dict(scenario(bad), "bad.json")


def test_scenario_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    listing = capsys.readouterr().out
    assert "normal_relu_explosion" in listing and "4 lanes" in listing
    assert main(["run", "--scenario", "zeros", "--steps", "2", "--depth", "3", "--out", str(tmp_path), "-q"]) == 0
    data = json.loads((tmp_path / "stats.json").read_text())
    assert data["config"]["init"]["scheme"] == "zeros" and data["config"]["depth"] == 3


# --- saved runs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config",
    [SMALL, SMALL.replace(dropout=0.2, batchnorm=True, optimizer="adam", lr=0.001)],
    ids=["sgd", "dropout-bn-adam"],
)
def test_save_then_open_gives_equal_records_and_continues_identically(tmp_path: Path, config: RunConfig) -> None:
    original = Lanes([config])
    original.step(23)
    path = save_run(tmp_path / "my run", original)
    assert path.name == "my run.initviz"
    opened = load_run(path)
    for a, b in zip(original.trainers[0].history, opened.trainers[0].history, strict=True):
        assert_same_record(a, b)
    assert opened.step_count == 23
    for a, b in zip(original.step(4), opened.step(4)):
        assert_same_record(a[0], b[0])


def test_saved_lanes_reopen_as_lanes(tmp_path: Path) -> None:
    lanes = Lanes(compare_configs(SMALL, ["zeros", "kaiming_normal"]))
    lanes.step(3)
    opened = load_run(save_run(tmp_path / "cmp.initviz", lanes))
    assert opened.names == lanes.names and len(opened) == 2
    assert_same_record(opened.latest[1], lanes.latest[1])


def test_diverged_run_saves_and_reopens(tmp_path: Path) -> None:
    t = Lanes([RunConfig(depth=20, width=64, activation="relu", init=InitSpec("normal", std=2.0))])
    t.step(2)
    assert t.latest[0].diverged_at is not None
    opened = load_run(save_run(tmp_path / "boom", t))
    assert opened.latest[0].diverged_message() == t.latest[0].diverged_message()


def _valid_file(tmp_path: Path) -> Path:
    t = Lanes([SMALL])
    t.step(2)
    return save_run(tmp_path / "ok", t)


def test_corrupt_truncated_newer_and_pickle_files_are_refused(tmp_path: Path) -> None:
    good = _valid_file(tmp_path)
    junk = tmp_path / "junk.initviz"
    junk.write_bytes(b"definitely not a zip")
    truncated = tmp_path / "truncated.initviz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pickled = tmp_path / "pickled.initviz"
    np.savez(pickled.with_suffix(""), header=np.frombuffer(b"{}", dtype=np.uint8), evil=np.array([{"x": 1}], dtype=object))
    pickled.with_suffix(".npz").rename(pickled)
    newer = tmp_path / "newer.initviz"
    header = {"format": "initviz.saved", "version": 99, "written_by": "initviz 9", "lanes": [{}]}
    np.savez(newer.with_suffix(""), header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    newer.with_suffix(".npz").rename(newer)
    # a valid zip whose config was tampered with
    tampered = tmp_path / "tampered.initviz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "header.npy":
                text = data.decode("latin-1").replace('"depth": 4', '"depth": 0')
                data = text.encode("latin-1")
            zout.writestr(item, data)
    cases = {
        junk: "not a saved initviz run",
        truncated: "truncated or damaged",
        pickled: "pickle",
        newer: "newer initviz",
        tampered: "depth",
        tmp_path / "missing.initviz": "does not exist",
    }
    for path, needle in cases.items():
        with pytest.raises(RunFileError, match=needle):
            load_run(path)


def test_failed_save_leaves_no_file(tmp_path: Path) -> None:
    t = Lanes([SMALL])
    with pytest.raises(OSError):
        save_run(tmp_path / "no such folder" / "run", t)
    assert list(tmp_path.iterdir()) == []


def test_decision_grid_predicts_the_training_points_it_fits() -> None:
    t = Trainer(RunConfig(depth=3, width=32, dataset="blobs", lr=0.05))
    t.step(150)
    grid = t.decision_grid(resolution=30)
    assert grid is not None and grid.classes.shape == (30, 30) and grid.n_classes == 4
    # look up each training point's grid cell: the grid's class agrees with the label mostly
    xi = np.clip(((grid.points[:, 0] - grid.x_range[0]) / (grid.x_range[1] - grid.x_range[0]) * 29).round().astype(int), 0, 29)
    yi = np.clip(((grid.points[:, 1] - grid.y_range[0]) / (grid.y_range[1] - grid.y_range[0]) * 29).round().astype(int), 0, 29)
    assert (grid.classes[yi, xi] == grid.labels).mean() > 0.8
    assert Trainer(RunConfig(dataset="digits", depth=2, width=8)).decision_grid() is None


def test_a_gaussian_run_with_its_own_input_dim_saves_and_opens(tmp_path) -> None:
    """Regression: the loader's manifest took the gaussian dataset's default width, not input_dim."""
    from initviz.engine import RunConfig
    from initviz.engine.lanes import Lanes
    from initviz.engine.store import load_run, save_run

    cfg = RunConfig(dataset="gaussian", input_dim=5, depth=2, width=8, batch_size=16)
    lanes = Lanes([cfg])
    lanes.step(2)
    opened = load_run(save_run(tmp_path / "g.initviz", lanes))
    assert opened.trainers[0].config == cfg and opened.step_count == 2
