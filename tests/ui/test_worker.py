"""The worker thread: errors reach the window, and the leak guard really sees running work."""

from __future__ import annotations

import threading

from PySide6 import QtCore

from initviz.engine import Trainer
from initviz.engine.loop import Engine
from initviz.ui.controller import Controller

from conftest import SMALL, leftover_work


def test_a_worker_error_is_shown_not_swallowed(qtbot, open_window, monkeypatch):
    """A fault in the loop itself (not in a command: those are caught) still reaches the window."""
    window = open_window()

    def broken_tick(self, dirty=False):
        raise RuntimeError("simulated engine failure")  # torch raises RuntimeError too

    monkeypatch.setattr(Engine, "tick", broken_tick)
    with qtbot.waitSignal(window.controller.run_failed, timeout=10_000) as blocker:
        window.controller.step(1)
    assert "simulated engine failure" in blocker.args[0]
    assert "simulated engine failure" in window.banner.text
    assert window.banner._level == "bad"
    assert not window.controller.running
    # Reset starts a new worker from the last config; it builds and shows step 0 again
    monkeypatch.undo()
    window.controller.reset()
    qtbot.waitUntil(lambda: window.controller.running and window.state is not None and window.state.step_count == 0, timeout=20_000)
    window.controller.step(2)
    qtbot.waitUntil(lambda: window.state.step_count == 2, timeout=10_000)


def test_a_failing_step_pauses_and_keeps_the_run_saveable(qtbot, open_window, monkeypatch, tmp_path):
    window = open_window()
    window.controller.step(3)
    qtbot.waitUntil(lambda: window.state.step_count == 3 and not window.state.pending_steps, timeout=10_000)

    def broken_step(self, n=1):
        raise RuntimeError("simulated engine failure")

    monkeypatch.setattr(Trainer, "step", broken_step)
    window.controller.play()
    qtbot.waitUntil(lambda: window.state.error is not None, timeout=10_000)
    assert "simulated engine failure" in window.state.error and "step 3" in window.state.error
    qtbot.waitUntil(lambda: "simulated engine failure" in window.banner.text, timeout=5_000)
    assert window.banner._level == "bad"
    assert window.controller.running and not window.state.playing and window.state.step_count == 3
    monkeypatch.undo()
    path = tmp_path / "kept.initviz"
    window.controller.save_run(str(path))
    qtbot.waitUntil(lambda: window.state.notice is not None and window.state.notice.kind == "saved", timeout=10_000)
    assert path.exists()
    window.controller.step(1)  # and it trains on once the fault is gone
    qtbot.waitUntil(lambda: window.state.step_count == 4, timeout=10_000)


def test_an_unbuildable_config_keeps_the_old_network(qtbot, open_window, monkeypatch):
    window = open_window()
    build = window.state.build

    original = Trainer.__init__

    def refuse(self, config, history=None):
        if config.width == 17:
            raise ValueError("width 17 refused by this test")
        original(self, config, history)

    monkeypatch.setattr(Trainer, "__init__", refuse)
    window.controller.apply(SMALL.replace(width=17))
    qtbot.waitUntil(lambda: window.state.error is not None, timeout=10_000)
    assert "width 17 refused" in window.state.error
    qtbot.waitUntil(lambda: "width 17 refused" in window.banner.text, timeout=5_000)
    assert window.state.build == build and window.state.config.width == SMALL.width
    assert window.controller.running


def test_the_leak_guard_sees_a_running_worker(qtbot):
    before = set(threading.enumerate())
    controller = Controller(SMALL)
    controller.start()
    qtbot.waitUntil(lambda: controller.state is not None, timeout=60_000)
    problems = leftover_work(before, grace=0.1)
    assert any("thread-pool" in p for p in problems)
    assert any("QTimers" in p for p in problems)
    assert controller.shutdown(timeout=1.0)
    assert leftover_work(before) == []


def test_shutdown_is_quick_even_while_stepping(qtbot):
    controller = Controller(SMALL.replace(depth=8, width=64))
    controller.start()
    qtbot.waitUntil(lambda: controller.state is not None, timeout=60_000)
    controller.play()
    qtbot.waitUntil(lambda: controller.state.step_count > 5, timeout=20_000)
    timer = QtCore.QElapsedTimer()
    timer.start()
    assert controller.shutdown(timeout=1.0)
    assert timer.elapsed() < 1000
