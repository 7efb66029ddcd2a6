"""How much memory a run needs, checked against what the machine has before anything is built.

Legal settings can need more memory than any laptop has (depth 200 x width 4096 is 13 GB of
weights alone). Without a check the kernel kills the process mid-build and unsaved work is lost;
with it, the CLI, the window, a scenario and a saved run are all refused up front with a
sentence that gives the estimate and the largest setting that fits.

The estimate per lane, in bytes (float32 = 4 bytes; B = the batch actually drawn, L = depth,
W = width, P = parameters):

- weights, gradients and optimizer state: 4P each (SGD with momentum: 1 buffer, Adam: 2, plus
  Adam's copy of the hidden weights for the recorded update size)
- activations autograd keeps for backward: Linear output and activation output per layer
  (2 x 4LBW), BatchNorm's normalised input and output (+2), dropout's mask and output (+1.25)
- the probes: a reference to each layer's output gradient (4LBW) and the stacked pre- and
  post-activations (2 x 4LBW); histograms read a bounded subsample (no full-size scratch)
- the recorded history: the lane's share of HISTORY_BYTES, or 256 records if more
- a fixed allowance for the dataset, the test pass and torch's bookkeeping

For arch cnn, LW (one example's units over all layers) is the sum of C_out x side^2 of each conv
layer (inits.cnn_plan) and the hidden weights are C_in x C_out x 3 x 3 each; the probes' copies are
the same three per layer.

tests/runs/test_budget.py checks this against the peak RSS of real runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional, Sequence

from initviz.engine.config import ConfigError, MAX_DEPTH, MAX_WIDTH, RunConfig
from initviz.engine.data import INFO, N_POINTS, TEST_FRACTION

FLOAT = 4
PER_LANE_FIXED = 8 * 2**20  # dataset, test/grid passes, optimizer and module bookkeeping
FIT_FRACTION = 0.8  # leave a fifth of what is free for the window, the OS and other lanes' spikes
_N_EXAMPLES = {"digits": 1797, "gaussian": 1250}  # the 2-D toys have N_POINTS (data.N_GAUSSIAN for gaussian)
# bytes one recorded step takes per layer: 14 float64 statistics, 6 float64 under/overflow
# counts and three float32 histograms (200 + 120 + 46 bins); see record.StepRecord
RECORD_BYTES_PER_LAYER = 14 * 8 + 6 * 8 + (200 + 120 + 46) * 4
MIN_RECORDS = 256  # History's min_capacity


class MemoryBudgetError(ConfigError):
    """A configuration that would not fit in this machine's memory; str() says by how much."""

    def __init__(self, message: str, needed: int, available: int) -> None:
        ValueError.__init__(self, message)
        self.field = "memory"
        self.value = needed
        self.allowed = f"at most {gb(available)} free"
        self.needed = needed
        self.available = available


def n_train(dataset: str) -> int:
    n = _N_EXAMPLES.get(dataset, N_POINTS)
    return n - int(round(n * TEST_FRACTION))


