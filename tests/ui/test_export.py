"""Slide export: every panel in every format, the dashboard, one plot, GIFs, data, errors, the dialog."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine import RunConfig
from initviz.engine.lanes import Lanes
from initviz.ui import export as ex
from initviz.ui.export import ExportCancelled, ExportError, SlideCanvas, SlideOptions
from initviz.ui.headless import frame_from_trainers, panel_classes

STEPS = 6
SMALL = RunConfig(depth=4, width=16, batch_size=32, activation="tanh", test_every=3)
SIZE = SlideOptions(640, 360)  # small slides keep the tests quick; the layout is the 1080p one, scaled
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def lanes() -> Lanes:
    """Two lanes in lockstep (N(0, 1) and Xavier), trained a few steps: multi-lane everywhere."""
    ls = Lanes([SMALL.replace(init={"scheme": "normal", "std": 1.0}), SMALL.replace(init={"scheme": "xavier_normal"})])
    ls.step(STEPS)
    return ls


@pytest.fixture
def frame(lanes, qapp):
    return frame_from_trainers(lanes.names, lanes.trainers)


@pytest.fixture
def single_frame(lanes, qapp):
    return frame_from_trainers(lanes.names[:1], lanes.trainers[:1])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def svg_root(data: bytes) -> ET.Element:
    root = ET.fromstring(data)  # raises on malformed XML
    assert root.tag == f"{SVG}svg"
    return root


def svg_text(root: ET.Element) -> str:
    return " ".join(t for el in root.iter() for t in (el.text or "",) if t.strip())


def drawn_shapes(root: ET.Element) -> int:
    return sum(1 for el in root.iter() if el.tag in (f"{SVG}path", f"{SVG}polyline", f"{SVG}polygon"))


def pdf_pages(data: bytes) -> int:
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def ink_share(img: QtGui.QImage) -> float:
    """Share of pixels that are not white (something was drawn)."""
    pil = ex.qimage_to_pil(img)
    a = np.asarray(pil.convert("L"))
    return float((a < 250).mean())


# --- every panel, every format ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(panel_classes()))
def test_every_panel_exports_png_svg_and_pdf(name: str, frame, tmp_path: Path) -> None:
    cls = panel_classes()[name]
    canvas = SlideCanvas([cls])
    try:
        canvas.set_size(SIZE)
        canvas.show_frame(frame)
        png = ex.figure_bytes(canvas, "png", SIZE)
        svg = ex.figure_bytes(canvas, "svg", SIZE)
        pdf = ex.figure_bytes(canvas, "pdf", SIZE)
    finally:
        canvas.dispose()
    for fmt, data in (("png", png), ("svg", svg), ("pdf", pdf)):
        ex.write_bytes_atomic(tmp_path / f"{name}.{fmt}", data)
    assert png_size(tmp_path / f"{name}.png") == (640, 360)
    root = svg_root((tmp_path / f"{name}.svg").read_bytes())
    assert root.get("viewBox") == "0 0 640 360"
    assert drawn_shapes(root) > 20, "the SVG holds the curves and axes as vector shapes"
    text = svg_text(root)
    assert f"{cls.title}, step {STEPS}" in text  # the slide header
    assert "layer" in text or "step" in text  # an axis label of the panel
    for lane in frame.lanes:
        assert lane.name in text  # the lane legend
    assert pdf_pages((tmp_path / f"{name}.pdf").read_bytes()) == 1
    assert leftovers(tmp_path) == sorted(f"{name}.{f}" for f in ("pdf", "png", "svg"))


def test_png_at_2x_has_twice_the_pixels_and_the_same_picture(frame, tmp_path: Path) -> None:
    cls = panel_classes()["depth_profile"]
    one = ex.export_figure([cls], frame, tmp_path / "one.png", options=SlideOptions(800, 450, 1.0))
    two = ex.export_figure([cls], frame, tmp_path / "two.png", options=SlideOptions(800, 450, 2.0))
    assert png_size(one) == (800, 450)
    assert png_size(two) == (1600, 900)
    small = np.asarray(Image.open(one).convert("L"), dtype=float)
    big = np.asarray(Image.open(two).convert("L").resize((800, 450), Image.Resampling.BOX), dtype=float)
    assert np.abs(small - big).mean() < 12, "2x is the same layout, only sharper"


def test_whole_dashboard_tiles_every_panel(frame, tmp_path: Path) -> None:
    classes = list(panel_classes().values())
    canvas = SlideCanvas(classes)
    try:
        canvas.set_size(SIZE)
        canvas.show_frame(frame)
        svg = ex.figure_bytes(canvas, "svg", SIZE)
        img = canvas.render_image(SlideOptions(960, 540))
        pdf = ex.figure_bytes(canvas, "pdf", SIZE)
    finally:
        canvas.dispose()
    assert (img.width(), img.height()) == (960, 540)
    assert ink_share(img) > 0.03
    text = svg_text(svg_root(svg))
    for cls in classes:
        assert cls.title.replace("&", "&amp;") in text or cls.title in text, cls.title
    assert pdf_pages(pdf) == 1


def test_export_shows_the_view_options_of_the_panel_on_screen(frame, qtbot) -> None:
    cls = panel_classes()["activations"]
    live = cls()
    qtbot.addWidget(live)
    live.set_kind("pre")  # View > Show pre-activations
    live.show_frame(frame)
    canvas = SlideCanvas([live])
    try:
        canvas.set_size(SIZE)
        canvas.show_frame(frame)
        text = svg_text(svg_root(ex.figure_bytes(canvas, "svg", SIZE)))
        assert canvas.panels[0].kind == "pre"
    finally:
        canvas.dispose()
    assert "z (pre-activation)" in text
    assert live.kind == "pre"  # the panel on screen is untouched


def test_slide_theme_is_dark_on_white_whatever_the_screen_theme(frame) -> None:
    import pyqtgraph as pg

    old = {k: pg.getConfigOption(k) for k in ("background", "foreground")}
    pg.setConfigOptions(background="k", foreground="w")  # a dark screen theme
    try:
        canvas = SlideCanvas([panel_classes()["loss"]])
        try:
            canvas.set_size(SIZE)
            canvas.show_frame(frame)
            img = ex.qimage_to_pil(canvas.render_image(SIZE)).convert("L")
        finally:
            canvas.dispose()
    finally:
        pg.setConfigOptions(**old)
    a = np.asarray(img)
    assert (a > 245).mean() > 0.7, "mostly white background"
    assert (a < 80).mean() > 0.005, "dark ink for text and axes"
    assert pg.getConfigOption("background") == old["background"]


# --- one plot through pyqtgraph's exporters ---------------------------------------------------------------


def test_one_plot_exports_as_svg_through_pyqtgraphs_svgexporter(frame, monkeypatch) -> None:
    """PySide6 6.11 broke pyqtgraph's SVGExporter (pyqtgraph issue 3485); this catches a regression."""
    import pyqtgraph.exporters as pge

    calls = []
    real = pge.SVGExporter.export

    def spy(self, *args, **kwargs):
        calls.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pge.SVGExporter, "export", spy)
    canvas = SlideCanvas([panel_classes()["depth_profile"]])
    try:
        canvas.set_size(SIZE)
        canvas.show_frame(frame)
        names = [ex.plot_name(p) for p in canvas.plot_items()]
        i = next(k for k, n in enumerate(names) if n.startswith("weight std"))
        svg = ex.figure_bytes(canvas, "svg", SIZE, plot=i)
        png = ex.figure_bytes(canvas, "png", SlideOptions(640, 360, 2.0), plot=i)
        plot_width = canvas.plot_items()[i].sceneBoundingRect().width()
    finally:
        canvas.dispose()
    assert len(calls) == 1
    root = svg_root(svg)
    assert sum(1 for el in root.iter() if el.tag in (f"{SVG}path", f"{SVG}polyline")) >= 3  # curves and axes
    text = svg_text(root)
    assert "weight std per layer" in text and "layer" in text
    img = Image.open(io.BytesIO(png))
    zoom = 2.0 * 360 / 1080  # PANEL_ZOOM on a 360 px high slide
    assert img.size[0] == round(plot_width * zoom * 2.0)


