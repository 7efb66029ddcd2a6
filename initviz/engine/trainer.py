"""Step-by-step training that measures every layer, for the GUI, the CLI and notebooks alike.

Record k describes the network after k updates: its activations and gradients on the batch it
trains on next, and the k-th update's size. Record 0 is the network at initialisation on the
first batch. So one step is: apply the update from the gradients already measured, then run
forward/backward on the next batch and measure it. Nothing is computed twice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from initviz.engine.branch import BranchProbe
from initviz.engine.config import RunConfig
from initviz.engine.data import BatchStream, Dataset, make_dataset
from initviz.engine.model import MLP, build_model
from initviz.engine import optim
from initviz.engine.probes import (LayerProbe, finish_layers, fix_overflow, hist_specs, host_norms, measure_layers,
                                   norms, weight_stats)
from initviz.engine.record import History, StepRecord, freeze, record_arrays
from initviz.engine.theory import Theory, predict

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_allocator_tuned = False


def tune_allocator() -> None:
    """Keep glibc from handing each step's activation memory back to the OS and faulting it in
    again on the next step (~3 ms of a 17 ms depth-20 step): blocks up to 4 MB come from the heap
    and up to 32 MB of free heap top is kept. Once per process; no-op off glibc. The history's
    thinning returns memory explicitly (History._thin calls malloc_trim)."""
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 4 * 2**20)
        libc.mallopt(_M_TRIM_THRESHOLD, 32 * 2**20)
    except (OSError, AttributeError):
        pass


def make_optimizer(model: MLP, config: RunConfig) -> optim.SGD | optim.Adam:
    """The run's optimizer: torch.optim's arithmetic without importing torch._dynamo (optim.py)."""
    return optim.make(model.parameters(), config.optimizer, config.lr, config.momentum)


class Trainer:
    """One run: model, data, optimizer, probes and the history of records."""

    def __init__(self, config: RunConfig, history: Optional[History] = None) -> None:
        self.config = config.validate()
        self.history = history if history is not None else History()
        tune_allocator()
        self._build()

    # --- building ---------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.config
        self.data: Dataset = make_dataset(cfg.dataset, cfg.seed, cfg.device, input_dim=cfg.input_dim)
        self.model = build_model(cfg, self.data.info.n_features, self.data.info.n_classes)
        self.model.train()
        self.optimizer = make_optimizer(self.model, cfg)
        self.batches = BatchStream(self.data, cfg.batch_size, cfg.seed)
        self.probe = LayerProbe(self.model) if cfg.arch != "cnn" else _any_probe(self.model, cfg)
        self._hidden = self.model.hidden_weights()  # the same Parameter objects for the whole run
        self.branch_probe = BranchProbe(self.model, follow=self.probe) if cfg.arch == "resmlp" else None
        self.specs = hist_specs(cfg.activation)
        self.theory: Theory = predict(cfg, self.data.x_train)
        self.step_count = 0
        self.diverged_at: Optional[tuple[int, int]] = None
        self._rng_state = self._initial_rng_state()
        self.history.clear()
        self._last_test_accuracy = math.nan
        # ||W|| and sum(W) of the hidden weights as they are now (keyed by the tensors' versions,
        # so any in-place change invalidates them): the next update's "before" norm for free.
        self._weight_norms: Optional[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = None
        self._forward_backward(record=True)
        self._emit(update_norms=None, train_seconds=0.0)

    def _initial_rng_state(self) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed + 1)
            return torch.get_rng_state()

    @property
    def layer_names(self) -> list[str]:
        from initviz.engine.model import layer_names

        return layer_names(self.config)

    @property
    def latest(self) -> StepRecord:
        rec = self.history.latest
        assert rec is not None
        return rec

    # --- training ---------------------------------------------------------------------
    def _forward_backward(self, record: bool) -> None:
        """Forward and backward on the next batch; with record=True the probes capture it."""
        x, y = self.batches.next()
        self.probe.enabled = record
        self.probe.clear()
        self.optimizer.zero_grad(set_to_none=False)
        self._rng_pending = self._rng_state  # what a saved run needs to redo this pass
        if self.config.dropout > 0:  # dropout masks from this run's own RNG stream
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(self._rng_state)
                logits = self.model(x)
                self._rng_state = torch.get_rng_state()
        else:
            logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.probe.enabled = False
        self._loss = loss.detach()
        self._correct = (logits.detach().argmax(1) == y).float().mean()

    def _weight_versions(self) -> tuple[int, ...]:
        return tuple(w._version for w in self._hidden)

    def _current_weight_norms(self) -> tuple[np.ndarray, np.ndarray]:
        """(||W||, sum W) per hidden layer of the weights as they are now (cached per version)."""
        cached = self._weight_norms
        if cached is not None and cached[0] == self._weight_versions():
            return cached[1], cached[2]
        weights = self._hidden
        with torch.no_grad():
            n = norms(weights).double().cpu().numpy()
            s = torch.stack([w.sum() for w in weights]).double().cpu().numpy()
        self._weight_norms = (self._weight_versions(), n, s)
        return n, s

    def _update(self, record: bool) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """Apply the optimizer step; when recording, return (||dW||, ||W before||) per hidden layer.

        "Before" is the norm the previous record took of the same weights; the update's norm and
        the new weights' norm and sum come out of the optimizer step itself (optim.py).
        """
        if not record:
            self.optimizer.step()
            return None
        before, _ = self._current_weight_norms()
        out = self.optimizer.step(self._hidden).double().numpy()  # (L, 3): ||dW||, ||W||, sum W
        self._weight_norms = (self._weight_versions(), out[:, 1], out[:, 2])
        return out[:, 0], before

    def rewind_pending_batch(self) -> None:
        """Redo the last forward/backward (unrecorded): restores pending gradients after a load."""
        self.batches._pos -= self.batches.batch_size
        self._rng_state = self._rng_pending
        self._forward_backward(record=False)

    def step(self, n: int = 1) -> list[StepRecord]:
        """Train n steps; return the records made on the way (one per step by default)."""
        made = []
        for _ in range(n):
            t0 = time.perf_counter()
            next_step = self.step_count + 1
            record = next_step % self.config.record_every == 0
            update_norms = self._update(record)
            self.step_count = next_step
            self._forward_backward(record)
            if record:
                made.append(self._emit(update_norms, time.perf_counter() - t0))
        return made

    def records(self) -> Iterator[StepRecord]:
        """Train forever, yielding each record: the generator a worker thread runs."""
        while True:
            yield from self.step(1)

    def reset(self) -> StepRecord:
        """Start over with the same seed: identical weights, batches and record 0."""
        self.probe.remove()
        self._build()
        return self.latest

    def reseed(self, seed: Optional[int] = None) -> StepRecord:
        """Start over with another seed (default: the next one)."""
        new = self.config.seed + 1 if seed is None else seed
        self.config = self.config.replace(seed=new)
        return self.reset()

    def reconfigure(self, config: RunConfig) -> StepRecord:
        """Rebuild with a new configuration (validated first: a bad config changes nothing)."""
        self.config = config.validate()
        return self.reset()

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(loss, accuracy) of the network on ``x, y``, with BatchNorm/dropout in eval mode."""
        with torch.no_grad():
            self.model.eval()
            try:
                logits = self.model(x)
            finally:
                self.model.train()
            loss = float(F.cross_entropy(logits, y))
            return loss, float((logits.argmax(1) == y).float().mean())

    def test_accuracy(self) -> float:
        """Accuracy on the held-out split, with BatchNorm/dropout in eval mode."""
        return self.evaluate(self.data.x_test, self.data.y_test)[1]

    def decision_grid(self, resolution: int = 40, margin: float = 0.25) -> Optional["DecisionGrid"]:
        """The predicted class over a grid covering the 2-D training inputs (None for other data).

        Cost: one forward pass of resolution^2 points with BatchNorm/dropout in eval mode; the
        GUI asks a few times a second at most.
        """
        if self.data.info.n_features != 2:
            return None
        with torch.no_grad():
            x = self.data.x_train
            lo = x.min(0).values - margin
            hi = x.max(0).values + margin
            gx = torch.linspace(float(lo[0]), float(hi[0]), resolution, device=x.device)
            gy = torch.linspace(float(lo[1]), float(hi[1]), resolution, device=x.device)
            yy, xx = torch.meshgrid(gy, gx, indexing="ij")
            pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
            self.model.eval()
            try:
                probs = torch.softmax(self.model(pts), dim=1)
            finally:
                self.model.train()
            conf, cls = probs.max(1)
            # the training points are the same on every call: one shared read-only copy per dataset
            cached = getattr(self, "_grid_points", None)
            if cached is None or cached[0] is not self.data:
                cached = (self.data, freeze(x.cpu().numpy()), freeze(self.data.y_train.cpu().numpy()))
                self._grid_points = cached
            return DecisionGrid(
                x_range=(float(lo[0]), float(hi[0])),
                y_range=(float(lo[1]), float(hi[1])),
                classes=freeze(cls.reshape(resolution, resolution).to(torch.int16).cpu().numpy()),
                confidence=freeze(torch.nan_to_num(conf, nan=0.0).reshape(resolution, resolution).cpu().numpy()),
                points=cached[1],
                labels=cached[2],
                n_classes=self.data.info.n_classes,
                step=self.step_count,
            )

    # --- measuring --------------------------------------------------------------------
    def _emit(self, update_norms: Optional[tuple[np.ndarray, np.ndarray]], train_seconds: float) -> StepRecord:
        t0 = time.perf_counter()
        cfg = self.config
        general = not isinstance(self.probe, LayerProbe)  # arch cnn: per-layer shapes (anyprobe.py)
        raw = self.probe.measure() if general else measure_layers(self.probe, cfg.activation, self.specs)
        weights = self._hidden
        with torch.no_grad():
            grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in weights]
            raw["grad_norm"] = host_norms(grads)
            raw["loss"], raw["correct"] = self._loss.reshape(1), self._correct.reshape(1)
            if self.branch_probe is not None:
                raw["branch_std"] = self.branch_probe.measure()
            parts = _to_host(raw)
        parts["grad_norm"] = fix_overflow(parts["grad_norm"], grads)
        branch_std = freeze(parts.pop("branch_std")) if self.branch_probe is not None else None
        layers = self.probe.finish(parts) if general else finish_layers(parts, self.probe, cfg.activation, self.specs)
        w_norm, w_sum = self._current_weight_norms()
        layers.update(weight_stats(parts["grad_norm"], w_norm, w_sum, self.probe.numels_np(weights), weights,
                                   update_norms))
        self.probe.clear()
        loss, acc = float(parts["loss"][0]), float(parts["correct"][0])

        test_acc = math.nan
        if self.step_count % cfg.test_every == 0:
            test_acc = self.test_accuracy()

        if self.diverged_at is None:
            self.diverged_at = _first_nonfinite(self.step_count, layers["nonfinite"], layers["grad_nonfinite"], loss)

        arrays = record_arrays(layers, {"act": layers["act_h"], "pre": layers["pre_h"], "grad": layers["grad_h"]})
        rec = StepRecord(
            step=self.step_count,
            loss=loss,
            accuracy=acc,
            test_accuracy=test_acc,
            **arrays,
            act_spec=self.specs[0],
            pre_spec=self.specs[1],
            grad_spec=self.specs[2],
            diverged_at=self.diverged_at,
            train_seconds=train_seconds,
            stats_seconds=time.perf_counter() - t0,
            branch_std=branch_std,
        )
        self.history.append(rec)
        return rec


