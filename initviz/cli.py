"""Command line: `initviz` opens the window; `initviz run` trains headless and writes stats.

Imports Qt only inside the command that opens a window, so `initviz run` works on a machine
with no display and no Qt at all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from initviz import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    from initviz.engine.config import ACTIVATIONS, ARCHS, DATASETS, DEVICES, INIT_SCHEMES, MODES, NONLINEARITIES, OPTIMIZERS

    g = p.add_argument_group("run configuration (defaults: the config file, else initviz's defaults)")
    g.add_argument("--config", type=Path, help="a JSON run configuration; flags given here override it")
    g.add_argument("--scenario", metavar="ID", help="start from a guided scenario (see: initviz scenarios); flags override it")
    g.add_argument("--init", choices=INIT_SCHEMES, help="weight init scheme")
    g.add_argument("--std", type=float, help="std of the 'normal' scheme")
    g.add_argument("--value", type=float, help="value of the 'constant' scheme")
    g.add_argument("--bound", type=float, help="bound a of the 'uniform' scheme, U(-a, a)")
    g.add_argument("--gain", type=float, help="gain of xavier_* and orthogonal")
    g.add_argument("--mode", choices=MODES, help="fan mode of kaiming_*")
    g.add_argument("--nonlinearity", choices=NONLINEARITIES, help="gain nonlinearity of kaiming_* (auto: the activation)")
    g.add_argument("--bias-init", type=float, help="constant every bias starts at")
    g.add_argument("--activation", choices=ACTIVATIONS)
    g.add_argument("--depth", type=int, help="number of hidden layers (1-200)")
    g.add_argument("--width", type=int, help="units per hidden layer")
    g.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None, help="BatchNorm before each activation")
    g.add_argument("--dropout", type=float, help="dropout probability after each activation")
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--momentum", type=float, help="SGD momentum")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--dataset", choices=DATASETS)
    g.add_argument("--input-dim", type=int, help="gaussian dataset: input dimension D (inputs N(0, I_D))")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", choices=DEVICES)
    g.add_argument("--arch", choices=ARCHS, help="mlp; resmlp: residual blocks h + A * Linear(phi(norm(h))); "
                   "cnn: conv 3x3 layers on the 8x8 digits (--width = first stage's channels)")
    g.add_argument("--residual-scale", type=_residual_scale, metavar="A",
                   help="resmlp's branch scale A: a number, 1/sqrt(depth), or fixup (A = 1, branches zero-initialised)")
    g.add_argument("--record-every", type=int, help="measure every k-th step (default 1: every step)")
    g.add_argument("--test-every", type=int, help="test accuracy on steps that are multiples of k")


_INIT_FLAGS = ("std", "value", "bound", "gain", "mode", "nonlinearity")
_RUN_FLAGS = (
    "activation", "depth", "width", "batchnorm", "dropout", "optimizer", "lr", "momentum",
    "batch_size", "dataset", "seed", "device", "record_every", "test_every", "input_dim",
    "arch", "residual_scale",
)  # fmt: skip


def _residual_scale(text: str) -> "float | str":
    """--residual-scale: a number as a float, a name as given (RunConfig validates both)."""
    try:
        return float(text)
    except ValueError:
        return text


def config_from_args(args: argparse.Namespace):  # -> RunConfig
    """The run configuration: defaults, then the --config file, then explicit flags."""
    from initviz.engine.config import RunConfig

    data: dict[str, Any] = {}
    if getattr(args, "scenario", None) is not None:
        from initviz.engine.scenarios import get_scenario

        data = get_scenario(args.scenario).config.to_dict()
    if args.config is not None:
        data = _config_file(args.config)
    init = data.get("init", {})
    init = {"scheme": init} if isinstance(init, str) else dict(init) if isinstance(init, dict) else init
    if not isinstance(init, dict) and (args.init is not None or any(getattr(args, n) is not None for n in _INIT_FLAGS)):
        raise _UsageError(f"--config: \"init\" must be a scheme name or an object to combine it with --init and the like, not {_json_kind(init)}")
    if args.init is not None:
        init["scheme"] = args.init
    for name in _INIT_FLAGS:
        if getattr(args, name) is not None:
            init[name] = getattr(args, name)
    if init:
        data["init"] = init
    if args.bias_init is not None:
        data["bias_init"] = args.bias_init
    for name in _RUN_FLAGS:
        if getattr(args, name) is not None:
            data[name] = getattr(args, name)
    return RunConfig.from_dict(data)


class _UsageError(Exception):
    pass


def _json_kind(value: Any) -> str:
    return "null" if value is None else "a list" if isinstance(value, list) else "a number" if isinstance(value, (int, float)) else type(value).__name__


def _config_file(path: Path) -> dict:
    """A --config file's settings: a regular, UTF-8 JSON file of bounded size and nesting."""
    from initviz.engine.safe_io import InputFileError, load_json_file

    try:
        data = load_json_file(path, "--config:")
    except InputFileError as exc:
        raise _UsageError(str(exc)) from None
    if not isinstance(data, dict):
        raise _UsageError(f"--config: {path} must hold a JSON object of run settings")
    return data