# --- animations -------------------------------------------------------------------------------------------------


def test_history_frames_replay_the_run_step_by_step(frame) -> None:
    frames = ex.history_frames(frame, 2, 5)
    assert [f.main.record.step for f in frames] == [2, 3, 4, 5]
    for f in frames:
        for lane, full in zip(f.lanes, frame.lanes):
            assert lane.records[-1] is lane.record
            assert lane.record.step == f.main.record.step
            assert len(lane.records) == lane.record.step + 1
            assert lane.name == full.name and lane.colour == full.colour
    thinned = ex.history_frames(frame, None, None, max_frames=3)
    assert [f.main.record.step for f in thinned] == [0, 3, 6]
    with pytest.raises(ExportError, match="No recorded step"):
        ex.history_frames(frame, STEPS + 1, STEPS + 5)
    with pytest.raises(ExportError, match="empty"):
        ex.history_frames(frame, 4, 2)


def test_gif_has_one_frame_per_step_a_fixed_size_and_fixed_axes(frame, tmp_path: Path, monkeypatch) -> None:
    canvas = SlideCanvas([panel_classes()["loss"]])
    painted_ranges = []
    real_render = canvas.render_image

    def record_ranges(options):
        painted_ranges.append({id(vb): tuple(np.ravel(vb.viewRange())) for vb in canvas._view_boxes()})
        return real_render(options)

    monkeypatch.setattr(canvas, "render_image", record_ranges)
    frames = ex.history_frames(frame, 1, 5)
    ticks = []
    try:
        data = ex.gif_bytes(canvas, frames, SlideOptions(960, 540, 0.5), fps=5, progress=lambda d, t, w: ticks.append((d, t)) is None)
    finally:
        canvas.dispose()
    path = ex.write_bytes_atomic(tmp_path / "loss.gif", data)
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 5
        assert im.size == (480, 270)
        assert im.info.get("duration") == 200
        for k in range(im.n_frames):
            im.seek(k)
            assert im.size == (480, 270)
    assert len(painted_ranges) == 5
    for ranges in painted_ranges[1:]:
        assert ranges.keys() == painted_ranges[0].keys()
        for key, r in ranges.items():
            assert r == pytest.approx(painted_ranges[0][key]), "the axes stay put from frame to frame"
    assert ticks[-1] == (10, 10)