def _any_probe(model: torch.nn.Module, cfg: RunConfig) -> "AnyProbe":
    """The general probe on each block's activation, named by the block's conv (model.layer_names)."""
    from initviz.engine.anyprobe import AnyProbe, points_for
    from initviz.engine.model import layer_names

    return AnyProbe(points_for((n, b.act, cfg.activation) for n, b in zip(layer_names(cfg), model.blocks)))


@dataclass(frozen=True)
class DecisionGrid:
    """Predicted class on a grid over the 2-D inputs; rows are y, columns x (row-major)."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    classes: np.ndarray  # (res, res) int: argmax class
    confidence: np.ndarray  # (res, res) float: its probability (0 where the output is NaN)
    points: np.ndarray  # (N, 2) standardised training inputs
    labels: np.ndarray  # (N,) their classes
    n_classes: int
    step: int


def _to_host(raw: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The device tensors as numpy arrays: on the CPU each is a view of its tensor (no copy; the
    tensors are fresh results nothing writes to again), elsewhere one concatenated transfer."""
    if all(t.device.type == "cpu" for t in raw.values()):
        return {k: t.numpy() for k, t in raw.items()}
    from initviz.engine.anyprobe import to_host

    return to_host(raw)


def _first_nonfinite(
    step: int, nonfinite: np.ndarray, grad_nonfinite: np.ndarray, loss: float
) -> Optional[tuple[int, int]]:
    """(step, layer) where a non-finite value first appeared, or None; layer L = output layer.

    Activations flow forward, so the first bad layer is the origin; gradients flow backward,
    so for them it is the last one.
    """
    bad = np.flatnonzero(nonfinite > 0)
    if bad.size:
        return step, int(bad[0])
    if not math.isfinite(loss):
        return step, len(nonfinite)
    bad = np.flatnonzero(grad_nonfinite > 0)
    if bad.size:
        return step, int(bad[-1])
    return None
