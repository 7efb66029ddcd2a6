"""Clicking a phase-diagram cell loads that network as the run and trains it (issue 13 item 3)."""

from __future__ import annotations

import math

from initviz.engine.sweep import SweepSpec


def test_a_clicked_cell_becomes_the_run_and_trains(open_window, qtbot) -> None:
    window = open_window(tab="phase")
    spec = SweepSpec(activation="tanh", width=16, steps=20)
    cell = spec.base_config(20.0, 0.05, 6).replace(record_every=1, test_every=25)
    window.panel("phase").cell_clicked.emit(cell)
    qtbot.waitUntil(lambda: window.state.lane_configs == (cell,), timeout=30_000)
    assert window.tabs.currentWidget() is window.panel("overview")
    assert window.state.names[0].startswith("σw²=20") and "depth 6" in window.state.names[0]
    assert math.isclose(window.state.lane_configs[0].init.std ** 2 * 16, 20.0)
    qtbot.waitUntil(lambda: window.state.step_count >= 3, timeout=30_000)  # it trains: the learner watches
    window.controller.pause()
