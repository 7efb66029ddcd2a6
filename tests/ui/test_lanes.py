"""Lanes in the window: several runs side by side, stepped together, saved and opened."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from initviz.engine.config import RunConfig
from initviz.engine.lanes import compare_configs


BASE = RunConfig(depth=4, width=16, batch_size=32, activation="tanh", dataset="spirals", test_every=5)
SCHEMES = ("zeros", "normal", "xavier_normal", "kaiming_normal")


@pytest.fixture
def lanes_window(open_window):
    """The real window on four small lanes (one per classic init), first records drawn."""

    def _open(tab: str = "activations", schemes: tuple[str, ...] = SCHEMES):
        configs = compare_configs(BASE, schemes)
        return open_window(configs[0], tab=tab, lanes=configs)

    return _open


def _steps(window) -> list[int]:
    return [r.step for r in window.state.lane_latest]


def test_four_lanes_show_side_by_side(qtbot, lanes_window):
    window = lanes_window()
    names = window.state.names
    assert len(names) == 4 and len(set(names)) == 4
    assert window.state.grids == ()  # decision boundaries cost a forward pass: only while their tab shows
    grid = window.activations.grid
    qtbot.waitUntil(lambda: grid.lane_plot_count(0) == 4, timeout=5_000)
    # one histogram column per lane, headed by the lane's name, each showing its own lane
    assert [lbl.text().split("■ ")[1].removesuffix("</b>") for lbl in grid.header_labels] == list(names)
    for lane, rec in enumerate(window.state.lane_latest):
        np.testing.assert_array_equal(grid.row_curve_data(0, lane)[1], rec.act_hist[0])
    # one loss curve per lane, in the lanes' colours
    window.tabs.setCurrentWidget(window.loss)
    qtbot.waitUntil(lambda: len(window.loss.loss_curves) == 4, timeout=5_000)
    # the lanes are named in one row over the loss plot; the accuracy legend explains line and dots
    legend = [label.text for _, label in window.loss.view.legend.items]
    assert legend == [*names, "line: train batch", "dots: test set"]
    # test accuracy dots in each lane's colour
    assert [c.pen().color().name() for c in window.loss.test_points] == [lane.colour for lane in window.current_frame().lanes]


def test_stepping_moves_every_lane_in_lockstep(qtbot, lanes_window):
    window = lanes_window(tab="depth_profile")
    window.step_n_box.setValue(7)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [7] * 4 and not window.state.pending_steps, timeout=20_000)
    qtbot.waitUntil(lambda: window.shown_record.step == 7, timeout=5_000)
    # every lane's history has the same steps; the depth profile shows one measured curve per lane
    assert len({tuple(r.step for r in recs) for recs in window.state.lane_records}) == 1
    profile = window.depth_profile.std_plot
    assert len(profile.measured) == 4 and len(profile.lane_theory) == 3
    for curve, rec in zip(profile.measured, window.state.lane_latest):
        np.testing.assert_allclose(curve.yData, rec.act_std)
    for curve, theory in zip(profile.lane_theory, window.state.lane_theory[1:]):
        np.testing.assert_allclose(curve.yData, theory.act_std)
    # zeros and N(0, 1) really are different runs
    a, b = window.state.lane_latest[0], window.state.lane_latest[1]
    assert not np.array_equal(a.act_std, b.act_std)


def test_scrub_shows_the_older_step_in_every_lane(qtbot, lanes_window):
    window = lanes_window()
    window.step_n_box.setValue(10)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [10] * 4 and not window.state.pending_steps, timeout=20_000)
    window.scrub_to(5)
    frame = window.current_frame()
    assert [lane.record.step for lane in frame.lanes] == [5] * 4
    grid = window.activations.grid
    for lane, recs in enumerate(window.state.lane_records):
        old = next(r for r in recs if r.step == 5)
        np.testing.assert_array_equal(grid.row_curve_data(0, lane)[1], old.act_hist[0])


def test_save_then_open_restores_the_lanes(qtbot, lanes_window, tmp_path, monkeypatch):
    window = lanes_window(schemes=("normal", "xavier_normal"))
    window.step_n_box.setValue(6)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [6, 6] and not window.state.pending_steps, timeout=20_000)
    before = window.state.lane_latest
    path = tmp_path / "two.initviz"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    boxes: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: boxes.append(a[2]))
    window.save_action.trigger()
    qtbot.waitUntil(lambda: window.state.notice is not None and window.state.notice[1] == "saved", timeout=20_000)
    assert path.exists() and not boxes
    # train on, then open the saved file: the lanes go back to step 6 with the same records
    window.step_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [7, 7], timeout=20_000)
    build = window.state.build
    from initviz.engine.scenarios import DEFAULT_SCENARIO, get_scenario

    window.experiment.select_scenario_shown(get_scenario(DEFAULT_SCENARIO))  # a lesson on screen before Open
    assert window.experiment.scenario_box.currentIndex() != 0 and window.experiment.lesson.text()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.open_action.trigger()
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=20_000)
    assert _steps(window) == [6, 6] and not boxes
    qtbot.waitUntil(lambda: window.experiment.scenario_box.currentIndex() == 0, timeout=5_000)
    assert window.experiment.lesson.text() == "" and window.experiment.lane_box.count() == 2  # the opened run's lanes
    for old, new in zip(before, window.state.lane_latest):
        np.testing.assert_allclose(new.act_std, old.act_std)
        np.testing.assert_array_equal(new.act_hist, old.act_hist)
    # a corrupt file: its message in a box, the lanes unchanged
    bad = tmp_path / "bad.initviz"
    bad.write_bytes(b"not a run at all")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    window.open_action.trigger()
    qtbot.waitUntil(lambda: bool(boxes), timeout=20_000)
    assert "bad.initviz" in boxes[0]
    assert window.state.build == build + 1 and _steps(window) == [6, 6]
    # and the opened run trains on
    window.step_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [7, 7], timeout=20_000)


def test_decision_boundary_per_lane_for_spirals(qtbot, lanes_window):
    window = lanes_window(tab="boundary", schemes=("normal", "kaiming_normal"))
    panel = window.boundary
    qtbot.waitUntil(lambda: len(panel.plots) == 2 and panel.plots[1].grid is not None, timeout=10_000)
    assert not panel.view.isHidden() and panel.unavailable.isHidden()
    # leaving the tab stops the computation; coming back starts it again
    window.tabs.setCurrentWidget(window.loss)
    assert not window.controller.want_grids
    window.tabs.setCurrentWidget(panel)
    assert window.controller.want_grids
    for lp in panel.plots:
        image = lp.image.image
        assert image.shape == (40, 40, 4)  # the engine's 40 x 40 grid, RGBA
        assert lp.point_count == window.state.grids[0].points.shape[0]


def test_decision_boundary_not_available_for_digits(qtbot, open_window):
    window = open_window(RunConfig(depth=3, width=16, batch_size=32, dataset="digits"), tab="boundary")
    qtbot.waitUntil(lambda: window.state.grids == (None,), timeout=10_000)
    assert window.boundary.view.isHidden() and not window.boundary.unavailable.isHidden()
    assert "Not available" in window.boundary.unavailable.text()


def test_every_panel_draws_one_series_per_lane(qtbot, lanes_window):
    window = lanes_window(tab="overview")
    window.step_n_box.setValue(3)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [3] * 4 and not window.state.pending_steps, timeout=20_000)
    for tab in ("overview", "gradients", "health", "depth_profile", "loss"):
        window.tabs.setCurrentWidget(getattr(window, tab))
        qtbot.wait(50)
    ov = window.overview
    qtbot.waitUntil(lambda: len(ov.heatmaps.heatmaps) == 4, timeout=5_000)
    for heatmap, rec in zip(ov.heatmaps.heatmaps, window.state.lane_latest):
        assert heatmap.image.image.shape[0] == rec.depth  # one heatmap per lane, a row per layer
    assert len(ov.grad_plot.curves) == 4 and len(ov.std_plot.measured) == 4
    for curve, rec in list(zip(window.gradients.norm_plot.curves, window.state.lane_latest))[1:]:
        np.testing.assert_allclose(curve.yData, rec.grad_norm)
    for name, series in window.health.series.items():
        assert len(series.curves) == 4, name  # one line per lane, not per layer
    sat = window.health.series["saturation"].curves[1]
    expected = np.array([r.saturation.mean() for r in window.state.lane_records[1]])
    np.testing.assert_allclose(sat.yData, expected)
    assert len(window.loss.loss_curves) == 4


def test_activation_heatmaps_one_per_lane(qtbot, lanes_window):
    window = lanes_window()
    heatmaps = window.activations.heatmaps.heatmaps
    assert len(heatmaps) == 4
    for h, rec in zip(heatmaps, window.state.lane_latest):
        assert h.image.image.shape[0] == rec.depth
    titles = [h.plotItem.titleLabel.text for h in heatmaps]
    for title, name in zip(titles, window.state.names):
        assert name in title


def test_gradients_tab_gives_every_lane_its_heatmaps_on_one_scale(qtbot, lanes_window):
    window = lanes_window(tab="gradients")
    window.step_n_box.setValue(4)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: _steps(window) == [4] * 4 and not window.state.pending_steps, timeout=20_000)
    panel = window.gradients
    qtbot.waitUntil(lambda: window.shown_record.step == 4, timeout=5_000)
    panel.redraw()
    latest = window.state.lane_latest
    assert len(panel.time_maps.heatmaps) == 4 and len(panel.hist_maps.heatmaps) == 4
    levels = {tuple(h.image.levels) for h in panel.time_maps.heatmaps}
    assert len(levels) == 1 and tuple(panel.time_maps.colorbar.levels()) in levels  # one colour scale
    for lane, (h, rec) in enumerate(zip(panel.time_maps.heatmaps, latest)):
        image = h.image.image
        assert image.shape == (rec.depth, 5)  # steps 0..4
        np.testing.assert_allclose(image[:, -1], np.log10(rec.grad_norm, where=rec.grad_norm > 0, out=np.full(rec.depth, np.nan)))
    # the zeros lane: every hidden gradient is exactly 0, so its time map is marked grey all over
    zeros_map = panel.time_maps.heatmaps[0]
    assert not latest[0].grad_norm.any()
    assert zeros_map._marks is not None and zeros_map._marks.isVisible()
    assert (zeros_map._marks.image[..., :3] == (205, 205, 205)).all()
    assert panel.time_maps.heatmaps[2]._marks is None or not panel.time_maps.heatmaps[2]._marks.isVisible()
    # and in the norm plot it is not missing: a triangle per layer in its colour, the others none
    zero = panel.norm_plot.markers.zero
    assert len(zero[0].data) == latest[0].depth and zero[0].opts["brush"].color().name() == window.current_frame().lanes[0].colour
    assert len(zero[2].data) == 0 and len(zero[3].data) == 0
    assert "exactly 0" in panel.norm_plot.plotItem.titleLabel.text
    for h, rec in zip(panel.hist_maps.heatmaps, latest):
        assert h.image.image.shape[0] == rec.depth
    # the depth profile marks the zeros lane's all-0 std the same way
    window.tabs.setCurrentWidget(window.depth_profile)
    profile = window.depth_profile.std_plot
    qtbot.waitUntil(lambda: len(profile.markers.zero) == 4, timeout=5_000)
    assert len(profile.markers.zero[0].data) == latest[0].depth and len(profile.markers.zero[2].data) == 0
    assert "exactly 0 (off the log scale)" in [label.text for _, label in profile.legend.items]


def test_scrubbing_back_shows_the_boundary_computed_then(qtbot, lanes_window):
    window = lanes_window(tab="boundary", schemes=("normal", "kaiming_normal"))
    panel = window.boundary
    qtbot.waitUntil(lambda: bool(window.state.grids) and window.state.grids[0] is not None, timeout=10_000)
    for target in (5, 10):  # with the tab open, each pause computes the boundary
        window.step_n_box.setValue(5)
        window.step_n_action.trigger()
        qtbot.waitUntil(lambda: _steps(window) == [target] * 2 and window.state.grids[0].step == target, timeout=20_000)
    qtbot.waitUntil(lambda: panel.plots and panel.plots[0].grid is not None and panel.plots[0].grid.step == 10, timeout=5_000)
    logged = [s for s, _ in window.grid_log.entries()]
    assert logged[0] == 0 and 5 in logged and logged[-1] == 10
    window.scrub_to(7)
    assert [lp.grid.step for lp in panel.plots] == [5, 5]  # the newest computed at or before step 7
    assert not panel.note.isHidden() and "step 5" in panel.note.text() and "step 7" in panel.note.text()
    window.scrub_to(5)
    assert [lp.grid.step for lp in panel.plots] == [5, 5] and "nearest" not in panel.note.text()
    window.go_live()
    assert [lp.grid.step for lp in panel.plots] == [10, 10]
