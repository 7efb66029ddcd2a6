"""``initviz inspect FILE.py:FACTORY``: step-0 health of your own model, its training, other inits beside it.

Loads the factory (and ``--batches FILE.py:FUNC``, or random inputs of ``--input-shape`` with random
labels of ``--classes``), measures the model as built and under the ``--lanes`` schemes, trains
``--steps`` steps, prints a per-layer table and the diagnosis. ``--headless --out DIR`` writes
stats.json/stats.csv (initviz.run/1 per lane, layers named by module path) and the slide PNGs;
without it the window opens on the model. An error in the user's code prints their traceback
(their file's frames only) and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Optional

# the panels an inspected model has data for (the decision boundary and neurons need 2-D toy inputs;
# papers and the phase diagram are about initviz's own MLP)
SLIDES = ("overview", "activations", "gradients", "health", "depth_profile", "loss", "dashboard")


def add_parser(sub: Any) -> None:
    """Register ``initviz inspect`` on the CLI's subparsers (cli.py calls this)."""
    p = sub.add_parser(
        "inspect",
        help="measure your own model (FILE.py:FACTORY) at init and while it trains, beside other inits",
        description="Load FACTORY from FILE.py (a function returning an nn.Module), hook every activation and every "
                    "Linear/Conv, measure the model at init on a batch and train it --steps steps, beside copies "
                    "re-initialised with other schemes (--lanes). Prints each layer's health and the init that fixes "
                    "what is wrong; --headless --out DIR writes stats.json/stats.csv and slide PNGs for CI; "
                    "otherwise the window opens on the model. Errors in your code: your traceback, exit status 2.",
    )  # fmt: skip
    p.add_argument("target", metavar="FILE.py:FACTORY", help="the file and the function that builds the model")
    p.add_argument("--batches", metavar="FILE.py:FUNC",
                   help="a function returning example batches (x, y): one batch, an iterable of them or a callable "
                        "giving one; x may be a tensor, a tuple (positional inputs) or a dict (keyword inputs)")
    p.add_argument("--input-shape", metavar="C,H,W", help="without --batches: random inputs N(0, 1) of this shape per example")
    p.add_argument("--classes", type=int, default=10, help="without --batches: random labels of this many classes (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help="without --batches: examples per random batch (default 32)")
    p.add_argument("--steps", type=int, default=None, help="training steps after step 0 (default 20 with --headless, "
                   "0 in the window: press Play or Step)")
    p.add_argument("--lanes", default="as_built,kaiming_normal,xavier_normal", metavar="SCHEMES",
                   help="the model as built and/or re-initialised copies, side by side (1 to 4 of as_built, kaiming_normal, "
                        "kaiming_uniform, xavier_normal, xavier_uniform, lecun_normal, orthogonal, pytorch_default, normal, "
                        "zeros); default as_built,kaiming_normal,xavier_normal")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="default sgd (momentum 0.9)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--momentum", type=float, default=0.9, help="sgd's momentum (default 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seeds the factory's own init, the schemes and random batches (default 0)")
    p.add_argument("--headless", action="store_true", help="no window: write --out and print the report")
    p.add_argument("--out", type=Path, default=None, help="with --headless: output folder (default inspect)")
    p.add_argument("--no-slides", action="store_true", help="with --headless: write stats.json/stats.csv only (no PNGs: faster)")
    p.add_argument("--force", action="store_true", help="replace files that already exist in --out")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_inspect)


def _fail(message: str, detail: str = "") -> int:
    print(f"initviz inspect: error: {' '.join(str(message).split())}", file=sys.stderr)
    if detail:
        print(detail.rstrip(), file=sys.stderr)
    return 2


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--input-shape: {text!r} is not a shape; write sizes separated by commas, e.g. 3,32,32") from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"--input-shape: {text!r} is not a shape; write positive sizes, e.g. 3,32,32")
    return shape


def build_lanes(args: argparse.Namespace, seed: Optional[int] = None):  # -> engine.inspect.ModelLanes
    """The lanes of the command: UserCodeError (their code), ConfigError / ValueError (the flags)."""
    from initviz.engine.inspect import BatchSource, ModelLanes, lane_list
    from initviz.engine.usercode import load_function

    schemes = lane_list(args.lanes)
    if not 0 <= args.seed <= 2**31 - 1:
        raise ValueError(f"--seed: {args.seed} is not allowed; expected 0 to {2**31 - 1}")
    if not (math.isfinite(args.lr) and 0 < args.lr <= 100):
        raise ValueError(f"--lr: {args.lr:g} is not allowed; expected above 0 to 100")
    if not 0 <= args.momentum < 1:
        raise ValueError(f"--momentum: {args.momentum:g} is not allowed; expected 0 to below 1")
    uf, factory = load_function(args.target, "the factory")
    files = (uf.path,)
    if args.batches is not None:
        if args.input_shape is not None:
            raise ValueError("--batches and --input-shape: give one (the batches' own inputs, or random ones of a shape)")
        bf, make = load_function(args.batches, "the batch function")
        files = tuple(dict.fromkeys((uf.path, bf.path)))
        source = BatchSource(make, files=files, name=f"{bf.path.name}:{args.batches.rpartition(':')[2]}")
    elif args.input_shape is not None:
        source = BatchSource(input_shape=_shape(args.input_shape), classes=args.classes, batch_size=args.batch_size, seed=args.seed)
    else:
        raise ValueError("give --batches FILE.py:FUNC, or --input-shape C,H,W (and --classes K) for random inputs")
    return ModelLanes(factory, source, schemes, seed=args.seed if seed is None else seed, lr=args.lr, momentum=args.momentum,
                      optimizer=args.optimizer, files=files, source=args.target)  # fmt: skip


