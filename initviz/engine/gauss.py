"""Gaussian expectations of an activation: E[phi(z)], E[phi(z)^2], E[phi'(z)^2] for z ~ N(m, q).

Right at every scale (q from 1e-8 to 1e8), vectorised over many q at once:

- ReLU, leaky ReLU and linear have closed forms (normal pdf/cdf).
- The others use composite Gauss-Legendre quadrature on panels whose edges are the union of
  (a) the Gaussian's own scale, m + sqrt(q) * k for k = -12, -11, ..., 12, and
  (b) the activation's scale, 0 and +-(1/4 ... 64) in z: the kink of ELU/SELU at 0 is a panel edge,
  and a sharply peaked integrand (tanh'(z)^2 at q = 1e8 lives in |z| < 20, i.e. 2e-3 standard
  deviations) is resolved by the fixed panels in z however wide the Gaussian is.
  Edges outside the Gaussian's +-12 sigma are clipped onto it (empty panels add nothing).
  The integrand is smooth on every panel, so 8 nodes per panel reach ~1e-11 relative (checked against mpmath).
  Fixed-node Gauss-Hermite (the old method) fails exactly there: at q = 226 it put most of
  E[tanh'^2]'s weight on the node at 0 (0.114 instead of 0.035).
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Iterator

import numpy as np
import torch

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01  # model.make_activation's nn.LeakyReLU(0.01)
ANALYTIC = ("relu", "leaky_relu", "linear")

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
_SIGMAS = np.arange(-12.0, 12.0 + 1e-9, 1.0)  # (25,) Gaussian-scale edges, in standard deviations
_FIXED = np.array([1 / 4, 1 / 2, 1, 3 / 2, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64])
_ACT_EDGES = np.concatenate([-_FIXED[::-1], [0.0], _FIXED])  # (31,) activation-scale edges in z


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for these small tensors: with two threads on a loaded 2-core machine each
    op waits for the other thread (measured: torch.exp of 28k numbers 0.16 ms on one thread, 40 ms on two)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def phi_and_derivative(activation: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """phi(z) and phi'(z) in float64, with forms that stay accurate in the tails."""
    if activation == "tanh":
        a = torch.exp(-2.0 * z.abs())
        return torch.tanh(z), 4.0 * a / (1.0 + a) ** 2  # sech^2 without 1 - tanh^2 cancellation
    if activation == "sigmoid":
        s = torch.sigmoid(z)
        return s, s * torch.sigmoid(-z)
    if activation == "gelu":
        cdf = torch.special.ndtr(z)
        pdf = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return z * cdf, cdf + z * pdf
    if activation == "elu":
        neg = z < 0
        return torch.where(neg, torch.expm1(z.clamp(max=0)), z), torch.where(neg, torch.exp(z.clamp(max=0)), torch.ones_like(z))
    if activation == "selu":
        neg = z < 0
        y = torch.where(neg, SELU_ALPHA * torch.expm1(z.clamp(max=0)), z) * SELU_SCALE
        d = torch.where(neg, SELU_ALPHA * torch.exp(z.clamp(max=0)), torch.ones_like(z)) * SELU_SCALE
        return y, d
    if activation == "relu":
        return z.clamp(min=0), (z > 0).to(z.dtype)
    if activation == "leaky_relu":
        return torch.where(z > 0, z, LEAKY_SLOPE * z), torch.where(z > 0, 1.0, LEAKY_SLOPE).to(z.dtype)
    if activation == "linear":
        return z, torch.ones_like(z)
    raise ValueError(f"unknown activation {activation!r}")


