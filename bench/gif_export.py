"""Time and memory of a GIF export: N frames of one panel (default 100 frames at 1280 x 720).

Trains the scenario headless (not timed), then renders the animation exactly as
``initviz export --format gif`` does and prints the seconds the GIF took and the process's peak
RSS. Target (issue 9): 100 frames of one panel at 1280 x 720 in under 20 s on a 2-core machine.

    python bench/gif_export.py                                   # overview, four_classic_inits
    python bench/gif_export.py --panel gradients --frames 100 --size 1280x720
    python bench/gif_export.py --panel all                       # every panel in turn
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="four_classic_inits")
    p.add_argument("--panel", default="overview", help="a panel id, or 'all'")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", default="1280x720")
    args = p.parse_args()

    from initviz import registry
    from initviz.engine.lanes import Lanes
    from initviz.engine.scenarios import get_scenario
    from initviz.ui.export import SlideCanvas, SlideOptions, gif_bytes, history_frames, parse_size
    from initviz.ui.headless import ensure_app, frame_from_trainers

    ensure_app()
    scenario = get_scenario(args.scenario)
    configs = list(scenario.lane_configs) if scenario.is_comparison else [scenario.config]
    lanes = Lanes(configs, list(scenario.lane_names) if scenario.lane_names else None)
    lanes.step(args.steps)
    frame = frame_from_trainers(lanes.names, lanes.trainers)
    frames = history_frames(frame, max_frames=args.frames)
    w, h = parse_size(args.size)
    options = SlideOptions(w, h)
    ids = registry.ids() if args.panel == "all" else (args.panel,)
    print(f"{args.scenario}: {len(lanes.names)} lanes, depth {configs[0].depth}, {args.steps} steps; "
          f"{len(frames)} frames at {w}x{h}")  # fmt: skip
    for panel_id in ids:
        cls = registry.get(panel_id).load()
        canvas = SlideCanvas([cls])
        t0 = time.perf_counter()
        try:
            data = gif_bytes(canvas, frames, options)
        finally:
            canvas.dispose()
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"{panel_id:>14}: {seconds:6.1f} s  ({seconds / len(frames) * 1000:.0f} ms per frame), "
              f"{len(data) / 1e6:.1f} MB GIF, peak RSS {peak:.0f} MB", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
