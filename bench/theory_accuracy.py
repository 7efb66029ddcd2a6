"""How far the predicted per-layer std and gradient gain are from plain torch networks at init.

For each activation with its standard init (depth 20, width 256, 16 seeds, 128 training inputs):
the measured std of every layer's pre-/post-activation over (inputs, units), root-mean-square
over seeds (the mean field predicts the expected variance; one seed at width 256 strays up to
~1.4x), against initviz.engine.theory.predict; and the layer-1/layer-19 ratio of |dL/dh| and of
|dL/dW| (rms over seeds) against the predicted one. Prints the worst ratio predicted/measured
over layers per activation, then what the finite-width band (initviz.engine.band) costs.

    python bench/theory_accuracy.py [--dataset spirals] [--depth 20] [--width 256] [--seeds 16]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from initviz.engine.config import InitSpec, RunConfig
from initviz.engine.data import make_dataset
from initviz.engine.model import make_activation
from initviz.engine.theory import predict

STANDARD = {
    "tanh": "xavier_normal", "sigmoid": "xavier_normal", "relu": "kaiming_normal", "leaky_relu": "kaiming_normal",
    "gelu": "kaiming_normal", "elu": "kaiming_normal", "selu": "lecun_normal", "linear": "xavier_normal",
}


def measure(cfg: RunConfig, x: torch.Tensor, y: torch.Tensor, n_classes: int, seed: int) -> dict[str, np.ndarray]:
    """One plain torch network: per-layer std of z and phi(z), |dL/dh| and |dL/dW| on (x, y)."""
    torch.manual_seed(seed)
    act = make_activation(cfg.activation)
    fans = [x.shape[1]] + [cfg.width] * cfg.depth
    weights = []
    for fi, fo in zip(fans[:-1], fans[1:]):
        w = torch.empty(fo, fi)
        s = cfg.init.scheme
        if s == "xavier_normal":
            nn.init.xavier_normal_(w)
        elif s == "kaiming_normal":
            nn.init.kaiming_normal_(w, nonlinearity="leaky_relu" if cfg.activation == "leaky_relu" else "relu",
                                    a=0.01 if cfg.activation == "leaky_relu" else 0.0)
        elif s == "lecun_normal":
            nn.init.normal_(w, 0.0, fi**-0.5)
        elif s == "normal":
            nn.init.normal_(w, 0.0, cfg.init.std)
        else:
            raise ValueError(s)
        weights.append(w.requires_grad_())
    head = torch.randn(n_classes, cfg.width) * cfg.width**-0.5
    h = x
    pre, post = [], []
    for w in weights:
        z = h @ w.T
        h = act(z)
        h.retain_grad()
        pre.append(z.detach())
        post.append(h)
    loss = F.cross_entropy(h @ head.T, y)
    loss.backward()
    return {
        "pre": np.array([float(z.std()) for z in pre]),
        "act": np.array([float(p.detach().std()) for p in post]),
        "gh": np.array([float(p.grad.norm()) for p in post]),
        "gw": np.array([float(w.grad.norm()) for w in weights]),
    }


def compare(activation: str, dataset: str = "spirals", depth: int = 20, width: int = 256, seeds: int = 16,
            batch: int = 128, init: InitSpec | None = None) -> dict[str, float]:
    cfg = RunConfig(dataset=dataset, depth=depth, width=width, activation=activation,
                    init=init or InitSpec(STANDARD[activation])).validate()
    data = make_dataset(dataset, 0)
    x, y = data.x_train[:batch].double().float(), data.y_train[:batch]
    runs = [measure(cfg, x, y, data.info.n_classes, 100 + s) for s in range(seeds)]
    theory = predict(cfg, data.x_train[:batch])
    rms = lambda values: np.sqrt(np.mean(np.square(values), 0))  # noqa: E731
    act = rms([r["act"] for r in runs])
    pre = rms([r["pre"] for r in runs])
    gh = rms([r["gh"][0] / r["gh"][depth - 2] for r in runs])
    gw = rms([r["gw"][0] / r["gw"][depth - 2] for r in runs])
    ratio_act = theory.act_std / act
    ratio_pre = theory.pre_std / pre
    worst = lambda r: float(r[np.argmax(np.abs(np.log(r)))])  # noqa: E731
    return {
        "act": worst(ratio_act),
        "pre": worst(ratio_pre),
        "grad_h": float(theory.grad_gain[0] / theory.grad_gain[depth - 2] / gh),
        "grad_w": float(theory.weight_grad_gain[0] / theory.weight_grad_gain[depth - 2] / gw),
        "measured_grad_h": float(gh),
    }


def band_seconds(init: str, depth: int, width: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one uncached band; CPU time is what a quiet machine would take (one thread)."""
    import time

    from initviz.engine.band import _cached_band, finite_width_band

    _cached_band.cache_clear()
    cfg = RunConfig(depth=depth, width=width, activation="relu", init=InitSpec(init))
    t0, c0 = time.perf_counter(), time.process_time()
    finite_width_band(cfg)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="spirals")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{args.dataset}, depth {args.depth}, width {args.width}, {args.seeds} seeds; predicted/measured, worst layer")
    print(f"{'activation':<12}{'init':<16}{'act std':>9}{'pre std':>9}{'|dL/dh| 1/19':>14}{'|dL/dW| 1/19':>14}")
    cases = [(a, InitSpec(STANDARD[a])) for a in STANDARD] + [("tanh", InitSpec("normal", std=1.0))]
    for act, init in cases:
        r = compare(act, args.dataset, args.depth, args.width, args.seeds, init=init)
        print(f"{act:<12}{init.label():<16}{r['act']:>9.3f}{r['pre']:>9.3f}{r['grad_h']:>14.3f}{r['grad_w']:>14.3f}")
    for init in ("kaiming_normal", "orthogonal"):
        wall, cpu = band_seconds(init, args.depth, args.width)
        print(f"finite-width band, {init}, depth {args.depth} width {args.width}: {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
