"""The window's Open on hostile and damaged files: a plain-text refusal, the run on screen untouched.

The corpus is tests/runs/hostile_corpus.py's; each file goes through the real File > Open path
(the engine worker), so a refusal must come back as a message box while the lanes on screen keep
their step and records, and still train and save afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6 import QtWidgets

sys.path.insert(0, str(Path(__file__).parents[1] / "runs"))
import hostile_corpus  # noqa: E402

from initviz.engine.config import RunConfig  # noqa: E402
from initviz.engine.lanes import Lanes, compare_configs  # noqa: E402
from initviz.engine.store import MAX_NAME_CHARS, load_run, save_run  # noqa: E402


def _open(window, monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.open_action.trigger()


def test_hostile_files_are_refused_and_the_run_on_screen_survives(qtbot, open_window, tmp_path, monkeypatch):
    window = open_window()
    window.step_n_box.setValue(3)
    window.step_n_action.trigger()
    qtbot.waitUntil(lambda: window.state.lane_latest[0].step == 3 and not window.state.pending_steps, timeout=20_000)
    before = window.state.lane_latest[0]
    build = window.state.build
    boxes: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: boxes.append(a[2]))

    refused = [(label, path) for label, path, expected in hostile_corpus.build(tmp_path / "corpus") if expected == "refuse"]
    assert len(refused) >= 80
    for k, (label, path) in enumerate(refused):
        _open(window, monkeypatch, path)
        qtbot.waitUntil(lambda: len(boxes) == k + 1, timeout=20_000)
        assert window.state.build == build, label
        now = window.state.lane_latest[0]
        assert now.step == before.step and np.array_equal(now.act_std, before.act_std), label
        assert "<a " not in boxes[-1] and "<img" not in boxes[-1], label  # escaped: shown as text
    html_box = next(b for b, (label, _) in zip(boxes, refused) if "HTML written_by" in label)
    assert "&lt;a href=" in html_box

    # the run on screen still trains and saves
    window.step_action.trigger()
    qtbot.waitUntil(lambda: window.state.lane_latest[0].step == 4, timeout=20_000)
    saved = tmp_path / "after.initviz"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    window.save_action.trigger()
    qtbot.waitUntil(lambda: window.state.notice is not None and window.state.notice[1] == "saved", timeout=20_000)
    assert load_run(saved).step_count == 4


def test_long_and_html_lane_names_open_as_short_plain_text(qtbot, open_window, tmp_path, monkeypatch):
    small = RunConfig(depth=3, width=8, batch_size=32, test_every=5)
    names = ["<img src='file:///etc/x.png'><a href='https://x.example'>click</a>", "W" * 100_000]
    lanes = Lanes(compare_configs(small, ["normal", "xavier_normal"]), names=names)
    lanes.step(2)
    path = save_run(tmp_path / "names", lanes)
    window = open_window(small, tab="loss")
    build = window.state.build
    _open(window, monkeypatch, path)
    qtbot.waitUntil(lambda: window.state.build == build + 1 and len(window.state.names) == 2, timeout=20_000)
    shown = window.state.names
    assert shown[0] == names[0] and len(shown[1]) == MAX_NAME_CHARS  # capped on load
    legend = window.loss.view.legend
    qtbot.waitUntil(lambda: len(legend.items) == 4, timeout=10_000)  # two lanes, then line and dots
    lane_labels = [label.text for _, label in legend.items[:2]]
    assert "&lt;img" in lane_labels[0] and "<img" not in lane_labels[0] and len(lane_labels[1]) < 100
    window.tabs.setCurrentWidget(window.activations)
    grid = window.activations.grid
    qtbot.waitUntil(lambda: len(grid.header_labels) == 2, timeout=10_000)
    texts = [label.text() for label in grid.header_labels]
    assert "&lt;img" in texts[0] and "<img" not in texts[0] and "<a " not in texts[0]
    assert len(texts[1]) < 200 and "…" in texts[1]  # elided; the full name is in the tooltip
    assert shown[1] in grid.header_labels[1].toolTip()  # the whole (capped) name
    assert window.minimumSizeHint().width() < 1600 and window.width() < 1600  # 2,056 px before names were elided


def test_apply_of_a_run_too_large_is_refused_and_the_run_trains_on(qtbot, open_window, monkeypatch):
    import initviz.engine.budget as budget

    monkeypatch.setattr(budget, "available_bytes", lambda: 8 * 2**30)
    window = open_window()
    build, step = window.state.build, window.state.lane_latest[0].step
    huge = RunConfig(depth=200, width=4096, batch_size=4096)
    window.apply_lanes([huge.replace(init={"scheme": s}) for s in ("zeros", "normal", "xavier_normal", "kaiming_normal")])
    qtbot.waitUntil(lambda: window.state.error is not None, timeout=20_000)
    assert "needs ~" in window.state.error and "8.0 GB free" in window.state.error
    assert window.state.build == build and window.state.lane_latest[0].step == step
    window.step_action.trigger()
    qtbot.waitUntil(lambda: window.state.lane_latest[0].step == step + 1, timeout=20_000)
