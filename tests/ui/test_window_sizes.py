"""The window from 1024x700 to 2560x1440: plots shrink or scroll, never get cut.

For every tab and size: each plot's data rectangle lies inside its view, each view is fully visible
in the window unless it sits in a scroll area (the histogram grid), and no data rectangle is smaller
than a readable minimum.
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtWidgets

from test_glance import LANES

SIZES = [(1024, 700, 1.0), (1280, 720, 1.0), (1600, 1000, 1.0), (2560, 1440, 1.0), (2560, 1440, 2.0)]
MIN_W, MIN_H = 50, 36  # px of a plot's data area: still readable


def in_scroll_area(widget: QtWidgets.QWidget) -> bool:
    w = widget.parentWidget()
    while w is not None:
        if isinstance(w, QtWidgets.QScrollArea):
            return True
        w = w.parentWidget()
    return False


def layout_problems(window, panel) -> list[str]:
    problems = []
    central = window.centralWidget()
    for view in panel.findChildren(pg.GraphicsView):
        if not view.isVisible() or view.width() < 2:
            continue
        scrolled = in_scroll_area(view)
        name = f"{type(panel).__name__}/{type(view).__name__}"
        if not scrolled:
            top_left = view.mapTo(central, QtCore.QPoint(0, 0))
            rect = QtCore.QRect(top_left, view.size())
            if not central.rect().adjusted(-1, -1, 1, 1).contains(rect):
                problems.append(f"{name} at {rect.getRect()} is cut by the window {central.rect().getRect()}")
        viewport = view.viewport().rect().adjusted(-2, -2, 2, 2)
        for item in view.scene().items():
            if not isinstance(item, pg.ViewBox) or not item.isVisible() or isinstance(item.parentItem(), pg.ColorBarItem):
                continue
            box = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            if not viewport.contains(box):
                problems.append(f"{name}: a plot's data area {box.getRect()} is cut by its view {viewport.getRect()}")
            elif box.width() < MIN_W or box.height() < MIN_H:
                if not scrolled or box.height() < 20:
                    problems.append(f"{name}: a plot's data area {box.width()}x{box.height()} is too small")
    return problems


def each_tab_after_two_steps(window, qtbot):
    """Train two steps, then show each tab in turn (yields its index once it is drawn)."""
    window.controller.step(2)
    qtbot.waitUntil(lambda: window.shown_record.step == 2, timeout=30_000)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(60)
        window.redraw()
        QtWidgets.QApplication.processEvents()
        yield i


@pytest.mark.parametrize("size,zoom", [(s[:2], s[2]) for s in SIZES], ids=[f"{w}x{h}@{z:g}" for w, h, z in SIZES])
def test_every_tab_fits_the_window(qtbot, open_window, size, zoom):
    window = open_window(LANES[0], size=size, tab="overview", lanes=LANES)
    window.zoom.set_factor(zoom)
    problems = []
    try:
        for i in each_tab_after_two_steps(window, qtbot):
            problems += [f"{size}@{zoom} tab {window.tabs.tabText(i)}: {p}" for p in layout_problems(window, window.tabs.widget(i))]
    finally:
        window.zoom.reset()  # the application font is shared by every test
    print("\n".join(problems))
    assert problems == []


REPORT_SIZES = [(1280, 720), (1600, 1000), (2560, 1440)]


@pytest.mark.parametrize("size", REPORT_SIZES, ids=[f"{w}x{h}" for w, h in REPORT_SIZES])
def test_every_tab_passes_the_slides_layout_report_on_screen(qtbot, open_window, size):
    """The slides' layout report (ui/export/report.py) on the real window's widgets: no text off
    the window, cut, clipped by its plot or over another; step axes end at the last step."""
    from initviz.ui.export.report import problems as report_problems, widget_report

    window = open_window(LANES[0], size=size, tab="overview", lanes=LANES)
    found = []
    for i in each_tab_after_two_steps(window, qtbot):
        panel = window.tabs.widget(i)
        report = widget_report(window.centralWidget(), [panel])
        # plot heights: the window scrolls or shrinks (the test above); texts and step axes here
        found += [f"{size} tab {window.tabs.tabText(i)}: {p}" for p in report_problems(report, last_step=2, max_plots=0)]
    print("\n".join(found))
    assert found == []
