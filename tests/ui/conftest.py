"""UI test setup: small networks, and a guard that fails any test leaving a thread or timer running."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from PySide6 import QtCore, QtWidgets

from initviz.engine.config import RunConfig

# Small and quick: every UI test trains a real network, on 2 shared cores.
SMALL = RunConfig(depth=4, width=16, batch_size=32, activation="tanh", init={"scheme": "normal", "std": 1.0}, test_every=5)


def _alive(obj: QtCore.QObject) -> bool:
    try:
        obj.objectName()
    except RuntimeError:  # the C++ object is already deleted
        return False
    return True


def _live_qobjects(cls: type) -> list:
    # type(o), not isinstance: isinstance reads __class__, which some torch objects turn into a warning
    return [o for o in gc.get_objects() if issubclass(type(o), cls) and _alive(o)]


def _running_timers() -> list[QtCore.QTimer]:
    return [t for t in _live_qobjects(QtCore.QTimer) if t.isActive()]


def _running_qthreads() -> list[QtCore.QThread]:
    app = QtCore.QCoreApplication.instance()
    main = app.thread() if app is not None else None
    return [t for t in _live_qobjects(QtCore.QThread) if t is not main and t.isRunning()]


# Qt's offscreen platform (QT_QPA_PLATFORM=offscreen, set by tests/conftest.py) warns this for every
# top-level window with a layout, and on raise(): a limitation of the headless plugin, not of the app (xcb is silent).
OFFSCREEN_NOISE = r"This plugin does not support (propagateSizeHints|raise)\(\)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def no_leftover_workers(qapp: QtWidgets.QApplication) -> Iterator[None]:
    """Fail a test that leaves a worker, a QThread, a Python thread or a QTimer running.

    pytest-qt closes the test's widgets before fixtures tear down, so by then closeEvent must
    have stopped everything. A short grace period lets finished workers hand back their thread.
    """
    from superqt.utils._qthreading import WorkerBase

    threads_before = set(threading.enumerate())
    yield
    problems = leftover_work(threads_before)
    if problems:
        # clean up so one leak does not cascade into the next tests, then fail this one
        for w in list(WorkerBase._worker_set):
            w.quit()
        for t in _running_timers():
            t.stop()
        QtCore.QThreadPool.globalInstance().waitForDone(3000)
        pytest.fail("test left work running: " + "; ".join(problems))


def leftover_work(threads_before: set[threading.Thread], grace: float = 1.0) -> list[str]:
    """What is still running: thread-pool workers, superqt workers, threads, QThreads, QTimers."""
    from superqt.utils._qthreading import WorkerBase

    pool = QtCore.QThreadPool.globalInstance()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pool.activeThreadCount():
        QtWidgets.QApplication.processEvents()
        time.sleep(0.01)
    QtWidgets.QApplication.processEvents()
    problems = []
    if pool.activeThreadCount():
        problems.append(f"{pool.activeThreadCount()} thread-pool worker(s) still running")
    workers = [w for w in list(WorkerBase._worker_set) if w.is_running]
    if workers:
        problems.append(f"superqt workers still running: {workers}")
    threads = [
        t
        for t in threading.enumerate()
        if t not in threads_before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    if threads:
        problems.append(f"Python threads still running: {threads}")
    qthreads = _running_qthreads()
    if qthreads:
        problems.append(f"QThreads still running: {qthreads}")
    timers = _running_timers()
    if timers:
        problems.append(f"QTimers still active: {[(t.parent(), t.interval()) for t in timers]}")
    return problems


@pytest.fixture
def small_config() -> RunConfig:
    return SMALL


BUILD_TIMEOUT_MS = 60_000  # the first build imports torch in the worker


@pytest.fixture
def open_window(qtbot):
    """Factory: show the real main window on a config and wait until its first record is drawn."""
    from initviz.ui.main_window import MainWindow
    from initviz.ui.theme import apply_theme

    def _open(
        config: RunConfig = SMALL,
        size: tuple[int, int] = (1400, 900),
        tab: str = "activations",
        lanes: Optional[list[RunConfig]] = None,
    ) -> MainWindow:
        """``tab``: the panel attribute to show (the app opens on the Overview); ``lanes``: compare runs."""
        apply_theme()
        window = MainWindow(config, lanes=lanes) if lanes else MainWindow(config)
        window.tabs.setCurrentWidget(getattr(window, tab))
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        window.start_engine()
        qtbot.waitUntil(lambda: window.shown_record is not None, timeout=BUILD_TIMEOUT_MS)
        return window

    return _open
