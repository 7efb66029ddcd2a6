"""Colours, fonts and pyqtgraph defaults shared by every panel (light theme: projectors, slides)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

# One colour per lane (run); lane 0 is the single run. None of them is red (Inf/NaN markers) or
# orange (the dashed theory curves), and they differ in lightness too (greyscale print, colour blindness).
LANE_COLOURS = ("#1f5fa8", "#c2258a", "#2e8b3a", "#333333")
THEORY_COLOUR = "#e67e22"
BAD_COLOUR = "#c0392b"
GOOD_COLOUR = "#2e7d32"
WARN_COLOUR = "#b26a00"
GUIDE_BRUSH = (46, 125, 50, 40)  # the healthy band of the update:data ratio
CURSOR_COLOUR = "#555555"
BACKGROUND = "w"
FOREGROUND = "#222222"

BANNER_STYLES = {
    "good": "background:#e8f5e9; color:#1b5e20; border:1px solid #a5d6a7;",
    "warn": "background:#fff4e0; color:#6d4300; border:1px solid #ffcc80;",
    "bad": "background:#fdecea; color:#8e1b10; border:1px solid #ef9a9a;",
    "idle": "background:#f3f3f3; color:#333333; border:1px solid #d0d0d0;",
}


def apply_theme() -> None:
    """pyqtgraph defaults for the whole app; call once after the QApplication exists."""
    pg.setConfigOptions(antialias=True, background=BACKGROUND, foreground=FOREGROUND)


def lane_colour(index: int) -> str:
    """The colour of lane ``index`` (cycles after four)."""
    return LANE_COLOURS[index % len(LANE_COLOURS)]


_MASS = pg.ColorMap(
    np.array([0.0, 0.15, 0.5, 1.0]),
    np.array([[255, 255, 255, 255], [198, 219, 239, 255], [66, 146, 198, 255], [8, 48, 107, 255]], dtype=np.ubyte),
)


def mass_colormap() -> pg.ColorMap:
    """White (empty) to dark blue (all the mass): histogram heatmaps."""
    return _MASS


def value_colormap() -> pg.ColorMap:
    """Perceptually uniform map for signed/log quantities (gradient norms)."""
    return pg.colormap.get("viridis")


def layer_colours(depth: int) -> list[QtGui.QColor]:
    """One colour per layer, first layer dark purple to last layer green (legible on white)."""
    cmap = pg.colormap.get("viridis")
    if depth <= 1:
        return [cmap.map(0.0, mode="qcolor")]
    return [cmap.map(0.8 * i / (depth - 1), mode="qcolor") for i in range(depth)]


def small_font(point_size: float = 8.5) -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPointSizeF(point_size)
    return font
