"""A bare torch training loop on the network `initviz run` trains: the outside baseline.

Same dataset, batches, network and initialisation as ``initviz run`` with the same flags, trained
with plain ``torch.optim`` and no measuring at all. ``bench/engine_overhead.py --outside`` times
whole processes of this script and of ``initviz run`` at two step counts and compares the
differences, so start-up, imports and file writing of the fixed part cancel out.

    python bench/bare_loop.py --depth 20 --width 256 --batch-size 128 --steps 430
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from initviz.engine import InitSpec, RunConfig
from initviz.engine.data import BatchStream, make_dataset
from initviz.engine.model import build_model


def bare_parts(cfg: RunConfig):
    """(model, torch optimizer, batch stream) of a config: what a user's own loop would build."""
    data = make_dataset(cfg.dataset, cfg.seed, cfg.device)
    model = build_model(cfg, data.info.n_features, data.info.n_classes)
    model.train()
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    return model, opt, BatchStream(data, cfg.batch_size, cfg.seed)


def bare_steps(model, opt, stream, n: int) -> None:
    """n plain steps: zero_grad, forward, loss, backward, optimizer step."""
    for _ in range(n):
        x, y = stream.next()
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(model(x), y).backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--init", default="xavier_normal")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    cfg = RunConfig(depth=args.depth, width=args.width, batch_size=args.batch_size, activation=args.activation,
                    init=InitSpec(args.init), lr=args.lr).validate()
    model, opt, stream = bare_parts(cfg)
    bare_steps(model, opt, stream, args.steps)


if __name__ == "__main__":
    main()
