"""The Phase diagram panel: a sweep's cells drawn where they belong, theory overlays, hover, click
(RunConfig out), a sweep run off the GUI thread, theory-only frames and slide export."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initviz import registry
from initviz.engine import RunConfig, Trainer, phase
from initviz.engine.sweep import CellResult, SweepResult, SweepSpec
from initviz.ui.export import SlideCanvas, SlideOptions
from initviz.ui.headless import frame_from_trainers
from initviz.ui.panels.phase import PhasePanel, render_panel

SPEC = SweepSpec(sigma_w2=(1.0, 2.0, 3.0), depths=(2, 10), width=16, steps=4, batch_size=32)


def synthetic() -> SweepResult:
    cells = []
    for w in SPEC.sigma_w2:
        for d in SPEC.depths:
            acc = 0.1 if (w, d) == (1.0, 10) else 0.9
            cells.append(CellResult(w, 0.05, d, acc, acc, 0.5, 2.3, (w, d) == (3.0, 10), 1.0, 0.2, 0.1, key=f"{w}-{d}"))
    return SweepResult(SPEC, tuple(cells[:-1]))  # the last cell (3.0, 10) not done yet


def test_cells_overlays_and_hover_text(qtbot) -> None:
    panel = PhasePanel()
    qtbot.addWidget(panel)
    panel.set_result(synthetic())
    img = panel.view.image.image  # (depths, sigma_w2, rgba)
    assert img.shape[:2] == (2, 3)
    dark, bright, missing = img[1, 0, :3], img[0, 0, :3], img[1, 2, :3]
    assert int(bright.sum()) > int(dark.sum()) + 200  # trained cell bright, untrained dark (viridis)
    assert tuple(missing) == (235, 235, 235)  # not done: neutral grey
    assert panel.view.critical.value() == pytest.approx(phase.critical_sigma_w2("tanh", 0.05), rel=1e-9)
    x, y = panel.view.six_xi.getData()
    k = int(np.argmin(np.abs(x - 1.0)))
    assert y[k] == pytest.approx(phase.six_xi_c("tanh", float(x[k]), 0.05), rel=1e-9)
    assert panel.cell_at(1.1, 9.0) == (1.0, 10)
    assert panel.cell_at(-5.0, 9.0) is None
    text = panel.describe(1.0, 10)
    assert "test accuracy 0.1" in text and "ordered" in text
    assert "not trained yet" in panel.describe(3.0, 10)
    assert "5/6 cells" in panel.progress.text()


def test_clicking_a_cell_emits_its_run_config(qtbot) -> None:
    panel = PhasePanel()
    qtbot.addWidget(panel)
    panel.set_result(synthetic())
    with qtbot.waitSignal(panel.cell_clicked, timeout=2000) as sig:
        panel.click_cell(3.0, 10)
    cfg = sig.args[0]
    assert isinstance(cfg, RunConfig)
    assert cfg.depth == 10 and cfg.width == 16 and cfg.init.scheme == "normal"
    assert cfg.init.std == pytest.approx(math.sqrt(3.0 / 16))
    assert cfg.bias_std == pytest.approx(math.sqrt(0.05))
    Trainer(cfg)  # a lane can build it


def test_a_sweep_fills_in_off_the_gui_thread(qtbot) -> None:
    panel = PhasePanel()
    qtbot.addWidget(panel)
    spec = SweepSpec(sigma_w2=(1.0, 3.0), depths=(2, 3), width=8, steps=3, batch_size=16)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60_000) as sig:
        panel.start(spec, in_process=True)
    assert len(sig.args[0].cells) == 4
    assert not panel.running and panel.run_button.isEnabled()
    assert np.isfinite(panel.result.grid()).all()
    assert "4/4 cells" in panel.progress.text()


def test_a_frame_without_sweep_draws_theory_and_marks_the_lanes(qtbot) -> None:
    panel = PhasePanel()
    qtbot.addWidget(panel)
    t = Trainer(RunConfig(depth=6, width=16, batch_size=32, init={"scheme": "normal", "std": 0.5}))
    panel.show_frame(frame_from_trainers(["a"], [t]))
    xs, ys = panel.view.lanes.getData()
    assert xs[0] == pytest.approx(16 * 0.25) and ys[0] == 6
    assert panel.view.critical.value() == pytest.approx(phase.critical_sigma_w2("tanh", 0.0), rel=1e-9)
    assert "theory only" in panel.progress.text()


def test_registered_and_exported_with_its_sweep(qtbot) -> None:
    assert registry.get("phase").load() is PhasePanel
    panel = PhasePanel()
    qtbot.addWidget(panel)
    panel.set_result(synthetic())
    t = Trainer(RunConfig(depth=2, width=8, batch_size=16))
    canvas = SlideCanvas([panel])
    try:
        copy = canvas.panels[0]
        assert copy is not panel and copy.result is panel.result
        options = SlideOptions(960, 540, 1.0, None, None).check()
        canvas.prepare(frame_from_trainers(["a"], [t]), options)
        assert copy.view.image.image.shape[:2] == (2, 3)  # the sweep, not the theory-only view
        assert not copy.controls.isVisible()
        png = canvas.png_bytes(options)
        assert png.startswith(b"\x89PNG")
    finally:
        canvas.dispose()
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        assert render_panel(panel, fmt, (800, 500)).startswith(magic)
