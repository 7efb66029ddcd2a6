"""``initviz sweep``: train a weight-variance x depth grid and write the phase diagram.

Writes into --out: sweep.json (schema initviz.sweep/1), sweep.csv (one row per cell) and
phase.png / phase.svg / phase.pdf (the Phase diagram panel drawn offscreen). Finished cells are
cached in --out/cells, so running the same command again resumes a cancelled sweep.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

FORMATS = ("png", "svg", "pdf")


class GridError(ValueError):
    """A bad grid or option: one line on stderr, exit status 2."""


def parse_grid(text: str, name: str, integer: bool = False) -> tuple:
    """'LO:HI:N' -> N evenly spaced values from LO to HI (a single number is a grid of one)."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            values = [float(parts[0])]
        elif len(parts) == 3:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1 or n > 1000:
                raise GridError(f"{name}: {text!r} has N = {n}; expected 1 to 1000 points")
            if hi < lo:
                raise GridError(f"{name}: {text!r} is empty (HI < LO)")
            values = list(np.linspace(lo, hi, n)) if n > 1 else [lo]
        else:
            raise GridError(f"{name}: {text!r} is not a grid; write LO:HI:N, e.g. 0.5:4:12")
    except ValueError as exc:
        if isinstance(exc, GridError):
            raise
        raise GridError(f"{name}: {text!r} is not a grid; write LO:HI:N with numbers, e.g. 0.5:4:12") from None
    if not all(math.isfinite(v) for v in values):
        raise GridError(f"{name}: {text!r} must be finite numbers")
    if integer:
        ints = sorted(set(int(round(v)) for v in values))
        return tuple(ints)
    return tuple(float(round(v, 10)) for v in values)


