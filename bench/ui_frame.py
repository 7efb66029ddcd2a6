"""GUI responsiveness while the engine trains flat out: frame time, click latency, memory.

For depth 20 and depth 50 (width 256, tanh, N(0, 1) weights) the real main window plays at
"max" speed while this script measures, on the GUI thread:

- draw: the frame callback (new engine state -> every visible plot updated), per frame;
- paint: the repaint Qt does after it (backing-store flush of the changed plots);
- frame = draw + the paint that follows it;
- loop stall: how late a 5 ms probe timer fires (how long the event loop was busy);
- press-to-handler: a mouse press+release posted to the Pause/Play button, to its clicked handler.

Each panel tab is shown in turn; the engine's steps/s on each tab are printed against the same
lanes stepped with no window (target: >= 85% on every tab). Then the depth-20 run continues to 10,000 steps and the
process RSS is read (the engine's history is memory-bounded). Targets: p95 frame <= 33 ms,
press-to-handler <= 100 ms, RSS <= 450 MB + the history budget.

    xvfb-run -s "-screen 0 1600x1000x24" python bench/ui_frame.py      # ~8-10 minutes on 2 cores
    python bench/ui_frame.py --seconds 4 --steps 2000                    # quick look (offscreen)
    python bench/ui_frame.py --depths --lanes 4 --seconds 3              # 4 lanes at depth 20 only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional

if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np
import psutil
from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine import RunConfig
from initviz.ui.main_window import MainWindow
from initviz.ui.theme import apply_theme


class TimedWindow(MainWindow):
    """The main window, with the paint pass after each frame timed."""

    def __init__(self, config: RunConfig, lanes: Optional[list[RunConfig]] = None) -> None:
        super().__init__(config, lanes=lanes)
        self.paints: list[float] = []
        self.frames: list[float] = []
        self.draws: list[float] = []
        self._pending_draw: Optional[float] = None
        self.frame_drawn.connect(self._drawn)

    def _drawn(self, seconds: float) -> None:
        self.draws.append(seconds)
        self._pending_draw = seconds

    def event(self, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        if ev.type() == QtCore.QEvent.Type.UpdateRequest:
            t0 = time.perf_counter()
            result = super().event(ev)
            dt = time.perf_counter() - t0
            self.paints.append(dt)
            if self._pending_draw is not None:
                self.frames.append(self._pending_draw + dt)
                self._pending_draw = None
            return result
        return super().event(ev)

    def reset_stats(self) -> None:
        self.paints.clear()
        self.frames.clear()
        self.draws.clear()
        self._pending_draw = None


class LoopProbe(QtCore.QObject):
    """A 5 ms timer; how late it fires tells how long the GUI event loop was blocked."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last - 0.005)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


class ClickProbe(QtCore.QObject):
    """Posts press+release on a button and times the way to its clicked handler."""

    def __init__(self, button: QtWidgets.QAbstractButton) -> None:
        super().__init__()
        self.button = button
        self.latencies: list[float] = []
        self._posted: Optional[float] = None
        button.clicked.connect(self._handled)

    def post_click(self) -> None:
        b = self.button
        local = QtCore.QPointF(b.width() / 2, b.height() / 2)
        glob = QtCore.QPointF(b.mapToGlobal(local.toPoint()))
        left = QtCore.Qt.MouseButton.LeftButton
        none = QtCore.Qt.KeyboardModifier.NoModifier
        self._posted = time.perf_counter()
        press = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseButtonPress, local, glob, left, left, none)
        release = QtGui.QMouseEvent(
            QtCore.QEvent.Type.MouseButtonRelease, local, glob, left, QtCore.Qt.MouseButton.NoButton, none
        )
        QtWidgets.QApplication.postEvent(b, press)
        QtWidgets.QApplication.postEvent(b, release)

    def _handled(self) -> None:
        if self._posted is not None:
            self.latencies.append(time.perf_counter() - self._posted)
            self._posted = None


