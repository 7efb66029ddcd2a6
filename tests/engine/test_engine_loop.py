"""The engine loop without threads: typed commands in, Snapshots out, and no input that kills it."""

from __future__ import annotations

import queue
import threading
import zlib

import numpy as np
import pytest

from initviz.engine import loop as L
from initviz.engine.config import RunConfig
from initviz.engine.lanes import add_lane, edit_lane, remove_lane
from initviz.engine.snapshot import Snapshot, index_at_or_before

TINY = RunConfig(depth=2, width=8, batch_size=16, activation="tanh", dataset="spirals", test_every=5)


def run(engine: L.Engine, *cmds) -> Snapshot:
    """Obey ``cmds``, then tick until no step is due; the last snapshot."""
    engine.run_commands(list(cmds))
    while engine.running:
        engine.tick()
    return engine.publish()


@pytest.fixture
def engine() -> L.Engine:
    return L.Engine(TINY)


@pytest.fixture
def two_lanes() -> L.Engine:
    return L.Engine(([TINY, TINY.replace(init={"scheme": "xavier_normal"})], ["first", "second"]))


def test_step_n_publishes_every_record(engine):
    snap = run(engine, L.Step(3))
    assert snap.step_count == 3 and not snap.playing and snap.pending_steps == 0
    assert [r.step for r in snap.records] == [0, 1, 2, 3]
    trainer = engine.lanes.trainers[0]
    assert snap.latest is trainer.latest and snap.lanes[0].layer_names == ("1", "2")
    assert snap.lanes[0].init_formula and snap.lanes[0].predicted_weight_std is not None
    # lane 0 answers the single-run names; per-lane tuples line up with the lanes
    assert snap.lane_latest == (snap.latest,) and snap.lane_configs == (TINY,) and snap.names == tuple(engine.lanes.names)


def test_at_and_upto_find_the_record_at_or_before_a_step():
    engine = L.Engine(TINY.replace(record_every=3))
    snap = run(engine, L.Step(10))
    view = snap.lanes[0]
    steps = [r.step for r in view.records]
    assert steps == [0, 3, 6, 9, 10] or steps == [0, 3, 6, 9]  # record_every: step 0 and every 3rd
    for s in range(-2, 13):
        expected = max([r for r in view.records if r.step <= s], key=lambda r: r.step, default=view.records[0])
        assert view.at(s) is expected, s  # a linear scan, written here independently
        assert index_at_or_before(view.records, s) == view.records.index(expected)
    assert view.at(None) is view.latest
    early = snap.upto(7)
    assert [r.step for r in early.records] == [0, 3, 6] and early.latest.step == 6
    assert snap.upto(100).lanes[0] is view  # nothing to cut


def test_play_pause_and_speed(engine):
    engine.handle(L.Play())
    for _ in range(4):
        engine.tick()
    assert engine.lanes.step_count == 4 and engine.running
    engine.handle(L.Pause())
    engine.tick()
    assert engine.lanes.step_count == 4 and not engine.running
    engine.handle(L.Speed(2.0))
    assert engine.interval == 0.5
    engine.handle(L.Speed(None))
    assert engine.interval is None


def test_reset_gives_the_same_weights_and_reseed_new_ones(engine):
    first = run(engine, L.Step(2)).lanes[0].records[0]
    snap = run(engine, L.Reset())
    assert snap.step_count == 0 and snap.build == 1
    np.testing.assert_array_equal(snap.latest.act_std, first.act_std)
    snap = run(engine, L.Reseed())
    assert snap.config.seed == TINY.seed + 1 and snap.build == 2
    assert not np.array_equal(snap.latest.act_std, first.act_std)