def add_parser(sub: Any) -> None:
    """Register ``initviz sweep`` on the CLI's subparsers (cli.py calls this)."""
    from initviz.engine.config import ACTIVATIONS, DATASETS

    p = sub.add_parser(
        "sweep",
        help="train a weight-variance x depth grid and write the phase diagram (JSON, CSV, PNG/SVG/PDF)",
        description="Train one short run per (sigma_w^2, depth) cell through a local process pool or a Dask "
        "cluster and write sweep.json (initviz.sweep/1), sweep.csv and the phase diagram with the critical "
        "line chi_1 = 1 and depth = 6 xi_c. Cells are cached in OUT/cells: the same command resumes.",
    )
    p.add_argument("--activation", choices=ACTIVATIONS, default="tanh")
    p.add_argument("--sigma-w2", default="0.5:4:12", metavar="LO:HI:N", help="weight variances (default 0.5:4:12)")
    p.add_argument("--sigma-b2", type=float, default=0.05, metavar="V", help="bias variance (default 0.05)")
    p.add_argument("--depth", default="2:29:10", metavar="LO:HI:N", help="depths (default 2:29:10)")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--steps", type=int, default=300, help="training steps per cell (default 300)")
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs initviz[dask])")
    p.add_argument("--theory-only", action="store_true", help="skip training: the theory curves alone")
    p.add_argument("--format", default="png,svg,pdf", metavar="LIST", help="diagram formats: png,svg,pdf (default all)")
    p.add_argument("--out", type=Path, default=Path("sweep"), help="output folder (default: sweep)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=command)


def _fail(message: str) -> int:
    print(f"initviz sweep: error: {message}", file=sys.stderr)
    return 2


def command(args: argparse.Namespace) -> int:
    from initviz.engine.config import ConfigError
    from initviz.engine.sweep import Sweep, SweepResult, SweepSpec, cells_csv, sweep_theory

    try:
        sigma_w2 = parse_grid(args.sigma_w2, "--sigma-w2")
        depths = parse_grid(args.depth, "--depth", integer=True)
        if not math.isfinite(args.sigma_b2) or args.sigma_b2 < 0:
            raise GridError(f"--sigma-b2: {args.sigma_b2:g} is not allowed; expected 0 or more")
        if args.workers < 0:
            raise GridError(f"--workers: {args.workers} is not allowed; expected 0 (one per core) or more")
        formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
        bad = [f for f in formats if f not in FORMATS]
        if bad:
            raise GridError(f"--format: {bad[0]!r} is not a format; choose from {','.join(FORMATS)}")
        spec = SweepSpec(sigma_w2=sigma_w2, depths=depths, sigma_b2=(float(args.sigma_b2),), activation=args.activation,
                         width=args.width, dataset=args.dataset, steps=args.steps, lr=args.lr, seed=args.seed).validate()  # fmt: skip
    except GridError as exc:
        return _fail(str(exc))
    except ConfigError as exc:
        flag = {"sigma_w2": "--sigma-w2", "depths": "--depth", "sigma_b2": "--sigma-b2"}.get(exc.field, f"--{exc.field.replace('_', '-')}")
        return _fail(f"{flag}: {exc.value!r} is not allowed; {exc.allowed}")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    theory = sweep_theory(spec.activation, spec.sigma_w2, spec.sigma_b2[0])
    say(f"theory: critical sigma_w2 = {theory.critical_sigma_w2:.4g} at sigma_b2 = {spec.sigma_b2[0]:g}")
    if args.theory_only:
        result = SweepResult(spec, ())
    else:
        sweep = Sweep(spec, cache=out / "cells")
        client = None
        executor: Any = None
        if not sweep.missing():
            pass  # every cell cached: no workers to start
        elif args.scheduler:
            from initviz.engine.sweep import dask_executor

            try:
                client, executor = dask_executor(args.scheduler)
            except ConfigError as exc:
                return _fail(f"--scheduler: {exc.allowed}")
            except OSError as exc:
                print(f"initviz sweep: error: cannot reach the scheduler {args.scheduler}: {exc}", file=sys.stderr)
                return 1
        else:
            from initviz.engine.sweep import local_executor

            executor = local_executor(args.workers or None)
        started = time.perf_counter()

        def progress(cell: Any, done: int, total: int) -> None:
            fresh = [c for c in sweep.results_so_far if not c.cached]
            elapsed = time.perf_counter() - started
            left = elapsed / len(fresh) * (total - done) if fresh else math.nan
            tail = f", about {left:.0f} s left" if math.isfinite(left) and done < total else ""
            say(f"cell {done}/{total}: sigma_w2 {cell.sigma_w2:g}, depth {cell.depth}: test accuracy "
                f"{cell.test_accuracy:.3f}{' (cached)' if cell.cached else ''}{tail}")  # fmt: skip

        try:
            result = sweep.run(executor, on_result=progress)
        except KeyboardInterrupt:
            sweep.cancel()
            say("cancelled: finished cells are cached; run the same command to resume")
            raise
        finally:
            if client is not None:
                client.close()
            elif executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
    written = [_write(out / "sweep.json", result.to_json(theory).encode()), _write(out / "sweep.csv", cells_csv(result).encode())]
    if formats:
        written += _diagram(result, theory, formats, out)
    if not args.quiet:
        print(f"{len(result.cells)} cells in {time.perf_counter() - t0:.1f} s; wrote " + ", ".join(str(p) for p in written))
    return 0


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _diagram(result: Any, theory: Any, formats: list[str], out: Path) -> list[Path]:
    from initviz.ui.headless import ensure_app

    ensure_app()
    from initviz.ui.panels.phase import PhasePanel, render_panel

    panel = PhasePanel()
    try:
        panel.set_result(result, theory)
        return [_write(out / f"phase.{f}", render_panel(panel, f)) for f in formats]
    finally:
        # deleted now, while the QApplication lives (a panel left to interpreter exit can crash it)
        from PySide6 import QtCore

        panel.deleteLater()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        QtCore.QCoreApplication.processEvents()


__all__ = ["add_parser", "command", "parse_grid"]
