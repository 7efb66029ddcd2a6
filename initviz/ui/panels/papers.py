"""Papers: the published numbers of the paper scenarios beside this run's and the prediction."""

from __future__ import annotations

import html
import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from initviz.engine.papers import PAPERS, LaneData, PaperResult, evaluate, paper_for
from initviz.ui import theme
from initviz.ui.panels.axes import readable
from initviz.ui.panels.base import Frame, Panel, PathCurve, StaticPlot, fmt, half_decades, safe_log10

PAPERS_HELP = (
    "<b>Papers</b>: the numbers the lessons teach from (CS231n, Karpathy's makemore, Klambauer et al., "
    "Saxe et al., He et al.), each beside this run's measurement at init (or after training, for claims "
    "about training) and the mean-field prediction, with the tolerance and a verdict.<br>"
    "<b>Healthy</b>: every row reads “matches”: this network reproduces the published figure within "
    "the stated tolerance, and the prediction sits beside it.<br>"
    "Load a <i>Paper:</i> scenario to fill it; any other run lists them."
)


def _verdict(matches: Optional[bool]) -> str:
    if matches is None:
        return f"<span style='color:{theme.WARN_COLOUR}'>… train on</span>"
    if matches:
        return f"<span style='color:{theme.GOOD_COLOUR}'><b>✓ matches</b></span>"
    return f"<span style='color:{theme.BAD_COLOUR}'><b>✗ does not match</b></span>"


def _num(value: float) -> str:
    return "—" if value is None or not math.isfinite(value) else fmt(value)


def result_html(result: PaperResult, lanes: int) -> str:
    """The paper's source, setup and one table row per claim."""
    p = result.paper
    overall = result.verdict
    head = (
        f"<h3>{html.escape(p.title)}&nbsp;&nbsp;{_verdict(overall) if overall is not None else ''}</h3>"
        f"<p><b>Source</b>: {html.escape(p.source)}<br><b>Setup</b>: {html.escape(p.setup)}</p>"
    )
    cols = (["lane"] if lanes > 1 else []) + ["quantity", "published", "measured", "predicted", "tolerance", "verdict"]
    rows = ["<tr><th align='left'>#</th>" + "".join(f"<th align='left'>{c}</th>" for c in cols) + "</tr>"]
    for n, c in enumerate(result.checks, 1):
        cells = ([html.escape(c.lane)] if lanes > 1 else []) + [
            html.escape(c.quantity), html.escape(c.published), _num(c.measured), _num(c.predicted),
            html.escape(c.tolerance), _verdict(c.matches),
        ]
        rows.append(f"<tr><td>{n}</td>" + "".join(f"<td>{v}</td>" for v in cells) + "</tr>")
    return head + "<table cellspacing='0' cellpadding='4'>" + "".join(rows) + "</table>"


def index_html() -> str:
    items = "".join(f"<li><b>{html.escape(p.title)}</b> <tt>({p.id})</tt></li>" for p in PAPERS)
    return (
        "<h3>Published numbers</h3><p>This run is not one of the papers' setups. Load one from the "
        "scenario list (or <tt>initviz run --scenario ID</tt>) and this tab shows the published figures "
        f"beside the measured and the predicted ones:</p><ul>{items}</ul>"
    )


class RatioPlot(StaticPlot):
    """Measured and predicted over published, one column per numeric claim (log scale): 1 = exact."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        p = readable(self.plotItem)  # a log axis under a decade labels 2 and 5, not every minor tick
        p.setLogMode(y=True)
        p.getAxis("left").enableAutoSIPrefix(False)
        p.setLabel("left", "÷ published")
        p.setLabel("bottom", "claim (rows of the table)")
        p.setTitle("measured (dots) and predicted (orange) over the published figure", size="10pt")
        p.vb.enableAutoRange(enable=False)
        p.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#888888", width=1, style=QtCore.Qt.PenStyle.DashLine)))
        self.measured = PathCurve(pg.mkPen(theme.lane_colour(0), width=9), log_y=True, dots=True)
        self.predicted = PathCurve(pg.mkPen(theme.THEORY_COLOUR, width=6), log_y=True, dots=True)
        p.addItem(self.measured)
        p.addItem(self.predicted)
        self.setToolTip("For every claim with a published number: measured / published (dots in the run's colour)\n"
                        "and predicted / published (orange), on a log axis. On the dashed line = exactly the paper's figure.")

    def set_result(self, result: Optional[PaperResult]) -> None:
        checks = [] if result is None else [c for c in result.checks if math.isfinite(c.value) and c.value != 0]
        idx = [i + 1 for i, c in enumerate(result.checks) if c in checks] if result is not None else []
        x = np.array(idx, dtype=np.float64)
        m = np.array([c.measured / c.value for c in checks], dtype=np.float64)
        q = np.array([c.predicted / c.value for c in checks], dtype=np.float64)
        self.measured.set_line(x, m)
        self.predicted.set_line(x, q)
        lo, hi = half_decades(np.concatenate([m, q, [1.0]]), (-0.5, 0.5))
        n = len(result.checks) if result is not None else 1
        self.plotItem.vb.setRange(xRange=(0.5, n + 0.5), yRange=(min(lo, -0.5) - 0.05, max(hi, 0.5) + 0.05), padding=0)


class PapersPanel(Panel):
    """One table: published vs measured vs predicted, with verdicts."""

    title = "Papers"
    help_text = PAPERS_HELP

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.label = QtWidgets.QLabel()
        self.label.setTextFormat(QtCore.Qt.TextFormat.RichText)  # our own text; lane names escaped
        self.label.setWordWrap(True)
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.label.setMargin(8)
        area = QtWidgets.QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(self.label)
        self.ratio_plot = RatioPlot()
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(area)
        split.addWidget(self.ratio_plot)
        split.setSizes([600, 300])
        split.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self.result: Optional[PaperResult] = None
        self._paper_key: Optional[tuple] = None
        self._paper = None
        self._drawn: Optional[tuple] = None

    def draw(self, frame: Frame) -> None:
        configs = tuple(lane.config for lane in frame.lanes)
        if configs != self._paper_key:  # matching reads the scenario files: once per configuration
            self._paper_key = configs
            self._paper = paper_for(configs)
        key = (self._paper_key, tuple((len(lane.records), lane.records[-1].step if lane.records else -1) for lane in frame.lanes))
        if key == self._drawn:
            return
        self._drawn = key
        if self._paper is None:
            self.result = None
            self.label.setText(index_html())
            self.ratio_plot.set_result(None)
            return
        lanes = [LaneData(lane.name, lane.config, lane.records, lane.theory) for lane in frame.lanes]
        try:
            self.result = evaluate(self._paper, lanes)
        except (ValueError, IndexError) as exc:  # e.g. the record at init is not in the history
            self.result = None
            self.label.setText(f"<h3>{html.escape(self._paper.title)}</h3><p>{html.escape(str(exc))}</p>")
            self.ratio_plot.set_result(None)
            return
        self.label.setText(result_html(self.result, len(lanes)))
        self.ratio_plot.set_result(self.result)
