"""The Qt-free core: config, init schemes, model, data, probes, theory, trainer, records.

Importing this package never imports PySide6, pyqtgraph, superqt or initviz.ui, so the CLI and
a notebook can drive it on a machine with no display.
"""

from initviz.engine.config import ConfigError, InitSpec, RunConfig
from initviz.engine.record import History, HistSpec, StepRecord
from initviz.engine.theory import Theory
from initviz.engine.trainer import Trainer

__all__ = ["ConfigError", "HistSpec", "History", "InitSpec", "RunConfig", "StepRecord", "Theory", "Trainer"]
