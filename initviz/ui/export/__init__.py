"""Slide export: any panel, one plot of it, or the whole dashboard as PNG, SVG, PDF or animated GIF.

Split by concern: ``options`` (what can be exported, the slide theme, errors), ``files`` (atomic
writes), ``frames`` (frames to export, the run replayed for a GIF), ``canvas`` (the hidden slide
widget; panels lay themselves out, the canvas only renders), ``vector`` (SVG and PDF), ``gif``
(animations with fixed axes), ``render`` (single plots and the entry points), ``data`` (JSON/CSV).

Every file is written whole or not at all: bytes go to a temporary file in the target folder,
then ``os.replace``; any failure removes the temporary file and raises :class:`ExportError`,
whose text is a sentence for a person.
"""

from __future__ import annotations

import os  # noqa: F401 - tests patch os.replace / os.fsync through this module

from initviz.ui.export.canvas import SlideCanvas, export_copy
from initviz.ui.export.header import config_summary, lanes_legend_html
from initviz.ui.export.images import qimage_png, qimage_to_pil
from initviz.ui.export.data import data_bytes, data_report, export_data
from initviz.ui.export.files import check_target, write_bytes_atomic
from initviz.ui.export.frames import history_frames, recorded_steps
from initviz.ui.export.gif import axis_ranges, data_bounds, fix_ranges, gif_bytes, union_ranges
from initviz.ui.export.options import (
    DASHBOARD,
    DATA_FORMATS,
    FORMATS,
    GIF_FPS,
    GIF_MAX_FRAMES,
    IMAGE_FORMATS,
    MAX_SIZE,
    MIN_SIZE,
    PLOT_FORMATS,
    SIZE_PRESETS,
    ExportCancelled,
    ExportError,
    SlideOptions,
    parse_size,
    slide_config,
    slug,
)
from initviz.ui.export import vector  # noqa: F401 - ex.vector.portable_svg
from initviz.ui.export.render import export_figure, figure_bytes, panel_plots, plot_bytes, plot_name, plot_title

__all__ = [
    "DASHBOARD",
    "DATA_FORMATS",
    "ExportCancelled",
    "ExportError",
    "FORMATS",
    "GIF_FPS",
    "GIF_MAX_FRAMES",
    "IMAGE_FORMATS",
    "MAX_SIZE",
    "MIN_SIZE",
    "PLOT_FORMATS",
    "SIZE_PRESETS",
    "SlideCanvas",
    "SlideOptions",
    "axis_ranges",
    "check_target",
    "config_summary",
    "data_bounds",
    "data_bytes",
    "data_report",
    "export_copy",
    "export_data",
    "export_figure",
    "figure_bytes",
    "fix_ranges",
    "gif_bytes",
    "history_frames",
    "lanes_legend_html",
    "panel_plots",
    "parse_size",
    "plot_bytes",
    "plot_name",
    "plot_title",
    "qimage_png",
    "qimage_to_pil",
    "recorded_steps",
    "slide_config",
    "slug",
    "union_ranges",
    "write_bytes_atomic",
]
