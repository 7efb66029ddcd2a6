"""Keys that always work, projector zoom, remembered settings, Help and menus, on the real window."""

from __future__ import annotations

import re

import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from initviz import registry
from initviz.ui.help import help_html
from initviz.ui.settings import last_scenario, open_settings, restore_window, save_window

Key = QtCore.Qt.Key


def press(qtbot, widget, key, modifier=QtCore.Qt.KeyboardModifier.NoModifier):
    widget.setFocus()
    qtbot.waitUntil(lambda: widget.hasFocus() or QtWidgets.QApplication.focusWidget() is widget, timeout=2_000)
    qtbot.keyClick(widget, key, modifier)


def test_space_plays_whatever_has_focus_except_a_text_field(qtbot, open_window):
    window = open_window()
    combo = window.experiment.scenario_box
    before = combo.currentIndex()
    press(qtbot, combo, Key.Key_Space)
    qtbot.waitUntil(lambda: window.controller.playing, timeout=2_000)
    assert combo.currentIndex() == before  # the combo box did not take the key
    press(qtbot, window.speed_box, Key.Key_Space)
    qtbot.waitUntil(lambda: not window.controller.playing, timeout=2_000)
    # while typing in a text field, Space is a character
    field = window.experiment.findChild(QtWidgets.QLineEdit)
    assert field is not None
    press(qtbot, field, Key.Key_Space)
    qtbot.wait(200)
    assert not window.controller.playing


def test_focus_leaves_the_field_after_apply_and_revert(qtbot, open_window):
    window = open_window()
    spin = window.step_n_box
    window.experiment.revert_button.setEnabled(True)
    window.experiment.revert_button.click()
    qtbot.waitUntil(lambda: window.tabs.hasFocus(), timeout=2_000)
    field = window.experiment.findChild(QtWidgets.QLineEdit)
    field.setFocus()
    window.apply_action.trigger()
    qtbot.waitUntil(lambda: window.tabs.hasFocus(), timeout=2_000)
    qtbot.waitUntil(lambda: window.shown_record is not None and not window.state.error, timeout=30_000)
    qtbot.keyClick(window.tabs, Key.Key_Space)
    qtbot.waitUntil(lambda: window.controller.playing, timeout=2_000)
    window.controller.pause()
    assert spin.value() == 100  # the Step N box was not typed into


def test_right_left_home_end_scrub_and_step(qtbot, open_window):
    window = open_window()
    tabs = window.tabs
    for n in range(1, 4):  # Right when live: one training step each
        press(qtbot, tabs, Key.Key_Right)
        qtbot.waitUntil(lambda n=n: window.shown_record.step == n, timeout=20_000)
    assert window.cursor_step is None
    press(qtbot, window.experiment.scenario_box, Key.Key_Left)  # from a combo box: still scrubs
    assert window.cursor_step == 2 and window.shown_record.step == 2
    press(qtbot, tabs, Key.Key_Left)
    assert window.shown_record.step == 1
    press(qtbot, tabs, Key.Key_Home)
    assert window.shown_record.step == 0 and window.cursor_step == 0
    press(qtbot, tabs, Key.Key_Right)  # scrubbing: the next recorded step, no training
    assert window.shown_record.step == 1 and window.state.step_count == 3
    press(qtbot, tabs, Key.Key_End)
    assert window.cursor_step is None and window.shown_record.step == 3


