"""Start the desktop app: torch imported before PySide6 (saves ~84 MB), the window, then the engine."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

import torch  # noqa: F401  # before PySide6: its import hook keeps the source of later imports (+84 MB)
from PySide6 import QtCore, QtWidgets

from initviz.engine.config import RunConfig


def run_app(config: Optional[RunConfig] = None, argv: Optional[Sequence[str]] = None) -> int:
    """Show the main window on ``config`` (default: the four-classic-inits scenario) and run Qt's loop."""
    from initviz.ui.main_window import MainWindow
    from initviz.ui.scenarios import default_scenario
    from initviz.ui.theme import apply_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv) if argv is not None else sys.argv)
    app.setApplicationName("initviz")
    app.setOrganizationName("initviz")
    apply_theme()
    # A shorter GIL switch interval keeps the GUI thread responsive while the worker trains.
    sys.setswitchinterval(0.001)
    if config is not None:
        window = MainWindow(config)
    else:  # first launch: the default scenario's lanes side by side
        sc = default_scenario()
        window = MainWindow(sc.lane_configs[0], lanes=sc.lane_configs, names=sc.lane_names)
        window.experiment.set_config(sc.lane_configs[0])
        window.experiment.select_scenario_shown(sc)
    window.show()
    QtCore.QTimer.singleShot(0, window.start_engine)
    return app.exec()
