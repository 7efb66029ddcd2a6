"""The Qt-free core: config, init schemes, model, data, probes, theory, trainer, records.

Importing this package never imports PySide6, pyqtgraph, superqt or initviz.ui, so the CLI and
a notebook can drive it on a machine with no display. Config and record types load at once;
the torch-backed names (Trainer, Theory) load on first use, so a window can appear before
torch's multi-second import.
"""

from typing import Any

from initviz.engine.config import ConfigError, InitSpec, RunConfig
from initviz.engine.record import History, HistSpec, StepRecord

__all__ = ["ConfigError", "HistSpec", "History", "InitSpec", "RunConfig", "StepRecord", "Theory", "Trainer"]

_LAZY = {"Trainer": "initviz.engine.trainer", "Theory": "initviz.engine.theory"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'initviz.engine' has no attribute {name!r}")
