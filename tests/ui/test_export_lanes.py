"""Choosing the lanes a slide shows: the export dialog's lane boxes and ``initviz export --lanes``
both go through the export panels' ViewState; the panels on screen keep every lane."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from initviz.engine import RunConfig
from initviz.engine.lanes import Lanes
from initviz.ui.headless import UsageError, frame_from_trainers, panel_classes, resolve_lanes

NAMES = ["zeros", "N(0, 1²)", "xavier_normal", "kaiming_normal"]


@pytest.fixture(scope="module")
def frame(qapp):
    base = RunConfig(depth=3, width=8, batch_size=16)
    lanes = Lanes([base.replace(init={"scheme": s}) for s in ("zeros", "normal", "xavier_normal", "kaiming_normal")])
    lanes.step(2)
    return frame_from_trainers(lanes.names, lanes.trainers)


def test_resolve_lanes_takes_names_and_numbers_and_names_the_valid_ones() -> None:
    assert resolve_lanes(None, NAMES) is None
    assert resolve_lanes("1,3", NAMES) == ("zeros", "xavier_normal")
    assert resolve_lanes("kaiming_normal, ZEROS", NAMES) == ("zeros", "kaiming_normal"), "the run's order, any case"
    with pytest.raises(UsageError) as err:
        resolve_lanes("He,1", NAMES)
    assert "'He'" in str(err.value) and "zeros, N(0, 1²), xavier_normal, kaiming_normal" in str(err.value) and "1-4" in str(err.value)
    with pytest.raises(UsageError):
        resolve_lanes("5", NAMES)


def test_dialog_lane_boxes_choose_the_lanes_of_the_slide(frame, qtbot, tmp_path: Path) -> None:
    from initviz.ui.export_dialog import ExportDialog

    panel = panel_classes()["loss"]()
    qtbot.addWidget(panel)
    panel.show_frame(frame)
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    d = ExportDialog({panel.title: panel}, frame, settings=settings)
    qtbot.addWidget(d, before_close_func=lambda w: w.reject())
    boxes = d.findChildren(QtWidgets.QCheckBox, "exportLane")
    assert [b.property("lane") for b in boxes] == [lane.name for lane in frame.lanes]
    assert all(b.isChecked() for b in boxes) and d.lanes() is None, "every lane shown by default"
    boxes[1].setChecked(False)
    boxes[3].setChecked(False)
    assert d.lanes() == (frame.lanes[0].name, frame.lanes[2].name)
    d.update_preview()
    canvas = d._canvas(d.target)
    copy = canvas.panels[0]
    assert copy.view_state().lanes == d.lanes(), "through the export panel's ViewState"
    drawn = lambda p: sum(1 for c in p.loss_curves if c.scene() is not None and not c.path().isEmpty())  # noqa: E731
    assert (drawn(copy), drawn(panel)) == (2, 4), "two loss curves on the slide, four on screen"
    assert panel.view_state().lanes is None, "the panel on screen is not touched"
    header = canvas.subtitle_label.text()
    assert frame.lanes[0].name in header and "kaiming_normal" not in header, "the header's lane legend names the lanes shown"
    for b in boxes[:1] + boxes[2:3]:
        b.setChecked(False)
    assert sum(b.isChecked() for b in boxes) == 1, "the last lane stays ticked: a slide shows at least one"
    path = d.export_to(tmp_path / "two.png")
    assert path.exists() and path.stat().st_size > 1000