def test_cancelling_a_gif_leaves_no_file(frame, tmp_path: Path) -> None:
    target = tmp_path / "anim.gif"

    def cancel_at_third(done: int, total: int, what: str) -> bool:
        return done < 3

    with pytest.raises(ExportCancelled):
        ex.export_figure([panel_classes()["health"]], frame, target, options=SlideOptions(640, 360), progress=cancel_at_third)
    assert not target.exists()
    assert leftovers(tmp_path) == []


# --- data -----------------------------------------------------------------------------------------------


def test_data_export_is_the_json_and_csv_of_initviz_run(lanes, frame, single_frame, tmp_path: Path) -> None:
    from initviz.cli import main

    # several lanes: initviz.compare/1, one object per lane, CSV with a lane column
    obj = json.loads(ex.export_data(frame, tmp_path / "all.json", timing=False).read_text())
    assert obj["schema"] == "initviz.compare/1"
    assert [lane["name"] for lane in obj["lanes"]] == lanes.names
    assert [lane["cost"] for lane in obj["lanes"]] == [None, None]
    csv_lines = ex.export_data(frame, tmp_path / "all.csv").read_text().splitlines()
    assert csv_lines[0].startswith("lane,step,layer,")
    assert len(csv_lines) == 1 + 2 * (STEPS + 1) * SMALL.depth
    # one lane: exactly what `initviz run` writes for the same configuration
    config = lanes.trainers[0].config
    out = tmp_path / "run"
    argv = ["run", "--config", str(tmp_path / "c.json"), "--steps", str(STEPS), "--out", str(out), "-q"]
    (tmp_path / "c.json").write_text(json.dumps(config.to_dict()))
    assert main(argv) == 0
    run_obj = json.loads((out / "stats.json").read_text())
    mine = json.loads(ex.export_data(single_frame, tmp_path / "one.json").read_text())
    assert mine["cost"] is not None  # the window's export keeps the measured cost
    run_obj.pop("cost"), mine.pop("cost")
    assert mine == run_obj
    assert ex.export_data(single_frame, tmp_path / "one.csv").read_text() == (out / "stats.csv").read_text()


