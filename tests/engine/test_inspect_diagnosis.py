"""The diagnosis of a user's model names its layers by module path and says which init fixes them;
the init a layer has is recognised from its weights' std against torch's fan_in/fan_out."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from initviz.engine.diagnosis import guess_init_label, init_fix
from initviz.engine.inspect import guess_init, inspect


class Deep(nn.Module):
    """depth x (fc -> act) in blocks.i, under an init applied by the user's own code."""

    def __init__(self, act: type, init, depth: int = 20, width: int = 64) -> None:
        super().__init__()
        self.inp = nn.Linear(16, width)
        self.blocks = nn.ModuleList(nn.Sequential() for _ in range(depth))
        for b in self.blocks:
            b.add_module("fc", nn.Linear(width, width))
            b.add_module("act", act())
        self.head = nn.Linear(width, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def test_relu_after_xavier_at_depth_20_gets_the_kaiming_suggestion() -> None:
    got = inspect(lambda: Deep(nn.ReLU, nn.init.xavier_normal_), input_shape=(16,), classes=10, batch_size=64)
    text = "\n".join(got.diagnosis)
    std = got.records[0].act_std
    assert std[0] / std[-1] > 100  # the phenomenon: Xavier halves the variance per ReLU layer
    assert "the signal" in got.diagnosis[0] and "blocks.0.act" in got.diagnosis[0] and "blocks.19.act" in got.diagnosis[0]
    assert "blocks.0.fc, blocks.1.fc, blocks.2.fc … (20 layers): ReLU after Xavier normal: use kaiming_normal_(nonlinearity='relu')" in text
    # under Kaiming the same network is healthy, and nothing is suggested
    fixed = inspect(lambda: Deep(nn.ReLU, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")), input_shape=(16,), batch_size=64)
    assert fixed.diagnosis[0].startswith("healthy") and len(fixed.diagnosis) == 1


def test_tanh_with_unit_normal_weights_is_named_saturated() -> None:
    got = inspect(lambda: Deep(nn.Tanh, lambda w: nn.init.normal_(w, 0.0, 1.0), depth=6), input_shape=(16,), batch_size=64)
    rec = got.records[0]
    sat = [l.name for l, s in zip(got.layers, rec.saturation) if s > 0.5]
    assert sat == [f"blocks.{i}.act" for i in range(6)]  # every layer (checked against the record itself)
    assert got.diagnosis[0].startswith("saturated: blocks.0.act, blocks.1.act, blocks.2.act … (6 layers) (worst ")
    assert any("Tanh after N(0, 1): use xavier_normal_(gain=nn.init.calculate_gain('tanh'))" in line for line in got.diagnosis)


def test_dead_and_collapsed_layers_are_named() -> None:
    def init(w: torch.Tensor) -> None:
        nn.init.constant_(w, 0.05)

    got = inspect(lambda: Deep(nn.ReLU, init, depth=3, width=8), input_shape=(16,), batch_size=32)
    assert any(line.startswith("collapsed: blocks.0.act, blocks.1.act, blocks.2.act") for line in got.diagnosis)

    class DeadNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.act, self.head = nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10)
            nn.init.constant_(self.fc.bias, -100.0)  # every pre-activation far below 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.act(self.fc(x)))

    got = inspect(DeadNet, input_shape=(16,), batch_size=32)
    assert got.diagnosis[0] == "dead: act: 100% of units never active on this batch"


@pytest.mark.parametrize(
    "init, label",
    [
        (lambda w: nn.init.xavier_uniform_(w), "Xavier uniform"),
        (lambda w: nn.init.xavier_normal_(w), "Xavier normal"),
        (lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), "Kaiming (ReLU) normal"),
        (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), "Kaiming (ReLU) uniform"),
        (lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), "Kaiming fan_out (ReLU) normal"),
        (lambda w: None, "PyTorch default"),  # nn.Conv2d's own reset_parameters
        (lambda w: nn.init.normal_(w, 0.0, 1.0), "N(0, 1)"),
        (lambda w: nn.init.zeros_(w), "constant (std 0)"),
    ],
)
def test_the_init_a_conv_layer_has_is_recognised(init, label: str) -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(16, 64, 3)  # fan_in 144, fan_out 576: every scheme's std differs
    with torch.no_grad():
        init(conv.weight)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(conv.weight)
    assert (fan_in, fan_out) == (144, 576)
    assert guess_init(conv.weight, "relu").label == label


def test_guess_falls_back_to_the_std_against_kaimings() -> None:
    assert guess_init_label(0.5 * math.sqrt(2 / 100), 100, 100) == "std 0.0707 (0.5x Kaiming's)"


def test_fix_only_where_the_std_is_off_for_the_activation() -> None:
    fi = fo = 256
    assert init_fix("relu", fi, fo, math.sqrt(2 / fi)) is None
    assert init_fix("relu", fi, fo, math.sqrt(1 / fi)) == "kaiming_normal_(nonlinearity='relu')"  # Xavier: off by sqrt 2
    assert init_fix("tanh", fi, fo, 5 / 3 * math.sqrt(2 / (fi + fo))) is None
    assert init_fix("tanh", fi, fo, 1.0).startswith("xavier_normal_(gain=nn.init.calculate_gain('tanh'))")


def test_schemes_the_std_cannot_tell_apart_are_both_named() -> None:
    # a first conv 3 -> 16, k 3: fan_in 27, fan_out 144; Xavier's std sqrt(2/171) is 3% from PyTorch's 1/sqrt(81)
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 16, 3)
    with torch.no_grad():
        nn.init.xavier_uniform_(conv.weight)
    assert guess_init(conv.weight, "relu").label in ("Xavier uniform (or PyTorch default)", "PyTorch default (or Xavier uniform)")
    # fan_in = fan_out: Xavier and LeCun aim at the same std, one answer
    lin = nn.Linear(256, 256)
    with torch.no_grad():
        nn.init.xavier_normal_(lin.weight)
    assert guess_init(lin.weight, "relu").label == "Xavier normal"


def test_sequential_indices_are_written_as_python_indexes_them() -> None:
    from initviz.engine.diagnosis import module_name

    assert [module_name(n) for n in ("2", "0.conv", "blocks.2.fc", "head")] == ["[2]", "[0].conv", "blocks.2.fc", "head"]


class TanhThenRelu(nn.Module):
    """A Tanh stem and six ReLU layers, all under the user's N(0, 1) init: saturated AND exploding."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(16, 64), nn.Tanh())
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(6)])
        self.head = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def test_every_finding_at_init_is_said_when_the_run_has_moved_on() -> None:
    """Diagnosed against a later record with other findings, the step-0 findings all come first,
    each once ("at init: saturated ...", "at init: exploding ..."), not only the first of them."""
    from initviz.engine.diagnosis import diagnose_model

    got = inspect(TanhThenRelu, input_shape=(16,), classes=10, batch_size=64)
    t = got.lanes.trainers[0]
    init = t.history[0]
    std = init.act_std
    assert init.saturation[0] > 0.5 and std[-1] > 100 * std[0]  # the phenomena, from the record itself
    healthy = inspect(lambda: Deep(nn.ReLU, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), depth=7),
                      input_shape=(16,), batch_size=64).step(1).records[-1]  # fmt: skip
    assert healthy.depth == init.depth and healthy.step > init.step
    lines = diagnose_model(healthy, got.layers, t.init_guess, initial=init)
    at_init = [line for line in lines if line.startswith("at init: ")]
    assert [line.split(":")[1].strip() for line in at_init] == ["saturated", "exploding"]
    assert lines[: len(at_init)] == at_init
