"""The experiment panel: invalid values are refused with the engine's reason; Apply rebuilds."""

from __future__ import annotations

from PySide6 import QtCore

from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.scenarios import get_scenario, load_scenarios
from initviz.ui.scenarios import lesson_text


def test_an_invalid_field_is_refused_with_a_message(qtbot, open_window):
    window = open_window()
    panel = window.experiment
    build = window.state.build
    panel.fields["depth"].editor.setValue(0)
    message = panel.error_text("depth")
    assert message.startswith("depth: 0 is not allowed")
    assert panel.fields["depth"].error.isVisible()
    assert not panel.apply_button.isEnabled()
    assert panel.apply() is False
    window.apply_action.trigger()  # Ctrl+Return
    qtbot.wait(200)
    assert window.state.build == build
    assert window.state.config.depth == 4
    # text that is not a number: the engine's sentence, next to the field
    panel.fields["depth"].editor.setValue(3)
    panel.fields["lr"].editor.setText("fast")
    assert "lr" in panel.error_text("lr") and "number" in panel.error_text("lr")
    assert panel.error_text("depth") == ""
    assert not panel.apply_button.isEnabled()
    panel.fields["lr"].editor.setText("0.01")
    assert panel.error_text("lr") == ""
    assert panel.apply_button.isEnabled()
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=20_000)
    assert window.state.config.depth == 3 and window.state.config.lr == 0.01
    qtbot.waitUntil(lambda: window.shown_record.depth == 3, timeout=5_000)
    assert window.activations.grid.rows == 3


def test_messages_are_the_engines(qtbot, open_window):
    window = open_window()
    panel = window.experiment
    panel.fields["init.scheme"].editor.setCurrentText("normal")
    panel.fields["init.std"].editor.setText("-2")
    try:
        RunConfig().replace(init={"scheme": "normal", "std": -2.0})
    except ConfigError as exc:
        expected = str(exc)
    assert panel.error_text("init.std") == expected.replace("-2.0", "-2") or panel.error_text("init.std") == expected


def test_only_the_schemes_parameters_are_shown(qtbot, open_window):
    window = open_window()
    fields = window.experiment.fields
    fields["init.scheme"].editor.setCurrentText("kaiming_normal")
    assert fields["init.mode"].editor.isVisible() and fields["init.nonlinearity"].editor.isVisible()
    assert not fields["init.std"].editor.isVisible() and not fields["init.gain"].editor.isVisible()
    fields["init.scheme"].editor.setCurrentText("xavier_uniform")
    assert fields["init.gain"].editor.isVisible() and not fields["init.mode"].editor.isVisible()
    fields["optimizer"].editor.setCurrentText("adam")
    assert not fields["momentum"].editor.isVisible()
    # the formula and predicted std come from the engine's describe_init
    assert "fan_in+fan_out" in window.experiment.formula.text()
    assert "predicted weight std" in window.experiment.formula.text()


def test_a_scenario_sets_the_fields_and_rebuilds(qtbot, open_window):
    window = open_window()
    build = window.state.build
    scenario = get_scenario("he_relu")
    window.experiment.select_scenario(scenario)
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=30_000)
    assert window.state.config == scenario.config
    assert window.state.config.init.scheme == "kaiming_normal"
    assert window.experiment.lesson.text() == lesson_text(scenario)
    assert window.experiment.fields["activation"].value() == "relu"
    assert window.experiment.fields["depth"].value() == scenario.config.depth
    # every engine scenario is listed and can be picked, comparisons (lanes) included
    box = window.experiment.scenario_box
    listed = {box.itemData(i).id for i in range(box.count()) if box.itemData(i) is not None}
    assert listed == {s.id for s in load_scenarios()}
    assert all(box.model().item(i).isEnabled() for i in range(box.count()))


def test_help_gives_the_formulas(qtbot, open_window):
    window = open_window()
    window.help_action.trigger()
    text = window.help_dialog.browser.toPlainText()
    for formula in ("2 / (fan_in + fan_out)", "2 / fan_in", "gain / √fan_in", "1/√(3·fan_in)", "tanh 5/3", "Var(z"):
        assert formula in text, formula
    for panel in window.panels:
        assert panel.toolTip() and "Healthy" in panel.toolTip()
    window.help_dialog.close()
