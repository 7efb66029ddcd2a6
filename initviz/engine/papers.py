"""The published numbers this field teaches from, checked against a live run and the theory.

Each paper scenario (resources/scenarios/paper_*.json) has an entry here: the source, the exact
setup, and the published figures as claims. ``evaluate`` turns a run's lanes (config, records,
theory) into one row per claim: published, measured (the run's record at step 0, or its latest
losses for claims about training), predicted (initviz.engine.theory) and a verdict with its
tolerance. Matching a run to a paper: ``paper_for`` compares the lanes' configs (seed aside) with
the scenario's.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from initviz.engine.config import RunConfig

LN4 = math.log(4.0)  # cross-entropy of a uniform guess over the gaussian dataset's 4 classes
TRAIN_STEPS = 300  # claims about training wait for this many steps


@dataclass(frozen=True)
class LaneData:
    """What a check reads of one lane."""

    name: str
    config: RunConfig
    records: Sequence[Any]  # StepRecords, oldest first
    theory: Any = None  # engine Theory or None


@dataclass(frozen=True)
class Check:
    """One published number beside the run's."""

    lane: str
    quantity: str
    published: str
    measured: float
    predicted: float
    tolerance: str
    matches: Optional[bool]  # None: not measurable yet (train more steps)
    value: float = math.nan  # the published figure as a number (NaN for a statement like "stalls")


@dataclass(frozen=True)
class Paper:
    id: str  # the scenario id
    title: str
    source: str
    setup: str
    claims: Callable[[Sequence[LaneData]], list[Check]]


@dataclass(frozen=True)
class PaperResult:
    paper: Paper
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Optional[bool]:
        """True when every measurable claim matches; None when none is measurable yet."""
        known = [c.matches for c in self.checks if c.matches is not None]
        return all(known) if known else None


def _init_record(lane: LaneData) -> Any:
    rec = lane.records[0]
    if rec.step != 0:
        raise ValueError(f"lane {lane.name}: the first record is step {rec.step}, not the network at init")
    return rec


def _theory(lane: LaneData, name: str, layer: int) -> float:
    values = getattr(lane.theory, name, None) if lane.theory is not None else None
    return float(values[layer]) if values is not None else math.nan


def _rel(lane: LaneData, quantity: str, published: float, measured: float, predicted: float, tol: float,
         text: Optional[str] = None) -> Check:
    ok = abs(measured / published - 1.0) <= tol
    return Check(lane.name, quantity, text or f"{published:.3g}", measured, predicted, f"within {tol:.0%}", ok, published)


def _abs(lane: LaneData, quantity: str, published: float, measured: float, predicted: float, tol: float,
         unit: str = "") -> Check:
    ok = abs(measured - published) <= tol
    return Check(lane.name, quantity, f"{published:g}{unit}", measured, predicted, f"± {tol:g}{unit}", ok, published)


def _worst(values: np.ndarray, target: float) -> int:
    """The layer (index) furthest from target."""
    return int(np.argmax(np.abs(np.asarray(values, dtype=np.float64) - target)))


def _cs231n_tanh(lanes: Sequence[LaneData]) -> list[Check]:
    lane = lanes[0]
    rec = _init_record(lane)
    return [
        _rel(lane, f"layer {i + 1} std", pub, float(rec.act_std[i]), _theory(lane, "act_std", i), 0.05)
        for i, pub in enumerate((0.213, 0.0476, 0.0106))
    ]


def _cs231n_relu(lanes: Sequence[LaneData]) -> list[Check]:
    lane = lanes[0]
    rec = _init_record(lane)
    out = []
    for name, pub in (("act_mean", 0.56), ("act_std", 0.83)):
        i = _worst(getattr(rec, name), pub)
        label = "mean" if name == "act_mean" else "std"
        out.append(_rel(lane, f"{label}, every layer (worst: {i + 1})", pub, float(getattr(rec, name)[i]),
                        _theory(lane, name, i), 0.15, f"~{pub:g}"))
    return out


