"""Where the memory of a run goes: RSS after each stage, and the history's RSS against its arrays.

Stages, each in a fresh process so they do not mask each other: ``import torch``; + PySide6 and
pyqtgraph imported after torch (as initviz.ui.app does) and before it (the order that costs
~84 MB: PySide6's import hook keeps the source text of every module imported after it);
+ a Trainer (model, optimizer, probes, record 0); then training at depth 20 width 256 with
statistics every step, RSS read at 5,000 and 10,000 steps, against the history's array bytes
and its budget; with ``--window``, the same run inside the real main window (offscreen).

    python bench/memory.py                    # stages + 10,000 engine steps (~5 min on 2 cores)
    python bench/memory.py --steps 2000       # quicker
    python bench/memory.py --window           # + the window playing to --steps (slower)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

RSS = "int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20"

STAGES = {
    "python": "pass",
    "import torch": "import torch",
    "import torch, then PySide6 + pyqtgraph": "import torch; from PySide6 import QtWidgets; import pyqtgraph",
    "PySide6 + pyqtgraph, then import torch": "from PySide6 import QtWidgets; import pyqtgraph; import torch",
    "import torch + torch.optim.SGD (imports torch._dynamo)":
        "import torch; torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)",
    "import torch + a Trainer (depth 20, width 256)":
        "import torch; from initviz.engine import RunConfig, Trainer; "
        "t = Trainer(RunConfig(depth=20, width=256)); t.step(5)",
}

RUN = """
import ctypes, os, sys, time
{prelude}
from initviz.engine import RunConfig, Trainer
rss = lambda: {rss}
cfg = RunConfig(depth=20, width=256, activation="tanh", init={{"scheme": "normal", "std": 1.0}})
{make}
checkpoints = sorted({{{steps} // 2, {steps}}})
done = 0
for target in checkpoints:
    {advance}
    nbytes, n, budget = {history}
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # free heap holes are not the history's
    print(f"{{done}} {{rss():.1f}} {{nbytes / 2**20:.1f}} {{n}} {{budget / 2**20:.0f}}", flush=True)
{after}
"""

ENGINE = dict(
    prelude="import torch",
    make="t = Trainer(cfg)",
    advance="t.step(target - done); done = target",
    history="t.history.nbytes, len(t.history), t.history.max_bytes",
    # the history's own RSS: drop it, give the heap back, read again
    after=("import gc; t.history.clear(); gc.collect(); ctypes.CDLL('libc.so.6').malloc_trim(0); "
           "print(f'cleared {rss():.1f}')"),
)

WINDOW = dict(
    prelude=textwrap.dedent("""
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import torch
        from PySide6 import QtCore, QtWidgets
        from initviz.ui.main_window import MainWindow
        from initviz.ui.theme import apply_theme
        app = QtWidgets.QApplication(sys.argv[:1]); apply_theme(); sys.setswitchinterval(0.001)
        def pump(s):
            loop = QtCore.QEventLoop(); QtCore.QTimer.singleShot(int(s * 1000), loop.quit); loop.exec()
        """),
    make="w = MainWindow(cfg); w.resize(1600, 1000); w.show(); w.start_engine(); pump(2.0); w.controller.play()",
    advance="\n    ".join([
        "while w.state.step_count < target:",
        "    pump(2.0)",
        "done = w.state.step_count",
    ]),
    history=("sum(r.nbytes for r in w.state.records), len(w.state.records), "
             "__import__('initviz.engine.record', fromlist=['x']).HISTORY_BYTES"),
    after="w.close(); pump(0.5)",
)


def stage_rss(code: str) -> float:
    prog = f"import os\n{code}\nprint({RSS})"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_rss(kind: dict, steps: int) -> list[tuple[int, float, float, int, float]]:
    prog = RUN.format(rss=RSS, steps=steps, **kind)
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    rows = []
    for line in proc.stdout.strip().splitlines():
        if line.startswith("cleared"):
            rows.append((-1, float(line.split()[1]), 0.0, 0, 0.0))
            continue
        s, rss, hmb, n, budget = line.split()
        rows.append((int(s), float(rss), float(hmb), int(n), float(budget)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--window", action="store_true", help="also the run inside the main window")
    args = ap.parse_args()
    print("stage RSS (fresh process each):")
    base = None
    for name, code in STAGES.items():
        mb = stage_rss(code)
        base = mb if base is None else base
        print(f"  {name:<58} {mb:7.0f} MB")
    kinds = [("engine alone", ENGINE)] + ([("window (offscreen), engine in its worker", WINDOW)] if args.window else [])
    for label, kind in kinds:
        rows = run_rss(kind, args.steps)
        cleared = [r[1] for r in rows if r[0] < 0]
        rows = [r for r in rows if r[0] >= 0]
        print(f"\n{label}, depth 20 width 256, statistics every step:")
        print(f"  {'steps':>6} {'RSS MB':>7} {'history MB':>11} {'records':>8} {'budget MB':>10}")
        for s, rss, hmb, n, budget in rows:
            print(f"  {s:>6} {rss:>7.0f} {hmb:>11.0f} {n:>8} {budget:>10.0f}")
        if len(rows) == 2:
            (s0, r0, h0, _, _), (s1, r1, h1, _, budget) = rows
            print(f"  growth {s0:,} -> {s1:,} steps: {100 * (r1 / r0 - 1):+.1f}% (target < 5%)")
            if cleared:
                hist_rss = r1 - cleared[0]
                print(f"  the history's RSS (freed when it is cleared): {hist_rss:.0f} MB for {h1:.0f} MB of arrays "
                      f"= {hist_rss / max(h1, 1e-9):.2f}x (target <= 1.2x); RSS without it {cleared[0]:.0f} MB")
            print(f"  RSS {r1:.0f} MB = {r1 - budget:.0f} MB + the {budget:.0f} MB history budget "
                  f"(target with the window: <= 450 MB + budget)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
