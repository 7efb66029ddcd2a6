"""What can be exported, the slide theme's constants, the options of one picture, and errors."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Callable, Iterator, Optional

import pyqtgraph as pg
from PySide6 import QtWidgets

# --- what can be exported ----------------------------------------------------------------------

IMAGE_FORMATS = ("png", "svg", "pdf", "gif")
DATA_FORMATS = ("json", "csv")
FORMATS = IMAGE_FORMATS + DATA_FORMATS
PLOT_FORMATS = ("png", "svg")  # a single plot: pyqtgraph's exporters
DASHBOARD = "Whole dashboard"
SIZE_PRESETS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("16:9  1920 × 1080", (1920, 1080)),
    ("4:3  1600 × 1200", (1600, 1200)),
    ("square  1080 × 1080", (1080, 1080)),
)
# The smallest readable slide: text keeps its share of the slide's height (zoom), so below 360 px
# tick labels fall under ~9 px. Smaller pictures: a readable slide at a scale below 1.
MIN_SIZE, MAX_SIZE = 360, 8192  # px per side before scaling
MAX_PIXELS = 8192 * 8192  # after scaling (a 3840 x 2160 PNG is 8.3 M)

# --- the slide theme ---------------------------------------------------------------------------

SLIDE_BACKGROUND = "#ffffff"
SLIDE_INK = "#111111"
SLIDE_MUTED = "#444444"
PANEL_ZOOM = 2.0  # text and lines of one panel: twice their screen size
DASHBOARD_ZOOM = 1.0  # the dashboard tiles every panel: screen-size text (export panels for the back row)
LINE_BOOST = 1.5  # lines a further 1.5x thicker than the magnified screen lines
REFERENCE_HEIGHT = 1080  # zoom is relative to a slide this many pixels high (the shorter side)
MIN_PLOT_PX = 44  # small multiples lower than this (canvas px) are not legible: auto zoom goes down
AUTO_ZOOM_STEPS = (1.0, 0.875, 0.75, 0.625, 0.5)  # fractions of the default zoom tried by prepare()
HEADER_TITLE_PX = 22  # header fonts in canvas pixels (multiplied by zoom on the slide)
HEADER_TEXT_PX = 13
GIF_MAX_FRAMES = 100
GIF_FPS = 10


class ExportError(Exception):
    """An export that failed; ``str()`` is one sentence for a person."""


class ExportCancelled(Exception):
    """The user cancelled a long export; nothing was written."""


ProgressFn = Callable[[int, int, str], bool]  # (done, total, what) -> False to cancel


@dataclasses.dataclass(frozen=True)
class SlideOptions:
    """Size and look of one exported picture.

    ``width`` x ``height`` is the slide's size in pixels; a PNG or GIF has ``scale`` times as many
    pixels per side (1920 x 1080 at scale 2 is a 3840 x 2160 PNG). ``zoom``: text and lines as a
    multiple of their screen size on a slide whose shorter side is 1080 px, in proportion on other
    sizes, so a 960 x 540 GIF looks like a 1920 x 1080 slide shrunk. None: automatic, PANEL_ZOOM for
    a panel (DASHBOARD_ZOOM for the dashboard) or less, down to 1, when small multiples (one
    histogram per layer) would not fit otherwise. ``title``: None for the automatic header, "" for none.
    """

    width: int = 1920
    height: int = 1080
    scale: float = 1.0
    zoom: Optional[float] = None
    title: Optional[str] = None

    def check(self) -> "SlideOptions":
        for name in ("width", "height"):
            v = getattr(self, name)
            if not MIN_SIZE <= v <= MAX_SIZE:
                raise ExportError(
                    f"The {name} must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {v}: a smaller slide is not readable "
                    f"(export at least {MIN_SIZE} px and a scale below 1 for a smaller picture)."
                )
        if not 0.05 <= self.scale <= 8:
            raise ExportError(f"The scale must be between 0.05 and 8, not {self.scale:g}.")
        if self.width * self.scale * self.height * self.scale > MAX_PIXELS:
            raise ExportError(
                f"{self.width} × {self.height} at {self.scale:g}x is too large an image; at most {MAX_PIXELS // 10**6} million pixels."
            )
        if self.zoom is not None and not 0.5 <= self.zoom <= 4:
            raise ExportError(f"The text size (zoom) must be between 0.5 and 4, not {self.zoom:g}.")
        return self

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) of a PNG or GIF frame."""
        return max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale))


# --- small helpers -----------------------------------------------------------------------------


def slug(text: str) -> str:
    """A file-name stem from a title: 'Loss & accuracy' -> 'loss_accuracy'."""
    s = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return s or "export"


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' (or 1920×1080, 1920X1080) -> (1920, 1080); ValueError with a sentence otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×*]\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write it as WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise ValueError(
            f"{w}x{h}: each side must be between {MIN_SIZE} and {MAX_SIZE} pixels (below {MIN_SIZE} px a slide is not "
            "readable; use --scale below 1 for a smaller picture)"
        )
    return w, h


def ensure_app() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        raise ExportError("Exporting pictures needs a QApplication (use initviz.ui.headless.ensure_app()).")
    return app  # type: ignore[return-value]


@contextlib.contextmanager
def slide_config() -> Iterator[None]:
    """pyqtgraph's global colours set to the slide theme while exporting (restored afterwards).

    Axis and label colours come from these options when an item is made or painted, so the slide
    stays dark-on-white whatever theme the screen uses.
    """
    keys = ("background", "foreground", "antialias")
    old = {k: pg.getConfigOption(k) for k in keys}
    pg.setConfigOptions(background=SLIDE_BACKGROUND, foreground=SLIDE_INK, antialias=True)
    try:
        yield
    finally:
        pg.setConfigOptions(**old)

