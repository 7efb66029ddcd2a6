"""Start the desktop app: torch imported before PySide6 (saves ~84 MB), the window, then the engine."""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

import torch  # noqa: F401  # before PySide6: its import hook keeps the source of later imports (+84 MB)
from PySide6 import QtCore, QtWidgets

from initviz.engine.config import RunConfig


def run_app(config: Optional[RunConfig] = None, argv: Optional[Sequence[str]] = None, scenario: Any = None) -> int:
    """Show the main window and run Qt's loop.

    ``scenario`` (an engine Scenario): its lanes, each with ``config``'s settings but its own init;
    ``config`` alone: one lane; neither: the scenario shown when the app last quit, else the default.
    """
    from initviz.ui.main_window import MainWindow
    from initviz.ui.scenarios import default_scenario
    from initviz.ui.settings import last_scenario, open_settings, restore_window, save_window
    from initviz.ui.theme import apply_theme

    if QtWidgets.QApplication.instance() is None:
        from initviz.ui.platform_check import xcb_problem

        problem = xcb_problem()  # Qt's own abort names no package: say which to install, in one line
        if problem:
            print(problem, file=sys.stderr)
            return 1
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv) if argv is not None else sys.argv)
    app.setApplicationName("initviz")
    app.setOrganizationName("initviz")
    apply_theme()
    settings = open_settings()
    # A shorter GIL switch interval keeps the GUI thread responsive while the worker trains.
    sys.setswitchinterval(0.001)
    if scenario is None and config is None:
        from initviz.engine.scenarios import get_scenario

        remembered = last_scenario(settings)
        try:
            scenario = get_scenario(remembered) if remembered else default_scenario()
        except Exception:  # noqa: BLE001 - a scenario removed since: the default
            scenario = default_scenario()
        config = scenario.config
    if scenario is not None and scenario.is_comparison:
        lanes = [config.replace(init=c.init) for c in scenario.lane_configs]
        window = MainWindow(lanes[0], lanes=lanes, names=scenario.lane_names)
        window.experiment.set_config(lanes[0])
        window.experiment.select_scenario_shown(scenario)
    else:
        window = MainWindow(config)
        if scenario is not None:
            window.experiment.select_scenario_shown(scenario)
    restore_window(window, settings)
    app.aboutToQuit.connect(lambda: save_window(window, settings))
    window.show()
    # however the app ends, the worker stops first (closeEvent does it too; a second call is free)
    app.aboutToQuit.connect(lambda: window.controller.shutdown(timeout=1.0))
    QtCore.QTimer.singleShot(0, window.start_engine)
    return app.exec()
