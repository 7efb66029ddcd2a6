"""Datasets, offline and deterministic from the seed, with a fixed train/test split.

2-D toys (spirals, moons, circles, xor, blobs) are generated with numpy; ``digits`` is the
8x8 handwritten digits set shipped in resources/ (CC BY 4.0, see DIGITS_LICENSE.txt).
Inputs are standardised with the training split's mean and std, except ``gaussian``: inputs
N(0, I_D) as the papers draw them (D = the config's input_dim), left as drawn, labelled by a fixed
random linear teacher (argmax of x @ T over 4 classes, T drawn from the same seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

N_POINTS = 1200  # 2-D toys
N_GAUSSIAN = 1250  # gaussian: 1000 training inputs, as CS231n's randn(1000, D)
GAUSSIAN_CLASSES = 4
DEFAULT_INPUT_DIM = 16
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    n_features: int
    n_classes: int
    description: str


INFO = {
    "spirals": DatasetInfo("spirals", 2, 3, "three interleaved spiral arms"),
    "moons": DatasetInfo("moons", 2, 2, "two interleaving half circles"),
    "circles": DatasetInfo("circles", 2, 2, "a ring around a disc"),
    "xor": DatasetInfo("xor", 2, 2, "four quadrants, opposite corners share a class"),
    "blobs": DatasetInfo("blobs", 2, 4, "four Gaussian clusters"),
    "digits": DatasetInfo("digits", 64, 10, "8x8 handwritten digits (1,797 images)"),
    "gaussian": DatasetInfo("gaussian", DEFAULT_INPUT_DIM, GAUSSIAN_CLASSES, "N(0, I) inputs, a random linear teacher"),
}


def dataset_info(name: str, input_dim: int | None = None) -> DatasetInfo:
    """What `name` holds; for ``gaussian`` the feature count is `input_dim` (default 16)."""
    if name == "gaussian" and input_dim is not None:
        return DatasetInfo(name, input_dim, GAUSSIAN_CLASSES, f"N(0, I_{input_dim}) inputs, a random linear teacher")
    return INFO[name]


def _gaussian(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, dim))
    teacher = rng.standard_normal((dim, GAUSSIAN_CLASSES))
    return x, np.argmax(x @ teacher, axis=1)


def _spirals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = 3
    per = n // k
    xs, ys = [], []
    for c in range(k):
        r = np.linspace(0.05, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + rng.normal(0, 0.2, per)
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(per, c))
    return np.concatenate(xs), np.concatenate(ys)


def _moons(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    h = n // 2
    t1 = rng.uniform(0, np.pi, h)
    t2 = rng.uniform(0, np.pi, n - h)
    a = np.c_[np.cos(t1), np.sin(t1)]
    b = np.c_[1 - np.cos(t2), 0.5 - np.sin(t2)]
    x = np.concatenate([a, b]) + rng.normal(0, 0.1, (n, 2))
    return x, np.r_[np.zeros(h), np.ones(n - h)]


def _circles(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    h = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.r_[rng.uniform(0.0, 0.5, h), rng.uniform(0.8, 1.1, n - h)]
    return np.c_[r * np.cos(t), r * np.sin(t)], np.r_[np.zeros(h), np.ones(n - h)]


def _xor(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, 2))
    x += np.sign(x) * 0.05  # a small margin around the axes
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)


def _blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    centers = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    y = rng.integers(0, 4, n)
    return centers[y] + rng.normal(0, 0.45, (n, 2)), y


def _digits() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("initviz.resources").joinpath("digits.npz").open("rb") as f:
        data = np.load(f, allow_pickle=False)
        return data["images"].astype(np.float64), data["labels"].astype(np.int64)


_MAKERS = {"spirals": _spirals, "moons": _moons, "circles": _circles, "xor": _xor, "blobs": _blobs}


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors on the compute device plus a seeded minibatch stream."""

    info: DatasetInfo
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def second_moment(self) -> float:
        """sum_i E[x_i^2] over input features: the signal that enters layer 1."""
        return float((self.x_train.double() ** 2).mean(0).sum())


def make_dataset(name: str, seed: int, device: str = "cpu", input_dim: int = DEFAULT_INPUT_DIM) -> Dataset:
    """The dataset for `name`; the same seed always gives the same points and split.

    ``input_dim`` matters for ``gaussian`` only (pass the config's ``input_dim``).
    """
    info = dataset_info(name, input_dim)
    rng = np.random.default_rng(seed)
    if name == "digits":
        x, y = _digits()
    elif name == "gaussian":
        x, y = _gaussian(rng, N_GAUSSIAN, input_dim)
    else:
        x, y = _MAKERS[name](rng, N_POINTS)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    if name != "gaussian":  # the papers feed N(0, 1) inputs as drawn
        mean = x[train].mean(0)
        std = x[train].std(0)
        std[std == 0] = 1.0  # constant pixels in digits
        x = (x - mean) / std

    def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    return Dataset(
        info,
        t(x[train], torch.float32),
        t(y[train], torch.int64),
        t(x[test], torch.float32),
        t(y[test], torch.int64),
    )


class BatchStream:
    """Shuffled minibatches, one epoch after another, from a seeded torch generator.

    Lanes built from the same dataset and seed see exactly the same batches in the same order.
    """

    def __init__(self, data: Dataset, batch_size: int, seed: int) -> None:
        self.data = data
        self.batch_size = min(batch_size, len(data.x_train))
        self._gen = torch.Generator(device="cpu").manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.int64)
        self._pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.data.x_train)
        if self._pos + self.batch_size > len(self._order):
            self._order = torch.randperm(n, generator=self._gen)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size].to(self.data.x_train.device)
        self._pos += self.batch_size
        return self.data.x_train[idx], self.data.y_train[idx]