def pump(seconds: float, every: Optional[tuple[float, Callable[[], None]]] = None) -> None:
    """Run Qt's own event loop for ``seconds`` (as app.exec() would); call ``every[1]`` every ``every[0]`` s."""
    loop = QtCore.QEventLoop()
    ticker = None
    if every is not None:
        ticker = QtCore.QTimer()
        ticker.setInterval(int(every[0] * 1000))
        ticker.timeout.connect(every[1])
        ticker.start()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    if ticker is not None:
        ticker.stop()


def ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(values, q)) if values else float("nan")


def measure(window: TimedWindow, probe: LoopProbe, clicks: ClickProbe, seconds: float) -> dict:
    """Play flat out; on every panel tab measure frames, stalls and click latency."""
    results = {}
    window.controller.play()
    pump(1.0)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        pump(0.5)
        window.reset_stats()
        clicks.latencies.clear()
        probe.start()
        steps0, t0 = window.state.step_count, time.perf_counter()
        toggles = [0]

        def click() -> None:
            # two real clicks per second: Pause, and 50 ms later Play again
            clicks.post_click()
            QtCore.QTimer.singleShot(50, clicks.post_click)
            toggles[0] += 2

        pump(seconds, (0.5, click))
        probe.stop()
        rate = (window.state.step_count - steps0) / (time.perf_counter() - t0)
        # let a Play click still in flight land before forcing Play: otherwise the next tab would
        # run with the click pairs inverted (paused most of the time)
        pump(0.2)
        if not window.controller.playing:
            window.controller.play()
        name = window.tabs.tabText(i).replace("&&", "&")
        results[name] = {
            "frames": len(window.frames),
            "draw": (ms(window.draws, 50), ms(window.draws, 95)),
            "paint": (ms(window.paints, 50), ms(window.paints, 95)),
            "frame": (ms(window.frames, 50), ms(window.frames, 95), 1000 * max(window.frames, default=float("nan"))),
            "stall": (ms(probe.gaps, 50), ms(probe.gaps, 95), 1000 * max(probe.gaps, default=float("nan"))),
            "click": (ms(clicks.latencies, 50), ms(clicks.latencies, 95), len(clicks.latencies)),
            "steps_per_s": rate,
        }
    window.tabs.setCurrentIndex(0)
    return results


def engine_alone(configs: list[RunConfig], seconds: float) -> float:
    """Steps/s of the same lanes with no window: Lanes.step in a loop on this thread, one torch
    thread (as the window's worker runs)."""
    import torch

    from initviz.engine.lanes import Lanes

    torch.set_num_threads(1)
    lanes = Lanes(configs)
    lanes.step(3)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        lanes.step(1)
        n += 1
    return n / (time.perf_counter() - t0)


def print_results(title: str, results: dict, alone: Optional[float] = None) -> None:
    print(f"\n{title}")
    if alone is not None:
        print(f"  engine alone (no window, same lanes): {alone:.1f} steps/s")
    print(
        f"  {'panel':<16}{'frames':>7}{'draw p50/p95':>16}{'paint p50/p95':>16}{'frame p50/p95/max':>22}"
        f"{'loop stall p50/p95/max':>26}{'click p50/p95 (n)':>22}{'steps/s':>9}{'vs alone':>9}"
    )
    for name, r in results.items():
        print(
            f"  {name:<16}{r['frames']:>7}"
            f"{r['draw'][0]:>9.1f}/{r['draw'][1]:<6.1f}"
            f"{r['paint'][0]:>9.1f}/{r['paint'][1]:<6.1f}"
            f"{r['frame'][0]:>9.1f}/{r['frame'][1]:.1f}/{r['frame'][2]:<6.1f}"
            f"{r['stall'][0]:>11.1f}/{r['stall'][1]:.1f}/{r['stall'][2]:<8.1f}"
            f"{r['click'][0]:>11.1f}/{r['click'][1]:.1f} ({r['click'][2]})"
            f"{r['steps_per_s']:>9.1f}"
            + (f"{100 * r['steps_per_s'] / alone:>8.0f}%" if alone else "")
        )
    print("  (all times in ms)")
    worst_frame = max(r["frame"][1] for r in results.values())
    worst_click = max(r["click"][1] for r in results.values())
    print(f"  worst p95 frame {worst_frame:.1f} ms (target <= 33) -> {'PASS' if worst_frame <= 33 else 'FAIL'}")
    print(f"  worst p95 press-to-handler {worst_click:.1f} ms (target <= 100) -> {'PASS' if worst_click <= 100 else 'FAIL'}")
    if alone:
        worst_share = min(r["steps_per_s"] for r in results.values()) / alone
        print(f"  worst tab keeps {100 * worst_share:.0f}% of the engine's steps/s alone (target >= 85%) -> "
              f"{'PASS' if worst_share >= 0.85 else 'FAIL'}")


