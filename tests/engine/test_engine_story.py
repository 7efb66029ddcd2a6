"""diagnose(..., initial=): what the init did stays said after training, in stable words."""

from __future__ import annotations

import numpy as np

from initviz.engine import RunConfig, Trainer
from initviz.engine.diagnosis import diagnose
from initviz.engine.scenarios import get_scenario


def run(cfg: RunConfig, checkpoints: tuple[int, ...]) -> tuple[Trainer, dict]:
    t = Trainer(cfg)
    out = {0: t.latest}
    for s in checkpoints:
        t.step(s - t.step_count)
        out[s] = t.latest
    return t, out


def test_xavier_relu_after_300_steps_still_tells_the_init_decay() -> None:
    cfg = get_scenario("xavier_relu").config
    t, recs = run(cfg, (300,))
    std0 = recs[0].act_std
    assert std0[0] / std0[-1] > 100  # independent: the init's signal falls > 100x over 20 layers
    first = diagnose(recs[300], cfg, initial=recs[0])[0]
    assert first.startswith("at init: the signal dies out")
    assert first.endswith("now: healthy after training")
    assert diagnose(recs[300], cfg)[0].startswith("healthy")  # without the story: only what is true now


def test_vanishing_lesson_keeps_its_words_over_time() -> None:
    cfg = get_scenario("normal_tanh_vanishing").config
    t, recs = run(cfg, (25, 50, 75, 100, 125, 150))
    heads = [diagnose(r, cfg, initial=recs[0])[0] for s, r in sorted(recs.items()) if s > 0]
    # one wording at every checkpoint (only the numbers move): no flicker between two stories
    assert all(h.startswith("at init: the signal dies out") and "; now: the signal dies out" in h for h in heads), heads


def test_xavier_tanh_at_depth_50_is_not_called_healthy_at_init() -> None:
    cfg = get_scenario("xavier_tanh").config.replace(depth=50)
    rec = Trainer(cfg).latest
    fall = rec.act_std[0] / rec.act_std[-1]
    assert 3 < fall < 10
    caps = diagnose(rec, cfg)
    assert caps[0].startswith("the signal shrinks with depth") and f"{fall:.1f}x" in caps[0]


def test_a_healthy_init_tells_only_the_present() -> None:
    cfg = get_scenario("he_relu").config.replace(depth=8, width=64)
    t, recs = run(cfg, (20,))
    assert diagnose(recs[20], cfg, initial=recs[0]) == diagnose(recs[20], cfg)
    assert np.isfinite(recs[20].loss)
