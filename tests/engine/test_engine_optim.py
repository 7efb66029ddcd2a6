"""The hand-written optimizers against torch.optim: identical weights and state, step for step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from initviz.engine.optim import SGD, Adam


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _train(model: torch.nn.Module, opt, steps: int, track: bool = False) -> list:
    g = torch.Generator().manual_seed(1)
    tracked = []
    for _ in range(steps):
        x = torch.randn(16, 5, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if track:
            before = [p.detach().clone() for p in model.parameters()]
            out = opt.step(list(model.parameters()))
            tracked.append((before, [p.detach().clone() for p in model.parameters()], out))
        else:
            opt.step()
    return tracked


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_bit_for_bit(momentum: float) -> None:
    a, b = _model(0), _model(0)
    _train(a, torch.optim.SGD(a.parameters(), lr=0.1, momentum=momentum), 5)
    mine = SGD(b.parameters(), lr=0.1, momentum=momentum)
    _train(b, mine, 5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    ref = torch.optim.SGD(a.parameters(), lr=0.1, momentum=momentum)
    _train(a, ref, 1)
    assert set(mine.state_dict()["state"]) == set(ref.state_dict()["state"])


def test_adam_matches_torch_bit_for_bit_and_state_layout() -> None:
    a, b = _model(2), _model(2)
    ref = torch.optim.Adam(a.parameters(), lr=0.01)
    _train(a, ref, 6)
    mine = Adam(b.parameters(), lr=0.01)
    _train(b, mine, 6)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    rs, ms = ref.state_dict()["state"], mine.state_dict()["state"]
    assert rs.keys() == ms.keys()
    for i in rs:
        assert rs[i].keys() == ms[i].keys()
        for k in rs[i]:
            assert torch.equal(rs[i][k], ms[i][k]), (i, k)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_tracked_norms_are_the_update_and_the_new_weights(cls) -> None:
    m = _model(3)
    opt = cls(m.parameters(), lr=0.05, **({"momentum": 0.9} if cls is SGD else {}))
    for before, after, out in _train(m, opt, 3, track=True):
        for j, (p, b) in enumerate(zip(after, before)):
            change = float((p.double() - b.double()).norm())
            assert abs(float(out[j, 0]) - change) <= 1e-3 * change
            assert abs(float(out[j, 1]) - float(p.double().norm())) <= 1e-6 * float(p.norm())
            assert abs(float(out[j, 2]) - float(p.double().sum())) <= 1e-5 * float(p.abs().sum())


def test_state_dict_round_trip_continues_identically() -> None:
    a, b = _model(4), _model(4)
    oa, ob = SGD(a.parameters(), lr=0.1, momentum=0.9), SGD(b.parameters(), lr=0.1, momentum=0.9)
    _train(a, oa, 2)
    _train(b, ob, 2)
    sd = oa.state_dict()
    ob.load_state_dict({"state": {i: {k: v.clone() for k, v in s.items()} for i, s in sd["state"].items()}})
    _train(a, oa, 2)
    _train(b, ob, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_trainer_does_not_import_dynamo() -> None:
    """torch.optim's constructors import torch._dynamo (+71 MB); a Trainer must not."""
    code = ("import sys; from initviz.engine import RunConfig, Trainer; "
            "t = Trainer(RunConfig(depth=2, width=8)); t.step(2); "
            "print(any(m.startswith('torch._dynamo') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
