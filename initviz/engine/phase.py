"""Order and chaos at initialisation: the fixed point q*, chi_1, the depth scales and the critical line.

Mean field of a deep network with i.i.d. weights N(0, sigma_w2 / fan_in) and biases N(0, sigma_b2)
(Poole et al. 2016; Schoenholz et al. 2017):
    length map       q_{l+1} = sigma_w2 E[phi(u)^2] + sigma_b2,               u ~ N(0, q_l)
    correlation map  c_{l+1} = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*,  (u1, u2) with
                     variances q*, covariance c_l q*
    chi_1            = sigma_w2 E[phi'(u)^2] at q*: the slope of the correlation map at c = 1.
chi_1 < 1: ordered (c* = 1, every input maps to the same point); chi_1 > 1: chaotic (c* < 1).
Depth scales: xi_q = -1 / log(chi_1 + sigma_w2 E[phi''(u) phi(u)]) and xi_c = -1 / log(chi_c*),
chi_c* = sigma_w2 E[phi'(u1) phi'(u2)] at c* (= chi_1 in the ordered phase). Networks train up to
about 6 xi_c layers. The critical line is chi_1 = 1 at q*.

Numerics. Every expectation is over z ~ N(0, 1) (u = sqrt(q) z), by composite Gauss-Legendre on
[-10, 10] with a panel edge at z = 0, where the ReLU family has its kink, so kinked and smooth
activations alike come out accurate to ~1e-10 (tests compare with dense integration). The 2-D
correlation map is integrated in polar coordinates, arc by arc between the kink rays. Near c = 1
the map is evaluated as 1 - c_{l+1} = sigma_w2 E[(phi(u1) - phi(u2))^2] / (2 q*), which has no
cancellation, so c* is found for chi_1 as close to 1 as 1 + 1e-9.

All functions take sigma_w2 and sigma_b2 as scalars or arrays (broadcast) and return float or
ndarray accordingly; the activation is one of ``initviz.engine.config.ACTIVATIONS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

ArrayLike = Union[float, np.ndarray]
C_ZERO = 1e-4  # a chaotic c* below this counts as 0 (the fixed point of sigma_b2 = 0, odd phi)
Z_MAX = 10.0  # |z| beyond this carries < 1e-23 of the Gaussian mass
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
LEAKY_SLOPE = 0.01  # the engine's LeakyReLU(0.01)
MAX_Q = 1e12  # q* above this counts as no fixed point (the length map runs away: ReLU at sigma_w2 >= 2)


# --- activations and derivatives (float64 numpy, closed forms) ------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    import torch

    return torch.special.erf(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()


def _tanh(u: np.ndarray, k: int) -> np.ndarray:
    t = np.tanh(u)
    return (t, 1.0 - t * t, -2.0 * t * (1.0 - t * t))[k]


def _sigmoid(u: np.ndarray, k: int) -> np.ndarray:
    s = 0.5 * (1.0 + np.tanh(0.5 * u))  # no overflow warning at large |u|
    return (s, s * (1.0 - s), s * (1.0 - s) * (1.0 - 2.0 * s))[k]


def _relu(u: np.ndarray, k: int, slope: float = 0.0) -> np.ndarray:
    pos = u > 0
    if k == 0:
        return np.where(pos, u, slope * u)
    if k == 1:
        return np.where(pos, 1.0, slope)
    return np.zeros_like(u)


def _elu(u: np.ndarray, k: int, alpha: float = 1.0, scale: float = 1.0) -> np.ndarray:
    neg = np.minimum(u, 0.0)  # exp only of non-positive values: no overflow
    e = np.exp(neg)
    if k == 0:
        return scale * np.where(u > 0, u, alpha * np.expm1(neg))
    if k == 1:
        return scale * np.where(u > 0, 1.0, alpha * e)
    return scale * np.where(u > 0, 0.0, alpha * e)


def _gelu(u: np.ndarray, k: int) -> np.ndarray:
    pdf = np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
    if k == 0:
        return u * 0.5 * (1.0 + _erf(u / math.sqrt(2.0)))
    if k == 1:
        return 0.5 * (1.0 + _erf(u / math.sqrt(2.0))) + u * pdf
    return pdf * (2.0 - u * u)


def _linear(u: np.ndarray, k: int) -> np.ndarray:
    return (u, np.ones_like(u), np.zeros_like(u))[k]


_PHI: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "leaky_relu": lambda u, k: _relu(u, k, LEAKY_SLOPE),
    "gelu": _gelu,
    "elu": _elu,
    "selu": lambda u, k: _elu(u, k, SELU_ALPHA, SELU_SCALE),
    "linear": _linear,
}


def phi(activation: str, u: np.ndarray, derivative: int = 0) -> np.ndarray:
    """The activation (derivative 0), its first or second derivative at u (float64)."""
    try:
        f = _PHI[activation]
    except KeyError:
        raise ValueError(f"activation: {activation!r} is not allowed; choose one of {', '.join(_PHI)}") from None
    return f(np.asarray(u, dtype=np.float64), derivative)


# --- quadrature ---------------------------------------------------------------------------------


def _unit_rule(panels: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [0, 1]: ``panels`` equal panels of ``order``."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(0.0, 1.0, panels + 1)
    half = np.diff(edges) / 2
    nodes = (edges[:-1, None] + half[:, None] * (x[None, :] + 1.0)).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


def _gauss_rule(panels_per_side: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights with sum w f(z) = E[f(z)], z ~ N(0, 1), a panel edge at 0."""
    t, w = _unit_rule(panels_per_side, order)
    z = np.concatenate([-Z_MAX * t[::-1], Z_MAX * t])
    wz = np.concatenate([w[::-1], w]) * Z_MAX
    return z, wz * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


