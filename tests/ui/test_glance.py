"""Each lesson at a glance at step 0, on the real window: the four-lane lesson's heatmaps read as
collapse (zeros: one dark column at 0) and saturation (N(0, 1): dark bars at the bounds), the
loss shows at step 0, the zeros lane's 0/0 update ratio is marked, the depth profile keeps step 0."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from initviz.engine.scenarios import get_scenario
from initviz.ui.panels.activations import saturation_bins
from initviz.ui.panels.layers import banded_image
from initviz.engine.record import HistSpec

FOUR = get_scenario("four_classic_inits")
# the lesson's lanes at a test's size: 20 tanh layers as in the lesson, narrower
LANES = [c.replace(width=64, batch_size=64) for c in FOUR.lane_configs]


def luminance(img: QtGui.QImage, x: int, y0: int, y1: int) -> float:
    """Mean grey level (0 black .. 255 white) of column ``x`` between rows y0 and y1."""
    vals = []
    for y in range(y0, y1):
        c = QtGui.QColor(img.pixel(x, y))
        vals.append(0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue())
    return float(np.mean(vals))


def column_at(heatmap, x_value: float, dpr: float = 1.0) -> int:
    """Pixel column of the data value ``x_value`` in the heatmap widget's grab."""
    vb = heatmap.plotItem.vb
    scene_pt = vb.mapViewToScene(QtCore.QPointF(x_value, 1.0))
    return int(round(heatmap.mapFromScene(scene_pt).x() * dpr))


def rows_span(heatmap, dpr: float = 1.0) -> tuple[int, int]:
    vb = heatmap.plotItem.vb
    depth = heatmap._depth
    top = heatmap.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0, 1.0))).y()
    bottom = heatmap.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0, float(depth)))).y()
    return int(top * dpr) + 2, int(bottom * dpr) - 2


@pytest.mark.parametrize("tab", ["overview", "activations"])
def test_four_lane_lesson_reads_at_step_0(qtbot, open_window, tab):
    window = open_window(LANES[0], size=(1280, 720), tab=tab, lanes=LANES)
    assert window.shown_record.step == 0
    qtbot.wait(200)  # the heatmaps lay themselves out again once sized
    window.redraw()
    panel = getattr(window, tab)
    heatmaps = panel.heatmaps.heatmaps
    assert len(heatmaps) == 4
    zeros, normal = heatmaps[0], heatmaps[1]
    for h in (zeros, normal):
        qtbot.waitUntil(lambda h=h: abs(h.plotItem.vb.width() - h._drawn_px) <= 2, timeout=5_000)
    zimg = zeros.grab().toImage()
    y0, y1 = rows_span(zeros)
    # zeros: every activation is exactly 0: one dark column at 0, white at ±0.5
    at_zero = min(luminance(zimg, column_at(zeros, 0.0) + d, y0, y1) for d in (-1, 0, 1))
    assert at_zero < 120, at_zero
    assert luminance(zimg, column_at(zeros, 0.5), y0, y1) > 245
    assert luminance(zimg, column_at(zeros, -0.5), y0, y1) > 245
    # N(0, 1): the saturated mass at ±1 is drawn as bars beyond the frame: darker than the centre
    nimg = normal.grab().toImage()
    y0, y1 = rows_span(normal)
    left, right = normal.banded.bands
    centre = luminance(nimg, column_at(normal, 0.0), y0, y1)
    for x in (left, right):
        edge = luminance(nimg, column_at(normal, x), y0, y1)
        assert edge < centre - 80, (edge, centre)
    # the frame lines sit in the white gaps, never over the bands or the bins
    lo, hi = normal.banded.frame
    assert left < lo < -1.0 and 1.0 < hi < right


def test_bands_hold_the_saturated_share_and_spikes_stay_visible():
    spec = HistSpec(-1.0, 1.0, 200)
    hist = np.zeros((2, 200))
    hist[0, 100] = 50  # a collapsed layer: one bin
    hist[1, :3] = 40  # saturated at -1
    hist[1, -3:] = 40  # ... and +1
    hist[1, 90:110] = 1
    k = saturation_bins("tanh", spec)
    assert k == 3  # |t| > 0.97: the engine's saturation threshold is 3 bins of 0.01
    b = banded_image(hist, np.zeros(2), np.zeros(2), spec, px=110, edge_bins=k)
    cw = (b.x1 - b.x0) / b.image.shape[1]
    col = int((0.0 - b.x0) / cw)
    dark = np.flatnonzero(b.image[0] > 0.99)
    assert len(dark) >= 3 and dark.min() <= col <= dark.max() + 1  # >= 3 columns wide at 0
    assert b.image[1, 0] == pytest.approx(1.0) and b.image[1, -1] == pytest.approx(1.0)  # bands: 120 values each, clipped
    assert b.image[0, 0] == 0.0 and b.image[0, -1] == 0.0  # no mass at the bounds: white bands
    # the in-range bins against the row's fullest bin (40): a centre bin holds 1 of them
    assert b.image[1, col] == pytest.approx(np.sqrt(1 / 40), rel=0.05)


def test_loss_and_update_ratio_draw_something_at_step_0(qtbot, open_window):
    window = open_window(LANES[0], size=(1280, 720), tab="loss", lanes=LANES)
    assert window.shown_record.step == 0
    dots = window.loss.view.now_points
    assert len(dots) == 8  # a loss and an accuracy dot per lane
    assert all(not d.path().isEmpty() for d in dots)
    assert dots[0].xData.tolist() == [0.0] and dots[0].yData[0] == pytest.approx(window.current_frame().lanes[0].record.loss)
    window.tabs.setCurrentWidget(window.health)
    qtbot.wait(100)
    window.redraw()
    ratio = window.health.series["update_ratio"]
    # step 0: no update yet, every lane's ratio is exactly 0: marked, not left out
    assert len(ratio.zero_marks) == 4 and all(len(m.data) == 1 for m in ratio.zero_marks)
    window.controller.step(2)
    qtbot.waitUntil(lambda: window.shown_record.step == 2, timeout=20_000)
    window.redraw()
    counts = [len(m.data) for m in ratio.zero_marks]
    assert counts[0] == 3  # zeros: 0/0 at every step
    assert counts[2] == 1 and counts[3] == 1  # Xavier, He: only at step 0


def test_depth_profile_keeps_the_step_0_measurement(qtbot, open_window, small_config):
    window = open_window(small_config, tab="depth_profile")
    plot = window.depth_profile.std_plot
    assert plot.initial[0].xData.size == 0  # at step 0 the measured line is the step-0 line
    window.controller.step(3)
    qtbot.waitUntil(lambda: window.shown_record.step == 3, timeout=20_000)
    window.redraw()
    first = window.state.records[0]
    assert first.step == 0
    np.testing.assert_allclose(plot.initial[0].yData, first.act_std)
    np.testing.assert_allclose(window.depth_profile.measured_data()[1], window.shown_record.act_std)
    labels = [item[1].text for item in plot.legend.items]
    assert "dotted: at step 0" in labels