def open_window(config: RunConfig, lanes: Optional[list[RunConfig]] = None) -> tuple[TimedWindow, LoopProbe, ClickProbe]:
    window = TimedWindow(config, lanes)
    window.resize(1600, 1000)
    window.show()
    window.start_engine()
    t0 = time.perf_counter()
    while window.shown_record is None:
        pump(0.05)
        if time.perf_counter() - t0 > 120:
            raise SystemExit("the engine did not build within 2 minutes")
    return window, LoopProbe(), ClickProbe(window.play_button)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per panel tab")
    parser.add_argument("--steps", type=int, default=10_000, help="steps before reading RSS (depth 20)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depths", type=int, nargs="*", default=[20, 50], help="depths to measure (RSS: the first); none: skip")
    parser.add_argument("--lanes", type=int, default=4, help="then N lanes side by side at depth 20 (classic inits); 0: skip")
    args = parser.parse_args(argv)

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme()
    sys.setswitchinterval(0.001)  # as run_app does
    proc = psutil.Process()
    print(f"platform {app.platformName()}, {os.cpu_count()} cores, window 1600x1000, {args.seconds:g} s per tab")

    base = RunConfig(width=args.width, activation="tanh", init={"scheme": "normal", "std": 1.0})
    for n, depth in enumerate(args.depths):
        alone = engine_alone([base.replace(depth=depth)], min(args.seconds, 5.0))
        window, probe, clicks = open_window(base.replace(depth=depth))
        if n == 0:
            print(f"RSS after building depth {depth}: {proc.memory_info().rss / 2**20:.0f} MB")
        print_results(f"depth {depth}, width {args.width}, playing at max", measure(window, probe, clicks, args.seconds),
                      alone)
        if n == 0 and args.steps > 0:
            # the first depth runs on to N steps for the memory figure
            window.controller.play()
            t0, s0 = time.perf_counter(), window.state.step_count
            while window.state.step_count < args.steps:
                pump(2.0)
            rate = (window.state.step_count - s0) / max(time.perf_counter() - t0, 1e-9)
            state = window.state
            history_mb = sum(r.nbytes for r in state.records) / 2**20
            rss = proc.memory_info().rss / 2**20
            print(
                f"\nafter {state.step_count:,} steps at depth {depth}: RSS {rss:.0f} MB "
                f"(target <= 450 MB + the 192 MB history budget -> {'PASS' if rss <= 642 else 'FAIL'}); history {len(state.records):,} records, "
                f"{history_mb:.0f} MB of arrays; {rate:.1f} steps/s while drawing"
            )
        t_close = time.perf_counter()
        window.close()
        print(f"close while playing: worker stopped in {1000 * (time.perf_counter() - t_close):.0f} ms")
        del window
        pump(0.5)
    if args.lanes > 0:
        from initviz.engine.lanes import compare_configs

        schemes = ["zeros", "normal", "xavier_normal", "kaiming_normal"][: args.lanes]
        configs = compare_configs(base.replace(depth=20), schemes)
        alone = engine_alone(configs, min(args.seconds, 5.0))
        window, probe, clicks = open_window(configs[0], configs)
        print_results(
            f"{len(configs)} lanes ({', '.join(schemes)}), depth 20, width {args.width}, playing at max",
            measure(window, probe, clicks, args.seconds),
            alone,
        )
        window.close()
        del window
        pump(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
