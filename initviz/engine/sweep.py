"""Phase-diagram sweeps: a grid of short training runs over weight variance x depth (x bias variance).

Each cell is one run of the normal engine (:class:`initviz.engine.trainer.Trainer`): hidden and
output weights N(0, sigma_w2 / width) (init ``normal``; exact per fan-in when the input has
``width`` features, as digits at width 64 does: otherwise layer 1 alone has another scale), biases
N(0, sigma_b2) (``bias_std``), trained ``steps`` SGD steps. Its result is small and strict JSON.

Cells run through any ``concurrent.futures.Executor``: by default a local process pool (one worker
per core, started with ``spawn`` so a parent that holds Qt or torch threads is never forked, torch
limited to one thread per cell), or a Dask cluster through ``Client(address).get_executor()``.
Results stream back as cells finish; finished cells are cached on disk under their config's hash,
so a cancelled sweep resumes where it stopped, and the same spec gives the same numbers.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np

from initviz.engine.config import ACTIVATIONS, DATASETS, MAX_DEPTH, MAX_WIDTH, ConfigError, InitSpec, RunConfig

SCHEMA = "initviz.sweep/1"
CELL_VERSION = 1  # part of every cell's hash: bump when a cell's result would change meaning
MAX_CELLS = 100_000


def _floats(name: str, values: Sequence[Any], lo: float, hi: float) -> tuple[float, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise ConfigError(name, v, f"expected numbers from {lo:g} to {hi:g}")
        out.append(float(v))
    if not out:
        raise ConfigError(name, list(values), "expected at least one value")
    return tuple(out)


@dataclass(frozen=True)
class SweepSpec:
    """The grid and the training budget of every cell (everything else: RunConfig's defaults)."""

    sigma_w2: tuple[float, ...] = tuple(float(v) for v in np.round(np.linspace(0.5, 4.0, 12), 6))
    depths: tuple[int, ...] = (2, 5, 8, 11, 14, 17, 20, 23, 26, 29)  # evenly spaced axes: the panel's image
    sigma_b2: tuple[float, ...] = (0.05,)
    activation: str = "tanh"
    width: int = 64
    dataset: str = "digits"
    steps: int = 300
    lr: float = 0.01
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("sigma_w2", "depths", "sigma_b2"):
            value = getattr(self, name)
            if isinstance(value, (int, float)):
                value = (value,)
            object.__setattr__(self, name, tuple(value))

    def validate(self) -> "SweepSpec":
        _floats("sigma_w2", self.sigma_w2, 1e-6, 1e4)
        _floats("sigma_b2", self.sigma_b2, 0.0, 1e4)
        for d in self.depths or (None,):
            if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DEPTH:
                raise ConfigError("depths", d, f"expected whole numbers from 1 to {MAX_DEPTH}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError("activation", self.activation, "choose one of " + ", ".join(ACTIVATIONS))
        if self.dataset not in DATASETS:
            raise ConfigError("dataset", self.dataset, "choose one of " + ", ".join(DATASETS))
        if isinstance(self.width, bool) or not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise ConfigError("width", self.width, f"expected a whole number from 1 to {MAX_WIDTH}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 0 <= self.steps <= 1_000_000:
            raise ConfigError("steps", self.steps, "expected a whole number from 0 to 1000000")
        if self.n_cells > MAX_CELLS:
            raise ConfigError("grid", self.n_cells, f"at most {MAX_CELLS} cells")
        self.base_config(self.sigma_w2[0], self.sigma_b2[0], self.depths[0])  # lr, batch, seed checked
        return self

    @property
    def n_cells(self) -> int:
        return len(self.sigma_w2) * len(self.depths) * len(self.sigma_b2)

    def cells(self) -> list[tuple[float, float, int]]:
        """(sigma_w2, sigma_b2, depth) of every cell: shallow first, so the picture fills bottom-up."""
        return [(w, b, d) for d in self.depths for b in self.sigma_b2 for w in self.sigma_w2]

    def base_config(self, sigma_w2: float, sigma_b2: float, depth: int) -> RunConfig:
        """The run of one cell (the config a lane loads to watch that cell train)."""
        return RunConfig(
            dataset=self.dataset,
            depth=int(depth),
            width=self.width,
            activation=self.activation,
            init=InitSpec("normal", std=math.sqrt(sigma_w2 / self.width)),
            bias_std=math.sqrt(sigma_b2),
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            record_every=max(1, self.steps),
            test_every=max(1, self.steps),
        ).validate()

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("sigma_w2", "depths", "sigma_b2"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SweepSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(key, data[key], "unknown sweep setting; known: " + ", ".join(sorted(known)))
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}).validate()


PRESETS: dict[str, SweepSpec] = {
    # 120 cells, ~100 s of CPU: about a minute on 2 idle cores (README, "Phase diagram")
    "quick": SweepSpec(),
    "medium": SweepSpec(  # 288 cells, deeper: the chaotic side's frontier comes into view
        sigma_w2=tuple(float(v) for v in np.round(np.linspace(0.25, 4.5, 18), 6)),
        depths=tuple(range(5, 81, 5)),
        steps=500,
    ),
    "paper": SweepSpec(  # Schoenholz et al. 2017's range, coarser: a cluster's job
        sigma_w2=tuple(float(v) for v in np.round(np.linspace(1.0, 4.0, 31), 6)),
        depths=tuple(range(10, 301, 10)),
        width=128,
        steps=1000,
    ),
}


@dataclass(frozen=True)
class CellResult:
    """One trained cell. NaN where a value does not exist (a diverged loss); JSON writes null."""

    sigma_w2: float
    sigma_b2: float
    depth: int
    train_accuracy: float
    test_accuracy: float
    loss: float  # final mean cross-entropy on the whole training split
    initial_loss: float  # the same at initialisation
    diverged: bool
    grad_ratio: float  # |dL/dW_1| / |dL/dW_L| at init (first batch): < 1 vanishing, > 1 exploding
    seconds: float
    chance: float  # accuracy of guessing (1 / classes)
    key: str = ""
    cached: bool = field(default=False, compare=False)

    @property
    def trainability(self) -> float:
        """Test accuracy above chance, scaled to 0 (chance or worse) .. 1 (perfect)."""
        if not math.isfinite(self.test_accuracy):
            return math.nan
        return max(0.0, (self.test_accuracy - self.chance) / (1.0 - self.chance))

    @property
    def loss_drop(self) -> float:
        """1 - final / initial loss: 0 no progress, 1 all of it; NaN when diverged."""
        if not (math.isfinite(self.loss) and math.isfinite(self.initial_loss)) or self.initial_loss <= 0:
            return math.nan
        return 1.0 - self.loss / self.initial_loss

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("cached")
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> "CellResult":
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name == "cached":
                continue
            v = data[f.name]
            if f.type in ("float", float):
                v = math.nan if v is None else float(v)
            kwargs[f.name] = v
        return cls(**kwargs, cached=cached)


def cell_key(config: RunConfig, steps: int) -> str:
    """The cache name of a cell: a hash of everything that decides its result."""
    text = json.dumps({"v": CELL_VERSION, "steps": steps, "config": config.to_dict()}, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_cell(config_json: str, steps: int, sigma_w2: float, sigma_b2: float, torch_threads: int = 1) -> dict:
    """Train one cell and return its result as a dict (what crosses a process or the network).

    Module-level and taking only plain values, so a process pool or a Dask worker can import it.
    ``torch_threads`` > 0 sets torch's thread count in the worker (0: leave it).
    """
    import torch

    from initviz.engine.trainer import Trainer

    if torch_threads > 0 and torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)
    t0 = time.perf_counter()
    config = RunConfig.from_json(config_json)
    trainer = Trainer(config)
    rec0 = trainer.latest
    g = np.asarray(rec0.grad_norm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_ratio = float(g[0] / g[-1]) if g.size else math.nan

    def full_train() -> tuple[float, float]:
        return trainer.evaluate(trainer.data.x_train, trainer.data.y_train)

    initial_loss, _ = full_train()
    if steps > 0:
        trainer.step(steps)
    loss, train_acc = full_train()
    test_acc = trainer.test_accuracy()
    diverged = trainer.diverged_at is not None or not math.isfinite(loss)
    return {
        "sigma_w2": float(sigma_w2),
        "sigma_b2": float(sigma_b2),
        "depth": config.depth,
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "loss": loss,
        "initial_loss": initial_loss,
        "diverged": bool(diverged),
        "grad_ratio": grad_ratio,
        "seconds": time.perf_counter() - t0,
        "chance": 1.0 / trainer.data.info.n_classes,
        "key": cell_key(config, steps),
    }


def _strict_loads(text: str) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not strict JSON")

    return json.loads(text, parse_constant=no_constants)


class CellCache:
    """Finished cells as strict JSON files named by their key, in one folder."""

    def __init__(self, folder: os.PathLike | str) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Optional[CellResult]:
        p = self.path(key)
        try:
            data = _strict_loads(p.read_text(encoding="utf-8"))
            result = CellResult.from_dict(data, cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or unreadable: the cell runs again
        return result if result.key == key else None

    def put(self, result: CellResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        p = self.path(result.key)
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(result.to_dict(), allow_nan=False, indent=1), encoding="utf-8")
        os.replace(tmp, p)  # atomic: a cancelled sweep never leaves half a file


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def local_executor(workers: Optional[int] = None) -> cf.ProcessPoolExecutor:
    """A process pool of ``workers`` (default: one per core), spawned, one torch thread each."""
    import multiprocessing

    n = workers or os.cpu_count() or 1
    return cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)


def dask_executor(address: str) -> tuple[Any, cf.Executor]:
    """(client, executor) for the Dask scheduler at ``address`` (needs ``pip install initviz[dask]``).

    The workers must have initviz installed (they import :func:`run_cell`). Close the client when done.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("scheduler", address, "needs Dask: pip install 'initviz[dask]'") from None
    client = Client(address, timeout="20s")
    return client, client.get_executor(pure=False)


ProgressFn = Callable[[CellResult, int, int], None]


class Sweep:
    """A spec run cell by cell through an executor; iterate :meth:`results` to get them as they finish.

    ``cache``: a folder (finished cells are read from it and written to it) or None. Cancel from any
    thread with :meth:`cancel`: cells not yet started are dropped, running ones finish and are cached.
    """

    def __init__(self, spec: SweepSpec, cache: Optional[os.PathLike | str] = None) -> None:
        self.spec = spec.validate()
        self.cache = CellCache(cache) if cache is not None else None
        self._cancel = threading.Event()
        self.results_so_far: list[CellResult] = []

    @property
    def total(self) -> int:
        return self.spec.n_cells

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def jobs(self) -> list[tuple[str, str, float, float]]:
        """(key, config JSON, sigma_w2, sigma_b2) of every cell, in running order."""
        out = []
        for w, b, d in self.spec.cells():
            cfg = self.spec.base_config(w, b, d)
            out.append((cell_key(cfg, self.spec.steps), cfg.to_json(), w, b))
        return out

    def missing(self) -> int:
        """How many cells the cache does not hold yet (all of them without a cache)."""
        if self.cache is None:
            return self.total
        return sum(self.cache.get(key) is None for key, *_ in self.jobs())

    def results(self, executor: Optional[cf.Executor] = None, max_in_flight: Optional[int] = None) -> Iterator[CellResult]:
        """Every cell's result, cached ones first, the others as they finish (not in grid order).

        ``executor`` None runs the cells here, one after the other. At most ``max_in_flight`` cells
        are submitted at a time (default: twice the executor's workers), so cancelling is prompt.
        """
        pending = []
        for key, cfg_json, w, b in self.jobs():
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                yield self._keep(hit)
            else:
                pending.append((key, cfg_json, w, b))
        if executor is None:
            for key, cfg_json, w, b in pending:
                if self.cancelled:
                    return
                yield self._keep(self._store(run_cell(cfg_json, self.spec.steps, w, b, torch_threads=0)))
            return
        limit = max_in_flight or 2 * max(1, _workers(executor))
        queue = list(reversed(pending))
        running: set[cf.Future] = set()
        try:
            while queue or running:
                while queue and len(running) < limit and not self.cancelled:
                    key, cfg_json, w, b = queue.pop()
                    running.add(executor.submit(run_cell, cfg_json, self.spec.steps, w, b))
                if not running:
                    return
                done, running = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    yield self._keep(self._store(fut.result()))
                if self.cancelled:
                    queue.clear()
        finally:
            for fut in running:
                fut.cancel()

    def run(self, executor: Optional[cf.Executor] = None, on_result: Optional[ProgressFn] = None) -> "SweepResult":
        """Run (or resume) the whole sweep; ``on_result(result, done, total)`` after every cell."""
        for result in self.results(executor):
            if on_result is not None:
                on_result(result, len(self.results_so_far), self.total)
        return SweepResult(self.spec, tuple(self.results_so_far))

    def _store(self, data: dict) -> CellResult:
        result = CellResult.from_dict(data)
        if self.cache is not None:
            self.cache.put(result)
        return result

    def _keep(self, result: CellResult) -> CellResult:
        self.results_so_far.append(result)
        return result


def _workers(executor: cf.Executor) -> int:
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int):
        return n
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        try:
            return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        except Exception:  # noqa: BLE001 - a best guess only
            return 4
    return os.cpu_count() or 1


# --- theory over the grid and the saved sweep ------------------------------------------------------


@dataclass(frozen=True)
class SweepTheory:
    """What mean-field theory predicts over the grid's sigma_w2 axis (at one sigma_b2)."""

    activation: str
    sigma_b2: float
    critical_sigma_w2: float  # chi_1 = 1
    sigma_w2: np.ndarray  # (n,) the grid's values
    chi1: np.ndarray  # (n,)
    six_xi_c: np.ndarray  # (n,)
    curve_sigma_w2: np.ndarray  # (m,) a fine axis over the same range, for drawing
    curve_six_xi_c: np.ndarray  # (m,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "activation": self.activation,
            "sigma_b2": self.sigma_b2,
            "critical_sigma_w2": _finite_or_none(self.critical_sigma_w2),
            "sigma_w2": [float(v) for v in self.sigma_w2],
            "chi1": [_finite_or_none(v) for v in self.chi1],
            "six_xi_c": [_finite_or_none(v) for v in self.six_xi_c],
        }


def _finite_or_none(v: float) -> Optional[float]:
    v = float(v)
    return v if math.isfinite(v) else None


def sweep_theory(activation: str, sigma_w2: Sequence[float], sigma_b2: float, curve_points: int = 48) -> SweepTheory:
    """chi_1 and 6 xi_c at the grid's sigma_w2, a fine 6 xi_c curve, and the critical sigma_w2."""
    from initviz.engine import phase

    w = np.asarray(sorted(set(float(v) for v in sigma_w2)), dtype=np.float64)
    lo, hi = float(w.min()), float(w.max())
    if hi > lo:  # evenly spaced, or geometrically over a wide range (dense where 6 xi_c turns)
        fine = np.geomspace(lo, hi, curve_points) if hi > 8 * lo > 0 else np.linspace(lo, hi, curve_points)
    else:
        fine = w.copy()
    crit = float(phase.critical_sigma_w2(activation, float(sigma_b2)))
    both = np.concatenate([w, fine] + ([np.array([crit])] if math.isfinite(crit) and lo < crit < hi else []))
    pts = phase.phase_points(activation, both, float(sigma_b2))
    six = 6.0 * pts.xi_c
    order = np.argsort(both[w.size :], kind="stable")
    curve_w = both[w.size :][order]
    curve_six = six[w.size :][order]
    for a in (w, pts.chi1, six, curve_w, curve_six):
        a.setflags(write=False)
    return SweepTheory(activation, float(sigma_b2), crit, w, pts.chi1[: w.size].copy(), six[: w.size].copy(), curve_w, curve_six)


@dataclass(frozen=True)
class SweepResult:
    """A spec and the cells finished so far (any order): what the panel draws and sweep.json holds."""

    spec: SweepSpec
    cells: tuple[CellResult, ...]

    def grid(self, measure: str = "trainability", sigma_b2: Optional[float] = None) -> np.ndarray:
        """(depths, sigma_w2) array of ``measure`` (a CellResult attribute), NaN where not done."""
        b = self.spec.sigma_b2[0] if sigma_b2 is None else sigma_b2
        w_index = {w: i for i, w in enumerate(self.spec.sigma_w2)}
        d_index = {d: i for i, d in enumerate(self.spec.depths)}
        out = np.full((len(self.spec.depths), len(self.spec.sigma_w2)), np.nan)
        for c in self.cells:
            if c.sigma_b2 == b and c.sigma_w2 in w_index and c.depth in d_index:
                out[d_index[c.depth], w_index[c.sigma_w2]] = float(getattr(c, measure))
        return out

    def frontier(self, threshold: float = 0.5, sigma_b2: Optional[float] = None) -> np.ndarray:
        """Per sigma_w2: the deepest depth whose trainability is >= threshold (NaN: none trained)."""
        g = self.grid("trainability", sigma_b2)
        depths = np.asarray(self.spec.depths, dtype=np.float64)
        out = np.full(g.shape[1], np.nan)
        for j in range(g.shape[1]):
            ok = np.isfinite(g[:, j]) & (g[:, j] >= threshold)
            if ok.any():
                out[j] = depths[ok].max()
        return out

    def to_dict(self, theory: Optional[SweepTheory] = None) -> dict[str, Any]:
        """The ``initviz.sweep/1`` document (strict JSON: NaN/Inf written as null)."""
        order = {cell: i for i, cell in enumerate(self.spec.cells())}
        cells = sorted(self.cells, key=lambda c: order.get((c.sigma_w2, c.sigma_b2, c.depth), len(order)))
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "config": self.spec.to_dict(),
            "cells": [c.to_dict() for c in cells],
        }
        if theory is not None:
            doc["theory"] = theory.to_dict()
        return doc

    def to_json(self, theory: Optional[SweepTheory] = None) -> str:
        return json.dumps(self.to_dict(theory), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "SweepResult":
        data = _strict_loads(text)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ConfigError("schema", data.get("schema") if isinstance(data, dict) else data, f"expected {SCHEMA}")
        spec = SweepSpec.from_dict(data["config"])
        return cls(spec, tuple(CellResult.from_dict(c) for c in data["cells"]))


CSV_COLUMNS = ("sigma_w2", "sigma_b2", "depth", "train_accuracy", "test_accuracy", "loss", "initial_loss",
               "diverged", "grad_ratio", "seconds")  # fmt: skip


def cells_csv(result: SweepResult) -> str:
    """The cells as CSV, one row each in grid order (empty field where a value does not exist)."""
    rows = [",".join(CSV_COLUMNS)]
    for c in result.to_dict()["cells"]:
        rows.append(",".join("" if c[k] is None else (str(c[k]).lower() if isinstance(c[k], bool) else repr(c[k])) for k in CSV_COLUMNS))
    return "\n".join(rows) + "\n"
