"""Lanes you can edit, on the real window: Apply changes the selected lane only; add, remove, hide.

Also: closing the window while the first network is still being built stops the worker cleanly.
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtWidgets

from initviz.engine.config import RunConfig
from initviz.engine.lanes import compare_configs
from initviz.engine.loop import Engine

BASE = RunConfig(depth=3, width=16, batch_size=32, activation="tanh", dataset="spirals", test_every=5)


def _click(qtbot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_apply_changes_the_selected_lane_and_keeps_the_others(qtbot, open_window):
    configs = compare_configs(BASE, ("zeros", "normal", "xavier_normal", "kaiming_normal"))
    window = open_window(configs[0], tab="loss", lanes=configs)
    panel = window.experiment
    names, build = window.state.names, window.state.build
    assert panel.lane_box.count() == 4
    panel.select_lane(1)
    assert panel.fields["init.scheme"].value() == "normal"  # the fields show lane 2's settings
    assert window.statusBar().currentMessage().startswith(f"Lane 2 ({names[1]}):")
    panel.fields["init.std"].editor.setText("0.5")
    panel.fields["lr"].editor.setText("0.02")
    _click(qtbot, panel.apply_button)
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=20_000)
    after = window.state.lane_configs
    assert len(after) == 4
    assert after[1].init.std == 0.5 and after[1].lr == 0.02
    assert [after[i] for i in (0, 2, 3)] == [configs[i] for i in (0, 2, 3)]  # the other lanes: untouched
    assert [window.state.names[i] for i in (0, 2, 3)] == [names[i] for i in (0, 2, 3)]
    # the fields still show lane 2 (renamed after its new init); the info line names it
    assert panel.selected_lane == 1 and panel.fields["init.std"].value() == 0.5
    qtbot.waitUntil(lambda: window.loss.readout.text().startswith(window.state.names[1]), timeout=5_000)
    qtbot.waitUntil(lambda: f"Lane 2 ({window.state.names[1]})" in window.statusBar().currentMessage(), timeout=5_000)
    # a setting every lane shares (depth) goes to all lanes
    panel.fields["depth"].editor.setValue(2)
    _click(qtbot, panel.apply_button)
    qtbot.waitUntil(lambda: window.state.build == build + 2, timeout=20_000)
    assert [c.depth for c in window.state.lane_configs] == [2] * 4
    assert window.state.lane_configs[0].init == configs[0].init and window.state.lane_configs[1].init.std == 0.5


def test_add_and_remove_a_lane(qtbot, open_window):
    configs = compare_configs(BASE, ("normal", "kaiming_normal"))
    window = open_window(configs[0], tab="activations", lanes=configs)
    panel = window.experiment
    build = window.state.build
    panel.select_lane(1)
    _click(qtbot, panel.add_lane_button)  # a copy of lane 2
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=20_000)
    assert len(window.state.lanes) == 3 and window.state.lane_configs[2] == configs[1]
    assert window.state.names[2] == f"{window.state.names[1]} copy" and panel.lane_box.count() == 3
    qtbot.waitUntil(lambda: window.activations.grid.lane_plot_count(0) == 3, timeout=5_000)
    window.controller.step(4)
    qtbot.waitUntil(lambda: window.state.step_count == 4 and not window.state.pending_steps, timeout=20_000)
    panel.select_lane(0)
    _click(qtbot, panel.remove_lane_button)
    qtbot.waitUntil(lambda: len(window.state.lanes) == 2, timeout=20_000)
    assert window.state.step_count == 4  # the others go on where they were
    assert window.state.lane_configs == (configs[1], configs[1]) and panel.lane_box.count() == 2
    qtbot.waitUntil(lambda: window.activations.grid.lane_plot_count(0) == 2, timeout=5_000)
    window.controller.step(1)
    qtbot.waitUntil(lambda: [r.step for r in window.state.lane_latest] == [5, 5], timeout=20_000)


def test_hide_a_lane_in_every_panel(qtbot, open_window):
    configs = compare_configs(BASE, ("zeros", "normal", "xavier_normal"))
    window = open_window(configs[0], tab="activations", lanes=configs)
    panel = window.experiment
    names = window.state.names
    panel.select_lane(1)
    panel.lane_shown.setChecked(False)
    frame = window.current_frame()
    assert [lane.name for lane in frame.lanes] == [names[0], names[2]]
    assert [lane.colour for lane in frame.lanes] == [window.current_frame().lanes[0].colour, frame.lanes[1].colour]
    assert frame.lanes[1].index == 2  # a lane keeps its colour when another is hidden
    grid = window.activations.grid
    qtbot.waitUntil(lambda: grid.lane_plot_count(0) == 2, timeout=5_000)
    window.tabs.setCurrentWidget(window.loss)
    qtbot.waitUntil(lambda: [label.text for _, label in window.loss.view.legend.items][:2] == [names[0], names[2]], timeout=5_000)
    # hidden lanes still train
    window.controller.step(2)
    qtbot.waitUntil(lambda: [r.step for r in window.state.lane_latest] == [2, 2, 2], timeout=20_000)
    # the last shown lane cannot be hidden
    panel.select_lane(0)
    panel.lane_shown.setChecked(False)
    panel.select_lane(2)
    panel.lane_shown.setChecked(False)
    assert panel.lane_shown.isChecked() and [lane.name for lane in window.current_frame().lanes] == [names[2]]
    panel.select_lane(1)
    panel.lane_shown.setChecked(True)
    assert [lane.name for lane in window.current_frame().lanes] == [names[1], names[2]]


def test_closing_during_the_first_build_stops_cleanly(qtbot, monkeypatch, capfd):
    """Ten times: show, start the engine, close while the network is still being built."""
    from initviz.ui.main_window import MainWindow

    original = Engine.__init__

    def slow_build(self, *args, **kwargs):
        time.sleep(1.1)  # the first build imports torch: seconds on a cold start (longer than the usual 1 s stop)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "__init__", slow_build)
    pool = QtCore.QThreadPool.globalInstance()
    for _ in range(10):
        window = MainWindow(BASE)
        window.show()
        window.start_engine()
        qtbot.wait(30)
        assert window.controller.running and window.state is None  # still building
        window.close()
        assert not window.controller.running and pool.activeThreadCount() == 0
        window.deleteLater()
    QtWidgets.QApplication.processEvents()
    err = capfd.readouterr().err
    assert "QRunnable" not in err and "Traceback" not in err


def test_frame_of_a_snapshot_leaves_hidden_lanes_out_of_grids_too():
    from initviz.engine.snapshot import Snapshot
    from initviz.engine.trainer import Trainer
    from initviz.ui.panels.base import Frame

    trainers = [Trainer(BASE.replace(depth=1, width=4, seed=s)) for s in range(3)]
    for t in trainers:
        t.step(2)
    grids = tuple(t.decision_grid() for t in trainers)
    snap = Snapshot.from_trainers(["a", "b", "c"], trainers, grids=grids)
    history = ((0, ("g0", "g1", "g2")),)
    frame = Frame.of(snap, 1, hidden={"b"}, grid_history=history, focus="c", colour=lambda i: f"#00000{i}")
    assert [lane.name for lane in frame.lanes] == ["a", "c"] and [lane.colour for lane in frame.lanes] == ["#000000", "#000002"]
    assert frame.grids == (grids[0], grids[2]) and frame.grid_history == ((0, ("g0", "g2")),)
    assert [lane.record.step for lane in frame.lanes] == [1, 1] and frame.cursor_step == 1
    assert frame.selected.name == "c" and frame.lanes[1].view is snap.lanes[2]
    everything = Frame.of(snap, hidden={"a", "b", "c"})  # never all hidden: then every lane shows
    assert [lane.name for lane in everything.lanes] == ["a", "b", "c"] and everything.cursor_step is None
    assert [lane.record.step for lane in everything.lanes] == [2, 2, 2]


def test_frame_upto_replays_the_run_as_it_was():
    from initviz.engine.snapshot import Snapshot
    from initviz.engine.trainer import Trainer
    from initviz.ui.panels.base import Frame

    trainer = Trainer(BASE.replace(depth=1, width=4, record_every=2))
    trainer.step(6)
    frame = Frame.of(Snapshot.from_trainers(["a"], [trainer]))
    then = frame.upto(3)
    assert then.main.record.step == 2 and [r.step for r in then.main.records] == [0, 2]
    assert then.main.view.latest.step == 2 and not then.moving and then.cursor_step is None
    assert frame.main.record.step == 6  # the frame itself is unchanged
