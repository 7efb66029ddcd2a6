"""Build the MLP of a run: depth x [Linear -> (BatchNorm) -> activation -> (Dropout)] -> Linear."""

from __future__ import annotations

import torch
from torch import nn

from initviz.engine.config import RunConfig
from initviz.engine.inits import init_linear


def make_activation(name: str) -> nn.Module:
    """A fresh, never in-place activation module."""
    return {
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "selu": nn.SELU,
        "linear": nn.Identity,
    }[name]()


class Block(nn.Module):
    """One hidden layer. Probes hook ``act``: its input is the pre-activation, output the post."""

    def __init__(self, fan_in: int, width: int, config: RunConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(fan_in, width)
        self.norm = nn.BatchNorm1d(width) if config.batchnorm else nn.Identity()
        self.act = make_activation(config.activation)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.linear(x))))


class MLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, config: RunConfig) -> None:
        super().__init__()
        blocks = []
        fan_in = n_in
        for _ in range(config.depth):
            blocks.append(Block(fan_in, config.width, config))
            fan_in = config.width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(fan_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def hidden_weights(self) -> list[torch.Tensor]:
        return [b.linear.weight for b in self.blocks]


def build_model(config: RunConfig, n_in: int, n_out: int) -> MLP:
    """The network of `config`, every Linear (head included) initialised by its scheme.

    Initialisation draws from a private RNG seeded with ``config.seed``, so the same config gives
    the same weights whatever else used torch's global RNG before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = MLP(n_in, n_out, config)
        for block in model.blocks:
            init_linear(block.linear, config)
        init_linear(model.head, config)
    return model.to(config.device)
