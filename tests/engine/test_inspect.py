"""initviz inspect on three small models written here (in-place ReLU, a module used twice, a
BatchNorm ResNet block): the numbers of stats.json equal a hand-written hook loop's, at step 0 and
after one SGD step; keyword inputs; re-initialised lanes; the engine loop driving model lanes."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from initviz.cli import main
from initviz.engine import usercode
from initviz.engine.inspect import BatchSource, ModelLanes, inspect, reinit

MODELS = textwrap.dedent('''
    import torch
    from torch import nn


    class InPlace(nn.Module):
        """An MLP whose ReLUs are in place, with the user's own init (N(0, 0.2^2))."""

        def __init__(self):
            super().__init__()
            self.fc1, self.act1 = nn.Linear(12, 24), nn.ReLU(inplace=True)
            self.fc2, self.act2 = nn.Linear(24, 24), nn.ReLU(inplace=True)
            self.out = nn.Linear(24, 5)
            for m in (self.fc1, self.fc2):
                nn.init.normal_(m.weight, 0.0, 0.2)

        def forward(self, x):
            return self.out(self.act2(self.fc2(self.act1(self.fc1(x)))))


    class Shared(nn.Module):
        """One Linear and one Tanh applied twice (weights tied), then a head."""

        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(12, 16)
            self.fc = nn.Linear(16, 16)
            self.act = nn.Tanh()
            self.head = nn.Linear(16, 5)

        def forward(self, x):
            h = self.act(self.inp(x))
            h = self.act(self.fc(h))
            h = self.act(self.fc(h))
            return self.head(h)


    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)


    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
            self.block = ResBlock(6)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))

        def forward(self, x):
            return self.head(self.block(self.stem(x)))


    class Keywords(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.head = nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 5)

        def forward(self, x, *, scale):
            return self.head(self.act(self.fc(x * scale)))


    def inplace():
        return InPlace()


    def shared():
        return Shared()


    def resnet():
        return ResNet()


    def keywords():
        return Keywords()


    def flat_batches():
        g = torch.Generator().manual_seed(7)
        return [(torch.randn(16, 12, generator=g), torch.randint(5, (16,), generator=g)) for _ in range(3)]


    def image_batches():
        g = torch.Generator().manual_seed(7)
        return [(torch.randn(8, 3, 6, 6, generator=g), torch.randint(5, (8,), generator=g)) for _ in range(3)]


    def keyword_batches():
        g = torch.Generator().manual_seed(7)
        return [({"x": torch.randn(16, 12, generator=g), "scale": torch.tensor(2.0)}, torch.randint(5, (16,), generator=g))]
