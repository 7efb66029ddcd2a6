"""Your own model: step-0 health and training of any ``nn.Module``, under its own init and others.

``initviz inspect FILE.py:FACTORY`` and :func:`inspect` (``initviz.inspect(model, batch)``) run a
user's network the way the Trainer runs initviz's MLP: record k is the network after k updates,
measured on the batch it trains on next. Every activation module (each call of it: a module used
twice is two probe points) and every parameterised layer is hooked; each probe point is paired with
the Linear/Conv layer that ran last before it in the forward pass (its ``weight_std``, gradient
and update:data ratio). Probe points are named by module path ("blocks.2.act"), in forward order.

Lanes run the same model under other init schemes side by side: lane "as built" is the factory's
model with the user's own init; every other lane is a deep copy of it with every Linear/Conv
re-initialised by the scheme from one seed. All lanes train on the same batches.

The objects here are trainer-like (``config``, ``history``, ``latest``, ``step``, ``theory``...),
so the window's Engine, the Snapshot and the slide export take them as they take Trainers; their
``config`` is a RunConfig that summarises the shape (depth = probe points, width = widest layer,
the commonest activation), and ``points``/``layer_names`` say what each layer really is. Qt-free.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from initviz.engine import optim
from initviz.engine.anyprobe import AnyProbe, ProbePoint, activation_name, find_probe_points
from initviz.engine.probes import hist_specs
from initviz.engine.config import MAX_DEPTH, MAX_WIDTH, ConfigError, InitSpec, RunConfig
from initviz.engine.lanes import LaneAccessors
from initviz.engine.record import History, StepRecord, record_arrays
from initviz.engine.usercode import UserCodeError, call_user

# --- batches ---------------------------------------------------------------------------------------

DEFAULT_BATCH = 32
RANDOM_POOL = 8  # random batches cycle through this many, so training has something to fit
MAX_RANDOM_VALUES = 2**28  # float32 values in the pool of random batches: 1 GB at most


def forward(model: nn.Module, x: Any) -> Any:
    """The model on one input: a dict is keyword inputs, a tuple/list positional ones."""
    if isinstance(x, dict):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def logits_of(out: Any) -> torch.Tensor:
    """The tensor a loss is taken of: the output, its first element, or its 'logits'."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict) and isinstance(out.get("logits"), torch.Tensor):
        return out["logits"]
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"the model returned {type(out).__name__}; expected a tensor of logits (or a tuple/dict holding one)")


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer labels, mean squared error for float targets."""
    if not y.dtype.is_floating_point:
        return F.cross_entropy(logits, y)
    return F.mse_loss(logits, y)


def batch_size_of(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0]) if x.ndim else 1
    if isinstance(x, dict):
        return batch_size_of(next(iter(x.values())))
    return batch_size_of(x[0])


def _check_batch(batch: Any, where: str) -> tuple[Any, torch.Tensor]:
    """(x, y) of one batch, or a UserCodeError saying what the batch should be."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise UserCodeError(f"{where} gave {type(batch).__name__}; expected a batch (x, y): inputs and labels")
    x, y = batch
    if not isinstance(y, torch.Tensor):
        raise UserCodeError(f"{where}: the labels y are {type(y).__name__}; expected a tensor")
    if not isinstance(x, (torch.Tensor, dict, tuple, list)):
        raise UserCodeError(f"{where}: the inputs x are {type(x).__name__}; expected a tensor, a tuple or a dict of tensors")
    return x, y


