"""Build the network of a run.

mlp:    depth x [Linear -> (BatchNorm) -> activation -> (Dropout)] -> Linear.
resmlp: Linear (input projection to width) -> depth x [h <- h + A * Linear(Dropout(phi(BatchNorm(h))))]
        -> Linear: pre-activation residual blocks; Fixup zero-initialises each branch's Linear.
cnn:    the 8x8 digits as (1, 8, 8) images -> depth x [Conv2d 3x3 (padding 1) -> (BatchNorm2d) -> activation
        -> (Dropout)] in up to three stages of width, 2 width, 4 width channels (the first conv of a stage
        has stride 2: 8x8, 4x4, 2x2; inits.cnn_plan) -> global average pool -> Linear.
All expose ``blocks`` (one per measured layer, each with the module ``act`` the probes hook: its
input is the layer's pre-activation, its output the layer's output) and ``hidden_weights()``.
"""

from __future__ import annotations

import torch
from torch import nn

from initviz.engine.config import RunConfig
from initviz.engine.inits import CNN_KERNEL, CNN_SIDE, ConvLayer, cnn_plan, init_linear


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


class ResidualSum(nn.Module):
    """h + scale * branch. ``forward(pre, h, branch)`` also takes the branch's pre-activation, unused,
    so that a forward hook sees (pre-activation, block output) as it does on an MLP's activation."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, pre: torch.Tensor, h: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        return h + self.scale * branch if self.scale != 1.0 else h + branch


class ResBlock(nn.Module):
    """A pre-activation residual block h + A * Linear(Dropout(phi(norm(h)))) of equal width."""

    def __init__(self, width: int, config: RunConfig) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width) if config.batchnorm else nn.Identity()
        self.phi = make_activation(config.activation)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.linear = nn.Linear(width, width)
        self.join = ResidualSum(config.residual_factor())

    @property
    def act(self) -> nn.Module:
        """The probe point: input the activation's input, output the residual stream after the block."""
        return self.join

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.norm(h)
        return self.join(z, h, self.linear(self.drop(self.phi(z))))


class ResMLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, config: RunConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(n_in, config.width)
        self.blocks = nn.ModuleList(ResBlock(config.width, config) for _ in range(config.depth))
        self.head = nn.Linear(config.width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    def hidden_weights(self) -> list[torch.Tensor]:
        """The branch Linear of each block (the input projection is not a measured layer)."""
        return [b.linear.weight for b in self.blocks]


class ConvBlock(nn.Module):
    """One conv layer of arch cnn. Probes hook ``act``: input the pre-activation, output the post."""

    def __init__(self, layer: ConvLayer, config: RunConfig) -> None:
        super().__init__()
        self.conv = nn.Conv2d(layer.c_in, layer.c_out, CNN_KERNEL, stride=layer.stride, padding=CNN_KERNEL // 2)
        self.norm = nn.BatchNorm2d(layer.c_out) if config.batchnorm else nn.Identity()
        self.act = make_activation(config.activation)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    @property
    def linear(self) -> nn.Conv2d:
        """The layer's weights (named like the MLP's so init and Fixup code treats blocks alike)."""
        return self.conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.conv(x))))


class CNN(nn.Module):
    def __init__(self, n_in: int, n_out: int, config: RunConfig) -> None:
        super().__init__()
        if n_in != CNN_SIDE * CNN_SIDE:
            raise ValueError(f"arch cnn reads {CNN_SIDE}x{CNN_SIDE} images; the dataset has {n_in} features")
        plan = cnn_plan(config)
        self.blocks = nn.ModuleList(ConvBlock(layer, config) for layer in plan)
        self.head = nn.Linear(plan[-1].c_out, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, 1, CNN_SIDE, CNN_SIDE)
        for block in self.blocks:
            h = block(h)
        return self.head(h.mean((2, 3)))

    def hidden_weights(self) -> list[torch.Tensor]:
        return [b.conv.weight for b in self.blocks]


def layer_names(config: RunConfig) -> list[str]:
    """The measured layers' names (RunConfig.layer_names): module paths for resmlp and cnn."""
    return config.layer_names()


MODELS = {"mlp": MLP, "resmlp": ResMLP, "cnn": CNN}


def build_model(config: RunConfig, n_in: int, n_out: int) -> "MLP | ResMLP | CNN":
    """The network of `config`, every Linear (head included) initialised by its scheme.

    Initialisation draws from a private RNG seeded with ``config.seed``, so the same config gives
    the same weights whatever else used torch's global RNG before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "resmlp":
            model = ResMLP(n_in, n_out, config)
            init_linear(model.proj, config)
        else:
            model = MODELS[config.arch](n_in, n_out, config)
        for block in model.blocks:
            init_linear(block.linear, config)
            if config.fixup:  # Fixup / zero gamma: every branch starts at zero, the block as identity
                nn.init.zeros_(block.linear.weight)
                nn.init.zeros_(block.linear.bias)
        init_linear(model.head, config)
    return model.to(config.device)