MAKEMORE_STD = (0.75, 0.69, 0.67, 0.66, 0.66)
MAKEMORE_SATURATION = (20.25, 8.38, 6.62, 5.47, 6.12)  # percent


def _makemore(lanes: Sequence[LaneData]) -> list[Check]:
    lane = lanes[0]
    rec = _init_record(lane)
    out = [_abs(lane, f"layer {i + 1} std", pub, float(rec.act_std[i]), _theory(lane, "act_std", i), 0.03)
           for i, pub in enumerate(MAKEMORE_STD)]
    out += [_abs(lane, f"layer {i + 1} saturated", pub, 100 * float(rec.saturation[i]), 100 * _theory(lane, "saturation", i),
                 2.5, " %")
            for i, pub in enumerate(MAKEMORE_SATURATION)]
    return out


def _selu(lanes: Sequence[LaneData]) -> list[Check]:
    lane = lanes[0]
    rec = _init_record(lane)
    i = _worst(rec.act_mean, 0.0)
    var = np.asarray(rec.act_std, dtype=np.float64) ** 2
    j = _worst(var, 1.0)
    return [
        _abs(lane, f"mean, every layer (worst: {i + 1})", 0.0, float(rec.act_mean[i]), _theory(lane, "act_mean", i), 0.05),
        _abs(lane, f"variance, every layer (worst: {j + 1})", 1.0, float(var[j]), _theory(lane, "act_std", j) ** 2, 0.1),
    ]


def _std_ratio(lane: LaneData, rec: Any) -> tuple[float, float]:
    """(measured, predicted) std of the last layer over the first."""
    measured = float(rec.act_std[-1] / rec.act_std[0])
    predicted = _theory(lane, "act_std", -1) / _theory(lane, "act_std", 0)
    return measured, predicted


def _orthogonal(lanes: Sequence[LaneData]) -> list[Check]:
    out = []
    for lane in lanes:
        measured, predicted = _std_ratio(lane, _init_record(lane))
        depth = lane.config.depth
        if lane.config.init.scheme == "orthogonal":
            ok = abs(measured - 1.0) <= 1e-3
            out.append(Check(lane.name, f"std layer {depth} / layer 1", "1 (exactly)", measured, predicted, "± 0.001", ok, 1.0))
        else:
            ok = abs(measured - 1.0) > 1e-3
            out.append(Check(lane.name, f"std layer {depth} / layer 1", "≠ 1 (drifts)", measured, predicted,
                             "off 1 by > 0.001", ok))
    return out


def _loss_after_training(lane: LaneData) -> Optional[float]:
    """Mean training loss over the records of the last 50 steps, once TRAIN_STEPS are done."""
    records = lane.records
    if not records or records[-1].step < TRAIN_STEPS:
        return None
    last = records[-1].step
    losses = [r.loss for r in records if r.step > last - 50]
    return float(np.mean(losses))


def _he2015(lanes: Sequence[LaneData]) -> list[Check]:
    out = []
    for lane in lanes:
        rec = _init_record(lane)
        depth = lane.config.depth
        xavier = lane.config.init.scheme.startswith("xavier")
        if xavier:  # inputs N(0, 1): the input std is 1
            m, p = float(rec.act_std[-1]), _theory(lane, "act_std", -1)
            ok = abs(math.log2(m) + 15.0) <= 1.0 if m > 0 else False
            out.append(Check(lane.name, f"std at layer {depth} (input std 1)", "2^-15 ≈ 3.1e-5", m, p, "log2 within ± 1", ok,
                             2.0**-15))
        else:
            m, p = _std_ratio(lane, rec)
            out.append(Check(lane.name, f"std layer {depth} / layer 1", "~1 (kept)", m, p, "from 0.5 to 2", 0.5 <= m <= 2.0, 1.0))
        loss = _loss_after_training(lane)
        wait = loss is None
        claim = "stalls" if xavier else "trains"
        ok = None if wait else (loss > 0.95 * LN4 if xavier else loss < 0.8 * LN4)
        tol = f"loss {'>' if xavier else '<'} {0.95 if xavier else 0.8:g}·ln 4 after {TRAIN_STEPS} steps"
        out.append(Check(lane.name, "training loss", claim, math.nan if wait else loss, math.nan, tol, ok))
    return out


