"""GUI responsiveness while the engine trains flat out: frame time, click latency, memory.

For depth 20 and depth 50 (width 256, tanh, N(0, 1) weights) the real main window plays at
"max" speed while this script measures, on the GUI thread:

- draw: the frame callback (new engine state -> every visible plot updated), wall time per frame;
- paint: the repaint Qt does after it (the changed plots, flushed to the screen), GUI thread CPU time;
- frame = the drawing + the repaint after it, GUI thread CPU time (what training waits for);
- every ms: the window's draw interval (it grows when frames cost more than a share of the time);
- loop stall: how late a 5 ms probe timer fires (how long the event loop was busy);
- press-to-handler: a mouse press+release posted to the Pause/Play button, to its clicked handler
  (twice a second: Pause, and Play 50 ms later; steps/s counts the time playing only).

Each panel tab is shown in turn; the engine's steps/s on each tab are printed against the same
lanes stepped with no window drawing, in this process, right before and after the tab (paired:
a shared machine's load drifts less within a pair; target: >= 85% on every tab). Then the depth-20 run continues to 10,000 steps and the
process RSS is read (the engine's history is memory-bounded). Targets: p95 frame <= 33 ms,
press-to-handler <= 100 ms, RSS <= 450 MB + the history budget.

    xvfb-run -s "-screen 0 1600x1000x24" python bench/ui_frame.py      # ~8-10 minutes on 2 cores
    python bench/ui_frame.py --seconds 4 --steps 2000                    # quick look (offscreen)
    python bench/ui_frame.py --depths --lanes 4 --seconds 3              # 4 lanes at depth 20 only
    python bench/ui_frame.py --depths 20 --steps 0 --lanes 0 --tabs overview gradients
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
    """The main window, recording each frame's drawing and the repaint after it.

    The repaint is the window's own measure (``last_paint_seconds``: the GUI thread's CPU time from
    the end of the drawing until a 1 ms timer after it fires, so Qt's repaint and anything else it
    did meanwhile); timing it by overriding ``event()`` in Python would hold the GIL through Qt's
    native painting and slow the training thread more than the window itself does.
    """

    def __init__(self, config: RunConfig, lanes: Optional[list[RunConfig]] = None) -> None:
        super().__init__(config, lanes=lanes)
        self.paints: list[float] = []
        self.frames: list[float] = []
        self.draws: list[float] = []
        self.frame_drawn.connect(self.draws.append)

    def _painted(self) -> None:
        super()._painted()
        self.paints.append(self.last_paint_seconds)
        self.frames.append(self._draw_cpu + self.last_paint_seconds)

    def reset_stats(self) -> None:
        self.paints.clear()
        self.frames.clear()
        self.draws.clear()


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


def measure(window: TimedWindow, probe: LoopProbe, clicks: ClickProbe, seconds: float,
            alone: Optional["AloneEngine"] = None, tabs: Optional[list[str]] = None) -> dict:
    """Play flat out; on every panel tab measure frames, stalls and click latency.

    ``alone``: after each tab the window pauses and the same lanes step with no drawing for as long,
    in this process; each tab's steps/s is compared with the mean of the engine-alone runs just
    before and after it (paired: the machine's load drifts less within one pair than over a run).
    """
    results = {}
    window.controller.play()
    pump(1.0)
    before = alone.measure(seconds, window) if alone is not None else None
    for i in range(window.tabs.count()):
        name = window.tabs.tabText(i).replace("&&", "&")
        if tabs and not any(t.lower() in name.lower() for t in tabs):
            continue
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

        # the clicks pause the engine ~10% of the time: steps/s counts the time playing only
        paused = [0.0, None]

        def playing(on: bool) -> None:
            now = time.perf_counter()
            if not on:
                paused[1] = now
            elif paused[1] is not None:
                paused[0] += now - paused[1]
                paused[1] = None

        window.controller.playing_changed.connect(playing)
        cpu0 = time.thread_time()  # this (the GUI) thread's CPU time: less load-dependent than steps/s
        pump(seconds, (0.5, click))
        cpu_seconds = time.thread_time() - cpu0
        gui_cpu = cpu_seconds / (time.perf_counter() - t0)
        probe.stop()
        window.controller.playing_changed.disconnect(playing)
        t1 = time.perf_counter()
        if paused[1] is not None:
            paused[0] += t1 - paused[1]
        rate = (window.state.step_count - steps0) / (t1 - t0 - paused[0])
        # let a Play click still in flight land before forcing Play: otherwise the next tab would
        # run with the click pairs inverted (paused most of the time)
        pump(0.2)
        results[name] = {
            "frames": len(window.frames),
            "draw": (ms(window.draws, 50), ms(window.draws, 95)),
            "paint": (ms(window.paints, 50), ms(window.paints, 95)),
            "frame": (ms(window.frames, 50), ms(window.frames, 95), 1000 * max(window.frames, default=float("nan"))),
            "stall": (ms(probe.gaps, 50), ms(probe.gaps, 95), 1000 * max(probe.gaps, default=float("nan"))),
            "click": (ms(clicks.latencies, 50), ms(clicks.latencies, 95), len(clicks.latencies)),
            "steps_per_s": rate,
            "gui_cpu": gui_cpu,
            "cpu_per_frame": 1000 * cpu_seconds / max(len(window.draws), 1),
            "interval": window.draw_interval_ms() if hasattr(window, "draw_interval_ms") else float("nan"),
        }
        if alone is not None:
            after = alone.measure(seconds, window)
            results[name]["alone"] = (before + after) / 2
            before = after
        if not window.controller.playing:
            window.controller.play()
        pump(0.3)
    window.tabs.setCurrentIndex(0)
    return results


class AloneEngine:
    """The same lanes as the window's, stepped on this thread with no window drawing: Lanes.step
    in a loop, one torch thread (as the window's worker runs). The window is paused meanwhile."""

    def __init__(self, configs: list[RunConfig]) -> None:
        import torch

        from initviz.engine.lanes import Lanes

        self.torch = torch
        self.lanes = Lanes(configs)
        self.lanes.step(3)
        self.rates: list[float] = []

    def measure(self, seconds: float, window: Optional[MainWindow] = None) -> float:
        if window is not None:
            window.controller.pause()
            pump(0.3)  # the worker finishes its step and waits for commands
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            self.lanes.step(1)
            n += 1
        self.torch.set_num_threads(threads)
        rate = n / (time.perf_counter() - t0)
        self.rates.append(rate)
        if window is not None:
            window.controller.play()
            pump(0.5)
        return rate


def print_results(title: str, results: dict) -> None:
    print(f"\n{title}")
    paired = all("alone" in r for r in results.values())
    if paired:
        alones = [r["alone"] for r in results.values()]
        print(f"  engine alone (window paused, same lanes, next to each tab): median {np.median(alones):.1f} steps/s "
              f"(min {min(alones):.1f}, max {max(alones):.1f})")
    print(
        f"  {'panel':<18}{'frames':>7}{'draw p50/p95':>16}{'paint p50/p95':>16}{'frame p50/p95/max':>22}"
        f"{'loop stall p50/p95/max':>26}{'click p50/p95 (n)':>22}{'every ms':>9}{'GUI CPU':>8}{'ms/frame':>9}{'steps/s':>9}{'alone':>7}{'kept':>6}"
    )
    for name, r in results.items():
        print(
            f"  {name:<18}{r['frames']:>7}"
            f"{r['draw'][0]:>9.1f}/{r['draw'][1]:<6.1f}"
            f"{r['paint'][0]:>9.1f}/{r['paint'][1]:<6.1f}"
            f"{r['frame'][0]:>9.1f}/{r['frame'][1]:.1f}/{r['frame'][2]:<6.1f}"
            f"{r['stall'][0]:>11.1f}/{r['stall'][1]:.1f}/{r['stall'][2]:<8.1f}"
            f"{r['click'][0]:>11.1f}/{r['click'][1]:.1f} ({r['click'][2]})"
            f"{r['interval']:>9.0f}"
            f"{100 * r['gui_cpu']:>7.0f}%"
            f"{r['cpu_per_frame']:>9.1f}"
            f"{r['steps_per_s']:>9.1f}"
            + (f"{r['alone']:>7.1f}{100 * r['steps_per_s'] / r['alone']:>5.0f}%" if paired else "")
        )
    print("  (all times in ms; every ms: the window's draw interval at the end of the tab; GUI CPU: the GUI thread's CPU\n"
          "  time per second of wall time, Python and native painting, less load-dependent than steps/s; ms/frame:\n"
          "  that CPU time over the frames drawn (everything the GUI thread did, per frame);\n"
          "  kept: steps/s with the window / alone)")
    worst_frame = max(r["frame"][1] for r in results.values())
    worst_click = max(r["click"][1] for r in results.values())
    print(f"  worst p95 frame {worst_frame:.1f} ms (target <= 33) -> {'PASS' if worst_frame <= 33 else 'FAIL'}")
    print(f"  worst p95 press-to-handler {worst_click:.1f} ms (target <= 100) -> {'PASS' if worst_click <= 100 else 'FAIL'}")
    if paired:
        shares = [r["steps_per_s"] / r["alone"] for r in results.values()]
        print(f"  steps/s kept with the window: median {100 * float(np.median(shares)):.0f}%, worst tab {100 * min(shares):.0f}% "
              f"(target >= 85% on every tab) -> {'PASS' if min(shares) >= 0.85 else 'FAIL'}")


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
    parser.add_argument("--tabs", nargs="*", default=None, help="only the tabs whose title contains one of these words")
    parser.add_argument("--no-alone", dest="alone", action="store_false", help="skip the engine-alone runs between tabs")
    args = parser.parse_args(argv)

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme()
    sys.setswitchinterval(0.001)  # as run_app does
    proc = psutil.Process()
    print(f"platform {app.platformName()}, {os.cpu_count()} cores, window 1600x1000, {args.seconds:g} s per tab")

    base = RunConfig(width=args.width, activation="tanh", init={"scheme": "normal", "std": 1.0})
    for n, depth in enumerate(args.depths):
        window, probe, clicks = open_window(base.replace(depth=depth))
        alone = AloneEngine([base.replace(depth=depth)]) if args.alone else None
        if n == 0:
            print(f"RSS after building depth {depth}: {proc.memory_info().rss / 2**20:.0f} MB")
        print_results(f"depth {depth}, width {args.width}, playing at max",
                      measure(window, probe, clicks, args.seconds, alone, args.tabs))
        del alone
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
        window, probe, clicks = open_window(configs[0], configs)
        alone = AloneEngine(configs) if args.alone else None
        print_results(
            f"{len(configs)} lanes ({', '.join(schemes)}), depth 20, width {args.width}, playing at max",
            measure(window, probe, clicks, args.seconds, alone, args.tabs),
        )
        del alone
        window.close()
        del window
        pump(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
