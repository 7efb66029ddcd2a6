"""Panels draw what the records say: non-finite runs, scrubbing, depth 50, hundreds of repaints."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6 import QtCore, QtWidgets

from initviz.engine import RunConfig, Trainer
from initviz.ui.panels.layers import ROW_PLOT_HEIGHT

from conftest import SMALL

# ReLU with N(0, 1) weights at width 16: the scale grows ~3x per layer and the first update
# overflows; measured: "Inf/NaN from step 2 in layer 3", every layer non-finite by step 6.
EXPLODING = RunConfig(depth=12, width=16, batch_size=32, activation="relu", init={"scheme": "normal", "std": 1.0})


def test_a_run_that_overflows_keeps_the_window_alive_and_shows_the_marker(qtbot, open_window):
    window = open_window(EXPLODING)
    window.controller.step(6)
    qtbot.waitUntil(lambda: window.state.step_count == 6 and window.state.pending_steps == 0, timeout=20_000)
    qtbot.waitUntil(lambda: window.shown_record.step == 6, timeout=5_000)
    record = window.shown_record
    assert record.diverged_at is not None
    assert not np.isfinite(record.loss) or not np.all(np.isfinite(record.grad_norm))
    marker = window.banner.marker
    assert marker.isVisible()
    assert record.diverged_message() in marker.text()
    assert record.diverged_message().startswith("Inf/NaN from step")
    assert window.banner._level == "bad"
    # the heatmap marks the layers holding Inf/NaN (their histograms alone may be empty)
    window.redraw()
    assert (record.nonfinite > 0).any()
    veil = window.activations.heatmap.nonfinite_rows
    assert veil.isVisible()
    np.testing.assert_array_equal(veil.image[:, 0, 3] > 0, record.nonfinite > 0)
    # every panel draws the non-finite record without raising (warnings are errors here)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        window.redraw()
        window.tabs.currentWidget().grab()
    # time-series plots mark the divergence step
    window.tabs.setCurrentWidget(window.loss)
    window.redraw()
    assert window.loss.cursors._diverged[0].isVisible()
    assert window.loss.cursors._diverged[0].value() == record.diverged_at[0]
    # the worker survived: it still steps
    window.controller.step(1)
    qtbot.waitUntil(lambda: window.state.step_count == 7, timeout=10_000)
    assert window.controller.running


def test_timeline_scrub_redraws_every_panel_at_an_older_step(qtbot, open_window):
    window = open_window()
    window.controller.step(20)
    qtbot.waitUntil(lambda: window.shown_record.step == 20, timeout=20_000)
    records = window.state.records
    old = records[5]
    window.timeline.slider.setValue(5)  # what dragging the slider does
    assert window.cursor_step == old.step
    assert window.shown_record is old
    assert not window.timeline.live
    grid = window.activations.grid
    np.testing.assert_array_equal(grid.row_curve_data(0)[1], old.act_hist[0])
    assert f"step {old.step}" in window.activations.summary.text()
    assert window.banner.text.startswith(f"At step {old.step}")
    window.tabs.setCurrentWidget(window.depth_profile)
    layers, std = window.depth_profile.measured_data()
    np.testing.assert_allclose(std, old.act_std)
    window.tabs.setCurrentWidget(window.loss)
    assert window.loss.cursors._cursors[0].value() == old.step
    # training on while scrubbed keeps the old step on screen; Live returns to the newest
    window.controller.step(3)
    qtbot.waitUntil(lambda: window.state.step_count == 23, timeout=10_000)
    assert window.shown_record is old
    qtbot.mouseClick(window.timeline.live_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.cursor_step is None
    assert window.shown_record.step == 23


def test_depth_50_stays_legible(qtbot, open_window):
    config = dataclasses.replace(SMALL, depth=50, width=8)
    window = open_window(config, size=(1600, 1000))
    grid = window.activations.grid
    assert grid.rows == 50
    qtbot.wait(50)
    # every row keeps a readable height, drawn or not (plots are made when first on screen)
    heights = [(row.plot or row.stand_in).height() for row in grid._rows]
    assert min(heights) >= ROW_PLOT_HEIGHT
    assert any(row.plot is None for row in grid._rows) and grid._rows[0].plot is not None
    # the small multiples scroll instead of shrinking
    assert grid.verticalScrollBar().maximum() > 0
    visible = [not row.widget.visibleRegion().isEmpty() for row in grid._rows]
    assert 0 < sum(visible) < 50
    image = window.activations.heatmap.image.image
    assert image.shape[0] == 50  # one heatmap row per layer
    # scrolling to the bottom draws the last layer's histogram
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum())
    qtbot.wait(50)
    np.testing.assert_array_equal(grid.row_curve_data(49)[1], window.shown_record.act_hist[49])


def test_three_hundred_record_updates_repaint(qtbot, open_window):
    window = open_window()
    trainer = Trainer(SMALL)
    trainer.step(300)
    records = list(trainer.history)
    assert len(records) == 301
    base = window.state
    app = QtWidgets.QApplication.instance()
    plot = window.activations.grid._rows[0].plot
    for n, record in enumerate(records[1:], start=1):
        history = tuple(records[: n + 1])
        lane = dataclasses.replace(base.lanes[0], records=history, latest_record=record)
        state = dataclasses.replace(base, version=10_000 + n, lanes=(lane,), step_count=record.step)
        window.on_state(state)
        plot.repaint()
        window.activations.heatmap.repaint()
        app.processEvents()
    assert window.shown_record is records[-1]
    np.testing.assert_array_equal(window.activations.grid.row_curve_data(0)[1], records[-1].act_hist[0])
    assert window.last_frame_seconds < 1.0


def test_every_tab_draws_the_record_on_screen(qtbot, open_window):
    window = open_window()
    window.controller.step(12)
    qtbot.waitUntil(lambda: window.shown_record.step == 12, timeout=20_000)
    rec = window.shown_record
    window.tabs.setCurrentWidget(window.gradients)
    layers, norms = window.gradients.norm_curve_data()
    np.testing.assert_allclose(norms, rec.grad_norm)
    assert window.gradients.time_map.image.image.shape == (rec.depth, 13)
    window.tabs.setCurrentWidget(window.depth_profile)
    np.testing.assert_allclose(window.depth_profile.theory_curve.yData, window.state.theory.act_std)
    window.tabs.setCurrentWidget(window.health)
    curve = window.health.series["saturation"].curves[0]
    np.testing.assert_allclose(curve.yData, [r.saturation[0] for r in window.state.records])
    window.tabs.setCurrentWidget(window.loss)
    np.testing.assert_allclose(window.loss.loss_curves[0].yData, [r.loss for r in window.state.records])
    assert window.loss.test_points[0].xData.size >= 2  # test accuracy every 5 recorded steps
    assert window.banner.caption.text()  # a diagnosis is always on screen


def test_the_app_opens_on_the_overview_which_draws_the_record(qtbot, open_window):
    window = open_window(tab="overview")
    assert window.tabs.currentWidget() is window.overview
    window.controller.step(3)
    qtbot.waitUntil(lambda: window.shown_record.step == 3, timeout=10_000)
    rec = window.shown_record
    np.testing.assert_allclose(window.overview.grad_plot.curves[0].yData, rec.grad_norm)
    np.testing.assert_allclose(window.overview.std_plot.measured[0].yData, rec.act_std)
    image = window.overview.heatmap.image.image
    assert image.shape[0] == rec.depth
    # each row shows the layer's counts against its own peak (sqrt scale): back to the counts exactly
    assert image.shape[1] <= window.overview.heatmap.plotItem.vb.width() + 5 or image.shape[1] == rec.act_hist.shape[1] + 10
    if image.shape[1] == rec.act_hist.shape[1] + 10:  # wide enough: one column per bin
        peak = np.maximum(rec.act_hist.max(axis=1), np.maximum(rec.act_under, rec.act_over))
        np.testing.assert_allclose(image[:, 5:-5] ** 2 * peak[:, None], rec.act_hist, rtol=1e-6, atol=1e-6)
    assert np.allclose(image.max(axis=1), 1.0)  # every row's fullest bin is the darkest colour
    assert f"step {rec.step}:" in window.overview.readout.text()


def test_pre_activation_view(qtbot, open_window):
    window = open_window()
    grid = window.activations.grid
    qtbot.waitUntil(lambda: bool(grid._rows[0].curves), timeout=5_000)  # rows on screen draw lazily
    rec = window.shown_record
    np.testing.assert_array_equal(grid.row_curve_data(0)[1], rec.act_hist[0])
    window.pre_action.trigger()
    np.testing.assert_array_equal(window.activations.grid.row_curve_data(0)[0], rec.pre_spec.edges)
    np.testing.assert_array_equal(window.activations.grid.row_curve_data(0)[1], rec.pre_hist[0])


def test_after_pause_every_plot_shows_the_last_step_even_when_playback_thinned_updates(qtbot, open_window):
    # deep network: during playback the Health panel refreshes half its plots per frame
    window = open_window(dataclasses.replace(SMALL, depth=30, width=8), tab="health")
    window.controller.play()
    qtbot.waitUntil(lambda: window.state.step_count >= 15, timeout=30_000)
    window.controller.pause()
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not window.state.playing and window.shown_record is window.state.latest, timeout=10_000)
    last = window.shown_record.step
    for name, series in window.health.series.items():
        assert series.curves[0].xData[-1] == last, name
    window.tabs.setCurrentWidget(window.gradients)
    assert window.gradients.time_map.image.image.shape[1] == len(window.state.records)


def test_a_step_axis_at_step_0_shows_whole_steps_ahead() -> None:
    """Regression: with only the record at init the loss axis ran from -0.01 to 0.01 (and 'x0.001')."""
    from types import SimpleNamespace

    from initviz.ui.panels.base import step_axis_range

    for tight in (True, False):
        lo, hi = step_axis_range([SimpleNamespace(step=0)], tight=tight)
        assert lo < 0 < hi and hi >= 10
    lo, hi = step_axis_range([SimpleNamespace(step=0), SimpleNamespace(step=60)], tight=True)
    assert hi <= 60 * 1.03  # once there are steps, the axis still ends at the last one
