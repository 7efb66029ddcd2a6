"""The window leaves the GIL and the CPU to training: it paints only what changed and what shows,
keeps axes and their ranges between frames, and draws less often when frames get costly."""

from __future__ import annotations

import dataclasses
import time
import types

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.trainer import Trainer
from initviz.ui import controller as controller_mod
from initviz.ui.controller import FRAME_INTERVAL_MS, GUI_DUTY, MAX_FRAME_INTERVAL_S, Controller
from initviz.ui.panels.axes import ReadableAxis
from initviz.ui.panels.base import Frame, Lane, sticky_range
from initviz.ui.panels.gradients import GradNormPlot

from conftest import SMALL

CACHED = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


class PaintCounter(QtCore.QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QtWidgets.QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        if ev.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_hidden_tab_is_neither_drawn_nor_painted_while_training(qtbot, open_window):
    window = open_window(tab="overview")
    hidden = window.gradients
    drawn = {"overview": 0, "gradients": 0}
    for name, panel in (("overview", window.overview), ("gradients", hidden)):
        original = panel.draw

        def counting(frame, name=name, original=original):
            drawn[name] += 1
            original(frame)

        panel.draw = counting
    viewports = [v.viewport() for v in hidden.findChildren(pg.GraphicsView)]
    assert viewports, "the Gradients panel has plots"
    counters = [PaintCounter(v) for v in viewports]
    shown = PaintCounter(window.overview.grad_plot.viewport())
    window.controller.step(8)
    qtbot.waitUntil(lambda: window.shown_record.step == 8, timeout=20_000)
    qtbot.wait(100)
    assert drawn["overview"] > 0 and shown.count > 0  # the tab on screen draws and paints
    assert drawn["gradients"] == 0
    assert sum(c.count for c in counters) == 0
    # shown again, it draws the newest record at once
    window.tabs.setCurrentWidget(hidden)
    assert drawn["gradients"] == 1
    assert hidden.norm_plot.curves[0].yData[0] == window.shown_record.grad_norm[0]


def test_axes_on_screen_paint_from_a_cache_and_repaint_only_when_they_change(qtbot, open_window):
    window = open_window(tab="overview")
    plot = window.overview.grad_plot
    axis = plot.plotItem.getAxis("left")
    assert isinstance(axis, ReadableAxis)
    assert axis.cacheMode() == CACHED
    assert window.overview.std_plot.plotItem.getAxis("bottom").cacheMode() == CACHED
    paints = []
    original = axis.paint
    axis.paint = lambda *a: (paints.append(1), original(*a))  # Python paint calls (GIL held)
    curve = plot.curves[0].line
    for k in range(5):  # a curve inside the plot changes: the axis beside it is blitted, not painted
        curve.set_line(np.arange(1.0, 5.0), np.full(4, 10.0 ** (-k % 2)))
        plot.viewport().repaint()
    assert paints == []
    axis.setRange(-3.0, 2.0)  # the axis itself changes: painted again
    plot.viewport().repaint()
    assert len(paints) == 1


def test_exported_copies_paint_their_axes_as_vectors_not_from_a_cache(qtbot):
    from initviz.ui.export.canvas import SlideCanvas
    from initviz.ui.export.options import SlideOptions
    from initviz.ui.panels.gradients import GradientsPanel

    trainer = Trainer(SMALL)
    trainer.step(3)
    frame = Frame(lanes=(Lane("run", trainer.latest, tuple(trainer.history), trainer.config, "#1f77b4", trainer.theory),))
    canvas = SlideCanvas([GradientsPanel])
    try:
        canvas.set_size(SlideOptions(640, 360))
        canvas.show_frame(frame)
        canvas.svg_bytes(SlideOptions(640, 360))
        axes = [item for item in canvas.findChildren(pg.GraphicsView)[0].scene().items() if isinstance(item, pg.AxisItem)]
        assert axes and all(a.cacheMode() == QtWidgets.QGraphicsItem.CacheMode.NoCache for a in axes)
    finally:
        canvas.dispose()


def test_sticky_range_keeps_a_range_that_holds_the_values() -> None:
    assert sticky_range(None, (-3.0, 1.0), 1.0) == (-3.0, 1.0)
    assert sticky_range((-4.0, 1.0), (-3.0, 1.0), 1.0) == (-4.0, 1.0)  # within the slack: kept
    assert sticky_range((-4.0, 1.0), (-3.0, 1.5), 1.0) == (-3.0, 1.5)  # values outside: follows
    assert sticky_range((-9.0, 1.0), (-3.0, 1.0), 1.0) == (-3.0, 1.0)  # far too wide: shrinks
    assert sticky_range((-9.0, 1.0), (-3.0, 1.0), 1.0, shrink=False) == (-9.0, 1.0)


def test_gradient_norms_jumping_about_while_training_do_not_reset_the_axis(qtbot) -> None:
    trainer = Trainer(SMALL)
    trainer.step(2)
    plot = GradNormPlot()
    qtbot.addWidget(plot)
    calls = []
    original = plot.plotItem.vb.setRange
    plot.plotItem.vb.setRange = lambda *a, **k: (calls.append(k.get("yRange")), original(*a, **k))

    def frame_with(norms: np.ndarray, moving: bool) -> Frame:
        record = dataclasses.replace(trainer.latest, grad_norm=norms)
        lane = Lane("run", record, tuple(trainer.history), trainer.config, "#1f77b4", None)
        return Frame(lanes=(lane,), moving=moving)

    depth = trainer.latest.depth
    plot.draw(frame_with(np.full(depth, 1e-6), moving=True))
    assert len(calls) == 1
    plot.draw(frame_with(np.full(depth, 1e-6), moving=True))  # the same values: no setRange at all
    assert len(calls) == 1
    for k in range(6):  # while training, a layer's norm jumps by decades from step to step
        norms = np.full(depth, 1e-6)
        norms[0] = 1e-2 if k % 2 else 1e-6
        plot.draw(frame_with(norms, moving=True))
    assert len(calls) == 2  # grown once to hold 1e-2, then kept
    lo, hi = calls[-1]
    assert lo <= -6 and hi >= -2
    plot.draw(frame_with(np.full(depth, 1e-6), moving=False))  # at rest: fits the values again
    assert len(calls) == 3 and calls[-1][1] < -4


def _fake_clock(monkeypatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(controller_mod, "time", types.SimpleNamespace(perf_counter=lambda: now[0], sleep=time.sleep))
    return now


def test_the_draw_interval_follows_the_cost_of_a_frame_drawing_and_painting(qtbot, monkeypatch) -> None:
    now = _fake_clock(monkeypatch)
    ctl = Controller(SMALL)
    got = []
    ctl.state_ready.connect(got.append)
    ctl.playing = True
    ctl._mailbox.put(types.SimpleNamespace(version=1))
    ctl.poll()
    assert len(got) == 1
    for _ in range(9):  # cheap frames: the 30 Hz poll rate
        ctl.frame_done(0.001, 0.001)
    assert ctl.draw_interval == FRAME_INTERVAL_MS / 1000
    for _ in range(9):  # the repaint after each frame made slow: fewer frames
        ctl.frame_done(0.002, 0.030)
    assert ctl.draw_interval == (0.032 / GUI_DUTY)
    ctl._mailbox.put(types.SimpleNamespace(version=2))
    now[0] += 0.1
    ctl.poll()
    assert len(got) == 1  # new state, but too soon after the last costly frame
    now[0] += ctl.draw_interval
    ctl.poll()
    assert len(got) == 2
    for _ in range(9):  # however slow, at least two frames a second
        ctl.frame_done(0.5, 0.5)
    assert ctl.draw_interval == MAX_FRAME_INTERVAL_S
    ctl.playing = False  # at rest every new state is drawn at once (a click, a scrub)
    ctl._mailbox.put(types.SimpleNamespace(version=3))
    ctl.poll()
    assert len(got) == 3


class SlowItem(QtWidgets.QGraphicsRectItem):
    """A plot item whose paint burns ``cost`` seconds of CPU: a panel made slow artificially."""

    def __init__(self, cost: float) -> None:
        super().__init__(0.0, 0.0, 1.0, 1.0)
        self.cost = cost

    def paint(self, p: QtGui.QPainter, *args) -> None:
        end = time.thread_time() + self.cost
        while time.thread_time() < end:
            pass
        super().paint(p, *args)


def test_slow_paints_lower_the_draw_rate_and_the_tooltip_says_so(qtbot, open_window):
    window = open_window(tab="overview")
    plot = window.overview.grad_plot
    slow = SlowItem(0.05)  # >= 0.5 s between frames at GUI_DUTY 0.1: the slowest rate
    plot.plotItem.addItem(slow)

    def repaint_each_frame(_seconds: float) -> None:
        slow.update()  # as a curve that changes every frame

    window.frame_drawn.connect(repaint_each_frame)
    window.controller.play()
    qtbot.waitUntil(lambda: window.controller.draw_interval > 0.4, timeout=30_000)
    assert window.last_paint_seconds >= 0.05  # the repaint was measured, not only the drawing
    tip = window.rate_label.toolTip()
    assert f"every {round(1000 * window.controller.draw_interval)} ms" in tip
    plot.plotItem.removeItem(slow)  # cheap again: back to the full rate
    # back well under the slow rate (a plain Overview frame costs a few ms, more on a busy CI
    # machine: 0.1 s, i.e. 10 ms a frame, was too tight there)
    qtbot.waitUntil(lambda: window.controller.draw_interval < 0.25, timeout=30_000)
    window.controller.pause()
    window.frame_drawn.disconnect(repaint_each_frame)
