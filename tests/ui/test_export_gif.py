"""GIF fixed axes hold every data item type the panels draw; progress says frames and time left."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore

from initviz.ui import export as ex
from initviz.ui.panels.base import DottedLine, PathCurve


@pytest.fixture
def plot(qtbot):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.plotItem.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    yield w.plotItem  # the widget stays referenced until the test ends


def bounds(plot) -> tuple:
    return ex.data_bounds(plot.vb)


def test_plotdataitem_and_scatter_count(plot) -> None:
    plot.addItem(pg.PlotDataItem([0, 10], [-2, 3]))
    plot.addItem(pg.ScatterPlotItem(x=[4.0, 12.0], y=[0.0, 7.0]))
    assert bounds(plot) == pytest.approx((0, 12, -2, 7))


def test_path_curves_count_without_their_pen_width(plot) -> None:
    """PathCurve (Qt path) data count; a 7 px cosmetic pen does not widen them by 3.5 data units."""
    dots = PathCurve(pg.mkPen("b", width=7), dots=True)
    dots.set_line(np.array([2.0, 5.0]), np.array([0.25, 0.75]))
    plot.addItem(dots)
    line = PathCurve(pg.mkPen("r", width=1), log_y=True)
    line.set_line(np.array([1.0, 3.0]), np.array([1.0, 1000.0]))  # drawn at log10: 0 .. 3
    plot.addItem(line)
    x0, x1, y0, y1 = bounds(plot)
    assert (x0, x1) == pytest.approx((1, 5), abs=1e-5)
    assert (y0, y1) == pytest.approx((0, 3))


def test_dotted_line_and_transformed_histogram_count(plot) -> None:
    d = DottedLine("#123456")
    d.add_to(plot)
    d.set_line(np.arange(1.0, 21.0), np.linspace(-1, 4, 20))
    hist = PathCurve(pg.mkPen("k"))
    hist.set_steps(np.array([0.0, 1.0, 2.0]), np.array([3.0, 6.0]))
    hist.setTransform(pg.QtGui.QTransform(0.5, 0, 0, 0.1, 30.0, 0))  # as a histogram row places its lanes
    plot.addItem(hist)
    assert bounds(plot) == pytest.approx((1, 31, -1, 4))


def test_image_items_count_as_their_rectangle_and_reference_lines_do_not(plot) -> None:
    img = pg.ImageItem(np.zeros((3, 4)), axisOrder="row-major")
    img.setRect(QtCore.QRectF(-5, 0.5, 50, 20))
    plot.addItem(img)
    plot.addItem(pg.InfiniteLine(pos=1000, angle=90), ignoreBounds=True)
    plot.addItem(pg.InfiniteLine(pos=-1000, angle=0))
    plot.addItem(pg.LinearRegionItem(values=(-3.5, 900), orientation="horizontal"))
    assert bounds(plot) == pytest.approx((-5, 45, 0.5, 20.5))


def test_hidden_and_empty_items_do_not_count(plot) -> None:
    hidden = pg.PlotDataItem([100, 200], [100, 200])
    hidden.hide()
    plot.addItem(hidden)
    plot.addItem(PathCurve(pg.mkPen("k")))
    plot.addItem(pg.ImageItem())
    assert bounds(plot) is None


def test_gif_progress_names_frames_and_time_left(qapp, tmp_path) -> None:
    from initviz.engine import RunConfig
    from initviz.engine.lanes import Lanes
    from initviz.ui.headless import frame_from_trainers, panel_classes

    lanes = Lanes([RunConfig(depth=3, width=8, batch_size=16)])
    lanes.step(4)
    frame = frame_from_trainers(lanes.names, lanes.trainers)
    seen = []
    ex.export_figure([panel_classes()["loss"]], frame, tmp_path / "a.gif", options=ex.SlideOptions(640, 360),
                     progress=lambda d, t, w: seen.append((d, t, w)) is None)  # fmt: skip
    texts = [w for _, _, w in seen]
    assert "0 / 5 frames painted" in " ".join(texts) and "5 / 5 frames painted" in texts[-1]
    assert any("s left" in w for w in texts), texts
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1][0] == seen[-1][1]


def test_gif_frames_and_past_boundaries_take_the_record_at_or_before_each_step(qapp) -> None:
    """history_frames and grids_at search through the snapshot's index_at_or_before: checked here
    against a plain scan, on lanes recorded at different steps (one sparser than the other)."""
    import dataclasses as dc

    from initviz.engine import RunConfig, Trainer
    from initviz.ui.export.frames import history_frames
    from initviz.ui.panels.base import Frame, Lane
    from initviz.ui.panels.boundary import grids_at

    t = Trainer(RunConfig(depth=2, width=8, batch_size=16, dataset="moons"))
    dense = tuple(dc.replace(t.latest, step=s) for s in range(0, 12))
    sparse = tuple(dc.replace(t.latest, step=s) for s in (0, 4, 9))
    lanes = (Lane("a", dense[-1], dense, t.config, "#000000"), Lane("b", sparse[-1], sparse, t.config, "#111111"))
    frame = Frame(lanes=lanes)
    frames = history_frames(frame, 2, 11, max_frames=100)
    assert [f.main.record.step for f in frames] == list(range(2, 12))
    for f in frames:
        s = f.main.record.step
        expect = max(r.step for r in sparse if r.step <= s)  # the plain scan
        assert f.lanes[1].record.step == expect and [r.step for r in f.lanes[1].records] == [r.step for r in sparse if r.step <= expect]
        assert [r.step for r in f.lanes[0].records] == list(range(0, s + 1))
        assert f.moving is False and f.cursor_step is None
    g = dc.replace(t.decision_grid(resolution=4), step=0)
    history = tuple((s, (dc.replace(g, step=s),)) for s in (3, 6, 10))
    for step in range(0, 14):
        shown = grids_at(dc.replace(frame, lanes=(dc.replace(lanes[0], record=dc.replace(t.latest, step=step)),),
                                    grids=(dc.replace(g, step=12),), grid_history=history))  # fmt: skip
        logged = [s for s, _ in history if s <= step] + ([12] if step >= 12 else [])
        assert (shown[0].step if shown else None) == (max(logged) if logged else None), step
