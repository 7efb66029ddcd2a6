"""Cost of measuring every layer on every step, as a ratio to a bare torch training step.

Interleaved: a bare step (plain model, no hooks: zero_grad, forward, loss, backward, step) and
an instrumented Trainer step alternate on identical networks, so machine noise hits both alike.
Prints medians and the ratio of medians.

    python bench/engine_overhead.py            # both targets, ~1 minute
    python bench/engine_overhead.py --steps 50 # quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.data import BatchStream
from initviz.engine.model import build_model
from initviz.engine.trainer import make_optimizer

CASES = [
    # (depth, width, batch, target ratio)
    (20, 256, 128, 1.15),
    (10, 64, 64, 1.5),
]


def measure(depth: int, width: int, batch: int, steps: int, warmup: int = 10) -> dict[str, float]:
    cfg = RunConfig(
        dataset="spirals",
        depth=depth,
        width=width,
        batch_size=batch,
        activation="tanh",
        init=InitSpec("xavier_normal"),
        lr=0.01,
    )
    trainer = Trainer(cfg)
    model = build_model(cfg, trainer.data.info.n_features, trainer.data.info.n_classes)
    opt = make_optimizer(model, cfg)
    stream = BatchStream(trainer.data, cfg.batch_size, cfg.seed)

    def bare_step() -> None:
        x, y = stream.next()
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    bare, inst, stats_share = [], [], []
    for i in range(warmup + steps):
        # alternate which goes first, so neither always follows the other
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            t0 = time.perf_counter()
            if which == 0:
                bare_step()
            else:
                rec = trainer.step(1)[0]
            dt = time.perf_counter() - t0
            if i >= warmup:
                (bare if which == 0 else inst).append(dt)
        if i >= warmup:
            stats_share.append(rec.stats_seconds)
    b, s = statistics.median(bare), statistics.median(inst)
    pair = statistics.median(x / y for x, y in zip(inst, bare))
    return {"bare_ms": b * 1e3, "instrumented_ms": s * 1e3, "ratio": s / b, "pair_ratio": pair,
            "stats_ms": statistics.median(stats_share) * 1e3}


def measure_lanes(depth: int, width: int, steps: int, warmup: int = 5) -> list[tuple[int, float]]:
    """Median seconds per lockstep step for 1..4 lanes (interleaved), stats every step."""
    from initviz.engine.lanes import Lanes, compare_configs

    base = RunConfig(depth=depth, width=width, activation="tanh", lr=0.01)
    schemes = ["xavier_normal", "kaiming_normal", "normal", "orthogonal"]
    runs = {n: Lanes(compare_configs(base, schemes[:n])) for n in range(1, 5)}
    times: dict[int, list[float]] = {n: [] for n in runs}
    for i in range(warmup + steps):
        order = list(runs) if i % 2 == 0 else list(reversed(list(runs)))
        for n in order:
            t0 = time.perf_counter()
            runs[n].step(1)
            if i >= warmup:
                times[n].append(time.perf_counter() - t0)
    return [(n, statistics.median(times[n])) for n in runs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} interleaved steps per case")
    print(f"{'depth':>5} {'width':>5} {'batch':>5} {'bare ms':>8} {'instr ms':>9} {'stats ms':>9} "
          f"{'ratio':>6} {'pairs':>6} {'target':>7}  verdict")
    for depth, width, batch, target in CASES:
        r = measure(depth, width, batch, args.steps)
        verdict = "met" if r["ratio"] <= target else "NOT met"
        print(f"{depth:>5} {width:>5} {batch:>5} {r['bare_ms']:>8.2f} {r['instrumented_ms']:>9.2f} "
              f"{r['stats_ms']:>9.2f} {r['ratio']:>6.3f} {r['pair_ratio']:>6.3f} {target:>6.2f}x  {verdict}")
    print(f"\nlanes in lockstep (depth 20, width 128, stats every step), {args.steps // 2} interleaved steps:")
    print(f"{'lanes':>5} {'ms/step':>8} {'per lane':>9} {'vs 1 lane':>10}")
    results = measure_lanes(20, 128, max(20, args.steps // 2))
    one = results[0][1]
    for n, sec in results:
        print(f"{n:>5} {sec * 1e3:>8.2f} {sec * 1e3 / n:>9.2f} {sec / one:>9.2f}x")


if __name__ == "__main__":
    main()