def _is_batch(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and isinstance(obj[1], torch.Tensor) and (
        isinstance(obj[0], (torch.Tensor, dict)) or (isinstance(obj[0], (tuple, list)) and all(isinstance(t, torch.Tensor) for t in obj[0]))
    )  # fmt: skip


class BatchSource:
    """Where a run's batches come from; ``stream()`` starts over from the first batch.

    ``make``: the user's function; it may return one batch (x, y) (used every step), an iterable of
    batches (a list, a generator, a DataLoader: cycled, and asked again when a generator runs out)
    or a callable returning a batch. Without ``make``: random inputs N(0, 1) of ``input_shape`` and
    random labels in range(classes), RANDOM_POOL batches cycled, from ``seed``.
    """

    def __init__(self, make: Optional[Callable[[], Any]] = None, *, input_shape: Optional[Sequence[int]] = None,
                 classes: int = 10, batch_size: int = DEFAULT_BATCH, seed: int = 0,
                 files: tuple[Path, ...] = (), name: str = "the batch function") -> None:  # fmt: skip
        if make is None and input_shape is None:
            raise ConfigError("input_shape", None, "give --batches FILE.py:FUNC or --input-shape C,H,W (with --classes K)")
        if make is None:
            shape = tuple(int(s) for s in input_shape)  # type: ignore[union-attr]
            if not shape or any(s < 1 for s in shape) or math.prod(shape) > 2**24:
                raise ConfigError("input_shape", ",".join(map(str, shape)), "expected positive sizes, e.g. 3,32,32 (at most 2^24 values)")
            if not 1 <= int(classes) <= 100_000:
                raise ConfigError("classes", classes, "expected 1 to 100000 classes")
            if not 1 <= int(batch_size) <= 4096:
                raise ConfigError("batch_size", batch_size, "expected 1 to 4096")
            if int(batch_size) * math.prod(shape) * RANDOM_POOL > MAX_RANDOM_VALUES:
                raise ConfigError("batch_size", batch_size, f"{RANDOM_POOL} random batches of {int(batch_size)} x "
                                  f"{'x'.join(map(str, shape))} would hold more than {MAX_RANDOM_VALUES:,} values (1 GB); use a smaller batch")  # fmt: skip
            self.input_shape = shape
        self.make = make
        self.classes, self.batch_size, self.seed = int(classes), int(batch_size), int(seed)
        self.files, self.name = files, name

    def describe(self) -> str:
        if self.make is None:
            shape = "x".join(map(str, self.input_shape))
            return f"random inputs N(0, 1) of shape {self.batch_size}x{shape}, random labels of {self.classes} classes"
        return self.name

    def _random(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        pool = [(torch.randn((self.batch_size, *self.input_shape), generator=g),
                 torch.randint(self.classes, (self.batch_size,), generator=g)) for _ in range(RANDOM_POOL)]  # fmt: skip
        while True:
            yield from pool

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        return call_user(fn, what, self.files)

    def stream(self) -> Iterator[tuple[Any, torch.Tensor]]:
        if self.make is None:
            return self._random()
        return self._user()

    def _user(self) -> Iterator[tuple[Any, torch.Tensor]]:
        got = self._call(self.make, self.name)  # type: ignore[arg-type]
        if _is_batch(got):
            while True:
                yield _check_batch(got, self.name)
        if callable(got):
            while True:
                yield _check_batch(self._call(got, f"the callable {self.name} returned"), f"the callable {self.name} returned")
        try:
            it = iter(got)
        except TypeError:
            raise UserCodeError(
                f"{self.name} returned {type(got).__name__}; expected a batch (x, y), an iterable of batches or a callable"
            ) from None
        first_pass = True
        while True:
            n = 0
            while True:
                try:
                    b = next(it)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - the user's iterator failed
                    raise UserCodeError(f"{self.name} (its next batch) raised {type(exc).__name__}: {exc}",
                                        _their_traceback(exc, self.files)) from None
                n += 1
                yield _check_batch(b, self.name)
            if n == 0:
                raise UserCodeError(f"{self.name} gave no batch" if first_pass else f"{self.name} ran dry")
            first_pass = False
            # a list or a DataLoader iterates again; a used-up generator is asked for anew
            again = iter(got)
            if again is got:
                got = self._call(self.make, self.name)  # type: ignore[arg-type]
                again = iter(got)
            it = again


def _their_traceback(exc: BaseException, files: tuple[Path, ...]) -> str:
    import traceback

    from initviz.engine.usercode import user_traceback

    return user_traceback(exc, files) if files else "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# --- what the model is made of ---------------------------------------------------------------------

WEIGHT_TYPES = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                nn.ConvTranspose3d, nn.Embedding)  # fmt: skip
REINIT_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d,
              nn.InstanceNorm2d, nn.InstanceNorm3d)  # fmt: skip


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) exactly as torch.nn.init computes them."""
    if weight.ndim < 2:
        return int(weight.numel()), int(weight.numel())
    return tuple(int(v) for v in nn.init._calculate_fan_in_and_fan_out(weight))  # type: ignore[return-value]


@dataclass(frozen=True)
class Layer:
    """One probe point: a call of an activation module (or of a weight layer, in a net without any).

    ``name`` is its module path ("blocks.2.act"; "act#2" for the second call of a reused module);
    ``weight`` the module path of the Linear/Conv that ran last before it ("" if none did)."""

    name: str
    module: str  # module path
    call: int  # 0 for the first call of the module in a forward pass, 1 for the second, ...
    kind: str  # the probes' activation name ("relu", "tanh", ..., "linear" for a weight layer's output)
    type_name: str  # the module's class, e.g. "ReLU"
    weight: str = ""
    weight_type: str = ""
    fan_in: int = 0
    fan_out: int = 0
    inplace: bool = False
    units: int = 0  # the weight layer's output features / channels (weight.shape[0])
    normed: bool = False  # a norm layer (BatchNorm, LayerNorm...) ran between the weight layer and this point


def _probe_inputs(x: Any) -> tuple[Any, Optional[dict]]:
    """(inputs, kwargs) of find_probe_points for a batch's x (see :func:`forward`)."""
    if isinstance(x, dict):
        return (), x
    if isinstance(x, (tuple, list)):
        return tuple(x), None
    return x, None


