"""Cells per second of a phase-diagram sweep with 1, 2 and N local workers and a Dask LocalCluster.

Each executor is started and warmed (one cell per worker) before the clock starts, so the figures
are the steady rate; the start-up time (spawning workers, importing torch) is printed beside it.
The same cells run every time (no cache), so every executor does identical work.

    python bench/sweep_scaling.py                  # 16 cells x 100 steps, N = cores
    python bench/sweep_scaling.py --workers 8 --cells 64
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import time

import numpy as np

from initviz.engine.sweep import Sweep, SweepSpec, local_executor, run_cell


def spec_for(cells: int, steps: int) -> SweepSpec:
    n_w = max(1, cells // 4)
    return SweepSpec(sigma_w2=tuple(float(v) for v in np.round(np.linspace(0.5, 4.0, n_w), 6)), depths=(4, 8, 12, 16), steps=steps)


def warm(executor: cf.Executor, n: int, spec: SweepSpec) -> None:
    cfg = spec.base_config(1.0, 0.05, 2)
    list(cf.as_completed([executor.submit(run_cell, cfg.to_json(), 1, 1.0, 0.05) for _ in range(n)]))


def measure(name: str, make, n: int, spec: SweepSpec) -> tuple[float, float]:
    t0 = time.perf_counter()
    executor, close = make()
    try:
        warm(executor, n, spec)
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = Sweep(spec).run(executor)
        rate = len(result.cells) / (time.perf_counter() - t1)
    finally:
        close()
    # a cell's own wall time inside its worker: it grows when workers compete for the cores
    per_cell = float(np.mean([c.seconds for c in result.cells]))
    print(f"{name:<28} {rate:6.2f} cells/s   {per_cell:5.2f} s per cell in its worker   (start-up {startup:4.1f} s)", flush=True)
    return rate, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="N (default: cores)")
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    spec = spec_for(args.cells, args.steps)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{spec.n_cells} cells: tanh, width {spec.width}, {spec.dataset}, depths {spec.depths}, {spec.steps} steps; "
          f"{os.cpu_count()} cores, load average {load:.1f} before the start")  # fmt: skip

    def pool(n: int):
        def make():
            ex = local_executor(n)
            return ex, lambda: ex.shutdown(wait=True)

        return make

    counts = sorted({1, 2, args.workers})
    for n in counts:
        measure(f"process pool, {n} worker{'s' if n > 1 else ''}", pool(n), n, spec)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask LocalCluster: skipped (pip install 'initviz[dask]')")
        return

    def dask():
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client.get_executor(pure=False), close

    measure(f"dask LocalCluster, {args.workers} workers", dask, args.workers, spec)


if __name__ == "__main__":
    main()
