"""The memory budget: estimates against measured peak RSS, and huge runs refused before allocation."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from initviz.engine.budget import FIT_FRACTION, MemoryBudgetError, check_memory, estimate_bytes, lane_bytes
from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.lanes import Lanes

# measured peak RSS / estimate (without the history, which three steps barely touch) must lie in
# this range; on this machine the sizes below and bench/hostile.py's gave 0.83 to 1.11
FACTOR = (0.6, 1.5)

MEASURE = """
import json, sys
import torch
from initviz.engine.budget import estimate_bytes
from initviz.engine.config import RunConfig
from initviz.engine.lanes import Lanes

def status(key):  # kB in /proc/self/status
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key + ":"))

torch.set_num_threads(1)
Lanes([RunConfig(depth=2, width=8)]).step(2)  # torch's own memory, before the run measured
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS: import spikes must not hide the run
base = status("VmRSS")
cfgs = [RunConfig(**c) for c in json.loads(sys.argv[1])]
lanes = Lanes(cfgs)
lanes.step(3)
print(json.dumps({"measured": status("VmHWM") - base, "estimate": estimate_bytes(cfgs, history=False)}))
"""


@pytest.mark.parametrize("configs", [
    [dict(depth=50, width=512, batch_size=256)],
    [dict(depth=12, width=1024, batch_size=256, optimizer="adam", lr=0.001)],
    [dict(depth=10, width=256, batch_size=960, batchnorm=True, dropout=0.2)] * 2,
], ids=["sgd 50x512", "adam 12x1024", "2 lanes bn+dropout"])  # fmt: skip
def test_estimate_is_within_a_factor_of_measured_peak_rss(configs: list) -> None:
    proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(configs)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    ratio = got["measured"] / got["estimate"]
    assert FACTOR[0] <= ratio <= FACTOR[1], got


def test_weights_term_equals_a_count_of_the_parameters() -> None:
    """Independent count: doubling momentum state (sgd momentum 0 -> 0.9) adds 4 bytes per parameter."""
    cfg = RunConfig(depth=5, width=32, dataset="digits", batch_size=64)
    model_params = sum(p.numel() for p in Lanes([cfg]).trainers[0].model.parameters())
    with_momentum = lane_bytes(cfg)
    without = lane_bytes(dataclasses.replace(cfg, momentum=0.0))
    assert with_momentum - without == 4 * model_params


def test_too_large_is_refused_with_the_estimate_and_the_largest_that_fits() -> None:
    cfg = RunConfig(depth=200, width=4096, batch_size=4096)
    avail = 21 * 2**30
    with pytest.raises(MemoryBudgetError) as info:
        check_memory([cfg], available=avail)
    msg = str(info.value)
    assert msg.startswith("depth 200 x width 4096, batch 4096 needs ~") and "this machine has 21 GB free" in msg
    assert f"~{estimate_bytes([cfg]) / 2**30:.0f} GB" in msg
    # the depth it names fits and one more does not, by the same estimate
    depth = int(msg.split("largest that fits: depth ")[1].split()[0])
    assert estimate_bytes([cfg.replace(depth=depth)]) <= FIT_FRACTION * avail < estimate_bytes([cfg.replace(depth=depth + 1)])
    width = int(msg.split("or width ")[1].split()[0])
    assert estimate_bytes([cfg.replace(width=width)]) <= FIT_FRACTION * avail < estimate_bytes([cfg.replace(width=width + 1)])
    assert isinstance(info.value, ConfigError)  # every caller of Lanes already handles ConfigError
    check_memory([RunConfig(depth=4, width=16)], available=avail)  # small runs pass


def test_lanes_refuse_a_run_too_large_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    import initviz.engine.budget as budget

    monkeypatch.setattr(budget, "available_bytes", lambda: 21 * 2**30)  # whatever this machine has
    huge = RunConfig(depth=200, width=4096, batch_size=4096)
    with pytest.raises(MemoryBudgetError, match="needs ~"):
        Lanes([huge.replace(init={"scheme": s}) for s in ("zeros", "normal", "xavier_normal", "kaiming_normal")])


def test_training_set_sizes_match_the_datasets() -> None:
    """The loader checks a saved batch order against n_train: it must be each dataset's real size."""
    from initviz.engine.budget import n_train
    from initviz.engine.data import make_dataset

    for name in ("spirals", "digits", "gaussian"):
        assert n_train(name) == len(make_dataset(name, 0, "cpu").x_train), name


def test_a_forked_child_reports_its_own_peak_not_its_parents() -> None:
    """ru_maxrss survives fork + exec: a child of a 300 MB process said 300 MB+ as its own peak,
    which failed the hostile-file memory bound late in a full pytest run (pytest itself ~500 MB)."""
    import subprocess
    import sys

    from initviz.engine.budget import peak_rss_bytes

    ballast = bytearray(b"\x01") * (300 * 2**20)  # touched pages: the parent's RSS grows by 300 MB
    code = "from initviz.engine.budget import peak_rss_bytes; print(peak_rss_bytes())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         preexec_fn=lambda: None).stdout  # fmt: skip  (preexec_fn: a plain fork, as the hostile test)
    assert peak_rss_bytes() > 300 * 2**20 > int(out) > 0
    del ballast