def _trace(model: nn.Module, x: Any, files: tuple[Path, ...]) -> list[Layer]:
    """The probe points of ``model`` on input ``x`` (anyprobe's, in forward order), each with the
    Linear/Conv that ran last before it, and whether a norm layer ran in between: one pass."""
    path_of: dict[int, str] = {}
    for name, m in model.named_modules():
        path_of.setdefault(id(m), name)
    events: list[tuple[str, int]] = []  # ("act" | "weight" | "norm", module id), in call order
    handles = []
    for name, m in model.named_modules():
        if activation_name(m) is not None:
            handles.append(m.register_forward_pre_hook(lambda mod, i: events.append(("act", id(mod)))))
        elif isinstance(m, WEIGHT_TYPES):
            handles.append(m.register_forward_hook(lambda mod, i, o: events.append(("weight", id(mod)))))
        elif isinstance(m, NORM_TYPES):
            handles.append(m.register_forward_hook(lambda mod, i, o: events.append(("norm", id(mod)))))
    inputs, kwargs = _probe_inputs(x)
    try:
        points = call_user(find_probe_points, "the model's forward pass", files, model, inputs, kwargs)
    finally:
        for h in handles:
            h.remove()
    if not points:
        raise UserCodeError(
            "the model has no activation module to measure (nn.ReLU, nn.Tanh, nn.GELU...); activations called as "
            "functions (F.relu, torch.tanh) are not hooked: use the module form"
        )
    modules = {id(m): m for m in model.modules()}
    pairs: list[tuple[int, bool]] = []  # per activation call: (weight module id or 0, normed)
    last, normed = 0, False
    for kind, mid in events:
        if kind == "weight":
            last, normed = mid, False
        elif kind == "norm":
            normed = True
        else:
            pairs.append((last, normed))
    layers = []
    for p, (wid, nrm) in zip(points, pairs):
        w = modules.get(wid)
        weight = getattr(w, "weight", None) if w is not None else None
        fi, fo = fans(weight) if isinstance(weight, torch.Tensor) else (0, 0)
        layers.append(Layer(
            name=p.name, module=path_of[id(p.module)], call=p.call, kind=p.activation, type_name=type(p.module).__name__,
            weight=path_of[wid] if w is not None else "", weight_type=type(w).__name__ if w is not None else "",
            fan_in=fi, fan_out=fo, inplace=bool(getattr(p.module, "inplace", False)), normed=nrm,
            units=int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim else 0,
        ))  # fmt: skip
    return layers


# --- init schemes on any model ---------------------------------------------------------------------

AS_BUILT = "as_built"
SCHEMES = (AS_BUILT, "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "lecun_normal",
           "orthogonal", "pytorch_default", "normal", "zeros")  # fmt: skip
