"""How far one network of finite width may stray from the infinite-width prediction.

``finite_width_band(config)`` draws 32 networks of the run's own shape and init with other seeds
(the same distribution torch.nn.init draws from), runs one forward/backward pass of each on the
run's first training batch at init, and returns the 10% and 90% quantiles over networks of every
layer's pre-/post-activation std and of the gradients relative to the last hidden layer. All
networks run at once as batched matrix products, so depth 20 width 256 costs well under a second.
Computed on demand (``Theory.band()``): a run that never asks pays nothing. The band depends on
the configuration, not on the run's seed (networks and batch come from fixed seeds), so a reset or
a reseed finds it in a small cache (the last 16 configurations).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from initviz.engine.config import RunConfig
from initviz.engine.data import make_dataset
from initviz.engine.inits import bias_value, kaiming_gain, predicted_std
from initviz.engine.model import make_activation

N_NETWORKS = 32
N_ORTHOGONAL = 8  # a QR per layer and network: orthogonal inits get fewer networks (cost)
QUANTILES = (0.1, 0.9)
MAX_BATCH = 128  # inputs per network (the run's batch size, at most this)
BAND_SEED = 7919  # networks and batch: seeds other than any run's default one
BN_EPS = 1e-5


@dataclass(frozen=True)
class Band:
    """Quantiles over networks; every array is (2, L): row 0 the low quantile, row 1 the high."""

    act_std: np.ndarray
    pre_std: np.ndarray
    grad_gain: np.ndarray  # |dL/dh_l| / |dL/dh_L|
    weight_grad_gain: np.ndarray  # |dL/dW_l| / |dL/dW_L|
    n_networks: int
    quantiles: tuple[float, float] = QUANTILES


def _draw(config: RunConfig, shape: tuple[int, int, int], gen: Optional[torch.Generator]) -> torch.Tensor:
    """(networks, fan_out, fan_in) weights from the scheme's distribution."""
    n, fan_out, fan_in = shape
    s = config.init.scheme
    std = predicted_std(config.init, fan_in, fan_out, kaiming_gain(config))
    if s == "pytorch_default":
        return torch.empty(shape).uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=gen)
    if s in ("uniform", "xavier_uniform", "kaiming_uniform"):
        return torch.empty(shape).uniform_(-std * math.sqrt(3.0), std * math.sqrt(3.0), generator=gen)
    if s == "orthogonal":  # as torch.nn.init.orthogonal_: QR of a Gaussian, signs fixed by diag(R)
        a = torch.randn(shape, generator=gen)
        flip = fan_out < fan_in
        if flip:
            a = a.transpose(1, 2)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
        if flip:
            q = q.transpose(1, 2)
        return q * config.init.gain
    return torch.randn(shape, generator=gen).mul_(std)  # in place: one pass less over 2M numbers a layer


def _bias(config: RunConfig, shape: tuple[int, int], fan_in: int, gen: Optional[torch.Generator]) -> torch.Tensor:
    if config.init.scheme == "pytorch_default":
        return (torch.rand(shape, generator=gen) * 2 - 1) / math.sqrt(fan_in)
    return torch.full(shape, bias_value(config))


def _std(a: torch.Tensor) -> torch.Tensor:
    """(S,) std over everything but the first axis (torch's std is slow on this CPU)."""
    flat = a.reshape(len(a), -1).double()
    m = flat.mean(1)
    return ((flat * flat).mean(1) - m * m).clamp(min=0).sqrt()


def finite_width_band(config: RunConfig, n_networks: int = N_NETWORKS) -> Optional[Band]:
    """The band for `config`, or None where every network is the same (zeros, constant).

    Runs on one torch thread (restored after): on a shared 2-core machine two threads spin against
    each other and take 4-10x longer (measured: 1.4 s vs 5.1 s at depth 20 width 256 under load).
    """
    if config.init.scheme in ("zeros", "constant"):
        return None
    # the fields the band does not depend on are normalised, so they share one cache entry
    key = dataclasses.replace(config, seed=0, optimizer="sgd", lr=0.01, momentum=0.9, record_every=1, test_every=25)
    return _cached_band(key, n_networks)


@functools.lru_cache(maxsize=16)
def _cached_band(config: RunConfig, n_networks: int) -> Band:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _band(config, n_networks)
    finally:
        torch.set_num_threads(threads)


def _band(config: RunConfig, n_networks: int) -> Band:
    if config.init.scheme == "orthogonal":
        n_networks = min(n_networks, N_ORTHOGONAL)
    data = make_dataset(config.dataset, 0, "cpu", input_dim=config.input_dim)
    b = min(config.batch_size, MAX_BATCH, len(data.x_train))
    gen = None  # the global RNG, forked and seeded below: generator-free draws are ~1.6x faster here
    idx = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(BAND_SEED))[:b]
    x, y = data.x_train[idx], data.y_train[idx]
    act = make_activation(config.activation)
    keep = 1.0 - config.dropout
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BAND_SEED)
        h = x.unsqueeze(0).expand(n_networks, -1, -1)  # (S, B, fan_in)
        inputs, linears, pres, posts = [], [], [], []  # per layer (S, B, .)
        h = h.requires_grad_()  # so every Linear output carries a gradient (weights do not need one)
        fan_in = x.shape[1]
        for _ in range(config.depth):
            w = _draw(config, (n_networks, config.width, fan_in), gen)
            lin = torch.baddbmm(_bias(config, (n_networks, config.width), fan_in, gen).unsqueeze(1), h, w.transpose(1, 2))
            lin.retain_grad()
            z = lin
            if config.batchnorm:
                z = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + BN_EPS)
            inputs.append(h.detach())
            h = act(z)
            h.retain_grad()
            linears.append(lin)
            pres.append(z.detach())
            posts.append(h)
            if config.dropout > 0:
                h = h * (torch.rand(h.shape, generator=gen) < keep) / keep
            fan_in = config.width
        head = _draw(config, (n_networks, data.info.n_classes, fan_in), gen)
        logits = torch.bmm(h, head.transpose(1, 2)) + _bias(config, (n_networks, data.info.n_classes), fan_in, gen).unsqueeze(1)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.repeat(n_networks), reduction="none")
        loss.reshape(n_networks, b).mean(1).sum().backward()  # each network's own mean loss
    with torch.no_grad():
        pre = torch.stack([_std(z) for z in pres], 1).numpy()  # (S, L)
        post = torch.stack([_std(p.detach()) for p in posts], 1).numpy()
        gh = torch.stack([p.grad.reshape(n_networks, -1).norm(dim=1) for p in posts], 1).double().numpy()
        # |dL/dW|^2 = |sum_x delta(x) h(x)^T|^2 = sum of the product of the two (B, B) Gram matrices
        gw = torch.stack([
            (torch.bmm(lin.grad, lin.grad.transpose(1, 2)) * torch.bmm(inp, inp.transpose(1, 2))).sum((1, 2)).clamp(min=0).sqrt()
            for lin, inp in zip(linears, inputs)
        ], 1).double().numpy()  # fmt: skip

    def q(a: np.ndarray) -> np.ndarray:
        out = np.nanquantile(np.where(np.isfinite(a), a, np.nan), QUANTILES, axis=0)
        out.setflags(write=False)
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        return Band(q(post), q(pre), q(gh / gh[:, -1:]), q(gw / gw[:, -1:]), n_networks)