PAPERS: tuple[Paper, ...] = (
    Paper("paper_cs231n_tanh", "CS231n lecture 6: small random weights vanish",
          "Stanford CS231n (2016), lecture 6 'Training Neural Networks I', weight initialisation slides",
          "10 tanh layers of 500 units, W = 0.01·randn, no biases, inputs randn(1000, 500); std of each "
          "layer's tanh output over the 1000 inputs at init", _cs231n_tanh),
    Paper("paper_cs231n_relu", "CS231n lecture 6: He init keeps ReLU alive",
          "Stanford CS231n (2016), lecture 6, 'W = randn(fan_in, fan_out) / sqrt(fan_in / 2)'",
          "10 ReLU layers of 500 units, W ~ N(0, 2/fan_in), no biases, inputs randn(1000, 500)", _cs231n_relu),
    Paper("paper_makemore", "Karpathy, makemore part 3: tanh with Kaiming gain 5/3",
          "A. Karpathy, 'Building makemore Part 3: Activations & Gradients, BatchNorm' (2022), the no-BatchNorm plot",
          "5 tanh layers of 100 units after 30 N(0, 1) inputs (10-d embeddings of 3 characters), "
          "W = (5/3)·randn/sqrt(fan_in), zero biases, one batch of 32; saturated = |tanh| > 0.97", _makemore),
    Paper("paper_selu", "Klambauer et al. 2017: SELU's fixed point",
          "G. Klambauer et al., 'Self-Normalizing Neural Networks', NeurIPS 2017",
          "20 SELU layers of 256 units, LeCun normal W ~ N(0, 1/fan_in), zero biases, inputs N(0, I_256): "
          "mean 0 and variance 1 are a stable fixed point", _selu),
    Paper("paper_orthogonal", "Saxe et al. 2014: orthogonal weights preserve norms exactly",
          "A. Saxe, J. McClelland, S. Ganguli, 'Exact solutions to the nonlinear dynamics of learning in "
          "deep linear neural networks', ICLR 2014",
          "50 linear layers of 256 units on N(0, I_256) inputs: orthogonal W (gain 1) against Gaussian "
          "W ~ N(0, 1/fan_in); the mean field predicts 1 for both", _orthogonal),
    Paper("paper_he2015", "He et al. 2015: a 30-layer ReLU net with Xavier init stalls",
          "K. He, X. Zhang, S. Ren, J. Sun, 'Delving Deep into Rectifiers', ICCV 2015, section 2.2 and figure 3",
          "30 ReLU layers of 256 units on N(0, I_256) inputs, Xavier W ~ N(0, 2/(fan_in+fan_out)) against "
          "He W ~ N(0, 2/fan_in), SGD lr 0.003 momentum 0.9, batch 64; 4 classes from a random linear teacher", _he2015),
)


def get_paper(paper_id: str) -> Paper:
    for p in PAPERS:
        if p.id == paper_id:
            return p
    raise KeyError(paper_id)


def _key(config: RunConfig) -> RunConfig:
    return dataclasses.replace(config, seed=0)


def paper_for(configs: Sequence[RunConfig], scenarios: Optional[Sequence[Any]] = None) -> Optional[Paper]:
    """The paper whose scenario has exactly these lane configs (any seed), or None."""
    if scenarios is None:
        from initviz.engine.scenarios import load_scenarios

        scenarios = load_scenarios()
    ids = {p.id for p in PAPERS}
    want = [_key(c) for c in configs]
    for s in scenarios:
        if s.id in ids and [_key(c) for c in s.lane_configs] == want:
            return get_paper(s.id)
    return None


def evaluate(paper: Paper, lanes: Sequence[LaneData]) -> PaperResult:
    """Every claim of `paper` on these lanes (in the scenario's lane order)."""
    return PaperResult(paper, tuple(paper.claims(lanes)))
