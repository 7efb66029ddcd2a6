"""The export dialog says what it wrote, offers the folder, asks before replacing, remembers the folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6 import QtCore, QtGui

from initviz.engine import RunConfig
from initviz.engine.lanes import Lanes
from initviz.ui.export import MIN_SIZE, ExportError, SlideOptions
from initviz.ui.headless import frame_from_trainers, panel_classes


@pytest.fixture(scope="module")
def frame(qapp):
    lanes = Lanes([RunConfig(depth=3, width=8, batch_size=16)])
    lanes.step(3)
    return frame_from_trainers(lanes.names, lanes.trainers)


def make_dialog(frame, qtbot, ini: Path):
    from initviz.ui.export_dialog import ExportDialog

    panel = panel_classes()["loss"]()
    qtbot.addWidget(panel)
    panel.show_frame(frame)
    settings = QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat)
    d = ExportDialog({panel.title: panel}, frame, settings=settings)
    qtbot.addWidget(d, before_close_func=lambda w: w.reject())
    return d


def test_dialog_says_what_it_wrote_and_opens_the_folder(frame, qtbot, tmp_path: Path, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr(QtGui.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    d = make_dialog(frame, qtbot, tmp_path / "s.ini")
    d.set_format("png")
    d.set_size(1280, 720)
    assert not d.open_folder_button.isVisibleTo(d)
    d.path_edit.setText(str(tmp_path / "slide.png"))
    path = d.export()
    assert path == tmp_path / "slide.png"
    with Image.open(path) as im:
        assert im.size == (1280, 720)
    kb = round(path.stat().st_size / 1e3)
    assert str(path) in d.info.text() and "1280 × 720 px" in d.info.text() and f"{kb} KB" in d.info.text()
    assert d.open_folder_button.isVisibleTo(d)
    d.open_folder_button.click()
    assert opened == [str(tmp_path)]


def test_an_existing_file_is_replaced_only_when_the_user_says_so(frame, qtbot, tmp_path: Path, monkeypatch) -> None:
    d = make_dialog(frame, qtbot, tmp_path / "s.ini")
    d.set_format("json")
    target = tmp_path / "stats.json"
    target.write_text("old")
    asked = []
    monkeypatch.setattr(d, "_ask_overwrite", lambda p: asked.append(p) or False)
    d.path_edit.setText(str(target))
    assert d.export() is None
    assert asked == [target] and target.read_text() == "old"
    assert "exists" in d.info.text() and str(target) in d.info.text()
    monkeypatch.setattr(d, "_ask_overwrite", lambda p: True)
    assert d.export() == target
    assert target.read_text().startswith("{")


def test_the_last_folder_is_remembered_in_the_settings(frame, qtbot, tmp_path: Path) -> None:
    from initviz.ui.export_dialog import ExportDialog, LAST_FOLDER_KEY

    ini = tmp_path / "s.ini"
    folder = tmp_path / "slides"
    folder.mkdir()
    first = make_dialog(frame, qtbot, ini)
    first.set_format("csv")
    first.path_edit.setText(str(folder / "data.csv"))
    assert first.export() == folder / "data.csv"
    assert QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat).value(LAST_FOLDER_KEY) == str(folder)
    ExportDialog.last_folder = None  # a new session: only the settings file remembers
    second = make_dialog(frame, qtbot, ini)
    assert Path(second.path_edit.text()).parent == folder


def test_sizes_below_the_readable_minimum_are_refused(frame, qtbot, tmp_path: Path) -> None:
    d = make_dialog(frame, qtbot, tmp_path / "s.ini")
    assert d.width_box.minimum() == d.height_box.minimum() == MIN_SIZE == 360
    with pytest.raises(ExportError, match=f"between {MIN_SIZE} and .* not readable"):
        SlideOptions(200, 100).check()