# --- errors ------------------------------------------------------------------------------------------------------


def test_unwritable_folder_gives_a_clear_error_and_leaves_no_temporary_file(frame, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "slide.png").write_bytes(b"the old slide")
    if os.geteuid() != 0:
        folder.chmod(0o500)  # a real unwritable folder
    else:  # root writes anywhere: refuse the final step as a read-only folder would
        def refuse(src, dst):
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))

        monkeypatch.setattr(ex.os, "replace", refuse)
    try:
        with pytest.raises(ExportError) as info:
            ex.export_figure([panel_classes()["loss"]], frame, folder / "slide.png", options=SlideOptions(640, 360))
        message = str(info.value)
        assert str(folder / "slide.png") in message
        assert "permission denied" in message.lower()
        assert "\n" not in message and "Traceback" not in message
        assert leftovers(folder) == ["slide.png"]
        assert (folder / "slide.png").read_bytes() == b"the old slide"
    finally:
        folder.chmod(0o700)


def test_full_disk_and_odd_names_give_clear_errors(frame, tmp_path: Path, monkeypatch) -> None:
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(ex.os, "fsync", full)
        with pytest.raises(ExportError, match="the disk is full"):
            ex.write_bytes_atomic(tmp_path / "big.png", b"x" * 1000)
    assert leftovers(tmp_path) == []
    with pytest.raises(ExportError, match="does not exist"):
        ex.export_data(frame, tmp_path / "no" / "such" / "folder.json")
    (tmp_path / "afile").write_text("")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        ex.export_data(frame, tmp_path / "afile" / "x.json")
    with pytest.raises(ExportError, match="NUL"):
        ex.export_data(frame, str(tmp_path / "bad\x00name.json"))
    with pytest.raises(ExportError, match="is a folder"):
        ex.export_data(frame, tmp_path, "json")
    # odd but legal characters are fine
    odd = ex.export_data(frame, tmp_path / "données été (1) «x» #%.json")
    assert json.loads(odd.read_text())["schema"] == "initviz.compare/1"
    assert leftovers(tmp_path) == sorted(["afile", odd.name])


# --- the dialog -------------------------------------------------------------------------------------------------


@pytest.fixture
def dialog(frame, qtbot, tmp_path_factory):
    from initviz.ui.export_dialog import ExportDialog

    panels = {}
    for cls in panel_classes().values():
        p = cls()
        qtbot.addWidget(p)
        p.show_frame(frame)
        panels[p.title] = p
    settings = QtCore.QSettings(str(tmp_path_factory.mktemp("settings") / "initviz.ini"), QtCore.QSettings.Format.IniFormat)
    d = ExportDialog(panels, frame, settings=settings)
    qtbot.addWidget(d, before_close_func=lambda w: w.reject())  # stops the preview timer, frees the canvases
    return d