def layer_table(lanes: Any, index: int = 0, step: int = 0) -> str:
    """Per layer of lane ``index`` at ``step``: type, weight layer, the init it looks like, the health figures."""
    from initviz.engine.snapshot import index_at_or_before

    t = lanes.trainers[index]
    recs = list(t.history)
    r = recs[index_at_or_before(recs, step)]
    rows = [("layer", "type", "after", "init at build", "act std", "satur.", "dead", "symm.", "|grad W|")]
    for i, (l, g) in enumerate(zip(lanes.layers, t.init_guess)):
        after = l.weight + (" +norm" if l.normed else "") if l.weight else "-"
        rows.append((l.name, l.type_name, after, g.label if g is not None else "-", f"{r.act_std[i]:.3g}",
                     f"{r.saturation[i]:.0%}", f"{r.dead[i]:.0%}", f"{r.symmetry[i]:.2f}", f"{r.grad_norm[i]:.2g}"))  # fmt: skip
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def cmd_inspect(args: argparse.Namespace) -> int:
    from initviz.engine.config import ConfigError
    from initviz.engine.usercode import UserCodeError

    steps = args.steps if args.steps is not None else (20 if args.headless else 0)
    if steps < 0:
        return _fail(f"--steps: {steps} is not allowed; expected 0 or more")
    if not args.headless:
        if args.out is not None:
            return _fail("--out: the files are written with --headless (in the window: File > Export)")
        from initviz.ui.inspect_window import run_inspect_window

        return run_inspect_window(args, steps)
    out = Path(args.out if args.out is not None else "inspect")
    if out.exists() and not out.is_dir():
        return _fail(f"--out: {out} exists and is not a folder")
    pngs = () if args.no_slides else tuple(f"{s}.png" for s in SLIDES)
    existing = [out / n for n in ("stats.json", "stats.csv", *pngs) if (out / n).exists()]
    if existing and not args.force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        return _fail(f"--out: {existing[0]} exists{more}; add --force to replace it")
    t0 = time.perf_counter()
    try:
        lanes = build_lanes(args)
        if steps:
            lanes.step(steps)
    except UserCodeError as exc:
        return _fail(str(exc), exc.traceback)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    return write_headless(args, lanes, out, steps, t0)


def write_headless(args: argparse.Namespace, lanes: Any, out: Path, steps: int, t0: float) -> int:
    """stats.json/.csv and the slide PNGs into ``out``; the report on stdout."""
    import os

    from initviz.engine.inspect import write_stats

    try:
        files = write_stats(out, lanes)
    except OSError as exc:
        print(f"initviz inspect: error: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.no_slides:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        err = _slides(args, lanes, out, files)
        if err:
            return err
    if not args.quiet:
        from initviz.engine.inspect import health_text

        print(f"{args.target}: {len(lanes.layers)} probe points; batches: {lanes.batches.describe()}")
        print(f"\nat init ({lanes.names[0]}):")
        print(layer_table(lanes, 0, 0))
        print()
        print(health_text(lanes))
        print(f"\n{len(lanes)} lane(s), {steps} steps in {time.perf_counter() - t0:.1f} s; wrote " + ", ".join(str(p) for p in files))
    return 0


def _slides(args: argparse.Namespace, lanes: Any, out: Path, files: list) -> int:
    """The slide PNGs through the export path (ui.headless.run_export); 0, or 1 on failure."""
    from initviz.ui.export import ExportError
    from initviz.ui.headless import ExportPlan, run_export

    plan = ExportPlan(out, ["png"], list(SLIDES), (1920, 1080), 1.0, None, 10.0, (None, None), 1,
                      f"{Path(args.target).name}: step {lanes.step_count}", False)  # fmt: skip
    try:
        files += run_export(plan, lanes.names, lanes.trainers, quiet=args.quiet)
    except ExportError as exc:
        print(f"initviz inspect: error: {exc}", file=sys.stderr)
        return 1
    return 0