DEFAULT_LANES = (AS_BUILT, "kaiming_normal", "xavier_normal")
LANE_NAMES = {AS_BUILT: "as built"}
GAIN_NAMES = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu",
              "gelu": "relu", "elu": "relu", "linear": "linear"}  # fmt: skip


def reinit(model: nn.Module, scheme: str, seed: int, nonlinearity: Optional[dict[str, str]] = None) -> None:
    """Re-initialise every Linear/Conv of ``model`` in place with ``scheme`` through torch.nn.init,
    drawing from a private RNG seeded with ``seed``; biases to 0 (pytorch_default: the layer's own
    reset_parameters). ``nonlinearity``: module path -> activation that follows it (Kaiming's gain;
    default relu). Norm layers, embeddings and other parameters keep their values."""
    if scheme not in SCHEMES:
        raise ConfigError("lanes", scheme, "choose from " + ", ".join(SCHEMES))
    if scheme == AS_BUILT:
        return
    nonlinearity = nonlinearity or {}
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for name, m in model.named_modules():
            if not isinstance(m, REINIT_TYPES):
                continue
            w = m.weight
            if scheme == "pytorch_default":
                m.reset_parameters()
                continue
            nl = GAIN_NAMES.get(nonlinearity.get(name, "relu"), "relu")
            a = 0.01 if nl == "leaky_relu" else 0.0
            if scheme == "kaiming_normal":
                nn.init.kaiming_normal_(w, a=a, nonlinearity=nl)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(w, a=a, nonlinearity=nl)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(w)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(w)
            elif scheme == "lecun_normal":
                nn.init.kaiming_normal_(w, nonlinearity="linear")
            elif scheme == "orthogonal":
                nn.init.orthogonal_(w)
            elif scheme == "normal":
                nn.init.normal_(w, 0.0, 1.0)
            elif scheme == "zeros":
                nn.init.zeros_(w)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def lane_list(text: "str | Sequence[str]") -> list[str]:
    """'as_built,kaiming_normal' -> checked list of 1 to 4 schemes."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if not 1 <= len(items) <= 4:
        raise ConfigError("lanes", ",".join(items), "give 1 to 4 comma-separated schemes, e.g. as_built,kaiming_normal")
    for s in items:
        if s not in SCHEMES:
            raise ConfigError("lanes", s, "choose from " + ", ".join(SCHEMES))
    if len(set(items)) != len(items):
        raise ConfigError("lanes", ",".join(items), "name each scheme once")
    return items


# --- one lane ------------------------------------------------------------------------------------------


class _NoData:
    """What the slide export and the pictures ask of a run's data: not a 2-D plane."""

    class info:  # noqa: N801 - read as data.info.n_features
        n_features = 0
        n_classes = 0


def nan_theory(depth: int) -> Any:
    """A Theory of NaN predictions: there is no mean-field line for an arbitrary model."""
    from initviz.engine.theory import Theory

    nan = np.full(depth, np.nan)
    nan.setflags(write=False)
    return Theory(pre_std=nan, act_std=nan, grad_gain=nan)


@dataclass(frozen=True)
class InitGuess:
    """What init a layer's weights look like (from their std against fan_in/fan_out)."""

    label: str
    std: float


