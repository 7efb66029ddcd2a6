"""The slide header's text: one line on the run, and the lanes' colours and names."""

from __future__ import annotations

import html

from initviz.ui.panels.base import Frame
from initviz.ui.text import elide


def config_summary(frame: Frame) -> str:
    """One line on the network and the training, shared by all lanes (the init is per lane)."""
    c = frame.main.config
    parts = [c.network_label(), c.activation if len({l.config.activation for l in frame.lanes}) == 1 else "",
             c.dataset, f"{c.optimizer} lr {c.lr:g}", f"batch {c.batch_size}", f"seed {c.seed}"]  # fmt: skip
    model = frame.main.view.model_label if frame.main.view is not None else ""
    if model:  # a user's model: its name and data, not the stand-in config's depth x width and dataset
        parts[:3] = [model]
    if len(frame.lanes) == 1:
        parts.insert(1, f"init {c.init.label()}")
        if c.batchnorm:
            parts.append("BatchNorm")
        if c.dropout:
            parts.append(f"dropout {c.dropout:g}")
    return " · ".join(p for p in parts if p)


def lanes_legend_html(frame: Frame) -> str:
    """Coloured squares and lane names (empty for a single run)."""
    if len(frame.lanes) < 2:
        return ""
    return "&nbsp;&nbsp;&nbsp;".join(
        f"<span style='color:{lane.colour}'>■</span>&nbsp;{html.escape(elide(lane.name, 48))}" for lane in frame.lanes
    )