def test_ctrl_digits_switch_panels_from_a_combo_box(qtbot, open_window):
    window = open_window()
    combo = window.experiment.scenario_box
    for n in (1, 3, 2):
        press(qtbot, combo, getattr(Key, f"Key_{n}"), QtCore.Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentIndex() == n - 1


def _tick_font_pt(window) -> float:
    axis = window.gradients.grid._make_plot().plotItem.getAxis("bottom")
    return axis.style["tickFont"].pointSizeF()


def test_zoom_scales_fonts_lines_and_markers_and_resets(qtbot, open_window):
    window = open_window(tab="depth_profile")
    app = QtWidgets.QApplication.instance()
    base_pt = app.font().pointSizeF()
    plot = window.depth_profile.std_plot
    title = plot.plotItem.titleLabel
    line = plot.measured[0].line
    marker = plot.markers.zero[0] if plot.markers.zero else None
    axis = window.activations.grid  # a widget tree with explicit (small) fonts
    base_title = float(re.match(r"([0-9.]+)pt", title.opts["size"]).group(1))
    base_pen = line.pen().widthF()
    more = window.banner.more  # under the banner's style sheet: fonts do not propagate by themselves
    base_more = more.font().pointSizeF()
    try:
        window.zoom_in_action.trigger()
        window.zoom_in_action.trigger()
        f = window.zoom.factor
        assert f == pytest.approx(1.3)
        assert app.font().pointSizeF() == pytest.approx(base_pt * f)
        assert float(re.match(r"([0-9.]+)pt", title.opts["size"]).group(1)) == pytest.approx(base_title * f, rel=0.01)
        assert line.pen().widthF() == pytest.approx(base_pen * f)
        assert more.font().pointSizeF() == pytest.approx(base_more * f)
        if marker is not None:
            assert marker.opts["size"] == pytest.approx(11 * f)
        # the dock grew with the text
        assert window.experiment_dock.width() >= 330
        window.zoom_reset_action.trigger()
        assert window.zoom.factor == 1.0
        assert app.font().pointSizeF() == pytest.approx(base_pt)
        assert line.pen().widthF() == pytest.approx(base_pen)
        assert float(re.match(r"([0-9.]+)pt", title.opts["size"]).group(1)) == pytest.approx(base_title, rel=0.01)
        window.zoom_out_action.trigger()
        assert window.zoom.factor == pytest.approx(0.9)
    finally:
        window.zoom.reset()
    assert axis is not None


def test_plots_made_after_a_zoom_are_scaled_once(qtbot, open_window):
    window = open_window(tab="depth_profile", lanes=None)
    app = QtWidgets.QApplication.instance()
    try:
        window.zoom.set_factor(2.0)
        from initviz.ui.panels.activations import ActivationHeatmap

        late = ActivationHeatmap()  # as a new lane's heatmap is made while zoomed
        late.plotItem.setLabel("bottom", "φ(z)")
        window.activations.heatmaps.layout().addWidget(late)
        window.zoom.apply()
        label_pt = late.plotItem.getAxis("bottom").label.font().pointSizeF()
        assert label_pt == pytest.approx(app.font().pointSizeF())  # 2x, not 4x
    finally:
        window.zoom.reset()


def test_zoom_keys(qtbot, open_window):
    window = open_window()
    try:
        press(qtbot, window.tabs, Key.Key_Equal, QtCore.Qt.KeyboardModifier.ControlModifier)
        assert window.zoom.factor > 1.0
        press(qtbot, window.tabs, Key.Key_0, QtCore.Qt.KeyboardModifier.ControlModifier)
        assert window.zoom.factor == 1.0
        press(qtbot, window.tabs, Key.Key_Minus, QtCore.Qt.KeyboardModifier.ControlModifier)
        assert window.zoom.factor < 1.0
    finally:
        window.zoom.reset()


def test_settings_remember_geometry_dock_zoom_and_scenario(qtbot, open_window, tmp_path):
    from initviz.ui.scenarios import all_scenarios

    path = str(tmp_path / "initviz.ini")
    window = open_window(size=(700, 500))  # inside the offscreen screen (800 x 600): not clamped
    scenario = next(s for s in all_scenarios() if s.id == "xavier_tanh")
    window.experiment.select_scenario_shown(scenario)
    try:
        window.zoom.set_factor(1.5)
        save_window(window, open_settings(path))
    finally:
        window.zoom.reset()
    settings = open_settings(path)
    assert last_scenario(settings) == "xavier_tanh"
    assert float(settings.value("view/zoom")) == 1.5
    other = open_window(size=(600, 400))
    try:
        restore_window(other, open_settings(path))
        assert other.zoom.factor == 1.5
        assert (other.width(), other.height()) == (window.width(), window.height())
    finally:
        other.zoom.reset()


def test_a_fresh_window_fits_the_screen(qtbot, open_window, tmp_path):
    window = open_window(size=(3000, 2000))
    restore_window(window, open_settings(str(tmp_path / "none.ini")))  # nothing saved yet
    area = window.screen().availableGeometry()
    assert window.frameGeometry().width() <= area.width() + 1 or window.isMaximized()


def test_dock_restore_gives_a_usable_width(qtbot, open_window):
    window = open_window(size=(1600, 900))
    window.resizeDocks([window.experiment_dock], [60], QtCore.Qt.Orientation.Horizontal)
    window.experiment_dock.hide()
    window.dock_action.trigger()
    qtbot.waitUntil(lambda: window.experiment_dock.isVisible(), timeout=2_000)
    qtbot.waitUntil(lambda: window.experiment_dock.width() >= 300, timeout=2_000)


def test_help_lists_every_shortcut_and_menus_read_right(qtbot, open_window):
    window = open_window()
    html = help_html()
    text = QtGui.QTextDocumentFragment.fromHtml(html).toPlainText()
    n = len(registry.PANELS)
    assert f"Ctrl+1 … Ctrl+{n}" in text
    missing = []
    for act in window.actions():
        for seq in act.shortcuts():
            key = seq.toString(QtGui.QKeySequence.SequenceFormat.PortableText)
            if re.fullmatch(r"Ctrl\+[1-9]", key):
                continue  # the panels: one line
            if key not in text:
                missing.append(f"{act.text()}: {key}")
    assert missing == []
    for menu in window.menus.values():
        for act in menu.actions():
            shown = act.text().replace("&&", "\0")
            assert "&" not in shown.replace("&File", ""), act.text()  # no letter swallowed as a mnemonic
    assert any(act.text() == "Loss && accuracy" for act in window.menus["View"].actions())


def test_hover_shows_the_value_under_the_cursor(qtbot, open_window):
    from initviz.ui.hover import readout_of

    window = open_window(tab="depth_profile")
    plot = window.depth_profile.std_plot.plotItem
    hover = readout_of(plot)
    assert hover is not None
    vb = plot.vb
    at = vb.mapViewToScene(QtCore.QPointF(3.0, -0.3))  # layer 3, std 10^-0.3 (a log axis)
    hover.moved(at)
    assert hover.text.isVisible()
    assert hover.text.textItem.toPlainText() == "layer 3 · std 0.501"
    hover.moved(QtCore.QPointF(-1e6, -1e6))
    assert not hover.text.isVisible()
    assert isinstance(plot.getAxis("left"), pg.AxisItem)