_Z1, _W1 = _gauss_rule(40, 8)  # 1-D: 640 nodes, panels 0.25 wide
_R, _WR = _unit_rule(12, 8)  # 2-D radius on [0, Z_MAX]: 96 nodes
_R, _WR = _R * Z_MAX, _WR * Z_MAX * _R * Z_MAX * np.exp(-0.5 * (_R * Z_MAX) ** 2) / (2.0 * math.pi)
_T, _WT = _unit_rule(6, 8)  # 2-D angle, on each of the 4 arcs between kink rays: 4 x 48 nodes


def gaussian_mean(f: Callable[[np.ndarray], np.ndarray], q: ArrayLike) -> np.ndarray:
    """E[f(u)], u ~ N(0, q), for each q (any shape); f is applied to an array (..., nodes)."""
    q = np.asarray(q, dtype=np.float64)
    u = np.sqrt(np.maximum(q, 0.0))[..., None] * _Z1
    return f(u) @ _W1


def _pair_nodes(q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u1, u2, weights) with E[g(u1, u2)] = sum(weights * g(u1, u2), axis=(-2, -1)).

    u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + s z2), s = sqrt(1 - c^2), in polar coordinates of
    (z1, z2): the kinks of the ReLU family (u1 = 0, u2 = 0) are four rays from the origin, and the
    angle is integrated arc by arc between them, so kinked integrands are as exact as smooth ones,
    also near c = 1 where two rays nearly meet. Shapes (..., 96, 192).
    """
    sq = np.sqrt(np.maximum(q, 0.0))[..., None, None]
    c = np.clip(c, -1.0, 1.0)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    ray = np.mod(np.arctan2(-c, s), np.pi)  # u2 = 0 along this angle and the one opposite
    cuts = np.sort(np.stack([np.full(c.shape, 0.5 * np.pi), np.full(c.shape, 1.5 * np.pi), ray, ray + np.pi], -1), -1)
    starts = cuts
    lengths = np.diff(np.concatenate([cuts, cuts[..., :1] + 2.0 * np.pi], -1), axis=-1)  # (..., 4)
    theta = (starts[..., :, None] + lengths[..., :, None] * _T).reshape(*c.shape, -1)  # (..., 192)
    w_theta = (lengths[..., :, None] * _WT).reshape(*c.shape, -1)
    z1 = _R[:, None] * np.cos(theta)[..., None, :]  # (..., 96, 192)
    z2 = _R[:, None] * np.sin(theta)[..., None, :]
    weights = _WR[:, None] * w_theta[..., None, :]
    u1 = sq * z1
    u2 = sq * (c[..., None, None] * z1 + s[..., None, None] * z2)
    return u1, u2, weights


def pair_mean(g: Callable[[np.ndarray, np.ndarray], np.ndarray], q: ArrayLike, c: ArrayLike) -> np.ndarray:
    """E[g(u1, u2)] over the pair with variances q and correlation c (broadcast shapes)."""
    q, c = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))
    out = np.empty(q.shape)
    flat_q, flat_c, flat_out = q.ravel(), c.ravel(), out.reshape(-1)
    chunk = 16  # 16 x 96 x 192 float64 per array: bounded memory for any grid
    for i in range(0, flat_q.size, chunk):
        u1, u2, w = _pair_nodes(flat_q[i : i + chunk], flat_c[i : i + chunk])
        flat_out[i : i + chunk] = np.sum(g(u1, u2) * w, axis=(-2, -1))
    return out


# --- the maps -----------------------------------------------------------------------------------


def _as_output(x: np.ndarray, *inputs: ArrayLike) -> ArrayLike:
    return float(x) if all(np.ndim(i) == 0 for i in inputs) else x


def length_map(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike) -> np.ndarray:
    """q_{l+1} = sigma_w2 E[phi(u)^2] + sigma_b2, u ~ N(0, q)."""
    return np.asarray(sigma_w2) * gaussian_mean(lambda u: phi(activation, u) ** 2, q) + np.asarray(sigma_b2)


def _length_slope(activation: str, sigma_w2: np.ndarray, q: np.ndarray) -> np.ndarray:
    """d q_{l+1} / d q_l = sigma_w2 E[phi'(u)^2 + phi(u) phi''(u)] (Gaussian integration by parts)."""
    return sigma_w2 * gaussian_mean(
        lambda u: phi(activation, u, 1) ** 2 + phi(activation, u) * phi(activation, u, 2), q
    )


def fixed_point(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike, tol: float = 1e-13) -> ArrayLike:
    """q*, the fixed point of the length map reached from q = 1; inf where the map runs away
    (no fixed point, e.g. ReLU at sigma_w2 >= 2), 0 where it collapses (sigma_b2 = 0, ordered).

    A few plain iterations, then Newton steps (the plain map converges at rate
    d q_{l+1} / d q_l, which nears 1 close to the critical line); a Newton step that would leave
    q > 0 or not shrink the residual falls back to a plain one.
    """
    w, b = np.broadcast_arrays(np.asarray(sigma_w2, dtype=np.float64), np.asarray(sigma_b2, dtype=np.float64))
    shape = w.shape
    w, b = w.ravel(), b.ravel()
    q = np.ones(w.shape)
    active = np.ones(w.shape, dtype=bool)
    for it in range(3000):
        idx = np.flatnonzero(active)
        if not idx.size:
            break
        qa, wa, ba = q[idx], w[idx], b[idx]
        plain = length_map(activation, wa, ba, qa)
        nq = plain
        if it >= 10:
            slope = _length_slope(activation, wa, qa)
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = qa - (plain - qa) / (slope - 1.0)
            ok = np.isfinite(newton) & (newton >= 0) & (slope < 1.0)
            nq = np.where(ok, np.maximum(newton, 0.0), plain)
        done = (np.abs(nq - qa) <= tol * np.maximum(nq, 1e-300)) | (nq > MAX_Q) | (nq < 1e-200)
        q[idx] = nq
        active[idx[done]] = False
    # never settled in 3000 steps: growing counts as no fixed point, shrinking as the fixed point 0
    q[active] = np.where(q[active] > 1.0, np.inf, np.where(q[active] < 1e-6, 0.0, q[active]))
    q = np.where(q > MAX_Q, np.inf, np.where(q < 1e-200, 0.0, q)).reshape(shape)
    return _as_output(q, sigma_w2, sigma_b2)


def _grid(sigma_w2: ArrayLike, sigma_b2: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    w, b = np.broadcast_arrays(np.asarray(sigma_w2, dtype=np.float64), np.asarray(sigma_b2, dtype=np.float64))
    return w.ravel(), b.ravel()


def _chi1_at(activation: str, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """chi_1 at q; at q* = 0 its limit q -> 0+ (ReLU's slope at a vanishing signal is still w/2)."""
    out = np.full(q.shape, np.nan)
    ok = np.isfinite(q)
    out[ok] = w[ok] * gaussian_mean(lambda u: phi(activation, u, 1) ** 2, np.maximum(q[ok], 1e-200))
    return out


def chi1(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike) -> ArrayLike:
    """sigma_w2 E[phi'(u)^2], u ~ N(0, q*): the slope of the correlation map at c = 1."""
    w, b = _grid(sigma_w2, sigma_b2)
    q = np.asarray(fixed_point(activation, w, b))
    shape = np.broadcast(np.asarray(sigma_w2), np.asarray(sigma_b2)).shape
    return _as_output(_chi1_at(activation, w, q).reshape(shape), sigma_w2, sigma_b2)


def correlation_gap(activation: str, sigma_w2: ArrayLike, q: ArrayLike, c: ArrayLike) -> np.ndarray:
    """1 - c_{l+1} for c_l = c at the fixed point q (no cancellation near c = 1)."""
    d2 = pair_mean(lambda a, b: (phi(activation, a) - phi(activation, b)) ** 2, q, c)
    return np.asarray(sigma_w2) * 0.5 * d2 / np.asarray(q)


def correlation_map(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike, c: ArrayLike) -> np.ndarray:
    """c_{l+1} from c_l = c, at the fixed point q*."""
    q = np.asarray(fixed_point(activation, sigma_w2, sigma_b2))
    return 1.0 - correlation_gap(activation, sigma_w2, q, c)


def _illinois(f: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray, iterations: int) -> np.ndarray:
    """Roots of f (vectorised) bracketed by [a, b], f(a) > 0 >= f(b) or the reverse: the Illinois
    variant of regula falsi (superlinear), with a bisection step whenever the secant leaves the bracket."""
    fa, fb = f(a), f(b)
    at_a = np.abs(fa) <= 1e-14  # a root on the bracket's edge: keep it (b is the answer)
    a, b, fa, fb = np.where(at_a, b, a), np.where(at_a, a, b), np.where(at_a, fb, fa), np.where(at_a, fa, fb)
    for _ in range(iterations):
        with np.errstate(divide="ignore", invalid="ignore"):
            x = b - fb * (b - a) / (fb - fa)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        bad = ~np.isfinite(x) | (x <= lo) | (x >= hi)
        x = np.where(bad, 0.5 * (a + b), x)
        x = np.where(np.abs(fb) <= 1e-14, b, x)  # converged: stays
        fx = f(x)
        flip = np.sign(fx) != np.sign(fb)
        a, fa = np.where(flip, b, a), np.where(flip, fb, fa * np.where(bad, 1.0, 0.5))
        b, fb = x, fx
        if np.all((np.abs(fb) <= 1e-14) | (np.abs(b - a) <= 1e-13 * np.maximum(np.abs(b), 1.0))):
            break
    return b


def _c_star(activation: str, w: np.ndarray, q: np.ndarray, x1: np.ndarray, iterations: int) -> np.ndarray:
    c_star = np.ones(w.shape)
    chaotic = np.isfinite(q) & (q > 0) & (x1 > 1.0)
    if chaotic.any():
        wc, qc = w[chaotic], q[chaotic]
        lo = np.full(wc.shape, math.log(1e-12))  # log(1 - c): the gap grows here
        # c = C_ZERO, just above 0. At c = 0 itself 1 - c_{l+1} = 1 - b / q <= 1, so the gap does
        # not grow; but with sigma_b2 = 0 and an odd phi (tanh) c = 0 is a fixed point, the stable
        # one deep in the chaotic phase, and the gap grows everywhere above it: no sign change in
        # the bracket, which the root search must not be asked to find.
        hi = np.full(wc.shape, math.log1p(-C_ZERO))
        small = correlation_gap(activation, wc, qc, 1.0 - np.exp(lo)) <= np.exp(lo)

        def excess(x: np.ndarray) -> np.ndarray:  # > 0 where the gap grows (x below log(1 - c*))
            d = np.exp(x)
            return correlation_gap(activation, wc, qc, 1.0 - d) / d - 1.0

        at_zero = excess(hi) > 0  # still growing just above 0: c* is within C_ZERO of 0
        c_chaotic = 1.0 - np.exp(_illinois(excess, lo, hi, iterations))
        c_chaotic[at_zero] = 0.0
        c_chaotic[small] = 1.0  # chi_1 within ~1e-12 of 1: c* indistinguishable from 1
        c_star[chaotic] = c_chaotic
    c_star[~np.isfinite(q)] = np.nan
    return c_star


def correlation_fixed_point(
    activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike, iterations: int = 40
) -> ArrayLike:
    """c*: 1 in the ordered phase; in the chaotic phase the stable fixed point below 1.

    A bracketing root search on log(1 - c) between 1e-12 and 1 (c = 0): below c* the gap grows by
    about chi_1 per layer (1 - c_{l+1} > 1 - c_l), above it it shrinks.
    """
    w, b = _grid(sigma_w2, sigma_b2)
    q = np.asarray(fixed_point(activation, w, b))
    out = _c_star(activation, w, q, _chi1_at(activation, w, q), iterations)
    shape = np.broadcast(np.asarray(sigma_w2), np.asarray(sigma_b2)).shape
    return _as_output(out.reshape(shape), sigma_w2, sigma_b2)


def _depth(rate: np.ndarray) -> np.ndarray:
    """-1 / log(rate): inf at rate 1, NaN where undefined (rate <= 0 or not finite)."""
    rate = np.asarray(rate, dtype=np.float64)
    out = np.full(rate.shape, np.nan)
    ok = np.isfinite(rate) & (rate > 0)
    with np.errstate(divide="ignore"):
        out[ok] = -1.0 / np.log(rate[ok])
    out[ok & (rate == 1.0)] = np.inf
    return np.abs(out)  # a rate above 1 (unstable) would give a negative scale: its size counts


@dataclass(frozen=True)
class PhasePoints:
    """Everything the theory says at each (sigma_w2, sigma_b2), flat arrays of one length."""

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray
    c_star: np.ndarray
    chi_c: np.ndarray  # slope of the correlation map at c* (chi1 where c* = 1)
    xi_q: np.ndarray
    xi_c: np.ndarray


def phase_points(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike) -> PhasePoints:
    """q*, chi_1, c*, chi_c*, xi_q and xi_c at every point, each computed once."""
    w, b = _grid(sigma_w2, sigma_b2)
    q = np.asarray(fixed_point(activation, w, b), dtype=np.float64)
    x1 = _chi1_at(activation, w, q)
    c = _c_star(activation, w, q, x1, 40)
    xc = x1.copy()
    below = np.isfinite(c) & (c < 1.0)
    if below.any():
        xc[below] = w[below] * pair_mean(lambda u1, u2: phi(activation, u1, 1) * phi(activation, u2, 1), q[below], c[below])
    rate_q = np.full(w.shape, np.nan)
    ok = np.isfinite(q)
    rate_q[ok] = _length_slope(activation, w[ok], np.maximum(q[ok], 1e-200))  # chi_1 + sigma_w2 E[phi'' phi]
    return PhasePoints(w, b, q, x1, c, xc, _depth(rate_q), _depth(xc))


def depth_scales(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
    """(xi_q, xi_c): layers over which the length and the correlation of two inputs approach their
    fixed points (Schoenholz et al. 2017, eqs. 5 and 9)."""
    pts = phase_points(activation, sigma_w2, sigma_b2)
    shape = np.broadcast(np.asarray(sigma_w2), np.asarray(sigma_b2)).shape
    return (
        _as_output(pts.xi_q.reshape(shape), sigma_w2, sigma_b2),
        _as_output(pts.xi_c.reshape(shape), sigma_w2, sigma_b2),
    )


def critical_sigma_w2(activation: str, sigma_b2: ArrayLike, lo: float = 1e-3, hi: float = 1e3) -> ArrayLike:
    """The weight variance where chi_1 = 1 at q* (the order-to-chaos line) for each sigma_b2.

    A bracketing root search on log(sigma_w2) in [lo, hi]; NaN where chi_1 stays on one side
    of 1 in that range. No fixed point (the length map runs away) counts as the chaotic side.
    """
    b = np.asarray(sigma_b2, dtype=np.float64)
    flat = b.ravel()
    a = np.full(flat.shape, math.log(lo))
    z = np.full(flat.shape, math.log(hi))

    def excess(log_w: np.ndarray) -> np.ndarray:
        x = np.asarray(chi1(activation, np.exp(log_w), flat), dtype=np.float64)
        return np.where(np.isfinite(x), x - 1.0, 1.0)  # no fixed point: the exploding side

    valid = (excess(a) <= 0) & (excess(z) > 0)
    root = _illinois(excess, a, z, 60)
    out = np.where(valid, np.exp(root), np.nan).reshape(b.shape)
    return _as_output(out, sigma_b2)


def six_xi_c(activation: str, sigma_w2: ArrayLike, sigma_b2: ArrayLike) -> ArrayLike:
    """6 xi_c: about the deepest network that still trains (Schoenholz et al. 2017)."""
    _, xi_c = depth_scales(activation, sigma_w2, sigma_b2)
    return 6.0 * np.asarray(xi_c) if np.ndim(xi_c) else 6.0 * float(xi_c)
