"""Save a screenshot of the real window after playing a scenario for a few seconds (README image).

    xvfb-run -s "-screen 0 1600x1000x24" python -m initviz.ui.screenshot resources/screenshot.png --steps 0
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from PySide6 import QtCore, QtWidgets


def _pump(seconds: float) -> None:
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long to play before the shot")
    parser.add_argument("--steps", type=int, default=None, help="instead of --seconds: play until this step (0: the init)")
    parser.add_argument("--tab", type=int, default=0, help="panel tab to show (0 = Activations)")
    parser.add_argument("--size", default="1600x1000", help="window size WxH")
    parser.add_argument("--scenario", default=None, help="scenario id (default: the app's default, four lanes)")
    parser.add_argument("--depth", type=int, default=None, help="override the scenario's depth")
    args = parser.parse_args(argv)

    from initviz.engine.scenarios import get_scenario
    from initviz.ui.main_window import MainWindow
    from initviz.ui.scenarios import default_scenario
    from initviz.ui.theme import apply_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme()
    w, h = (int(v) for v in args.size.split("x"))
    scenario = get_scenario(args.scenario) if args.scenario else default_scenario()
    configs = list(scenario.lane_configs)
    if args.depth:
        configs = [c.replace(depth=args.depth) for c in configs]
    many = len(configs) > 1
    window = MainWindow(configs[0], lanes=configs if many else None, names=scenario.lane_names if many else None)
    window.experiment.set_config(configs[0])
    window.experiment.select_scenario_shown(scenario)
    window.resize(w, h)
    window.show()
    window.start_engine()
    t0 = time.perf_counter()
    while window.shown_record is None and time.perf_counter() - t0 < 120:
        _pump(0.1)
    window.tabs.setCurrentIndex(args.tab)
    if args.steps is not None:
        if args.steps > 0:
            window.controller.step(args.steps)
        while window.state.step_count < args.steps or window.state.pending_steps > 0:
            _pump(0.2)
    else:
        window.controller.play()
        _pump(args.seconds)
        window.controller.pause()
    _pump(0.5)
    window.redraw()
    _pump(0.2)
    app.processEvents()  # let the last frame paint before the grab
    ok = window.grab().save(args.out)
    print(f"{'saved' if ok else 'FAILED to save'} {args.out} at step {window.state.step_count}")
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