class ModelTrainer:
    """One lane: the user's model (or a re-initialised copy) trained on shared batches, a record per step."""

    def __init__(self, model: nn.Module, layers: Sequence[Layer], scheme: str, *, lr: float = 0.01, momentum: float = 0.9,
                 optimizer: str = "sgd", seed: int = 0, files: tuple[Path, ...] = (), batch_size: int = DEFAULT_BATCH,
                 history: Optional[History] = None) -> None:  # fmt: skip
        self.model = model
        self.model.train()
        self.layers = list(layers)
        self.scheme = scheme
        self.files = files
        self.lr, self.momentum, self.optimizer_name, self.seed = lr, momentum, optimizer, seed
        self.history = history if history is not None else History()
        self.history.clear()
        modules = dict(model.named_modules())
        self._weight_modules = [modules[l.weight] if l.weight else None for l in self.layers]
        uniq: dict[int, torch.Tensor] = {}
        for m in self._weight_modules:
            if m is not None and isinstance(getattr(m, "weight", None), torch.Tensor):
                uniq.setdefault(id(m.weight), m.weight)
        self._tracked = list(uniq.values())
        self._slot = {k: i for i, k in enumerate(uniq)}
        with torch.no_grad():  # ||W|| before the first update; later ones come out of the optimizer step
            self._norms = np.array([float(torch.linalg.vector_norm(w.double())) for w in self._tracked])
        self.optimizer = optim.make(model.parameters(), optimizer, lr, momentum)
        self.probe = AnyProbe([ProbePoint(l.name, modules[l.module], l.kind, l.call) for l in self.layers])
        self.config = summary_config(self.layers, scheme, lr=lr, momentum=momentum, optimizer=optimizer, seed=seed,
                                     batch_size=batch_size, batchnorm=any(isinstance(m, NORM_TYPES) for m in modules.values()))  # fmt: skip
        self.specs = hist_specs(self.config.activation)  # the record's; each point counts in its own (anyprobe)
        self.theory = nan_theory(len(self.layers))
        self.data = _NoData()
        self.step_count = 0
        self.model_label = type(model).__name__  # what the window and slides call the network
        self.diverged_at: Optional[tuple[int, int]] = None
        self.init_guess = [guess_init(m.weight, l.kind) if m is not None else None
                           for m, l in zip(self._weight_modules, self.layers)]  # fmt: skip

    @property
    def layer_names(self) -> list[str]:
        return [l.name for l in self.layers]

    @property
    def latest(self) -> StepRecord:
        rec = self.history.latest
        assert rec is not None, "no batch measured yet"
        return rec

    def decision_grid(self, *args: Any, **kwargs: Any) -> None:
        return None  # no 2-D input plane

    def test_accuracy(self) -> float:
        return math.nan

    # --- training ------------------------------------------------------------------------
    def start(self, batch: tuple[Any, torch.Tensor]) -> StepRecord:
        """Record 0: the model as it is, measured on ``batch`` (the first one)."""
        self._forward_backward(batch, record=True)
        return self._emit(None, 0.0)

    def _forward_backward(self, batch: tuple[Any, torch.Tensor], record: bool) -> None:
        x, y = batch
        self.probe.enabled = record
        self.probe.clear()
        self.optimizer.zero_grad(set_to_none=False)
        try:
            out = call_user(forward, "the model's forward pass", self.files, self.model, x)
            try:
                logits = logits_of(out)
                loss = loss_of(logits, y)
            except (TypeError, ValueError, RuntimeError, IndexError) as exc:
                shape = tuple(logits.shape) if "logits" in locals() else type(out).__name__
                raise UserCodeError(
                    f"the batch does not fit the model: output {shape}, labels {tuple(y.shape)} {str(y.dtype).replace('torch.', '')}: "
                    f"{' '.join(str(exc).split())[:200]}"
                ) from None
            call_user(loss.backward, "the backward pass", self.files)
        finally:
            self.probe.enabled = False
        self._loss = float(loss.detach())
        if logits.ndim == 2 and not y.dtype.is_floating_point and y.shape == logits.shape[:1]:
            self._acc = float((logits.detach().argmax(1) == y).double().mean())
        else:
            self._acc = math.nan

    def step(self, batch: tuple[Any, torch.Tensor]) -> StepRecord:
        """Apply the update from the gradients measured last, then measure the next batch."""
        t0 = time.perf_counter()
        before = self._norms
        moved = self.optimizer.step(self._tracked)  # (tracked, 3): ||dW||, ||W after||, sum W after
        self.step_count += 1
        upd = None
        if moved is not None and len(self._tracked):
            moved = moved.double().numpy()
            upd, self._norms = (moved[:, 0], before), moved[:, 1]
        self._forward_backward(batch, record=True)
        return self._emit(upd, time.perf_counter() - t0)

    def _emit(self, update: Optional[tuple[np.ndarray, np.ndarray]], train_seconds: float) -> StepRecord:
        t0 = time.perf_counter()
        L = len(self.layers)
        layers, wstats = self.probe.snapshot(self._tracked or None, update if self._tracked else None)
        self.probe.clear()
        per_point = {k: np.full(L, np.nan) for k in ("grad_norm", "weight_std", "update_ratio", "grad_data_ratio")}
        if wstats is not None:
            for i, m in enumerate(self._weight_modules):
                if m is not None and id(getattr(m, "weight", None)) in self._slot:
                    j = self._slot[id(m.weight)]
                    for k in per_point:
                        per_point[k][i] = wstats[k][j]
        layers.update(per_point)
        if self.diverged_at is None:
            from initviz.engine.trainer import _first_nonfinite

            self.diverged_at = _first_nonfinite(self.step_count, layers["nonfinite"], layers["grad_nonfinite"], self._loss)
        arrays = record_arrays(layers, {"act": layers["act_h"], "pre": layers["pre_h"], "grad": layers["grad_h"]})
        rec = StepRecord(step=self.step_count, loss=self._loss, accuracy=self._acc, test_accuracy=math.nan, **arrays,
                         act_spec=self.specs[0], pre_spec=self.specs[1], grad_spec=self.specs[2],
                         diverged_at=self.diverged_at, train_seconds=train_seconds,
                         stats_seconds=time.perf_counter() - t0)  # fmt: skip
        self.history.append(rec)
        return rec

    def init_info(self) -> Any:
        """The InitInfo the panels show beside the scheme: the weights' std as built, and the lane's scheme."""
        from initviz.engine.inits import InitInfo

        first = self.history[0] if len(self.history) else None
        stds = np.array(first.weight_std if first is not None else np.full(len(self.layers), np.nan))
        stds.setflags(write=False)
        label = "the model's own init (as built)" if self.scheme == AS_BUILT else f"every Linear/Conv re-initialised: {self.scheme}"
        return InitInfo(self.scheme, label, stds)

    def close(self) -> None:
        self.probe.remove()


