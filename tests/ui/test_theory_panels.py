"""The predicted gradient line, the finite-width bands and the Papers panel, drawn from engine data."""

from __future__ import annotations

import numpy as np

from initviz.engine.config import InitSpec, RunConfig
from initviz.engine.trainer import Trainer
from initviz.ui import theme
from initviz.ui.panels.base import Frame, Lane


def frame_of(trainer: Trainer, name: str = "run", colour: str = "#1f77b4") -> Frame:
    return Frame(lanes=(Lane(name, trainer.latest, tuple(trainer.history), trainer.config, colour, trainer.theory),))


def test_gradient_plot_draws_the_scaled_prediction_and_both_bands(qtbot) -> None:
    from initviz.ui.panels.depth_profile import StdProfilePlot
    from initviz.ui.panels.gradients import GradNormPlot

    trainer = Trainer(RunConfig(depth=6, width=64, batch_size=64, activation="tanh", init=InitSpec("xavier_normal")))
    plot, std_plot = GradNormPlot(), StdProfilePlot()
    qtbot.addWidget(plot)
    qtbot.addWidget(std_plot)
    plot.draw(frame_of(trainer))  # no band yet: the line is drawn, the band is empty
    rec = trainer.latest
    np.testing.assert_allclose(plot.theories[0].yData, trainer.theory.weight_grad_gain * rec.grad_norm[-1])
    assert plot.theories[0].pen().color().name() == theme.THEORY_COLOUR.lower()
    assert plot.bands[0].lo.size == 0 and plot.bands[0].path().isEmpty()

    band = trainer.theory.band()
    plot.draw(frame_of(trainer))
    std_plot.draw(frame_of(trainer))
    np.testing.assert_allclose(plot.bands[0].lo, band.weight_grad_gain[0] * rec.grad_norm[-1])
    np.testing.assert_allclose(plot.bands[0].hi, band.weight_grad_gain[1] * rec.grad_norm[-1])
    assert not plot.bands[0].path().isEmpty()
    np.testing.assert_array_equal(std_plot.bands[0].lo, band.act_std[0])
    np.testing.assert_array_equal(std_plot.bands[0].hi, band.act_std[1])
    std_plot.kind = "pre"  # pre-activation std: the band follows
    std_plot.draw(frame_of(trainer))
    np.testing.assert_array_equal(std_plot.bands[0].hi, band.pre_std[1])


def test_papers_panel_shows_published_measured_and_predicted(qtbot) -> None:
    from initviz.engine.scenarios import get_scenario
    from initviz.ui.panels.papers import PapersPanel

    panel = PapersPanel()
    qtbot.addWidget(panel)
    trainer = Trainer(get_scenario("paper_cs231n_tanh").config)
    panel.show_frame(frame_of(trainer))
    checks = panel.result.checks
    assert [c.value for c in checks] == [0.213, 0.0476, 0.0106]
    np.testing.assert_allclose([c.measured for c in checks], trainer.latest.act_std[:3])
    np.testing.assert_allclose([c.predicted for c in checks], trainer.theory.act_std[:3])
    np.testing.assert_allclose(panel.ratio_plot.measured.yData, trainer.latest.act_std[:3] / [0.213, 0.0476, 0.0106])
    text = panel.label.text()
    assert "0.0476" in text and "CS231n" in text and "matches" in text

    other = Trainer(RunConfig(depth=3, width=16, batch_size=16))
    panel.show_frame(frame_of(other))
    assert panel.result is None and "paper_he2015" in panel.label.text()


def test_depth_scale_sentence_names_the_phase_and_the_trainable_depth() -> None:
    from initviz.ui.help import depth_scale_sentence

    assert depth_scale_sentence(0.9, 0.5, 10.0).startswith("Ordered") and "≈ 60 layers" in depth_scale_sentence(0.9, 0.5, 10.0)
    assert depth_scale_sentence(1.5, 2.0, 4.0).startswith("Chaotic")
    assert depth_scale_sentence(1.0, 0.3, float("inf")).startswith("Critical")
    assert depth_scale_sentence(float("nan"), 1.0, 1.0) == ""


def test_the_experiment_panel_says_the_inits_phase(open_window, qtbot) -> None:
    """Issue 11 item 3 in the window: q*, chi_1 and xi_c of the selected lane, computed by the idle worker."""
    from initviz.engine import phase
    from initviz.engine.config import InitSpec, RunConfig

    cfg = RunConfig(depth=4, width=32, batch_size=16, activation="tanh", init=InitSpec("normal", std=(3.0 / 32) ** 0.5))
    window = open_window(cfg)
    qtbot.waitUntil(lambda: window.experiment.phase_caption.isVisible(), timeout=30_000)
    text = window.experiment.phase_caption.text()
    chi1 = phase.chi1("tanh", 3.0, 0.0)
    assert chi1 > 1 and text.startswith("Chaotic") and f"{chi1:.3g}" in text