def _relu_moments(m: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E[relu], E[relu^2], P(z > 0) for z ~ N(m, q), q > 0."""
    s = np.sqrt(q)
    t = torch.as_tensor(m / s, dtype=torch.float64)
    cdf = torch.special.ndtr(t).numpy()
    pdf = np.exp(-0.5 * (m / s) ** 2) / math.sqrt(2.0 * math.pi)
    return s * pdf + m * cdf, (m * m + q) * cdf + m * s * pdf, cdf


def _analytic(activation: str, m: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if activation == "linear":
        return m.copy(), m * m + q, np.ones_like(q)
    r1, r2, p = _relu_moments(m, q)
    if activation == "relu":
        return r1, r2, p
    a = LEAKY_SLOPE  # phi = a z + (1 - a) relu(z); z * relu(z) = relu(z)^2
    return a * m + (1 - a) * r1, a * a * (m * m + q) + (1 - a * a) * r2, a * a + (1 - a * a) * p


def _quadrature(activation: str, m: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.sqrt(q)[:, None]
    mu = m[:, None]
    lo, hi = mu - 12.0 * s, mu + 12.0 * s
    edges = np.sort(np.concatenate([mu + s * _SIGMAS, np.clip(_ACT_EDGES[None, :], lo, hi)], axis=1), axis=1)
    a, b = edges[:, :-1, None], edges[:, 1:, None]  # (n, panels, 1)
    half = 0.5 * (b - a)
    z = 0.5 * (a + b) + half * _GL_NODES  # (n, panels, nodes)
    u = (z - mu[:, :, None]) / s[:, :, None]
    w = half * _GL_WEIGHTS * np.exp(-0.5 * u * u) / (s[:, :, None] * math.sqrt(2.0 * math.pi))
    y, d = phi_and_derivative(activation, torch.from_numpy(z))
    y, d = y.numpy(), d.numpy()
    return (w * y).sum((1, 2)), (w * y * y).sum((1, 2)), (w * d * d).sum((1, 2))


def moments(activation: str, mean: "float | np.ndarray", q: "float | np.ndarray") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E[phi], E[phi^2], E[phi'^2]) for z ~ N(mean, q), elementwise over broadcast mean and q.

    q = 0 gives the values at z = mean (the Gaussian collapses onto a point).
    """
    m, qq = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(q, dtype=np.float64))
    shape = m.shape
    m, qq = m.ravel().copy(), np.maximum(qq.ravel(), 0.0)
    out = [np.empty_like(m) for _ in range(3)]
    zero = qq <= 0
    if zero.any():
        with one_thread():
            y, d = phi_and_derivative(activation, torch.from_numpy(m[zero]))
        y, d = y.numpy(), d.numpy()
        out[0][zero], out[1][zero], out[2][zero] = y, y * y, d * d
    rest = ~zero
    if rest.any():
        fn = _analytic if activation in ANALYTIC else _quadrature
        with one_thread():
            values = fn(activation, m[rest], qq[rest])
        for arr, val in zip(out, values):
            arr[rest] = val
    return tuple(a.reshape(shape) for a in out)  # type: ignore[return-value]


def saturated_fraction(activation: str, mean: "float | np.ndarray", q: "float | np.ndarray") -> np.ndarray:
    """P(the unit is saturated) for z ~ N(mean, q), with probes.py's thresholds (0 if it never saturates)."""
    m, qq = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(q, dtype=np.float64))
    if activation == "tanh":
        cut = math.atanh(0.97)
    elif activation == "sigmoid":
        cut = math.log(0.985 / 0.015)  # |sigmoid(z) - 0.5| > 0.485
    else:
        return np.zeros(m.shape)
    s = np.sqrt(np.maximum(qq, 1e-300))
    with one_thread():
        up = torch.special.ndtr(torch.as_tensor((m - cut) / s)).numpy()
        down = torch.special.ndtr(torch.as_tensor((-cut - m) / s)).numpy()
    return np.where(qq > 0, up + down, (np.abs(m) > cut).astype(np.float64))


# --- a cached table in log q, for recursions that need the moments at many q ------------------------
TABLE_LO, TABLE_HI = -8.0, 8.0  # log10 q covered by the table
TABLE_PER_DECADE = 32  # 4-point Lagrange in log q: ~1e-8 relative (checked in the tests)


@functools.lru_cache(maxsize=64)
def _table(activation: str, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """(log q nodes, (3, n) moments) for z ~ N(mean, q) on a uniform grid in log q (two extra nodes per end)."""
    n = int(round((TABLE_HI - TABLE_LO) * TABLE_PER_DECADE))
    h = (TABLE_HI - TABLE_LO) / n
    t = TABLE_LO * math.log(10) + math.log(10) * h * np.arange(-1, n + 2)
    values = np.stack(moments(activation, mean, np.exp(t)))
    values.setflags(write=False)
    return t, values


def moments_fast(activation: str, mean: float, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`moments` for one mean and many q: closed forms as they are, the others interpolated from
    a table in log q built once per (activation, mean) (cubic Lagrange, ~1e-8 relative); q outside
    1e-8..1e8 is computed directly."""
    q = np.asarray(q, dtype=np.float64)
    if activation in ANALYTIC:
        return moments(activation, mean, q)
    t_nodes, values = _table(activation, float(mean))
    flat = q.ravel()
    out = np.empty((3, flat.size))
    inside = (flat >= 10.0**TABLE_LO) & (flat <= 10.0**TABLE_HI)
    if (~inside).any():
        out[:, ~inside] = np.stack(moments(activation, mean, flat[~inside]))
    if inside.any():
        h = t_nodes[1] - t_nodes[0]
        pos = (np.log(flat[inside]) - t_nodes[0]) / h
        i = np.clip(np.floor(pos).astype(np.int64), 1, len(t_nodes) - 3)  # nodes i-1, i, i+1, i+2
        u = pos - i  # in [0, 1) (0..1 plus the clipped ends)
        w = np.stack([-u * (u - 1) * (u - 2) / 6, (u + 1) * (u - 1) * (u - 2) / 2, -(u + 1) * u * (u - 2) / 2, (u + 1) * u * (u - 1) / 6])
        idx = np.stack([i - 1, i, i + 1, i + 2])  # (4, n)
        out[:, inside] = (values[:, idx] * w[None]).sum(1)
    return tuple(o.reshape(q.shape) for o in out)  # type: ignore[return-value]
