"""The Experiment panel's architecture control: picking cnn brings the digits, the residual scale
shows for resmlp only, and Apply rebuilds the network as chosen (#14)."""

from __future__ import annotations

from PySide6 import QtCore


def test_arch_choice_rebuilds_as_a_cnn_and_residual_scale_is_resmlps(qtbot, open_window):
    window = open_window()
    panel = window.experiment
    fields = panel.fields
    assert not fields["residual_scale"].editor.isVisible()
    assert fields["arch"].editor.toolTip() and "fan_out = C_out·3·3" in fields["arch"].editor.toolTip()
    fields["arch"].editor.setCurrentText("resmlp")
    assert fields["residual_scale"].editor.isVisible()
    fields["residual_scale"].editor.setCurrentText("1/√depth")
    assert panel.candidate is not None and panel.candidate.residual_scale == "1/sqrt(depth)"
    fields["arch"].editor.setCurrentText("cnn")  # the digits come with it; the residual scale goes back to 1
    assert fields["dataset"].value() == "digits" and not fields["residual_scale"].editor.isVisible()
    fields["init.scheme"].editor.setCurrentText("kaiming_normal")
    fields["init.mode"].editor.setCurrentText("fan_out")
    assert "fan = fan_out" in panel.formula.text() and "fan_in = C_in·3·3" in panel.formula.text()
    build = window.state.build
    qtbot.mouseClick(panel.apply_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.build == build + 1, timeout=30_000)
    cfg = window.state.config
    assert (cfg.arch, cfg.dataset, cfg.residual_scale, cfg.init.mode) == ("cnn", "digits", 1.0, "fan_out")
    qtbot.waitUntil(lambda: window.shown_record is not None and window.shown_record.depth == cfg.depth, timeout=10_000)
