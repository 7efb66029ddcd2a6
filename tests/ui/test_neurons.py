"""The Neurons panel draws the engine's per-unit pictures: identical under zeros, varied under Xavier."""

from __future__ import annotations

import numpy as np

from initviz import registry
from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.pictures import unit_pictures
from initviz.ui.headless import frame_from_trainers
from initviz.ui.panels.neurons import NeuronsPanel, mosaic, pictures_at


def test_registered_for_2d_data_only() -> None:
    spec = registry.get("neurons")
    assert spec.load() is NeuronsPanel
    assert spec.missing([2]) is None and "2-D" in spec.missing([64])


def test_panel_draws_one_row_per_lane_and_names_symmetry(qtbot) -> None:
    trainers = [Trainer(RunConfig(depth=2, width=12, init=InitSpec(s))) for s in ("zeros", "xavier_normal")]
    frame = frame_from_trainers(["zeros", "Xavier"], trainers)
    assert [p.identical for p in frame.unit_pictures] == [True, False]
    panel = NeuronsPanel()
    qtbot.addWidget(panel)
    panel.show_frame(frame)
    assert len(panel.rows) == 2
    titles = [row.plot.titleLabel.text for row in panel.rows]
    assert "same picture" in titles[0] and "same picture" not in titles[1]
    img = panel.rows[1].image.image
    res = frame.unit_pictures[1].outputs.shape[1]
    assert img.shape[:2] == (res, 12 * res + 11 * 3)  # 12 pictures side by side, 3 px apart
    assert len(panel.rows[0].outlines) == 12  # blank pictures still framed


def test_mosaic_colours_sign_and_scale() -> None:
    out = np.zeros((2, 2, 2))
    out[0, 0, 0] = 2.0
    out[1, 1, 1] = -1.0
    img = mosaic(out, gap=1)
    assert img.shape == (2, 5, 4)
    assert tuple(img[0, 0, :3]) == (178, 24, 43)  # the largest value: full red
    assert img[0, 1, 0] == 255 and img[0, 1, 1] == 255  # 0: white
    assert img[1, 4, 2] > img[1, 4, 0]  # negative: blue, at half strength
    assert img[0, 2, 3] == 0  # the gap is transparent


def test_scrubbing_shows_the_pictures_at_or_before_the_step() -> None:
    t = Trainer(RunConfig(depth=2, width=8))
    a = unit_pictures(t, 1)
    t.step(5)
    b = unit_pictures(t, 1)
    log = [(0, (a,)), (5, (b,))]
    assert pictures_at(log, 3) == (a,) and pictures_at(log, 9) == (b,) and pictures_at(log, -1) == ()


def test_the_window_shows_pictures_while_the_neurons_tab_is_open(open_window, qtbot) -> None:
    """The worker computes the pictures only while the tab shows, for the layer the panel asks."""
    from initviz.engine.config import InitSpec as Spec

    lanes = [RunConfig(depth=3, width=8, batch_size=16, dataset="moons", init=Spec(s)) for s in ("zeros", "xavier_normal")]
    window = open_window(lanes[0], tab="neurons", lanes=lanes)
    panel = window.panel("neurons")
    qtbot.waitUntil(lambda: window.state is not None and len(window.state.unit_pictures) == 2, timeout=20000)
    assert [p.identical for p in window.state.unit_pictures] == [True, False]
    panel.layer_box.setValue(2)
    qtbot.waitUntil(lambda: all(p.layer == 2 for p in window.state.unit_pictures), timeout=20000)
    window.tabs.setCurrentWidget(window.panel("loss"))
    assert window.controller.picture_layer is None
