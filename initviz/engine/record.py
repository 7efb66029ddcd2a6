"""The step record (what crosses from engine to UI) and the bounded history of them.

A :class:`StepRecord` is a frozen dataclass of read-only numpy arrays, fresh for every step:
no torch tensor and no array the engine still writes to ever leaves the engine.
Per-layer arrays have shape ``(L,)`` and histograms ``(L, bins)``, hidden layers only,
first layer first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

# Per-layer float arrays of shape (L,) in every record, in the order the CLI writes them.
LAYER_FIELDS = (
    "act_mean",  # post-activation mean over batch and units
    "act_std",  # post-activation std
    "pre_mean",  # pre-activation mean (after BatchNorm when enabled)
    "pre_std",
    "saturation",  # fraction of post-activations near the bounds (tanh, sigmoid); 0 otherwise
    "dead",  # fraction of units dead on the whole batch
    "symmetry",  # 0 = units independent-looking, 1 = every unit identical
    "nonfinite",  # count of non-finite pre/post-activation values
    "grad_out_norm",  # L2 norm of dLoss/d(post-activation)
    "grad_nonfinite",  # count of non-finite values in that gradient
    "grad_norm",  # L2 norm of the weight gradient
    "weight_std",  # std of the weight matrix the record's activations come from
    "update_ratio",  # ||dW|| / ||W before|| of the update that led to this record
    "grad_data_ratio",  # ||grad W|| / ||W||
)


@dataclass(frozen=True)
class HistSpec:
    """Fixed bin edges of one kind of histogram; values outside go to under/overflow counts."""

    lo: float
    hi: float
    bins: int
    log10_abs: bool = False  # histogram of log10(|x|) instead of x (gradients)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.bins + 1)

    @property
    def centers(self) -> np.ndarray:
        e = self.edges
        return 0.5 * (e[:-1] + e[1:])


@dataclass(frozen=True, slots=True)
class StepRecord:
    """Everything measured at one recorded step. Step 0 is the network at initialisation."""

    step: int
    loss: float
    accuracy: float  # on the training batch
    test_accuracy: float  # NaN on steps where it was not measured
    # per-layer statistics, each (L,)
    act_mean: np.ndarray
    act_std: np.ndarray
    pre_mean: np.ndarray
    pre_std: np.ndarray
    saturation: np.ndarray
    dead: np.ndarray
    symmetry: np.ndarray
    nonfinite: np.ndarray
    grad_out_norm: np.ndarray
    grad_nonfinite: np.ndarray
    grad_norm: np.ndarray
    weight_std: np.ndarray
    update_ratio: np.ndarray
    grad_data_ratio: np.ndarray
    # histograms, each (L, bins) of counts, with (L,) under/overflow counts
    act_hist: np.ndarray
    act_under: np.ndarray
    act_over: np.ndarray
    pre_hist: np.ndarray
    pre_under: np.ndarray
    pre_over: np.ndarray
    grad_hist: np.ndarray  # of log10|dLoss/d(post-activation)|; exact zeros count as underflow
    grad_under: np.ndarray
    grad_over: np.ndarray
    act_spec: HistSpec
    pre_spec: HistSpec
    grad_spec: HistSpec
    # the first (step, layer index) where a non-finite value appeared, carried forward
    diverged_at: Optional[tuple[int, int]] = None
    # seconds this step spent training (forward+backward+update) and measuring
    train_seconds: float = 0.0
    stats_seconds: float = 0.0
    # arch resmlp: std of each block's residual branch A * f(h), (L,); None for mlp
    branch_std: Optional[np.ndarray] = None

    @property
    def depth(self) -> int:
        return int(self.act_mean.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in dataclasses.fields(self) if _is_array(getattr(self, f.name)))

    def diverged_message(self) -> Optional[str]:
        """'Inf/NaN from step k in layer j' (1-based layer), or None while everything is finite."""
        if self.diverged_at is None:
            return None
        step, layer = self.diverged_at
        where = "the output layer" if layer >= self.depth else f"layer {layer + 1}"
        return f"Inf/NaN from step {step} in {where}"


def _is_array(x: object) -> bool:
    return isinstance(x, np.ndarray)


def freeze(array: np.ndarray) -> np.ndarray:
    """A private, read-only copy: the UI can keep it, the engine can never change it."""
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


HIST_FIELDS = ("act", "pre", "grad")


def release_free_memory() -> None:
    """Give free heap pages back to the OS (glibc malloc_trim); no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def record_arrays(per_layer: dict[str, np.ndarray], hists: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every array of one record as a read-only view into one freshly allocated block.

    ``per_layer``: the LAYER_FIELDS, each (L,); ``hists``: "act"/"pre"/"grad" -> (L, bins + 3)
    counts (under, bins..., over, NaN). One allocation per record instead of ~27: less malloc
    overhead and fragmentation in a long history. Per-layer values and under/overflow counts are
    float64, histogram counts float32 (exact up to 2^24): half the memory of float64.
    """
    L = len(next(iter(per_layer.values())))
    bins = [hists[k].shape[1] - 3 for k in HIST_FIELDS]
    n64 = (len(LAYER_FIELDS) + 2 * len(HIST_FIELDS)) * L
    block = np.empty(n64 * 8 + L * sum(bins) * 4, dtype=np.uint8)
    f64 = block[: n64 * 8].view(np.float64).reshape(-1, L)  # (fields, L)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(LAYER_FIELDS):
        f64[i] = per_layer[name]
        out[name] = f64[i]
    pos, row = n64 * 8, len(LAYER_FIELDS)
    for kind, b in zip(HIST_FIELDS, bins):
        h = hists[kind]
        f64[row] = h[:, 0]
        f64[row + 1] = h[:, b + 1]
        out[f"{kind}_under"], out[f"{kind}_over"] = f64[row], f64[row + 1]
        row += 2
        counts = block[pos : pos + L * b * 4].view(np.float32).reshape(L, b)
        counts[...] = h[:, 1 : b + 1]
        out[f"{kind}_hist"] = counts
        pos += L * b * 4
    for a in out.values():
        a.setflags(write=False)
    block.setflags(write=False)
    return out


HISTORY_BYTES = 192 * 2**20  # the recorded history's memory budget for one run (lanes share it)


class History:
    """Recorded steps for scrubbing, bounded in memory.

    Every record is kept until the history holds ``capacity`` records; then every second record
    of the older half is dropped (the first record, at initialisation, always stays), so the
    recent past keeps full resolution and the whole run stays covered. Memory is at most about
    ``capacity * record.nbytes``; the default capacity comes from a byte budget.
    """

    def __init__(self, max_bytes: int = HISTORY_BYTES, min_capacity: int = 256) -> None:
        self.max_bytes = max_bytes
        self.min_capacity = min_capacity
        self._records: list[StepRecord] = []
        self.capacity: Optional[int] = None

    def append(self, record: StepRecord) -> None:
        if self.capacity is None:
            self.capacity = max(self.min_capacity, self.max_bytes // max(record.nbytes, 1))
        if self._records and record.step <= self._records[-1].step:
            raise ValueError(f"record step {record.step} is not after {self._records[-1].step}")
        self._records.append(record)
        if len(self._records) > self.capacity:
            self._thin()

    def _thin(self) -> None:
        half = len(self._records) // 2
        older = self._records[1:half]
        self._records = [self._records[0], *older[1::2], *self._records[half:]]
        release_free_memory()  # the dropped records' blocks go back to the OS, not into RSS

    def clear(self) -> None:
        """Empty, and forget the capacity: the next network may have a different record size."""
        self._records.clear()
        self.capacity = None

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: int) -> StepRecord:
        return self._records[i]

    def __iter__(self) -> Iterator[StepRecord]:
        return iter(self._records)

    @property
    def steps(self) -> np.ndarray:
        return np.array([r.step for r in self._records], dtype=np.int64)

    @property
    def latest(self) -> Optional[StepRecord]:
        return self._records[-1] if self._records else None

    def index_at_or_before(self, step: int) -> int:
        """Index of the last record whose step is <= step (0 if none)."""
        steps = self.steps
        i = int(np.searchsorted(steps, step, side="right")) - 1
        return max(i, 0)

    def series(self, name: str) -> np.ndarray:
        """Stack a field over time: (T,) for scalars, (T, L) for per-layer arrays."""
        return np.array([getattr(r, name) for r in self._records])

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._records)
