"""SVG that every viewer draws: librsvg's rendering of the SVG matches the PNG of the same slide.

Qt's own SVG (the export before) draws as blobs in librsvg (non-scaling strokes under scaling
transforms), loses clipping and names a font family browsers do not know; these tests fail on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from initviz.engine import RunConfig
from initviz.engine.lanes import Lanes
from initviz.ui import export as ex
from initviz.ui.export import SlideCanvas, SlideOptions
from initviz.ui.headless import frame_from_trainers, panel_classes

SIZE = SlideOptions(960, 540)
SVG = "{http://www.w3.org/2000/svg}"
MEAN_LIMIT = 6.0  # mean |PNG - librsvg| over all pixels (0-255 grey); Qt's own SVG: 14 to 156
BLOCK_P99_LIMIT = 50.0  # 99th percentile over 4 x 4 blocks (anti-aliasing averages out); Qt's: 61 to 171


def rsvg_convert() -> str:
    found = shutil.which("rsvg-convert")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("rsvg-convert is missing on CI (.ci/run installs librsvg2-bin)")
        pytest.skip("rsvg-convert (Debian package librsvg2-bin) is not installed")
    return found


@pytest.fixture(scope="module")
def frame(qapp):
    cfg = RunConfig(depth=6, width=16, batch_size=32, activation="tanh", test_every=3)
    lanes = Lanes([cfg.replace(init={"scheme": "normal", "std": 1.0}), cfg.replace(init={"scheme": "xavier_normal"})])
    lanes.step(8)
    return frame_from_trainers(lanes.names, lanes.trainers)


def grey(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float64)


def block_means(a: np.ndarray, k: int = 4) -> np.ndarray:
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


@pytest.mark.parametrize("name", [*panel_classes(), "dashboard"])
def test_librsvg_draws_the_svg_as_the_png(name: str, frame, tmp_path: Path) -> None:
    tool = rsvg_convert()
    classes = panel_classes()
    canvas = SlideCanvas(list(classes.values()) if name == "dashboard" else [classes[name]])
    try:
        canvas.prepare(frame, SIZE)
        png = ex.figure_bytes(canvas, "png", SIZE)
        svg = ex.figure_bytes(canvas, "svg", SIZE)
    finally:
        canvas.dispose()
    (tmp_path / "slide.png").write_bytes(png)
    (tmp_path / "slide.svg").write_bytes(svg)
    root = ET.fromstring(svg)
    assert root.get("viewBox") == "0 0 960 540"
    assert b"vector-effect" not in svg, "no non-scaling strokes under scaling transforms"
    assert root.find(f"{SVG}defs/{SVG}clipPath") is not None, "clipping is kept"
    shapes = ("path", "polyline", "polygon", "rect", "ellipse", "circle", "line", "image", "use")
    for el in root.iter():  # librsvg's glyphs run wider than Qt's metrics: a text-only clip cuts letters
        inner = [e.tag.rpartition("}")[2] for e in el.iter()]
        if el.get("clip-path") and "text" in inner:
            assert any(t in shapes for t in inner), "a text clipped to its own box"
    families = {el.get("font-family") for el in root.iter() if el.get("font-family")}
    assert families and all(f.endswith("sans-serif") for f in families), families
    for image in root.iter(f"{SVG}image"):
        assert image.get("image-rendering") == "optimizeSpeed" and "pixelated" in image.get("style", "")
    subprocess.run([tool, "-w", "960", "-h", "540", "-b", "white", "-o", str(tmp_path / "rsvg.png"), str(tmp_path / "slide.svg")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    a, b = grey(tmp_path / "slide.png"), grey(tmp_path / "rsvg.png")
    assert a.shape == b.shape == (540, 960)
    diff = np.abs(a - b)
    assert diff.mean() < MEAN_LIMIT, f"mean difference {diff.mean():.2f}"
    blocks = np.abs(block_means(a) - block_means(b))
    assert np.percentile(blocks, 99) < BLOCK_P99_LIMIT, f"99th percentile of 4x4 blocks {np.percentile(blocks, 99):.1f}"
    assert (a < 128).mean() > 0.005, "the slide holds ink (a blank pair would match trivially)"


def test_portable_svg_maps_geometry_instead_of_scaling_the_pen() -> None:
    """A cosmetic line under matrix(10, 0, 0, 2, 5, 1): points mapped to slide pixels, the inverse
    put on the element, so its stroke is drawn in slide pixels at the width Qt gave it."""
    src = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><g stroke-width="2" transform="matrix(10,0,0,2,5,1)">'
        b'<path vector-effect="non-scaling-stroke" d="M0,0 L1,3"/><polyline vector-effect="non-scaling-stroke" points="1,1 2,2 "/>'
        b'<text font-family="Sans Serif">x</text></g></svg>'
    )
    root = ET.fromstring(ex.vector.portable_svg(src, "'DejaVu Sans', sans-serif"))
    path, poly = root.find(f"{SVG}g/{SVG}path"), root.find(f"{SVG}g/{SVG}polyline")
    assert path.get("d") == "M 5,1 L 15,7"
    assert poly.get("points") == "15,3 25,5"
    inverse = [float(v) for v in path.get("transform")[7:-1].split(",")]
    assert inverse == pytest.approx([0.1, 0, 0, 0.5, -0.5, -0.5])
    assert root.find(f"{SVG}g/{SVG}text").get("font-family") == "'DejaVu Sans', sans-serif"
