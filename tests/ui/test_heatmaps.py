"""The display arithmetic behind the heatmaps and the scrubbed decision boundary (no window)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from initviz.engine.config import RunConfig
from initviz.engine.record import HistSpec
from initviz.engine.trainer import Trainer
from initviz.ui.panels.base import Frame, Lane
from initviz.ui.panels.boundary import GridLog, grids_at
from initviz.ui.panels.layers import histogram_image, pool_columns


def test_histogram_rows_are_scaled_to_their_own_peak() -> None:
    spec = HistSpec(-1.0, 1.0, 4)
    hist = np.array([[0, 10, 40, 10], [5, 5, 5, 5], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float64)
    under = np.array([0.0, 0.0, 0.0, 0.0])
    over = np.array([0.0, 20.0, 0.0, 8.0])  # row 2: more values off-scale than in any bin
    image, x0, x1 = histogram_image(hist, under, over, spec, pad_bins=2)
    assert image.shape == (4, 8) and (x0, x1) == (-2.0, 2.0)  # 2 bins of width 0.5 each side
    np.testing.assert_allclose(image[0, 2:6] ** 2, [0, 0.25, 1, 0.25])  # the bell's peak is darkest
    np.testing.assert_allclose(image[1, 2:6] ** 2, [0.25] * 4)
    np.testing.assert_allclose(image[1, 6:] ** 2, [1, 1])  # the off-scale band is the peak
    assert not image[2].any()  # an empty layer draws white
    np.testing.assert_allclose(image[3] ** 2, [0, 0, 0.125, 0, 0, 0, 1, 1])


def test_pooling_keeps_a_one_bin_spike_and_the_image_extent() -> None:
    data = np.zeros((3, 210))
    data[0, 101] = 1.0  # a collapsed layer: one bin
    data[1, 0] = 0.5
    data[2, 209] = 0.7
    pooled, x1 = pool_columns(data, -1.5, 1.5, pixels=100)
    assert pooled.shape == (3, 70)  # k = 3 columns per pixel
    assert pooled[0].max() == 1.0 and pooled[0].argmax() == 101 // 3
    assert pooled[1, 0] == 0.5 and pooled[2, -1] == 0.7
    assert x1 == pytest.approx(1.5)  # 210 = 70 x 3: no padding, same extent
    pooled, x1 = pool_columns(data, 0.0, 210.0, pixels=64)  # k = 4: 212 columns, the last group padded
    assert pooled.shape == (3, 53) and x1 == pytest.approx(212.0)
    assert pooled[2, -1] == 0.7
    same, x1 = pool_columns(data, 0.0, 1.0, pixels=400)  # wide enough: untouched
    assert same is data and x1 == 1.0
    same, _ = pool_columns(data, 0.0, 1.0, pixels=0)  # not laid out yet: untouched
    assert same is data


def _grid(trainer: Trainer, step: int):
    return dataclasses.replace(trainer.decision_grid(resolution=8), step=step)


def _frame(trainer: Trainer, step: int, grids: tuple, history: tuple) -> Frame:
    rec = dataclasses.replace(trainer.latest, step=step)
    lane = Lane("run", rec, (rec,), trainer.config, "#000000")
    return Frame(lanes=(lane,), grids=grids, grid_history=history)


def test_grid_log_keeps_what_was_computed_and_starts_over_for_a_new_network() -> None:
    t = Trainer(RunConfig(depth=2, width=8, batch_size=16, dataset="moons"))
    log = GridLog(capacity=8)
    for step in (0, 5, 10, 15):
        log.add(1, (_grid(t, step),))
    log.add(1, (None,))  # nothing computed (not 2-D data): nothing logged
    assert [s for s, _ in log.entries()] == [0, 5, 10, 15]
    same = log.entries()[-1][1]
    log.add(1, same)  # the same grids published again
    assert [s for s, _ in log.entries()] == [0, 5, 10, 15]
    # the boundary shown for a step: the newest computed at or before it
    history = log.entries()
    newest = (_grid(t, 20),)
    assert grids_at(_frame(t, 12, newest, history))[0].step == 10
    assert grids_at(_frame(t, 15, newest, history))[0].step == 15
    assert grids_at(_frame(t, 20, newest, history))[0].step == 20  # live: the newest grids
    assert grids_at(_frame(t, 3, (), history[1:])) == ()  # none that early: nothing to show
    # a rewound network (an opened run) drops the later entries; a new build empties the log
    log.add(1, (_grid(t, 7),))
    assert [s for s, _ in log.entries()] == [0, 5, 7]
    log.add(2, (_grid(t, 0),))
    assert [s for s, _ in log.entries()] == [0]


def test_grid_log_thins_evenly_when_full_and_keeps_the_first_and_newest() -> None:
    t = Trainer(RunConfig(depth=2, width=8, batch_size=16, dataset="moons"))
    g = _grid(t, 0)
    log = GridLog(capacity=6)
    for step in range(0, 70, 10):
        log.add(0, (dataclasses.replace(g, step=step),))
    steps = [s for s, _ in log.entries()]
    assert len(steps) <= 6 and steps[0] == 0 and steps[-1] == 60
    assert steps == sorted(steps)
    for step in range(70, 400, 10):
        log.add(0, (dataclasses.replace(g, step=step),))
    steps = [s for s, _ in log.entries()]
    assert len(steps) <= 6 and steps[0] == 0 and steps[-1] == 390