def run_configs(args: argparse.Namespace) -> tuple[list, Optional[list[str]]]:
    """The lanes of a run/export (one config, a scenario's lanes, or --compare's), checked:
    (one RunConfig per lane, the lanes' names or None to name them after their inits)."""
    from initviz.engine.lanes import compare_configs, scheme_list

    if args.steps < 0:
        raise _UsageError(f"--steps: {args.steps} is not allowed; expected 0 or more")
    config = config_from_args(args)
    configs, names = [config], None
    if args.scenario is not None and args.compare is None:
        from initviz.engine.scenarios import get_scenario

        scenario = get_scenario(args.scenario)
        if scenario.is_comparison:  # the scenario's lanes, with any flags applied to each
            base = scenario.config
            configs = [
                config.replace(init=c.init, **{f: v for f, v in vars(c).items() if f != "init" and v != getattr(base, f)})
                for c in scenario.lane_configs
            ]
            names = list(scenario.lane_names) if scenario.lane_names else None
    if args.compare is not None:
        if args.init is not None:
            raise _UsageError("--compare and --init: give the schemes to compare in --compare only")
        configs = compare_configs(config, scheme_list(args.compare))
    from initviz.engine.budget import check_memory

    check_memory(configs)  # MemoryBudgetError (a ConfigError): refused before anything is built
    return configs, names


