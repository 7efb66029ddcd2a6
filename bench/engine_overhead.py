"""Cost of measuring every layer on every step, as a ratio to a bare torch training loop.

In-process: a bare loop (plain model and torch.optim, no hooks: zero_grad, forward, loss,
backward, step) and an instrumented Trainer train identical networks in alternating hot blocks
of N steps (bare block, Trainer block, Trainer block, bare block, ...), repeated. A block after
a block of its own kind runs in a warm cache, so like is compared with like and machine noise
hits both alike. Per case: the median ms per step over blocks with the inter-quartile range,
the ratio of the medians, and the min-max of the ratios of adjacent block pairs; at one torch
thread and at torch's default.

Outside (``--outside``): whole processes of ``initviz run`` and of ``bench/bare_loop.py`` at
two step counts; the difference of their wall times over the difference of steps is what a
user's extra steps cost, with start-up and imports cancelled out (not the writing: every extra
step writes one more record). The long run is as many steps past the short one (30) as the bare
loop needs for ~OUTSIDE_SECONDS (at least 400): start-up alone varies by ~0.5 s here, which at
400 steps of a 1 ms network was as large as the difference being measured.

    python bench/engine_overhead.py                   # in-process, both cases, both thread counts
    python bench/engine_overhead.py --outside         # and the outside measure (~3 minutes more)
    python bench/engine_overhead.py --blocks 6 --block 20 --no-lanes   # quicker
    python bench/engine_overhead.py --arch mlp cnn resmlp --no-lanes    # also the CNN (general probe) and resmlp
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_loop import bare_parts, bare_steps  # noqa: E402

from initviz.engine import InitSpec, RunConfig, Trainer  # noqa: E402

OUTSIDE_SECONDS = 5.0  # the bare loop's extra steps in the outside measure take about this long
CASES = [
    # (depth, width, batch, target ratio, goal ratio)
    (20, 256, 128, 1.3, 1.15),
    (10, 64, 64, 1.8, 1.5),
]
# --arch cnn / resmlp: (depth, width, batch, None, None) -- figures printed, no target set yet
ARCH_CASES = {
    "cnn": [(9, 16, 64, None, None), (6, 32, 128, None, None)],  # 8x8 digits; width = first stage's channels
    "resmlp": [(20, 256, 128, None, None), (10, 64, 64, None, None)],
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def case_config(depth: int, width: int, batch: int, arch: str = "mlp") -> RunConfig:
    return RunConfig(dataset="digits" if arch == "cnn" else "spirals", depth=depth, width=width, batch_size=batch,
                     activation="tanh", init=InitSpec("xavier_normal"), lr=0.01, arch=arch)


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return q[0], statistics.median(xs), q[2]


CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU seconds of every thread of this process)


def measure(depth: int, width: int, batch: int, block: int, blocks: int, arch: str = "mlp") -> dict[str, float]:
    """Alternating hot blocks of `block` steps; ms per step per block, bare and instrumented."""
    cfg = case_config(depth, width, batch, arch)
    trainer = Trainer(cfg)
    model, opt, stream = bare_parts(cfg)

    def bare_block() -> float:
        t0 = CLOCK()
        bare_steps(model, opt, stream, block)
        return (CLOCK() - t0) / block

    def inst_block() -> float:
        t0 = CLOCK()
        trainer.step(block)
        return (CLOCK() - t0) / block

    bare_block(), inst_block()  # warm-up: first-call allocations, caches
    bare, inst = [], []
    for i in range(blocks):
        if i % 2 == 0:
            bare.append(bare_block())
            inst.append(inst_block())
        else:
            inst.append(inst_block())
            bare.append(bare_block())
    stats = [r.stats_seconds for r in list(trainer.history)[-blocks * block:]]
    pairs = [s / b for s, b in zip(inst, bare)]
    bq, iq = quartiles(bare), quartiles(inst)
    return {"bare": bq, "inst": iq, "ratio": iq[1] / bq[1], "pair_min": min(pairs), "pair_max": max(pairs),
            "stats_ms": statistics.median(stats) * 1e3}


def measure_lanes(depth: int, width: int, block: int, blocks: int) -> list[tuple[int, float]]:
    """Median seconds per lockstep step for 1..4 lanes (alternating blocks), stats every step."""
    from initviz.engine.lanes import Lanes, compare_configs

    base = RunConfig(depth=depth, width=width, activation="tanh", lr=0.01)
    schemes = ["xavier_normal", "kaiming_normal", "normal", "orthogonal"]
    runs = {n: Lanes(compare_configs(base, schemes[:n])) for n in range(1, 5)}
    for lanes in runs.values():
        lanes.step(2)
    times: dict[int, list[float]] = {n: [] for n in runs}
    for i in range(blocks):
        for n in (list(runs) if i % 2 == 0 else list(reversed(list(runs)))):
            t0 = time.perf_counter()
            runs[n].step(block)
            times[n].append((time.perf_counter() - t0) / block)
    return [(n, statistics.median(times[n])) for n in runs]


def measure_report(depth: int, width: int, records: int, reps: int = 3) -> float:
    """Seconds per record to build and write stats.json + stats.csv (a history of `records`)."""
    from initviz.engine.report import lanes_report, write_run

    t = Trainer(case_config(depth, width, 64))
    t.step(20)
    recs = list(t.history)
    recs = (recs * (records // len(recs) + 1))[:records]  # the writer's cost does not depend on values
    best = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            t0 = time.perf_counter()
            write_run(Path(tmp), *lanes_report([("run", t.config, recs, t.theory, t.layer_names)], single=True))
            best.append(time.perf_counter() - t0)
    return statistics.median(best) / records


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def measure_outside(depth: int, width: int, batch: int, short: int, long: int, reps: int,
                    threads: int) -> dict[str, float]:
    """Whole-process seconds per extra step of `initviz run` and of the bare loop script."""
    flags = ["--depth", str(depth), "--width", str(width), "--batch-size", str(batch), "--activation", "tanh",
             "--init", "xavier_normal", "--lr", "0.01"]
    bare_script = str(Path(__file__).resolve().parent / "bare_loop.py")
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    per_step: dict[str, list[float]] = {"bare": [], "initviz": []}
    with tempfile.TemporaryDirectory() as tmp:
        def cmd(tool: str, steps: int) -> list[str]:
            if tool == "bare":
                return [sys.executable, bare_script, *flags, "--steps", str(steps)]
            return [sys.executable, "-m", "initviz", "run", *flags, "--steps", str(steps), "--out", tmp, "-q"]

        for rep in range(reps):
            tools = ["bare", "initviz"] if rep % 2 == 0 else ["initviz", "bare"]
            for tool in tools:
                t_long = _timed(cmd(tool, long), env)
                t_short = _timed(cmd(tool, short), env)
                per_step[tool].append((t_long - t_short) / (long - short))
    b, s = statistics.median(per_step["bare"]), statistics.median(per_step["initviz"])
    pairs = [x / y for x, y in zip(per_step["initviz"], per_step["bare"])]
    return {"bare_ms": b * 1e3, "inst_ms": s * 1e3, "ratio": s / b, "pair_min": min(pairs), "pair_max": max(pairs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--block", type=int, default=40, help="steps per hot block (default 40)")
    ap.add_argument("--blocks", type=int, default=12, help="blocks of each kind (default 12)")
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 0],
                    help="torch thread counts to run (0 = torch's default); default: 1 0")
    ap.add_argument("--outside", action="store_true", help="also time whole `initviz run` processes")
    ap.add_argument("--outside-steps", type=int, nargs=2, default=None, metavar=("SHORT", "LONG"),
                    help="fixed step counts (default: 30 and 30 + the steps the bare loop needs for "
                         f"~{OUTSIDE_SECONDS:g} s of training, at least 400)")
    ap.add_argument("--outside-reps", type=int, default=3)
    ap.add_argument("--outside-threads", type=int, default=0,
                    help="OMP_NUM_THREADS for the outside processes (0 = torch's default)")
    ap.add_argument("--no-lanes", action="store_true", help="skip the lanes line")
    ap.add_argument("--arch", nargs="*", choices=("mlp", "cnn", "resmlp"), default=["mlp"],
                    help="architectures to measure (default: mlp, the cases with targets)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="in-process blocks timed by wall clock, or by this process's CPU time (steadier on a "
                         "machine shared with other work; 'stats' stays wall clock)")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    default_threads = torch.get_num_threads()
    print(f"{cpu_name()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"in-process ({args.clock} clock): {args.blocks} alternating blocks of {args.block} steps per kind; "
          "ms/step median [IQR]; ratio of medians; pairs = min-max of adjacent-block ratios")
    print(f"{'arch':>6} {'thr':>3} {'depth':>5} {'width':>5} {'batch':>5} {'bare ms':>18} {'instr ms':>18} {'stats':>6} "
          f"{'ratio':>6} {'pairs':>11} {'target':>7}  verdict")
    for threads in args.threads:
        torch.set_num_threads(threads or default_threads)
        for arch, (depth, width, batch, target, goal) in [(a, c) for a in args.arch for c in ARCH_CASES.get(a, CASES)]:
            r = measure(depth, width, batch, args.block, args.blocks, arch)
            if target is None:
                verdict, target = "(no target)", float("nan")
            else:
                verdict = ("goal met" if r["ratio"] <= goal else "met") if r["ratio"] <= target else "NOT met"
                verdict += f" (goal {goal}x)"
            b, s = r["bare"], r["inst"]
            print(f"{arch:>6} {torch.get_num_threads():>3} {depth:>5} {width:>5} {batch:>5} "
                  f"{b[1] * 1e3:6.2f} [{b[0] * 1e3:5.2f}-{b[2] * 1e3:5.2f}] {s[1] * 1e3:6.2f} "
                  f"[{s[0] * 1e3:5.2f}-{s[2] * 1e3:5.2f}] {r['stats_ms']:6.2f} {r['ratio']:6.3f} "
                  f"{r['pair_min']:5.2f}-{r['pair_max']:<5.2f} {target:>5.2f}x  {verdict}")
    torch.set_num_threads(default_threads)
    per_rec = measure_report(20, 256, 5000)
    print(f"\nreport writing (stats.json + stats.csv, depth 20, 5000 records): {per_rec * 1e3:.4f} ms per record "
          f"(target 0.05 ms: {'met' if per_rec <= 0.05e-3 else 'NOT met'})")
    if args.outside:
        threads = f"{args.outside_threads} torch thread(s)" if args.outside_threads else "torch's default threads"
        print(f"\noutside: whole processes, (t[long] - t[short]) / (long - short) steps, "
              f"median of {args.outside_reps} alternating repetitions, {threads}")
        print(f"{'depth':>5} {'width':>5} {'batch':>5} {'steps':>10} {'bare ms':>8} {'initviz run ms':>15} {'ratio':>6} {'pairs':>11}")
        for depth, width, batch, _, _ in CASES:
            if args.outside_steps:
                short, long = args.outside_steps
            else:
                torch.set_num_threads(args.outside_threads or default_threads)
                bare_s = measure(depth, width, batch, 20, 2)["bare"][1]
                torch.set_num_threads(default_threads)
                short, long = 30, 30 + max(400, int(math.ceil(OUTSIDE_SECONDS / bare_s / 100.0)) * 100)
            r = measure_outside(depth, width, batch, short, long, args.outside_reps, args.outside_threads)
            print(f"{depth:>5} {width:>5} {batch:>5} {f'{short}/{long}':>10} {r['bare_ms']:>8.2f} {r['inst_ms']:>15.2f} "
                  f"{r['ratio']:>6.3f} {r['pair_min']:5.2f}-{r['pair_max']:<5.2f}")
    if not args.no_lanes:
        torch.set_num_threads(1)
        block, blocks = max(5, args.block // 4), max(4, args.blocks // 2)
        print(f"\nlanes in lockstep (depth 20, width 128, stats every step, 1 thread), "
              f"{blocks} alternating blocks of {block} steps:")
        print(f"{'lanes':>5} {'ms/step':>8} {'per lane':>9} {'vs 1 lane':>10}")
        results = measure_lanes(20, 128, block, blocks)
        one = results[0][1]
        for n, sec in results:
            print(f"{n:>5} {sec * 1e3:>8.2f} {sec * 1e3 / n:>9.2f} {sec / one:>9.2f}x")


if __name__ == "__main__":
    main()