def test_a_bad_file_is_refused_and_the_run_goes_on(engine, tmp_path):
    run(engine, L.Step(2))
    bad = tmp_path / "bad.initviz"
    bad.write_bytes(b"not a run at all")
    snap = run(engine, L.Open(str(bad)))
    assert snap.notice.kind == "open_failed" and "bad.initviz" in snap.notice.text
    assert snap.build == 0 and snap.step_count == 2
    run(engine, L.Step(1))
    snap = run(engine, L.Save(str(tmp_path / "ok.initviz")))
    assert snap.step_count == 3 and snap.notice.kind == "saved" and (tmp_path / "ok.initviz").exists()
    # and the saved file opens as the run it was
    snap = run(engine, L.Step(2), L.Open(str(tmp_path / "ok.initviz")))
    assert snap.notice.kind == "opened" and snap.step_count == 3 and snap.build == 1


@pytest.mark.parametrize(
    "error",
    [IndexError("index 9 is out of bounds"), OverflowError("int too large"), RecursionError("too deep"), MemoryError(),
     NotImplementedError("codec"), AttributeError("no shape"), zlib.error("invalid stored block"), KeyError("lanes")],
)  # fmt: skip
def test_any_exception_from_opening_is_reported_not_raised(engine, tmp_path, monkeypatch, error):
    import initviz.engine.store as store

    def broken(path):
        raise error

    monkeypatch.setattr(store, "load_run", broken)
    before = engine.lanes
    snap = run(engine, L.Open(str(tmp_path / "x.initviz")))
    assert snap.notice.kind == "open_failed" and "x.initviz" in snap.notice.text
    assert engine.lanes is before and snap.build == 0
    assert run(engine, L.Step(1)).step_count == 1  # still trains


def test_save_reports_its_own_failure(engine, tmp_path):
    snap = run(engine, L.Save(str(tmp_path / "no" / "such" / "folder" / "run.initviz")))
    assert snap.notice.kind == "save_failed" and "Could not save the run" in snap.notice.text
    assert run(engine, L.Step(1)).step_count == 1


def test_a_config_that_does_not_build_keeps_the_old_run(engine, monkeypatch):
    import initviz.engine.trainer as trainer_mod

    run(engine, L.Step(2))
    original = trainer_mod.Trainer.__init__

    def refuse(self, config, history=None):
        if config.width == 17:
            raise MemoryError()
        original(self, config, history)

    monkeypatch.setattr(trainer_mod.Trainer, "__init__", refuse)
    snap = run(engine, L.Apply.of(TINY.replace(width=17)))
    assert "not enough memory" in snap.error and "still running" in snap.error
    assert snap.build == 0 and snap.step_count == 2 and snap.config.width == 8
    # a reset that fails midway (second lane) leaves the run as it was, too
    monkeypatch.setattr(trainer_mod.Trainer, "__init__", lambda self, config, history=None: (_ for _ in ()).throw(RuntimeError("boom")))
    snap = run(engine, L.Reset())
    assert "boom" in snap.error and snap.step_count == 2 and snap.build == 0


def test_a_failing_step_pauses_and_keeps_every_record(engine, monkeypatch):
    run(engine, L.Step(3))
    import initviz.engine.trainer as trainer_mod

    monkeypatch.setattr(trainer_mod.Trainer, "step", lambda self, n=1: (_ for _ in ()).throw(RuntimeError("nan in matmul")))
    snap = run(engine, L.Play())
    assert not snap.playing and "nan in matmul" in snap.error and "step 3" in snap.error
    assert [r.step for r in snap.records] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "cmd", [L.Step(-1), L.Step("many"), L.Speed(0), L.Speed("fast"), L.ApplyLane(5, TINY), L.RemoveLane(0), object()]
)
def test_malformed_commands_are_reported(engine, cmd):
    snap = run(engine, cmd)
    assert snap.error is not None and snap.step_count == 0
    assert run(engine, L.Step(1)).step_count == 1


def test_apply_lane_changes_that_lane_only(two_lanes):
    run(two_lanes, L.Step(2))
    snap = run(two_lanes, L.ApplyLane(1, TINY.replace(init={"scheme": "kaiming_normal"}, lr=0.05)))
    assert snap.build == 1 and snap.step_count == 0
    assert snap.lane_configs[0] == TINY  # the other lane keeps every setting and its name
    assert snap.lane_configs[1].init.scheme == "kaiming_normal" and snap.lane_configs[1].lr == 0.05
    assert snap.names[0] == "first" and snap.names[1] != "second"  # renamed after its new init
    # a setting every lane shares goes to all
    snap = run(two_lanes, L.ApplyLane(0, TINY.replace(depth=3)))
    assert [c.depth for c in snap.lane_configs] == [3, 3] and snap.lane_configs[1].lr == 0.05


