"""Driving the real window: step, play/pause, step N, reset, shortcuts, closing during a run."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from initviz.engine import Trainer

from conftest import SMALL


def button(window, action):
    return window.toolbar.widgetForAction(action)


def test_step_delivers_a_record_and_the_histogram_plots_its_act_hist(qtbot, open_window):
    window = open_window()
    assert window.shown_record.step == 0
    qtbot.mouseClick(button(window, window.step_action), QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.shown_record.step == 1, timeout=10_000)
    record = window.shown_record
    # the record on screen is the engine's record of step 1, and it is what a fresh run gives
    assert window.state.records[-1] is record
    oracle = Trainer(SMALL)
    oracle.step(1)
    np.testing.assert_allclose(record.act_hist, oracle.latest.act_hist)
    grid = window.activations.grid
    assert not grid._rows[0].widget.visibleRegion().isEmpty()  # drawn because it is on screen
    edges, counts = grid.row_curve_data(0)
    np.testing.assert_array_equal(edges, record.act_spec.edges)
    np.testing.assert_array_equal(counts, record.act_hist[0])
    grid.draw_all()
    for layer in range(record.depth):
        np.testing.assert_array_equal(grid.row_curve_data(layer)[1], record.act_hist[layer])
        assert grid.row_caption(layer).startswith(f"layer {layer + 1} ")
    assert window.step_label.text() == "step 1"


def test_play_pause_and_step_n(qtbot, open_window):
    window = open_window()
    qtbot.mouseClick(button(window, window.play_action), QtCore.Qt.MouseButton.LeftButton)
    assert window.controller.playing and window.play_action.text() == "Pause"
    qtbot.waitUntil(lambda: window.state.step_count >= 5, timeout=20_000)
    qtbot.mouseClick(button(window, window.play_action), QtCore.Qt.MouseButton.LeftButton)
    assert not window.controller.playing and window.play_action.text() == "Play"
    qtbot.wait(300)  # let the worker see the pause
    paused_at = window.state.step_count
    qtbot.wait(300)
    assert window.state.step_count == paused_at, "training went on after Pause"
    window.step_n_box.setValue(7)
    qtbot.mouseClick(button(window, window.step_n_action), QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.step_count == paused_at + 7 and window.state.pending_steps == 0, timeout=20_000)
    qtbot.wait(200)
    assert window.state.step_count == paused_at + 7
    assert window.shown_record.step == paused_at + 7


def test_speed_limit_slows_playback(qtbot, open_window):
    window = open_window()
    window.speed_box.setCurrentIndex(window.speed_box.findText("10 steps/s"))
    window.controller.play()
    qtbot.wait(1500)
    window.controller.pause()
    steps = window.state.step_count
    assert 5 <= steps <= 25, steps


def test_default_window_is_the_overview(qtbot):
    from initviz.ui.main_window import MainWindow
    from initviz.ui.scenarios import default_config

    window = MainWindow(default_config())
    qtbot.addWidget(window)
    assert window.tabs.currentWidget() is window.overview
    assert window.experiment.scenario_box.currentText() == "N(0, 1) + tanh: saturation"
    assert not window.controller.running  # the engine starts after the window shows (run_app)


def test_keyboard_shortcuts(qtbot, open_window):
    window = open_window()
    window.activateWindow()
    window.tabs.setFocus()
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.state.step_count == 1, timeout=10_000)
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Space)
    assert window.controller.playing
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_Space)
    assert not window.controller.playing
    qtbot.keyClick(window.tabs, QtCore.Qt.Key.Key_R, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.state.step_count == 0 and window.shown_record.step == 0, timeout=10_000)
    # every action is reachable from a menu and says its shortcut in its tooltip
    assert "(Space)" in window.play_action.toolTip()
    assert "Ctrl+R" in window.reset_action.toolTip()
    assert [a.text().replace("&", "") for a in window.menuBar().actions()] == ["File", "Run", "View", "Help"]
    menus = window.menus
    assert window.quit_action in menus["File"].actions()
    assert window.play_action in menus["Run"].actions()


def test_reset_gives_the_same_initial_record_and_reseed_a_new_one(qtbot, open_window):
    window = open_window()
    first = window.shown_record
    window.controller.step(5)
    qtbot.waitUntil(lambda: window.shown_record.step == 5, timeout=10_000)
    qtbot.mouseClick(button(window, window.reset_action), QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.shown_record.step == 0, timeout=10_000)
    again = window.shown_record
    assert again is not first
    np.testing.assert_array_equal(again.act_hist, first.act_hist)
    assert len(window.state.records) == 1
    qtbot.mouseClick(button(window, window.reseed_action), QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.config.seed == SMALL.seed + 1, timeout=10_000)
    assert not np.array_equal(window.shown_record.act_hist, first.act_hist)
    assert window.experiment.fields["seed"].value() == SMALL.seed + 1


def test_closing_during_a_run_stops_the_worker_within_a_second(qtbot, open_window):
    window = open_window()
    window.controller.play()
    qtbot.waitUntil(lambda: window.state.step_count >= 3, timeout=20_000)
    controller = window.controller
    timer = controller.timer
    t0 = QtCore.QElapsedTimer()
    t0.start()
    window.close()
    assert t0.elapsed() < 1500
    assert not controller.running
    assert not timer.isActive()
    assert QtCore.QThreadPool.globalInstance().activeThreadCount() == 0