def guess_init(weight: torch.Tensor, kind: str) -> InitGuess:
    """Which common init ``weight`` looks like, from its std against fan_in/fan_out (within 12%)."""
    from initviz.engine.diagnosis import guess_init_label

    fi, fo = fans(weight)
    with torch.no_grad():
        w = weight.detach().double().reshape(-1)
        std = float(w.std(correction=0)) if w.numel() > 1 else 0.0
        excess = math.nan
        if w.numel() >= 256 and std > 0:
            excess = float((((w - w.mean()) / std) ** 4).mean()) - 3.0
    return InitGuess(guess_init_label(std, fi, fo, excess, weight.numel()), std)


def summary_config(layers: Sequence[Layer], scheme: str, **run: Any) -> RunConfig:
    """The RunConfig that stands for a user's model in panels and files: depth = probe points,
    width = the widest layer's units, activation = the commonest (ties: the first)."""
    if not layers:
        raise UserCodeError("the model has no activation and no Linear/Conv layer to measure")
    if len(layers) > MAX_DEPTH:
        raise UserCodeError(f"the model has {len(layers)} probe points; initviz shows at most {MAX_DEPTH}")
    kinds = Counter(l.kind for l in layers)
    activation = max(kinds, key=lambda k: (kinds[k], -[l.kind for l in layers].index(k)))
    width = max([l.units for l in layers if l.units] or [1])
    init = InitSpec("pytorch_default" if scheme in (AS_BUILT, "pytorch_default") else scheme if scheme in
                    ("kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "lecun_normal", "orthogonal", "zeros") else "normal")  # fmt: skip
    return RunConfig(dataset="gaussian", depth=len(layers), width=min(width, MAX_WIDTH), activation=activation, init=init,
                     batch_size=max(2, min(int(run.pop("batch_size")), 4096)), **run).validate()  # fmt: skip


# --- several lanes ---------------------------------------------------------------------------------------


class ModelLanes(LaneAccessors):
    """Lanes of one user model under several init schemes, trained in lockstep on the same batches.

    Lanes-like for the window's Engine (``names``, ``trainers``, ``step``, ``remove``, ``rebuilt``)."""

    def __init__(self, factory: Callable[[], nn.Module], batches: BatchSource, schemes: Sequence[str] = DEFAULT_LANES, *,
                 seed: int = 0, lr: float = 0.01, momentum: float = 0.9, optimizer: str = "sgd",
                 files: tuple[Path, ...] = (), source: str = "the model") -> None:  # fmt: skip
        from initviz.engine.record import HISTORY_BYTES

        self.factory, self.batches, self.schemes = factory, batches, lane_list(list(schemes))
        self.seed, self.lr, self.momentum, self.optimizer, self.files, self.source = seed, lr, momentum, optimizer, files, source
        model = build_model(factory, seed, files)
        self._stream = batches.stream()
        first = next(self._stream)
        self.layers = _trace(model, first[0], files)
        following = {l.weight: l.kind for l in self.layers if l.weight}
        self.trainers: list[ModelTrainer] = []
        models = [copy.deepcopy(model) for _ in self.schemes[1:]]  # every copy before anything trains
        for scheme, m in zip(self.schemes, [model, *models]):
            reinit(m, scheme, seed, following)
            t = ModelTrainer(m, self.layers, scheme, lr=lr, momentum=momentum, optimizer=optimizer, seed=seed, files=files,
                             batch_size=batch_size_of(first[0]), history=History(max_bytes=HISTORY_BYTES // len(self.schemes)))  # fmt: skip
            t.model_label = f"{type(model).__name__}: {len(self.layers)} probe points · {batches.describe()}"
            t.start(first)
            self.trainers.append(t)
        self.names = [LANE_NAMES.get(s, s) for s in self.schemes]
        self.last_error: Optional[UserCodeError] = None  # the user's code failed while training (the window shows it)

    @property
    def layer_names(self) -> list[str]:
        return [l.name for l in self.layers]

    def step(self, n: int = 1) -> list[list[StepRecord]]:
        """n lockstep steps on the next n batches; a UserCodeError is also kept in ``last_error``."""
        out = []
        for _ in range(n):
            try:
                batch = next(self._stream)
                out.append([t.step(batch) for t in self.trainers])
            except UserCodeError as exc:
                self.last_error = exc
                raise
        return out

    def remove(self, index: int) -> None:
        if len(self.trainers) <= 1:
            raise ConfigError("lanes", len(self.trainers), "the last lane cannot be removed")
        self.trainers.pop(index).close()
        del self.names[index]
        del self.schemes[index]

    def rebuilt(self, seed: Optional[int] = None) -> "ModelLanes":
        """The same lanes from step 0 (``seed``: another seed for the factory and the schemes)."""
        return ModelLanes(self.factory, self.batches, self.schemes, seed=self.seed if seed is None else seed, lr=self.lr,
                          momentum=self.momentum, optimizer=self.optimizer, files=self.files, source=self.source)  # fmt: skip

    def diagnosis(self, index: int = 0, record: Optional[StepRecord] = None) -> list[str]:
        """The diagnosis of lane ``index`` (its newest record, or ``record``) with the init to use."""
        from initviz.engine.diagnosis import diagnose_model

        t = self.trainers[index]
        rec = t.latest if record is None else record
        return diagnose_model(rec, self.layers, t.init_guess, initial=t.history[0])


def build_model(factory: Callable[[], nn.Module], seed: int, files: tuple[Path, ...] = ()) -> nn.Module:
    """``factory()`` under torch's global RNG seeded with ``seed`` (the user's own init is then
    reproducible); a UserCodeError unless it returns an nn.Module."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = call_user(factory, "the factory", files)
    if not isinstance(model, nn.Module):
        raise UserCodeError(f"the factory returned {type(model).__name__}; expected a torch.nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise UserCodeError("the model has no trainable parameter")
    return model


# --- from Python -------------------------------------------------------------------------------------------


@dataclass
class Inspection:
    """What :func:`inspect` found: the lanes (records per lane), the layers and the diagnosis."""

    lanes: ModelLanes
    diagnosis: list[str] = field(default_factory=list)

    @property
    def layers(self) -> list[Layer]:
        return self.lanes.layers

    @property
    def records(self) -> list[StepRecord]:
        """Lane 0's records (the model as built), step 0 first."""
        return list(self.lanes.trainers[0].history)

    def step(self, n: int = 1) -> "Inspection":
        self.lanes.step(n)
        self.diagnosis = self.lanes.diagnosis(0)
        return self

    def report(self) -> str:
        return health_text(self.lanes)

    def write(self, out: "str | Path") -> list[Path]:
        """stats.json and stats.csv (initviz.run/1 per lane) into ``out``."""
        return write_stats(Path(out), self.lanes)

    def __repr__(self) -> str:
        return self.report()


def inspect(model: "nn.Module | Callable[[], nn.Module]", batch: Any = None, *, input_shape: Optional[Sequence[int]] = None,
            classes: int = 10, steps: int = 0, lanes: "str | Sequence[str]" = (AS_BUILT,), seed: int = 0, lr: float = 0.01,
            momentum: float = 0.9, optimizer: str = "sgd", batch_size: int = DEFAULT_BATCH) -> Inspection:  # fmt: skip
    """Step-0 health of ``model`` on ``batch`` (then ``steps`` training steps), e.g.
    ``initviz.inspect(net, (x, y))``. ``model``: a module (not changed: the lanes train copies) or a
    factory. ``batch``: (x, y), an iterable of them or a callable giving one; None: random inputs of
    ``input_shape`` with labels of ``classes``. ``lanes``: the schemes side by side ("as_built" = the
    model's own init). Errors in the model's code raise UserCodeError with its traceback."""
    if isinstance(model, nn.Module):
        module = model
        factory: Callable[[], nn.Module] = lambda: copy.deepcopy(module)  # noqa: E731
    else:
        factory = model
    if batch is None:
        source = BatchSource(input_shape=input_shape, classes=classes, batch_size=batch_size, seed=seed)
    else:
        source = BatchSource(lambda: batch, name="the batches")  # a batch, an iterable of them, or a callable giving one
    got = ModelLanes(factory, source, lane_list(lanes), seed=seed, lr=lr, momentum=momentum, optimizer=optimizer)
    if steps:
        got.step(int(steps))
    return Inspection(got, got.diagnosis(0))


# --- reports -----------------------------------------------------------------------------------------------


def health_text(lanes: ModelLanes) -> str:
    """The terminal summary: per lane the last record's loss and the diagnosis."""
    out = []
    for i, (name, t) in enumerate(zip(lanes.names, lanes.trainers)):
        r = t.latest
        out.append(f"{name}: step {r.step}, loss {r.loss:.4g}" + (f", batch accuracy {r.accuracy:.0%}" if math.isfinite(r.accuracy) else ""))
        out.extend(f"  - {line}" for line in lanes.diagnosis(i))
    return "\n".join(out)


def model_dict(lanes: ModelLanes, index: int) -> dict[str, Any]:
    """What stats.json says about the user's model (beside the summary ``config``)."""
    t = lanes.trainers[index]
    return {
        "source": lanes.source,
        "batches": lanes.batches.describe(),
        "init": t.scheme,
        "layers": [
            {"name": l.name, "module": l.module, "type": l.type_name, "activation": l.kind, "weight": l.weight or None,
             "weight_type": l.weight_type or None, "fan_in": l.fan_in or None, "fan_out": l.fan_out or None,
             "init_at_build": g.label if g is not None else None}
            for l, g in zip(lanes.layers, t.init_guess)
        ],
        "diagnosis": lanes.diagnosis(index),
    }  # fmt: skip


def write_stats(out: Path, lanes: ModelLanes) -> list[Path]:
    """stats.json / stats.csv: initviz.run/1 (one lane) or initviz.compare/1 (lanes), layers named
    by module path, plus a "model" object per run (layers, their types, the init each looks like)."""
    from initviz.engine.report import lanes_report, write_run

    runs = [(n, t.config, list(t.history), t.theory, lanes.layer_names) for n, t in zip(lanes.names, lanes.trainers)]
    obj, csv_body = lanes_report(runs, single=len(runs) == 1)
    for i, run in enumerate(obj.get("lanes", [obj])):
        run["model"] = model_dict(lanes, i)
    return write_run(out, obj, csv_body)


__all__ = ["AS_BUILT", "BatchSource", "DEFAULT_LANES", "Inspection", "Layer", "ModelLanes", "ModelTrainer", "SCHEMES",
           "build_model", "forward", "inspect", "lane_list", "reinit", "write_stats"]  # fmt: skip
