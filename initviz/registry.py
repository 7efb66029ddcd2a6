"""The one list of panels (outside initviz.ui, which is Qt; this module is not): the window's tabs, the export dialog, ``initviz export --panels``, its
help text and every exported file name read it. Qt-free, so the CLI can list panels without Qt.

A panel is named by one ``id`` everywhere (tab order = list order); its class is imported only
when asked for (``PanelSpec.load``). A new panel adds one ``PanelSpec`` here and nothing else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Iterable, Optional

DASHBOARD = "dashboard"  # every panel on one slide (export only)

# What a panel needs from a run to draw anything; a run without it is told why, not drawn empty.
NEEDS_2D = "2d_inputs"  # a 2-D input plane (the toy datasets)


@dataclass(frozen=True)
class PanelSpec:
    """One panel: its id (tabs, files, --panels), title, class path and what it needs."""

    id: str
    title: str
    target: str  # "package.module:ClassName"
    summary: str  # one line: what the panel shows (help text, export dialog)
    needs: frozenset[str] = field(default_factory=frozenset)
    dashboard: bool = True  # tiled on the one-slide dashboard (the run's own panels; not the Overview, a dashboard of
    # their key plots already, which would nest a grid of small plots in one tile; not tools like the sweep)

    def load(self) -> type:
        """The panel class (imports Qt)."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def missing(self, input_dims: Iterable[int]) -> Optional[str]:
        """Why this panel cannot draw runs with these input dimensions, or None when it can."""
        if NEEDS_2D in self.needs and any(d != 2 for d in input_dims):
            return f"{self.title} needs 2-D inputs (spirals, moons, circles, xor, blobs)"
        return None


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("overview", "Overview", "initviz.ui.panels.overview:OverviewPanel",
              "activation histograms per layer, std vs depth and the loss at a glance", dashboard=False),
    PanelSpec("activations", "Activations", "initviz.ui.panels.activations:ActivationsPanel",
              "per-layer histograms and the all-layers heatmap"),
    PanelSpec("gradients", "Gradients", "initviz.ui.panels.gradients:GradientsPanel",
              "weight-gradient norm vs depth, layer x step heatmap, gradient histograms"),
    PanelSpec("health", "Health", "initviz.ui.panels.health:HealthPanel",
              "saturation, dead units, symmetry and update:data ratio over time"),
    PanelSpec("depth_profile", "Depth profile", "initviz.ui.panels.depth_profile:DepthProfilePanel",
              "measured std per layer against the theory"),
    PanelSpec("loss", "Loss & accuracy", "initviz.ui.panels.loss:LossPanel",
              "training loss, batch and test accuracy"),
    PanelSpec("boundary", "Decision boundary", "initviz.ui.panels.boundary:BoundaryPanel",
              "each lane's predicted class over the 2-D input plane", frozenset({NEEDS_2D})),
    PanelSpec("neurons", "Neurons", "initviz.ui.panels.neurons:NeuronsPanel",
              "each unit's output over the 2-D input plane, per lane: symmetry at a glance", frozenset({NEEDS_2D}), dashboard=False),
    PanelSpec("papers", "Papers", "initviz.ui.panels.papers:PapersPanel",
              "published numbers (CS231n, makemore, SELU, orthogonal, He 2015) beside the run's and the theory's", dashboard=False),
    PanelSpec("phase", "Phase diagram", "initviz.ui.panels.phase:PhasePanel",
              "trainability over weight variance x depth from a sweep, with the critical line and 6 xi_c", dashboard=False),
)  # fmt: skip


def dashboard_ids() -> tuple[str, ...]:
    """The panels the dashboard slide tiles, in tab order."""
    return tuple(p.id for p in PANELS if p.dashboard)


def ids() -> tuple[str, ...]:
    """Every panel id, in tab order."""
    return tuple(p.id for p in PANELS)


def get(panel_id: str) -> PanelSpec:
    """The panel with this id; KeyError naming the valid ids otherwise."""
    for p in PANELS:
        if p.id == panel_id:
            return p
    raise KeyError(f"{panel_id!r} is not a panel; choose from {', '.join(ids())}")


def panel_id(name: str) -> Optional[str]:
    """The id of the panel named ``name`` (its id or its title), None when no panel has that name.
    Exported files are named by id: 'Loss & accuracy' -> 'loss', as ``initviz export`` names them."""
    for p in PANELS:
        if name in (p.id, p.title):
            return p.id
    return None


def help_text() -> str:
    """The ``--panels`` help: every id, then all and dashboard."""
    return f"comma-separated panel ids: {','.join(ids())}; 'all' for each, '{DASHBOARD}' for one slide of all"
