"""A PDF that draws what the PNG shows: poppler's rendering of each panel's PDF matches its PNG,
and curves zoomed far beyond their plot stay clipped at its edge in the PDF (the fault reported
for the Overview: its std curves drawn over the loss plot beside it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from initviz.ui import export as ex
from initviz.ui.export import SlideCanvas, SlideOptions
from initviz.ui.headless import panel_classes
from test_export_svg import block_means, frame, grey  # noqa: F401 - the same two-lane run (a fixture) and raster helpers

SIZE = SlideOptions(960, 540)
MEAN_LIMIT = 6.0  # mean |PNG - poppler| over all pixels (0-255 grey)
BLOCK_P99_LIMIT = 50.0  # 99th percentile over 4 x 4 blocks (anti-aliasing averages out)


def pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm is missing on CI (.ci/run installs poppler-utils)")
        pytest.skip("pdftoppm (Debian package poppler-utils) is not installed")
    return found


@pytest.mark.parametrize("name", [*panel_classes(), "dashboard"])
def test_poppler_draws_the_pdf_as_the_png(name: str, frame, tmp_path: Path) -> None:
    tool = pdftoppm()
    classes = panel_classes()
    canvas = SlideCanvas(list(classes.values()) if name == "dashboard" else [classes[name]])
    try:
        canvas.prepare(frame, SIZE)
        png = ex.figure_bytes(canvas, "png", SIZE)
        pdf = ex.figure_bytes(canvas, "pdf", SIZE)
    finally:
        canvas.dispose()
    assert pdf.startswith(b"%PDF")
    (tmp_path / "slide.png").write_bytes(png)
    (tmp_path / "slide.pdf").write_bytes(pdf)
    # the page is 960 x 540 px at 96 dpi: poppler at 96 dpi gives the PNG's pixels
    subprocess.run([tool, "-png", "-r", "96", "-singlefile", str(tmp_path / "slide.pdf"), str(tmp_path / "poppler")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    a, b = grey(tmp_path / "slide.png"), grey(tmp_path / "poppler.png")
    assert a.shape == b.shape == (540, 960)
    diff = np.abs(a - b)
    assert diff.mean() < MEAN_LIMIT, f"mean difference {diff.mean():.2f}"
    blocks = np.abs(block_means(a) - block_means(b))
    assert np.percentile(blocks, 99) < BLOCK_P99_LIMIT, f"99th percentile of 4x4 blocks {np.percentile(blocks, 99):.1f}"
    assert (a < 128).mean() > 0.005, "the slide holds ink (a blank pair would match trivially)"


def test_pdf_keeps_each_plots_clipping(frame, tmp_path: Path) -> None:
    """The Overview's std plot zoomed far into its curves (they run outside its data area on every
    side): the PDF shows them cut at the plot's edge, as the PNG does, not over the loss plot."""
    tool = pdftoppm()
    canvas = SlideCanvas([panel_classes()["overview"]])
    try:
        canvas.prepare(frame, SIZE)
        canvas.panels[0].std_plot.plotItem.vb.setRange(xRange=(2, 3), yRange=(-0.5, -0.4), padding=0)
        png = ex.figure_bytes(canvas, "png", SIZE)
        pdf = ex.figure_bytes(canvas, "pdf", SIZE)
    finally:
        canvas.dispose()
    (tmp_path / "slide.png").write_bytes(png)
    (tmp_path / "slide.pdf").write_bytes(pdf)
    subprocess.run([tool, "-png", "-r", "96", "-singlefile", str(tmp_path / "slide.pdf"), str(tmp_path / "poppler")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    a, b = grey(tmp_path / "slide.png"), grey(tmp_path / "poppler.png")
    assert (a < 250).mean() > 0.05, "the zoomed std plot fills its area with the band"
    blocks = np.abs(block_means(a) - block_means(b))
    assert np.percentile(blocks, 99) < BLOCK_P99_LIMIT, f"99th percentile of 4x4 blocks {np.percentile(blocks, 99):.1f}"
    assert np.abs(a - b).mean() < MEAN_LIMIT