def lane_bytes(cfg: RunConfig, n_lanes: int = 1, history: bool = True) -> int:
    """The estimated peak bytes one lane of ``cfg`` needs (see the module docstring);
    history=False leaves out the recorded history (a run's first steps hold next to none)."""
    from initviz.engine.record import HISTORY_BYTES

    info = INFO.get(cfg.dataset, INFO["spirals"])
    L, W = cfg.depth, cfg.width
    B = min(cfg.batch_size, n_train(cfg.dataset))
    if cfg.arch == "cnn":
        from initviz.engine.inits import CNN_KERNEL, cnn_plan

        plan = cnn_plan(cfg)
        hidden_w = sum(c.c_in * c.c_out * CNN_KERNEL**2 for c in plan)
        channels = sum(c.c_out for c in plan)
        units = sum(c.c_out * c.side_out**2 for c in plan)  # one example's activations over all layers
        params = hidden_w + channels + info.n_classes * (plan[-1].c_out + 1)
    else:
        hidden_w = info.n_features * W + (L - 1) * W * W
        channels = units = L * W
        params = hidden_w + L * W + info.n_classes * (W + 1)
    if cfg.batchnorm:
        params += 2 * channels
    states = 1 + (cfg.momentum > 0 if cfg.optimizer == "sgd" else 2)
    weights = FLOAT * params * (1 + states)  # weights, gradients, optimizer state
    if cfg.optimizer == "adam":
        weights += FLOAT * hidden_w  # the snapshot that measures the update
    per_layer = 2.0 + (2.0 if cfg.batchnorm else 0.0) + (1.25 if cfg.dropout > 0 else 0.0)
    per_layer += 1.0 + 2.0  # the probes: gradient references, stacked pre/post copies (histograms: a subsample)
    activations = int(per_layer * FLOAT * B * units)
    kept = max(HISTORY_BYTES // max(n_lanes, 1), MIN_RECORDS * RECORD_BYTES_PER_LAYER * L) if history else 0
    return int(weights + activations + kept + PER_LANE_FIXED)


def estimate_bytes(configs: Sequence[RunConfig], history: bool = True) -> int:
    """Estimated peak bytes of these lanes trained side by side."""
    return sum(lane_bytes(c, len(configs), history) for c in configs)


def _meminfo_available() -> Optional[int]:
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f.read(1 << 16).decode("ascii", "replace").splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> Optional[int]:
    """Bytes left under the tightest cgroup v2 memory.max of this process (None: no limit)."""
    try:
        with open("/proc/self/cgroup", "rb") as f:
            lines = f.read(1 << 16).decode("utf-8", "replace").splitlines()
        rel = next(line.split("::", 1)[1] for line in lines if line.startswith("0::"))
    except (OSError, StopIteration, IndexError):
        return None
    best: Optional[int] = None
    path = Path("/sys/fs/cgroup") / rel.strip().lstrip("/")
    root = Path("/sys/fs/cgroup")
    while True:
        try:
            limit = (path / "memory.max").read_text().strip()
            if limit != "max":
                used = int((path / "memory.current").read_text().strip())
                left = max(int(limit) - used, 0)
                best = left if best is None else min(best, left)
        except (OSError, ValueError):
            pass
        if path == root or root not in path.parents:
            break
        path = path.parent
    return best


def available_bytes() -> Optional[int]:
    """Memory this process can still take: free RAM (psutil, else /proc/meminfo), capped by a
    cgroup limit; None when the platform tells us nothing."""
    avail: Optional[int] = None
    try:
        import psutil  # optional

        avail = int(psutil.virtual_memory().available)
    except Exception:  # not installed, or no support on this platform
        avail = _meminfo_available()
    cg = _cgroup_headroom()
    if cg is not None:
        avail = cg if avail is None else min(avail, cg)
    return avail


def gb(n: float) -> str:
    """'56 GB', '1.4 GB', '310 MB'."""
    if n >= 10 * 2**30:
        return f"{n / 2**30:.0f} GB"
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{max(n, 0) / 2**20:.0f} MB"


def _largest(fits: Callable[[int], bool], hi: int) -> int:
    """The largest v in 1..hi with fits(v) (fits is monotone decreasing); 0 if none."""
    if not fits(1):
        return 0
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_memory(configs: Sequence[RunConfig], available: Optional[int] = None) -> int:
    """Raise MemoryBudgetError if the lanes would not fit; return the estimate in bytes.

    ``available`` defaults to what the machine has free now (no check when unknown).
    """
    configs = list(configs)
    need = estimate_bytes(configs)
    if available is None:
        available = available_bytes()
    if available is None or need <= FIT_FRACTION * available or not configs:
        return need
    usable = FIT_FRACTION * available
    c0 = configs[0]

    def fits(**change: int) -> bool:
        return estimate_bytes([dataclasses.replace(c, **change) for c in configs]) <= usable

    depth = _largest(lambda d: fits(depth=d), MAX_DEPTH)
    width = _largest(lambda w: fits(width=w), MAX_WIDTH)
    lanes = f" ({len(configs)} lanes)" if len(configs) > 1 else ""
    what = f"depth {c0.depth} x width {c0.width}, batch {c0.batch_size}{lanes}"
    if depth == 0 and width == 0:
        hint = "no depth or width fits at these settings; free some memory or use fewer lanes"
    else:
        hints = ([f"depth {depth} at width {c0.width}"] if depth else []) + (
            [f"width {width} at depth {c0.depth}"] if width else []
        )
        hint = "largest that fits: " + ", or ".join(hints)
    raise MemoryBudgetError(
        f"{what} needs ~{gb(need)} of memory; this machine has {gb(available)} free ({hint})",
        need,
        available,
    )


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far.

    Linux: VmHWM of /proc/self/status, the high-water mark of this program's own memory. Not
    ru_maxrss: that survives exec, so a child forked from a big parent (pytest at 500 MB, say)
    reports the parent's size as its own peak. Elsewhere ru_maxrss (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource  # Unix only
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


__all__ = ["MemoryBudgetError", "available_bytes", "check_memory", "estimate_bytes", "lane_bytes", "peak_rss_bytes"]
