"""Order-to-chaos theory (engine/phase.py) against dense integration written here, closed forms
(ReLU's arc-cosine kernel) and the published numbers of Schoenholz et al. 2017 (tanh, sigma_b^2 = 0.05)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initviz.engine import phase

# dense trapezoid rules over z ~ N(0, 1): spectrally accurate for smooth integrands
Z = np.linspace(-12.0, 12.0, 24001)
WZ = np.full(Z.size, Z[1] - Z[0]) * np.exp(-0.5 * Z**2) / math.sqrt(2 * math.pi)
WZ[[0, -1]] *= 0.5
Z2 = np.linspace(-9.0, 9.0, 1201)
W2 = np.full(Z2.size, Z2[1] - Z2[0]) * np.exp(-0.5 * Z2**2) / math.sqrt(2 * math.pi)
W2[[0, -1]] *= 0.5


def dense_q_star(w: float, b: float) -> float:
    q = 1.0
    for _ in range(5000):
        q = w * float(np.tanh(math.sqrt(q) * Z) ** 2 @ WZ) + b
    return q


def dense_pair(f, g, q: float, c: float) -> float:
    """E[f(u1) g(u2)] on a 1201 x 1201 trapezoid grid."""
    z1, z2 = np.meshgrid(Z2, Z2, indexing="ij")
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    return float(W2 @ (f(u1) * g(u2)) @ W2)


def dense_c_map(w: float, b: float, q: float, c: float) -> float:
    return (w * dense_pair(np.tanh, np.tanh, q, c) + b) / q


@pytest.mark.parametrize("w", [0.8, 1.5, 2.5, 4.0])
def test_q_star_and_chi1_match_dense_integration_for_tanh(w: float) -> None:
    q = dense_q_star(w, 0.05)
    assert phase.fixed_point("tanh", w, 0.05) == pytest.approx(q, rel=1e-9)
    chi = w * float((1 - np.tanh(math.sqrt(q) * Z) ** 2) ** 2 @ WZ)
    assert phase.chi1("tanh", w, 0.05) == pytest.approx(chi, rel=1e-9)


def test_relu_matches_closed_forms_at_its_kink() -> None:
    # q* = b / (1 - w/2), chi_1 = w/2, and the arc-cosine kernel for the correlation map
    w, b = 1.5, 0.05
    q = b / (1 - w / 2)
    assert phase.fixed_point("relu", w, b) == pytest.approx(q, rel=1e-9)
    assert phase.chi1("relu", w, b) == pytest.approx(w / 2, rel=1e-9)
    for c in (-0.7, 0.0, 0.3, 0.9, 0.999):
        theta = math.acos(c)
        pair = q / (2 * math.pi) * (math.sin(theta) + (math.pi - theta) * math.cos(theta))
        assert phase.correlation_map("relu", w, b, c) == pytest.approx((w * pair + b) / q, rel=1e-8)
    assert phase.fixed_point("relu", 2.5, b) == math.inf  # no fixed point: the length runs away


@pytest.mark.parametrize("w", [2.0, 3.0])
def test_chaotic_fixed_point_and_slope_match_dense_integration(w: float) -> None:
    b = 0.05
    q = dense_q_star(w, b)
    c_star = phase.correlation_fixed_point("tanh", w, b)
    assert 0 < c_star < 1
    assert dense_c_map(w, b, q, c_star) == pytest.approx(c_star, abs=1e-8)
    dphi = lambda u: 1 - np.tanh(u) ** 2  # noqa: E731
    pts = phase.phase_points("tanh", w, b)
    assert float(pts.chi_c[0]) == pytest.approx(w * dense_pair(dphi, dphi, q, c_star), rel=1e-7)
    # the slope is what the map does to a small offset from c*
    eps = 1e-4
    slope = (dense_c_map(w, b, q, c_star + eps) - dense_c_map(w, b, q, c_star - eps)) / (2 * eps)
    assert float(pts.chi_c[0]) == pytest.approx(slope, rel=1e-5)


def test_xi_q_is_the_decay_of_the_length_map() -> None:
    w, b = 1.5, 0.05
    q = dense_q_star(w, b)
    x = q * 1.001
    for _ in range(20):
        x = w * float(np.tanh(math.sqrt(x) * Z) ** 2 @ WZ) + b
    rate = (x - q) / (q * 0.001)  # one factor per layer, 20 layers
    xi_q, _ = phase.depth_scales("tanh", w, b)
    assert xi_q == pytest.approx(-20 / math.log(rate), rel=1e-3)


def test_ordered_phase_has_c_star_one_and_xi_c_from_chi1() -> None:
    x1 = phase.chi1("tanh", 1.0, 0.05)
    assert x1 < 1
    assert phase.correlation_fixed_point("tanh", 1.0, 0.05) == 1.0
    _, xi_c = phase.depth_scales("tanh", 1.0, 0.05)
    assert xi_c == pytest.approx(-1 / math.log(x1), rel=1e-12)


def test_critical_line_is_where_chi1_is_one() -> None:
    b2 = np.array([0.01, 0.05, 0.2])
    crit = phase.critical_sigma_w2("tanh", b2)
    assert crit.shape == (3,)
    assert np.all(np.diff(crit) > 0)  # more bias variance needs more weight variance for chaos
    for w, b in zip(crit, b2):
        q = dense_q_star(float(w), float(b))
        assert float(w) * float((1 - np.tanh(math.sqrt(q) * Z) ** 2) ** 2 @ WZ) == pytest.approx(1.0, abs=1e-7)


def test_schoenholz_2017_numbers() -> None:
    # Schoenholz et al. 2017, Fig. 5/6 (tanh, sigma_b^2 = 0.05): critical point ~1.76 and
    # 6 xi_c ~ 22, 95, 151, 54 layers at sigma_w^2 = 1, 1.5, 2, 3 (read off their figure: 5% allowed)
    assert phase.critical_sigma_w2("tanh", 0.05) == pytest.approx(1.76, abs=0.01)
    six = phase.six_xi_c("tanh", np.array([1.0, 1.5, 2.0, 3.0]), 0.05)
    assert six == pytest.approx([22, 95, 151, 54], rel=0.05)


def test_vectorised_over_a_grid_equals_pointwise() -> None:
    w = np.array([[0.5, 1.2], [2.2, 3.5]])
    xi_q, xi_c = phase.depth_scales("tanh", w, 0.05)
    assert xi_c.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            assert xi_c[i, j] == pytest.approx(phase.depth_scales("tanh", float(w[i, j]), 0.05)[1], rel=1e-12)
            assert xi_q[i, j] == pytest.approx(phase.depth_scales("tanh", float(w[i, j]), 0.05)[0], rel=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "gelu", "elu", "selu", "linear"])
def test_derivatives_match_finite_differences(activation: str) -> None:
    u = np.array([-2.3, -0.7, 0.4, 1.9])  # away from the kink at 0
    h = 1e-5
    d1 = (phase.phi(activation, u + h) - phase.phi(activation, u - h)) / (2 * h)
    d2 = (phase.phi(activation, u + h, 1) - phase.phi(activation, u - h, 1)) / (2 * h)
    assert phase.phi(activation, u, 1) == pytest.approx(d1, rel=1e-6, abs=1e-9)
    assert phase.phi(activation, u, 2) == pytest.approx(d2, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("w", [1.5, 3.0, 5.0, 10.0, 25.0, 60.0])
def test_tanh_without_bias_is_chaotic_around_c_zero(w: float) -> None:
    """sigma_b^2 = 0 (the window's default): c = 0 is a fixed point of tanh's correlation map and
    the stable one in the chaotic phase, so chi_c = sigma_w^2 E[tanh'(u)]^2 there. The root search
    once landed on c = 1 for some sigma_w^2 (6 xi_c jumping 20 -> 6 -> 17 along the line)."""
    q = dense_q_star(w, 0.0)
    slope = float((1.0 / np.cosh(math.sqrt(q) * Z)) ** 2 @ WZ)
    xi_c = -1.0 / math.log(w * slope * slope)
    pts = phase.phase_points("tanh", np.array([w]), np.array([0.0]))
    assert float(pts.c_star[0]) == 0.0
    assert float(pts.xi_c[0]) == pytest.approx(xi_c, rel=5e-3)