def test_add_and_remove_lanes(two_lanes):
    run(two_lanes, L.Step(2))
    snap = run(two_lanes, L.AddLane(1))
    assert snap.names == ("first", "second", "second copy") and snap.lane_configs[2] == snap.lane_configs[1]
    assert snap.step_count == 0
    run(two_lanes, L.Step(4))
    snap = run(two_lanes, L.RemoveLane(0))
    assert snap.names == ("second", "second copy") and snap.step_count == 4  # the others go on
    snap = run(two_lanes, L.Step(1))
    assert [v.latest.step for v in snap.lanes] == [5, 5]
    for _ in range(2):
        run(two_lanes, L.AddLane(0))
    snap = run(two_lanes, L.AddLane(0))
    assert len(snap.lanes) == 4 and "at most 4" in snap.error
    for _ in range(3):
        run(two_lanes, L.RemoveLane(0))
    snap = run(two_lanes, L.RemoveLane(0))
    assert len(snap.lanes) == 1 and "last lane" in snap.error


def test_lane_edits_are_pure_functions():
    configs, names = [TINY, TINY.replace(lr=0.5)], ["a", "b"]
    he = TINY.replace(init={"scheme": "kaiming_normal"})
    new, new_names = edit_lane(configs, names, 0, he)
    assert new == [he, configs[1]] and new_names == [he.init.label(), "b"]
    assert edit_lane(configs, names, 1, TINY.replace(lr=0.1))[1] == ["a", "b"]  # same init: same name
    assert configs == [TINY, TINY.replace(lr=0.5)]  # inputs untouched
    assert add_lane(configs, names, 0) == ([TINY, TINY.replace(lr=0.5), TINY], ["a", "b", "a copy"])
    assert add_lane([TINY, TINY], ["a", "a copy"], 0)[1][-1] == "a copy #2"
    assert remove_lane(configs, names, 0) == ([TINY.replace(lr=0.5)], ["b"])


def test_the_generator_runs_commands_and_ends_at_quit():
    inbox: queue.Queue = queue.Queue()
    mailbox, done = L.Mailbox(), threading.Event()
    gen = L.engine_loop(TINY, inbox, mailbox, done, torch_threads=None)
    next(gen)  # built and published
    assert mailbox.peek().step_count == 0
    inbox.put(L.Step(2))
    for _ in range(5):
        next(gen)
    assert mailbox.peek().step_count == 2 and not done.is_set()
    inbox.put(L.Quit())
    with pytest.raises(StopIteration):
        next(gen)
    assert done.is_set()


def test_a_quit_sent_during_the_first_build_builds_nothing(monkeypatch):
    built = []
    monkeypatch.setattr(L.Engine, "__init__", lambda self, *a, **k: built.append(a))
    inbox: queue.Queue = queue.Queue()
    inbox.put(L.Quit())
    done = threading.Event()
    with pytest.raises(StopIteration):
        next(L.engine_loop(TINY, inbox, L.Mailbox(), done, torch_threads=None))
    assert done.is_set() and not built


def test_grids_only_while_asked(engine):
    assert run(engine, L.Step(1)).grids == ()
    snap = run(engine, L.Grids(True))
    assert len(snap.grids) == 1 and snap.grids[0] is not None and snap.lanes[0].grid is snap.grids[0]
    snap = run(engine, L.Reset())
    assert snap.grids == () or snap.grids[0].step == 0  # the old network's grid is never shown


def test_the_atomic_byte_writer_leaves_no_half_file(tmp_path, monkeypatch):
    import os

    from initviz.engine.report import atomic_write_bytes

    target = tmp_path / "slide.png"
    assert atomic_write_bytes(target, b"first") == target and target.read_bytes() == b"first"
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["slide.png"]