''')

# (factory, batch function, the activation calls in forward order: (module path, reported name), the
# Linear/Conv that ran last before each)
CASES = {
    "inplace": ("flat_batches", [("act1", "act1"), ("act2", "act2")], ["fc1", "fc2"]),
    "shared": ("flat_batches", [("act", "act"), ("act", "act#2"), ("act", "act#3")], ["inp", "fc", "fc"]),
    "resnet": ("image_batches", [("stem.1", "stem.1"), ("block.relu", "block.relu"), ("block.relu", "block.relu#2")],
               ["stem.0", "block.conv1", "block.conv2"]),
}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(MODELS, encoding="utf-8")
    yield path
    usercode.forget()


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"oracle_models_{abs(hash(path))}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def hook_loop(model: nn.Module, x, y, acts: list[str], weights: list[str]) -> dict[str, list[float]]:
    """Every statistic by hand: hooks on the named activation calls, float64 numpy from the tensors."""
    mods = dict(model.named_modules())
    calls: list[dict] = []
    order = iter(acts)
    handles = []
    seen = set()
    for name in acts:
        if name in seen:
            continue
        seen.add(name)
        m = mods[name]

        def pre(mod, inputs, name=name):
            calls.append({"name": name, "pre": inputs[0].detach().clone()})

        def post(mod, inputs, out):
            c = next(c for c in calls if "post" not in c and mods[c["name"]] is mod)
            c["post"] = out.detach().clone()
            out.register_hook(lambda g, c=c: c.__setitem__("grad", g.detach().clone()))

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    model.zero_grad()
    logits = model(**x) if isinstance(x, dict) else model(x)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    for h in handles:
        h.remove()
    assert [c["name"] for c in calls] == acts
    out: dict[str, list[float]] = {k: [] for k in ("act_mean", "act_std", "pre_std", "dead", "symmetry", "grad_out_norm",
                                                   "grad_norm", "weight_std")}
    for c, wname in zip(calls, weights):
        post, pre = c["post"].double().numpy(), c["pre"].double().numpy()
        units = (lambda a: np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])) if post.ndim == 4 else (lambda a: a)
        p, q = units(post), units(pre)
        out["act_mean"].append(p.mean())
        out["act_std"].append(p.std())
        out["pre_std"].append(q.std())
        relu = isinstance(mods[c["name"]], nn.ReLU)  # dead: never active (ReLU), else output always exactly 0
        out["dead"].append(float(np.mean(q.max(0) <= 0)) if relu else float(np.mean(np.abs(p).max(0) == 0)))
        out["symmetry"].append(p.mean(1).var() / p.var())
        out["grad_out_norm"].append(float(np.linalg.norm(c["grad"].double().numpy())))
        w = mods[wname].weight
        out["grad_norm"].append(float(np.linalg.norm(w.grad.double().numpy())))
        out["weight_std"].append(float(w.detach().double().numpy().std()))
    out["loss"] = [float(loss.detach())]
    return out


def sgd_step(model: nn.Module, buffers: dict, lr: float = 0.01, momentum: float = 0.9) -> None:
    """torch.optim.SGD's first step by hand: buf = grad, p -= lr * buf."""
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is None:
                continue
            buf = buffers.get(id(p))
            buf = p.grad.clone() if buf is None else buf.mul_(momentum).add_(p.grad)
            buffers[id(p)] = buf
            p.sub_(lr * buf)


@pytest.mark.parametrize("factory", list(CASES))
def test_inspect_matches_a_hand_written_hook_loop(model_file: Path, tmp_path: Path, factory: str, capsys) -> None:
    batches, acts, weights = CASES[factory]
    out = tmp_path / "out"
    code = main(["inspect", f"{model_file}:{factory}", "--batches", f"{model_file}:{batches}", "--steps", "1",
                 "--lanes", "as_built", "--headless", "--no-slides", "--out", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    stats = json.loads((out / "stats.json").read_text())
    assert stats["schema"] == "initviz.run/1"
    assert stats["layers"] == [name for _, name in acts]
    assert [l["weight"] for l in stats["model"]["layers"]] == weights
    assert stats["steps"] == [0, 1]

    mod = _module(model_file)
    torch.manual_seed(0)  # the factory runs under the run's seed (0)
    model = getattr(mod, factory)()
    model.train()
    data = getattr(mod, batches)()
    modules = [a for a, _ in acts]
    buffers: dict = {}
    for step in (0, 1):
        if step:
            sgd_step(model, buffers)
        x, y = data[step]
        want = hook_loop(model, x, y, modules, weights)
        assert stats["loss"][step] == pytest.approx(want["loss"][0], rel=1e-5)
        for key in ("act_mean", "act_std", "pre_std", "dead", "symmetry", "grad_out_norm", "grad_norm", "weight_std"):
            got = stats[key][step]
            assert got == pytest.approx(want[key], rel=1e-4, abs=1e-6), (factory, step, key)


def test_in_place_relu_keeps_its_pre_activation(model_file: Path) -> None:
    """The pre-activation of an in-place ReLU is not its output: negative values are seen."""
    mod = _module(model_file)
    got = inspect(mod.inplace, mod.flat_batches())
    rec = got.records[0]
    assert np.all(rec.pre_mean < rec.act_mean)  # the clipped output's mean is above the input's
    assert np.all(rec.pre_hist.sum(1) + rec.pre_under + rec.pre_over == 16 * 24)


def test_keyword_inputs(model_file: Path) -> None:
    mod = _module(model_file)
    got = inspect(mod.keywords, mod.keyword_batches(), steps=2)
    assert [l.name for l in got.layers] == ["act"]
    with torch.no_grad():
        torch.manual_seed(0)
        m = mod.keywords()
        x, _ = mod.keyword_batches()[0]
        h = m.fc(x["x"] * 2.0)
        post = torch.nn.functional.gelu(h)
    assert got.records[0].act_std[0] == pytest.approx(float(post.double().std(correction=0)), rel=1e-5)
    assert len(got.records) == 3


def test_the_model_passed_in_is_not_changed(model_file: Path) -> None:
    mod = _module(model_file)
    model = mod.inplace()
    before = copy.deepcopy(model.state_dict())
    inspect(model, mod.flat_batches(), steps=3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lanes_reinitialise_every_layer_with_their_scheme(model_file: Path) -> None:
    mod = _module(model_file)
    lanes = ModelLanes(mod.resnet, BatchSource(mod.image_batches), ("as_built", "kaiming_normal", "zeros"))
    as_built, kaiming, zeros = (t.model for t in lanes.trainers)
    assert torch.equal(as_built.stem[0].weight, (torch.manual_seed(0), mod.resnet())[1].stem[0].weight)
    w = kaiming.block.conv1.weight
    fan_in = w.shape[1] * w.shape[2] * w.shape[3]
    assert float(w.detach().std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.15)
    assert all(float(m.weight.detach().abs().max()) == 0 for m in zeros.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert torch.equal(kaiming.block.bn1.weight, as_built.block.bn1.weight)  # norm layers keep their values
    # the same seed gives the same re-initialised weights
    again = copy.deepcopy(as_built)
    reinit(again, "kaiming_normal", 0, {"block.conv1": "relu"})
    assert torch.equal(again.block.conv1.weight, w)
    assert lanes.trainers[2].latest.weight_std[0] == 0


def test_random_inputs_of_a_shape(model_file: Path) -> None:
    mod = _module(model_file)
    got = inspect(mod.resnet, input_shape=(3, 6, 6), classes=5, batch_size=4, steps=1)
    assert got.records[-1].step == 1
    assert got.lanes.batches.describe().startswith("random inputs N(0, 1) of shape 4x3x6x6")


def test_engine_loop_drives_model_lanes(model_file: Path) -> None:
    """The window's Engine takes a lanes factory: steps, Reset rebuilds the same record 0, lane edits are refused."""
    from initviz.engine import loop

    mod = _module(model_file)
    engine = loop.Engine(lambda: ModelLanes(mod.shared, BatchSource(mod.flat_batches), ("as_built", "orthogonal")))
    first = engine.publish().lanes[0].records[0]
    engine.handle(loop.Step(3))
    while engine.running:
        engine.tick()
    snap = engine.publish()
    assert snap.step_count == 3 and snap.names == ("as built", "orthogonal")
    assert snap.lanes[0].layer_names == ("act", "act#2", "act#3")
    assert snap.lanes[1].init_formula.startswith("every Linear/Conv re-initialised: orthogonal")
    engine.handle(loop.Reset())
    snap = engine.publish()
    assert snap.step_count == 0 and np.array_equal(snap.lanes[0].records[0].act_std, first.act_std)
    engine.handle(loop.AddLane(0))
    assert "lanes are set when it is opened" in engine.publish().error
    assert len(engine.lanes) == 2


def test_initviz_inspect_from_python_on_one_batch() -> None:
    import initviz

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(16, 4), torch.randint(2, (16,))
    got = initviz.inspect(net, (x, y), steps=2, lanes="as_built,kaiming_normal")
    assert initviz.inspect is inspect
    assert [l.name for l in got.layers] == ["1"] and len(got.records) == 3
    with torch.no_grad():
        h = torch.tanh(net[0](x))
    assert got.records[0].act_std[0] == pytest.approx(float(h.double().std(correction=0)), rel=1e-5)
    assert got.diagnosis == ["healthy: no layer saturated, dead, collapsed or exploding"]
    assert got.report().splitlines()[0].startswith("as built: step 2, loss ")


def test_batches_from_a_callable_a_generator_or_a_list(model_file: Path) -> None:
    """A callable is asked for a new batch every step; a used-up generator is asked for anew; a list cycles."""
    mod = _module(model_file)
    data = mod.flat_batches()
    calls = []

    def give():
        calls.append(1)
        return data[len(calls) % 3]

    got = inspect(mod.inplace, give, steps=3)
    assert len(calls) == 4  # record 0 and three steps
    made = []

    def gen():
        made.append(1)
        yield from data[:2]

    lanes = ModelLanes(mod.inplace, BatchSource(gen))
    lanes.step(4)  # 5 batches from a generator of 2: asked again twice
    assert len(made) == 3
    class Loader:  # re-iterable like a list or a DataLoader
        iters = 0

        def __iter__(self):
            Loader.iters += 1
            return iter(data)

    listed = ModelLanes(mod.inplace, BatchSource(Loader))
    listed.step(3)  # 4 batches from 3: iterated again, not rebuilt
    assert Loader.iters == 2
    assert [r.step for r in listed.trainers[0].history] == [0, 1, 2, 3]
