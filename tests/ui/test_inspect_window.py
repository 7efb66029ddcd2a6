"""The window on a user's model: the same panels on model lanes, a diagnosis naming module paths and the
init to use, and an error in the user's code shown with their traceback while the window stays up."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from initviz.engine import usercode
from initviz.engine.inspect import BatchSource, ModelLanes

BUILD_TIMEOUT_MS = 60_000

USER = textwrap.dedent('''
    import torch
    from torch import nn


    class Flaky(nn.Module):
        """Fine for its first forward passes, then their bug: a shape error on the 4th call."""

        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU()) for _ in range(6)])
            self.head = nn.Linear(8, 3)
            self.calls = 0
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.xavier_normal_(m.weight)

        def forward(self, x):
            self.calls += 1
            if self.calls > 3:
                x = x[:, :5]  # their bug
            return self.head(self.blocks(x))


    def build():
        return Flaky()
''')


@pytest.fixture
def user_model(tmp_path: Path):
    path = tmp_path / "flaky.py"
    path.write_text(USER, encoding="utf-8")
    uf, factory = usercode.load_function(f"{path}:build", "the factory")
    yield path, factory, (uf.path,)
    usercode.forget()


def _open(qtbot, lanes, title="flaky.py:build"):
    from initviz.ui.inspect_window import open_inspect_window
    from initviz.ui.theme import apply_theme

    apply_theme()
    window = open_inspect_window(lanes, title)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.start_engine()
    qtbot.waitUntil(lambda: window.shown_record is not None, timeout=BUILD_TIMEOUT_MS)
    return window


def test_window_shows_the_models_lanes_and_names_layers(qtbot, user_model) -> None:
    path, factory, files = user_model
    lanes = ModelLanes(factory, BatchSource(input_shape=(8,), classes=3, batch_size=16), ("as_built", "kaiming_normal"), files=files)
    want = [t.latest.act_std.copy() for t in lanes.trainers]
    window = _open(qtbot, lanes)
    assert window.state.names == ("as built", "kaiming_normal")
    assert window.state.lanes[0].layer_names == tuple(f"blocks.{i}.1" for i in range(6))
    np.testing.assert_array_equal(window.state.lanes[0].records[0].act_std, want[0])
    # the depth profile draws the model's measured std per layer, one curve per lane
    window.tabs.setCurrentWidget(window.depth_profile)
    qtbot.waitUntil(lambda: len(window.depth_profile.std_plot.measured) == 2, timeout=5_000)
    for curve, w in zip(window.depth_profile.std_plot.measured, want):
        np.testing.assert_allclose(curve.yData, w)
    # tabs about 2-D inputs and the built-in MLP are hidden; the Experiment dock too
    from initviz import registry

    visible = [spec.id for i, spec in enumerate(registry.PANELS) if window.tabs.isTabVisible(i)]
    assert visible == ["overview", "activations", "gradients", "health", "depth_profile", "loss"]
    assert not window.experiment_dock.isVisible()
    assert window.windowTitle().startswith("initviz inspect: flaky.py:build")
    assert "6 probe points (blocks.0.1, blocks.1.1" in window.statusBar().currentMessage()
    # Xavier before ReLU at depth 6 in 8 units: the std falls 2^3 = 8x, under the 10x of "decays"
    caption = window.banner.caption.text()
    assert caption.startswith("At initialisation: as built: ")
    window.close()


def test_an_error_in_their_code_while_training_is_a_box_and_the_window_stays(qtbot, user_model) -> None:
    path, factory, files = user_model
    lanes = ModelLanes(factory, BatchSource(input_shape=(8,), classes=3, batch_size=16), ("as_built",), files=files)
    window = _open(qtbot, lanes)
    window.controller.step(5)
    qtbot.waitUntil(lambda: bool(window.inspect_boxes), timeout=30_000)
    box = window.inspect_boxes[-1]
    assert box.text().startswith("the model's forward pass raised RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    tb = box.informativeText()
    assert "frames in flaky.py only" in tb and "in forward" in tb and "return self.head(self.blocks(x))" in tb
    assert "torch" not in tb.split("RuntimeError")[0].replace("import torch", "")  # only their frames
    assert box.textFormat() == box.textFormat().PlainText
    # the run up to the error is kept, the window and its engine are alive
    assert window.controller.running
    assert window.state.step_count == 2 and "Training stopped at step 2" in window.state.error
    box.close()
    window.close()


def test_slides_and_captions_name_the_users_model_not_the_stand_in_config(user_model) -> None:
    """The header says the model's class and its data, the captions its module paths; the stand-in
    RunConfig (depth = probe points, dataset 'gaussian') is never shown as if it were the network."""
    from initviz.engine.snapshot import Snapshot
    from initviz.ui.export.header import config_summary
    from initviz.ui.panels.base import Frame

    path, factory, files = user_model
    lanes = ModelLanes(factory, BatchSource(input_shape=(8,), classes=3, batch_size=16), ("as_built",), files=files)
    frame = Frame.of(Snapshot.of(lanes))
    summary = config_summary(frame)
    assert summary.startswith("Flaky: 6 probe points · random inputs N(0, 1) of shape 16x8")
    assert "hidden layers" not in summary and "gaussian" not in summary
    assert frame.main.layer_caption(2) == "layer 3 · blocks.2.1"
