"""The description of one run: validated, frozen, and round-trippable through JSON.

Every bad value raises :class:`ConfigError` naming the field, the value and what is allowed,
so the CLI, the GUI and a notebook all show the same sentence to a person.
"""

from __future__ import annotations

import dataclasses
import json
import math
import reprlib
from dataclasses import dataclass, field
from typing import Any, Mapping

ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "gelu", "elu", "selu", "linear")
INIT_SCHEMES = (
    "zeros",
    "constant",
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_normal",
    "orthogonal",
    "pytorch_default",
)
DATASETS = ("spirals", "moons", "circles", "xor", "blobs", "digits", "gaussian")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("cpu", "cuda")
MODES = ("fan_in", "fan_out")
# Nonlinearities torch.nn.init.calculate_gain knows; "auto" follows the run's activation.
NONLINEARITIES = ("auto", "linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
ARCHS = ("mlp", "resmlp", "cnn")
CNN_DATASETS = ("digits",)  # cnn reads its inputs as 8x8 images
# residual_scale A of resmlp's blocks h + A * f(h): a number, or one of these names
RESIDUAL_SCALES = ("1/sqrt(depth)", "fixup")
MAX_RESIDUAL_SCALE = 100.0

MAX_DEPTH = 200
MAX_WIDTH = 4096
MAX_INPUT_DIM = 4096


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names field, value and the allowed set."""

    def __init__(self, field_name: str, value: Any, allowed: str) -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        shown = field_name if field_name.isprintable() and len(field_name) <= 80 else _short_repr(field_name)
        super().__init__(f"{shown}: {_short_repr(value)} is not allowed; {allowed}")


def _short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut to a readable length: a value from a file may be megabytes long."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + f"…' ({len(value):,} characters)"
    text = reprlib.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, value, "choose one of " + ", ".join(choices))


def _number(
    name: str,
    value: Any,
    lo: float,
    hi: float,
    *,
    integer: bool = False,
    lo_open: bool = False,
) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(name, value, f"expected {kind} from {lo:g} to {hi:g}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, value, f"expected a finite number from {lo:g} to {hi:g}")
    if (value <= lo if lo_open else value < lo) or value > hi:
        lower = f"above {lo:g}" if lo_open else f"from {lo:g}"
        raise ConfigError(name, value, f"expected {lower} to {hi:g}")


@dataclass(frozen=True)
class InitSpec:
    """An init scheme and its parameters (only the ones the scheme uses matter)."""

    scheme: str = "xavier_normal"
    std: float = 1.0  # normal
    value: float = 0.1  # constant
    bound: float = 1.0  # uniform: U(-bound, bound)
    gain: float = 1.0  # xavier_*, orthogonal
    mode: str = "fan_in"  # kaiming_*
    nonlinearity: str = "auto"  # kaiming_*: the gain's nonlinearity; auto = the activation

    def validate(self, prefix: str = "init") -> None:
        _choice(f"{prefix}.scheme", self.scheme, INIT_SCHEMES)
        _number(f"{prefix}.std", self.std, 0.0, 1e6)
        _number(f"{prefix}.value", self.value, -1e6, 1e6)
        _number(f"{prefix}.bound", self.bound, 0.0, 1e6)
        _number(f"{prefix}.gain", self.gain, 0.0, 1e6)
        _choice(f"{prefix}.mode", self.mode, MODES)
        _choice(f"{prefix}.nonlinearity", self.nonlinearity, NONLINEARITIES)

    def label(self) -> str:
        """Short human name, e.g. 'normal(std=1)' or 'kaiming_normal'."""
        s = self.scheme
        if s == "normal":
            return f"N(0, {self.std:g}²)"
        if s == "constant":
            return f"constant {self.value:g}"
        if s == "uniform":
            return f"U(±{self.bound:g})"
        if s in ("xavier_uniform", "xavier_normal", "orthogonal") and self.gain != 1.0:
            return f"{s}(gain={self.gain:g})"
        return s


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Same config and seed give identical weights and stats."""

    dataset: str = "spirals"
    depth: int = 10  # number of hidden layers
    width: int = 64
    activation: str = "tanh"
    init: InitSpec = field(default_factory=InitSpec)
    bias_init: float = 0.0  # constant for every bias, except under pytorch_default
    bias_std: float = 0.0  # > 0: biases ~ N(bias_init, bias_std^2) instead (phase-diagram sweeps)
    batchnorm: bool = False  # BatchNorm1d between each hidden Linear and its activation
    dropout: float = 0.0  # after each hidden activation
    optimizer: str = "sgd"
    lr: float = 0.01  # with momentum 0.9: healthy inits train at depth 20 (0.05 diverges there)
    momentum: float = 0.9  # sgd only
    batch_size: int = 64
    seed: int = 0
    device: str = "cpu"
    record_every: int = 1  # measure every k-th step (record 0 is always measured)
    test_every: int = 25  # test accuracy on recorded steps that are a multiple of this
    input_dim: int = 16  # gaussian dataset only: inputs N(0, I_D) with D = input_dim
    # mlp; resmlp: input projection, depth blocks h + A * Linear(phi(norm(h))), head; cnn: depth conv 3x3
    # blocks on the 8x8 digits, width channels doubling at each stride-2 stage, global average pool, head
    arch: str = "mlp"
    # resmlp's A: a number, "1/sqrt(depth)", or "fixup" (A = 1, each branch's Linear zero-initialised)
    residual_scale: float | str = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.init, str):  # allow RunConfig(init="zeros")
            object.__setattr__(self, "init", InitSpec(scheme=self.init))
        elif isinstance(self.init, Mapping):  # allow RunConfig(init={"scheme": ...})
            object.__setattr__(self, "init", InitSpec(**self.init))

    def validate(self) -> "RunConfig":
        """Raise ConfigError on the first bad field; return self so calls chain."""
        _choice("dataset", self.dataset, DATASETS)
        _number("depth", self.depth, 1, MAX_DEPTH, integer=True)
        _number("width", self.width, 1, MAX_WIDTH, integer=True)
        _choice("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.init, InitSpec):
            raise ConfigError("init", self.init, "expected an init spec with a scheme")
        self.init.validate()
        _number("bias_init", self.bias_init, -1e6, 1e6)
        _number("bias_std", self.bias_std, 0.0, 1e6)
        if not isinstance(self.batchnorm, bool):
            raise ConfigError("batchnorm", self.batchnorm, "expected true or false")
        _number("dropout", self.dropout, 0.0, 0.95)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _number("lr", self.lr, 0.0, 100.0, lo_open=True)
        _number("momentum", self.momentum, 0.0, 0.999)
        _number("batch_size", self.batch_size, 2, 4096, integer=True)
        _number("seed", self.seed, 0, 2**31 - 1, integer=True)
        _choice("device", self.device, DEVICES)
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("device", "cuda", "no CUDA device on this machine; use cpu")
        _number("record_every", self.record_every, 1, 1_000_000, integer=True)
        _number("test_every", self.test_every, 1, 1_000_000, integer=True)
        _number("input_dim", self.input_dim, 1, MAX_INPUT_DIM, integer=True)
        _choice("arch", self.arch, ARCHS)
        if self.arch == "cnn" and self.dataset not in CNN_DATASETS:
            raise ConfigError("dataset", self.dataset, "arch 'cnn' reads 8x8 images: use " + ", ".join(CNN_DATASETS))
        self._validate_residual_scale()
        return self

    def _validate_residual_scale(self) -> None:
        a = self.residual_scale
        if isinstance(a, str):
            if a not in RESIDUAL_SCALES:
                raise ConfigError(
                    "residual_scale", a, f"expected a number from 0 to {MAX_RESIDUAL_SCALE:g} or one of " + ", ".join(RESIDUAL_SCALES)
                )
        elif isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) or not 0 <= a <= MAX_RESIDUAL_SCALE:
            raise ConfigError(
                "residual_scale", a, f"expected a number from 0 to {MAX_RESIDUAL_SCALE:g} or one of " + ", ".join(RESIDUAL_SCALES)
            )
        if self.arch != "resmlp" and a != 1.0:
            raise ConfigError("residual_scale", a, f"only arch 'resmlp' has residual branches; leave it at 1 for {self.arch!r}")

    def residual_factor(self) -> float:
        """A of the residual blocks h + A * f(h) as a number (fixup: 1; its branches start at zero)."""
        a = self.residual_scale
        if a == "1/sqrt(depth)":
            return 1.0 / math.sqrt(self.depth)
        if a == "fixup":
            return 1.0
        return float(a)

    @property
    def fixup(self) -> bool:
        """True when each residual branch's Linear starts at zero (Fixup / "zero gamma")."""
        return self.arch == "resmlp" and self.residual_scale == "fixup"

    # --- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        """Build and validate from a mapping; unknown keys are an error, missing keys default."""
        if not isinstance(data, Mapping):
            raise ConfigError("config", data, "expected a JSON object of run settings")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(key, data[key], "unknown setting; known: " + ", ".join(sorted(known)))
        values = dict(data)
        if "init" in values:
            init = values["init"]
            if isinstance(init, str):
                init = {"scheme": init}
            if not isinstance(init, Mapping):
                raise ConfigError("init", init, "expected a scheme name or an object with 'scheme'")
            init_known = {f.name for f in dataclasses.fields(InitSpec)}
            for key in init:
                if key not in init_known:
                    raise ConfigError(
                        f"init.{key}", init[key], "unknown init setting; known: " + ", ".join(sorted(init_known))
                    )
            values["init"] = InitSpec(**init)
        return cls(**values).validate()

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("config", text[:40], f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "RunConfig":
        """A validated copy with some fields changed (init may be given as a dict of changes)."""
        init = changes.pop("init", None)
        if isinstance(init, str):
            changes["init"] = dataclasses.replace(self.init, scheme=init)
        elif isinstance(init, Mapping):
            changes["init"] = dataclasses.replace(self.init, **init)
        elif init is not None:
            changes["init"] = init
        return dataclasses.replace(self, **changes).validate()

    def layer_names(self) -> list[str]:
        """The measured layers' names: "1".."L" for mlp, the module path of each layer otherwise
        (resmlp "blocks.3", the block whose output is the residual stream; cnn "blocks.3.conv")."""
        if self.arch == "cnn":
            return [f"blocks.{i}.conv" for i in range(self.depth)]
        if self.arch == "resmlp":
            return [f"blocks.{i}" for i in range(self.depth)]
        return [str(i + 1) for i in range(self.depth)]

    def layer_caption(self, i: int) -> str:
        """'layer 3' (mlp), 'layer 3 · blocks.2.conv' where the layer has a module path (i: 0-based)."""
        return f"layer {i + 1}" if self.arch == "mlp" else f"layer {i + 1} · {self.layer_names()[i]}"

    def network_label(self) -> str:
        """One line on the network's shape: '9 hidden layers × 16 units', or the conv / residual stacks."""
        if self.arch == "cnn":
            channels = "-".join(str(c) for c in dict.fromkeys(layer.c_out for layer in cnn_plan(self)))
            return f"{self.depth} conv 3×3 layers × {channels} channels"
        if self.arch == "resmlp":
            a = "Fixup" if self.fixup else f"A = {self.residual_scale:g}" if isinstance(self.residual_scale, (int, float)) else f"A = {self.residual_scale}"
            return f"{self.depth} residual blocks × {self.width} units ({a})"
        return f"{self.depth} hidden layers × {self.width} units"

    def resolved_nonlinearity(self) -> str:
        """The nonlinearity name torch's calculate_gain should use for this run."""
        nl = self.init.nonlinearity
        if nl != "auto":
            return nl
        return {"gelu": "relu", "elu": "relu"}.get(self.activation, self.activation)


CNN_KERNEL = 3
CNN_SIDE = 8  # the digits are 8x8 images
CNN_STAGES = 3  # spatial 8x8, 4x4, 2x2: channels width, 2 width, 4 width


@dataclass(frozen=True)
class ConvLayer:
    """One conv 3x3 layer of arch cnn: channels in/out, stride, and the input/output side length."""

    c_in: int
    c_out: int
    stride: int
    side_in: int
    side_out: int

    @property
    def fan_in(self) -> int:  # as torch.nn.init._calculate_fan_in_and_fan_out: C_in * k * k
        return self.c_in * CNN_KERNEL * CNN_KERNEL

    @property
    def fan_out(self) -> int:  # C_out * k * k (the stride does not enter torch's fan)
        return self.c_out * CNN_KERNEL * CNN_KERNEL


def cnn_plan(config: "RunConfig") -> list[ConvLayer]:
    """The conv layers of arch cnn: ``depth`` layers in up to three stages (8x8, 4x4, 2x2), the
    first layer of a new stage with stride 2; stage s has ``width * 2**s`` channels (padding 1)."""
    depth = config.depth
    plan, c_in, side, prev = [], 1, CNN_SIDE, 0
    for i in range(depth):
        stage = min(CNN_STAGES * i // depth, CNN_STAGES - 1)
        stride = 2 if stage > prev else 1
        out_side = (side + 2 - CNN_KERNEL) // stride + 1
        c_out = config.width * 2**stage
        plan.append(ConvLayer(c_in, c_out, stride, side, out_side))
        c_in, side, prev = c_out, out_side, stage
    return plan
