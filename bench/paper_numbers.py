"""The paper scenarios at seed 0: published vs measured vs predicted, as the Papers tab shows them.

    python bench/paper_numbers.py [--steps 300]   (steps: training for the claims about training)
"""

from __future__ import annotations

import argparse
import math

import torch

from initviz.engine.papers import PAPERS, LaneData, evaluate
from initviz.engine.scenarios import get_scenario
from initviz.engine.trainer import Trainer


def _g(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for paper in PAPERS:
        s = get_scenario(paper.id)
        names = s.lane_names or tuple(c.init.label() for c in s.lane_configs)
        lanes = []
        for name, cfg in zip(names, s.lane_configs):
            t = Trainer(cfg.replace(record_every=10) if s.is_comparison else cfg)
            if any(c.quantity == "training loss" for c in paper.claims([LaneData(name, t.config, list(t.history), t.theory)])):
                t.step(args.steps)
            lanes.append(LaneData(name, t.config, list(t.history), t.theory))
        result = evaluate(paper, lanes)
        for c in result.checks:
            verdict = {True: "matches", False: "DOES NOT MATCH", None: "waiting"}[c.matches]
            lane = f"{c.lane}: " if s.is_comparison else ""
            print(f"| `{paper.id}` {lane}{c.quantity} | {c.published} | {_g(c.measured)} | {_g(c.predicted)} | {verdict} |")


if __name__ == "__main__":
    main()