def _cmd_run(args: argparse.Namespace) -> int:
    from initviz.engine import ConfigError
    from initviz.engine.lanes import Lanes

    try:
        configs, names = run_configs(args)
    except (ConfigError, _UsageError) as exc:
        return _fail(args, str(exc))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _fail(args, f"--out: {out} exists and is not a folder")

    t0 = time.perf_counter()
    lanes = Lanes(configs, names)
    chunk = max(1, args.steps // 20)
    show_progress = not args.quiet and sys.stderr.isatty()
    done = 0
    while done < args.steps:
        n = min(chunk, args.steps - done)
        lanes.step(n)
        done += n
        if show_progress:
            r = lanes.latest[0]
            print(f"\rstep {done}/{args.steps}  loss {r.loss:.4g}  acc {r.accuracy:.0%}", end="", file=sys.stderr, flush=True)
    if show_progress and args.steps:
        print(file=sys.stderr)
    try:
        paths = _write_lanes(out, lanes, single=len(configs) == 1 and args.compare is None)
    except OSError as exc:
        print(f"initviz run: error: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        from initviz.engine.diagnosis import diagnose

        print(f"{len(lanes.trainers[0].history)} records per lane in {time.perf_counter() - t0:.1f} s")
        for name, t in zip(lanes.names, lanes.trainers):
            c, last = t.config, t.latest
            scale = "Fixup" if c.fixup else f"A = {c.residual_scale:g}" if isinstance(c.residual_scale, (int, float)) else f"A = {c.residual_scale}"
            arch = f"resmlp ({scale}), " if c.arch == "resmlp" else "cnn, " if c.arch == "cnn" else ""
            print(f"{name} + {c.activation}, {arch}depth {c.depth}, width {c.width}: final loss {last.loss:.4g}, "
                  f"batch accuracy {last.accuracy:.0%}")
            for line in diagnose(last, c):
                print(f"  - {line}")
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _write_lanes(out: Path, lanes, single: bool) -> list[Path]:  # lanes: initviz.engine.lanes.Lanes
    """stats.json/.csv of a single run, or of every lane ({"lanes": [...]}, CSV with a lane column)."""
    from initviz.engine.report import lanes_report, write_run
    from initviz.engine.snapshot import Snapshot

    # A very long run is thinned by the history's memory bound (record 0 and the recent past
    # stay at full resolution); "steps" says which steps the arrays hold.
    runs = [(v.name, v.config, v.records, v.theory, v.layer_names) for v in Snapshot.of(lanes).lanes]
    return write_run(out, *lanes_report(runs, single))


def _cmd_export(args: argparse.Namespace) -> int:
    """Train headless, then render panels (PNG/SVG/PDF/GIF) and data (JSON/CSV) with no window."""
    from initviz.engine import ConfigError

    if args.run is not None:
        return _export_saved(args)
    args.steps = 200 if args.steps is None else args.steps
    try:
        configs, names = run_configs(args)
    except (ConfigError, _UsageError) as exc:
        return _fail(args, str(exc))
    import os

    # No window: Qt's offscreen platform, set before Qt starts (a QT_QPA_PLATFORM already set wins).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from initviz.ui.headless import export_command

    return export_command(args, configs, lambda message: _fail(args, message), names)


def _export_saved(args: argparse.Namespace) -> int:
    """``export --run FILE``: a saved run's panels and data, through the bounded loader."""
    import os

    given = [f"--{n.replace('_', '-')}" for n in ("config", "scenario", "compare", "init", "bias_init", *_INIT_FLAGS, *_RUN_FLAGS)
             if getattr(args, n, None) is not None]  # fmt: skip
    if given:
        return _fail(args, f"--run: the run's settings come from the file; drop {', '.join(given)}")
    if args.steps is not None and args.steps < 0:
        return _fail(args, f"--steps: {args.steps} is not allowed; expected 0 or more")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from initviz.ui.headless import export_saved_run

    return export_saved_run(args, args.run, lambda message: _fail(args, message))


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from initviz.engine.scenarios import load_scenarios

    scenarios = load_scenarios()
    width = max(len(s.id) for s in scenarios)
    for s in scenarios:
        lanes = f"  [{len(s.lane_configs)} lanes]" if s.is_comparison else ""
        print(f"{s.id:<{width}}  {s.title}{lanes}")
        if args.verbose:
            print(f"{'':<{width}}  {s.explanation}")
            print(f"{'':<{width}}  Look for: {s.look_for}\n")
    return 0


def _fail(args: argparse.Namespace, message: str) -> int:
    message = " ".join(str(message).split("\n")).replace("\r", " ")  # always one line
    print(f"initviz {args.command}: error: {message}", file=sys.stderr)
    return 2


def _cmd_app(args: argparse.Namespace) -> int:
    from initviz.engine import ConfigError

    config = None
    if any(getattr(args, n, None) is not None for n in ("config", "scenario", "init", "bias_init", *_INIT_FLAGS, *_RUN_FLAGS)):
        try:
            config = config_from_args(args)
        except (ConfigError, _UsageError) as exc:
            return _fail(args, str(exc))
    from initviz.ui.app import run_app

    if getattr(args, "scenario", None) is not None:  # the scenario's lanes, the flags applied to each
        from initviz.engine.scenarios import get_scenario

        return run_app(config, scenario=get_scenario(args.scenario))
    return run_app(config)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="initviz", description="Watch what weight initialisation does to a deep network.")
    p.add_argument("--version", action="version", version=f"initviz {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="train headless and write stats.json and stats.csv",
                         description="Train headless and write per-step, per-layer statistics as JSON and CSV.")
    _add_config_flags(run)
    run.add_argument("--steps", type=int, default=200, help="training steps (0 = only the record at init); default 200")
    run.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    run.add_argument("--compare", metavar="SCHEMES",
                     help="train up to 4 init schemes side by side in lockstep, e.g. zeros,normal,xavier_normal,kaiming_normal "
                          "(other flags are shared); the JSON then holds {\"lanes\": [...]}")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(func=_cmd_run)

    from initviz import registry  # Qt-free: the one list of panels

    ex = sub.add_parser("export", help="train headless and export panels as PNG/SVG/PDF/GIF and data as JSON/CSV",
                        description="Train headless (no window), then write slides of the panels and the run's data into --out: "
                                    "<panel>.<ext> per panel and format, stats.json/stats.csv for data. Same seed, same files.")
    _add_config_flags(ex)
    ex.add_argument("--steps", type=int, default=None,
                    help="training steps (0 = only the record at init); default 200, or with --run 0 (steps to train on)")
    ex.add_argument("--run", type=Path, metavar="FILE.initviz",
                    help="export a saved run (File > Save run) instead of training one; the file is checked before anything is built")
    ex.add_argument("--out", type=Path, default=Path("export"), help="output folder (default: export)")
    ex.add_argument("--compare", metavar="SCHEMES", help="train up to 4 init schemes side by side, as in initviz run")
    ex.add_argument("--format", default="png", metavar="LIST",
                    help="comma-separated: png,svg,pdf,gif,json,csv (default png)")
    ex.add_argument("--panels", default="all", metavar="LIST",
                    help=registry.help_text() + "; default all")
    ex.add_argument("--lanes", default=None, metavar="LIST",
                    help="the lanes the slides show: lane names or numbers from 1, comma-separated, e.g. 1,3 (default: all)")
    ex.add_argument("--size", default="1920x1080", metavar="WxH", help="slide size in pixels (default 1920x1080)")
    ex.add_argument("--scale", type=float, default=1.0, help="pixels per slide pixel in PNG/GIF, e.g. 2 for 3840x2160 (default 1)")
    ex.add_argument("--zoom", type=float, default=None,
                    help="text and line size as a multiple of the screen's on a 1080-px-high slide (default: 2 for a "
                         "panel, 1 for the dashboard, less when one histogram per layer would not fit otherwise)")
    ex.add_argument("--title", default=None, help="slide title (default: panel name and step; empty: no header)")
    ex.add_argument("--fps", type=float, default=10.0, help="GIF frames per second (default 10)")
    ex.add_argument("--range", metavar="A:B", default=None, help="GIF step range, e.g. 0:100 (default: the whole run)")
    ex.add_argument("--frames", type=int, default=100, help="at most this many GIF frames, evenly spaced (default 100)")
    ex.add_argument("--timing", action="store_true",
                    help="write the measured cost per step into stats.json (it differs from run to run; default null)")
    ex.add_argument("--force", action="store_true", help="replace files that already exist in --out (default: refuse)")
    ex.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ex.set_defaults(func=_cmd_export)

    sc = sub.add_parser("scenarios", help="list the guided scenarios",
                        description="List the guided scenarios (use one with: initviz run --scenario ID).")
    sc.add_argument("-v", "--verbose", action="store_true", help="also print each explanation and what to look for")
    sc.set_defaults(func=_cmd_scenarios)

    from initviz import sweep_cli  # initviz sweep: the phase diagram

    sweep_cli.add_parser(sub)

    from initviz import inspect_cli  # initviz inspect: your own model

    inspect_cli.add_parser(sub)

    app = sub.add_parser("app", help="open the window (the default with no command)",
                         description="Open the initviz window, optionally on a given configuration.")
    _add_config_flags(app)
    app.set_defaults(func=_cmd_app)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["app", *argv]  # `initviz --scenario ID` (no command): the window's flags
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["app", *argv])
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