def test_dialog_preview_renders_and_export_writes_the_file(dialog, tmp_path: Path) -> None:
    from initviz.ui.export import DASHBOARD

    titles = [dialog.target_box.itemText(i) for i in range(dialog.target_box.count())]
    assert titles[-1] == DASHBOARD and "Activations" in titles
    dialog.set_target("Activations")
    dialog.set_format("png")
    assert Path(dialog.path_edit.text()).name == "activations.png"  # named after the target
    dialog.set_target("Loss & accuracy")
    assert Path(dialog.path_edit.text()).name == "loss.png"  # the panel's registry id, as initviz export names it
    dialog.set_target("Activations")
    dialog.set_size(1600, 1200)  # the 4:3 preset
    assert dialog.size_box.currentData() == (1600, 1200)
    dialog.update_preview()
    img = dialog.preview_image
    assert img is not None and not img.isNull()
    assert img.width() == 480 and img.height() == 360  # the slide's shape, thumbnail width
    assert ink_share(img) > 0.02
    dialog.path_edit.setText(str(tmp_path / "acts.png"))
    path = dialog.export()
    assert path == tmp_path / "acts.png" and dialog.last_error is None
    assert png_size(path) == (1600, 1200)
    # custom size, 2x, vector formats, the whole dashboard
    dialog.set_size(1000, 500)
    dialog.scale_box.setCurrentIndex(1)
    dialog.path_edit.setText(str(tmp_path / "acts2x"))  # the suffix is added
    assert png_size(dialog.export()) == (2000, 1000)
    dialog.set_target(DASHBOARD)
    dialog.set_format("pdf")
    dialog.path_edit.setText(str(tmp_path / "all.pdf"))
    assert pdf_pages(dialog.export().read_bytes()) == 1
    dialog.set_target(("Depth profile", 0))
    dialog.set_format("svg")
    dialog.path_edit.setText(str(tmp_path / "plot.svg"))
    root = svg_root(dialog.export().read_bytes())
    assert drawn_shapes(root) > 3
    assert leftovers(tmp_path) == ["acts.png", "acts2x.png", "all.pdf", "plot.svg"]


def test_dialog_gif_data_and_errors(dialog, tmp_path: Path, monkeypatch) -> None:
    warnings = []
    monkeypatch.setattr(dialog, "_warn", warnings.append)
    dialog.set_target("Loss & accuracy")
    dialog.set_format("gif")
    dialog.set_size(960, 540)  # the smallest readable slide is 360 px high: half the pixels for a small GIF
    dialog.scale_box.setCurrentIndex(dialog.scale_box.findData(0.5))
    dialog.from_box.setValue(2)
    dialog.to_box.setValue(5)
    dialog.fps_box.setValue(4)
    dialog.path_edit.setText(str(tmp_path / "loss.gif"))
    path = dialog.export()
    with Image.open(path) as im:
        assert (im.n_frames, im.size) == (4, (480, 270))
    # cancelled from the progress dialog: nothing written
    QtCore.QTimer.singleShot(0, lambda: [p.cancel() for p in dialog.findChildren(QtWidgets.QProgressDialog)])
    dialog.path_edit.setText(str(tmp_path / "cancelled.gif"))
    assert dialog.export() is None
    assert not (tmp_path / "cancelled.gif").exists() and dialog.last_error is None
    # data
    dialog.set_format("json")
    assert dialog.path_edit.text() == str(tmp_path / "cancelled.json")  # a typed name stays; the suffix follows
    dialog.path_edit.setText(str(tmp_path / "stats.json"))
    dialog.update_preview()
    assert "2 lanes" in dialog.preview.text()
    data = json.loads(dialog.export().read_text())
    assert data["schema"] == "initviz.compare/1" and len(data["lanes"]) == 2
    # an unwritable target: a message box, no file, the dialog still works
    dialog.set_format("csv")
    dialog.path_edit.setText(str(tmp_path / "missing" / "stats.csv"))
    assert dialog.export() is None
    assert warnings and "does not exist" in warnings[-1] and dialog.last_error == warnings[-1]
    dialog.path_edit.setText(str(tmp_path / "stats.csv"))
    assert dialog.export() is not None
    assert leftovers(tmp_path) == ["loss.gif", "stats.csv", "stats.json"]
