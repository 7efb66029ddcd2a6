"""What the init predicts for each layer, drawn beside what is measured.

Forward (mean field, zero-mean i.i.d. weights), for every training input x on its own:
    q_1(x) = Var(w_1) * |x|^2 + Var(b)                          (x: the real inputs)
    q_l(x) = fan_in * Var(w_l) * E[phi(z)^2 | z ~ N(b0, q_{l-1}(x))] / keep + Var(b)
and the predicted stds are over (inputs, units), as the probes measure them: Var(z) = mean_x q(x),
Var(phi) = mean_x E[phi^2] - (mean_x E[phi])^2. One average input instead (the old recursion)
is badly off where the map is nonlinear: Kaiming + GELU at depth 20 came out 8x low.
With BatchNorm before the activation q_l = 1; dropout p scales E[phi^2] by 1/keep, keep = 1 - p.
Backward, per input: Var(dL/dh_l) = fan_out * Var(w_{l+1}) * E[phi'(z_{l+1})^2] / keep * Var(dL/dh_{l+1}),
averaged over inputs (the gradient reaching the last hidden layer taken the same for every input).
Gaussian expectations come from :mod:`initviz.engine.gauss` (closed forms or panel quadrature,
1e-10 relative at any q). ``zeros`` and ``constant`` give networks whose units are all identical,
so their prediction is the exact deterministic recursion of one unit on the real training inputs.
Residual (arch resmlp, blocks s <- s + A * W phi(z) + A b with z = s, or BatchNorm(s)), per input:
    q_0(x) = Var(w_0) * |x|^2 + Var(b)                         (the input projection)
    q_l(x) = q_{l-1}(x) + A^2 * (width * Var(w_l) * E[phi(z)^2 | z ~ N(m_{l-1}, q_{l-1}(x))] / keep + Var(b))
with the stream's mean m_l = m_{l-1} + A * b (z ~ N(0, 1) under BatchNorm): W is independent of s, so
the branch adds its variance to the stream's. He + ReLU + A = 1: E[relu(z)^2] = q/2, width Var(w) = 2,
so q doubles per block; under BatchNorm q grows by A^2 * width Var(w) E[phi^2 | N(0, 1)] per block
(linearly); A = 1/sqrt(depth) keeps it within (1 + 1/depth)^depth < e; Fixup's zero branches keep q_0.
Backward: Var(dL/ds_{l-1}) = Var(dL/ds_l) * (1 + A^2 width Var(w_l) E[phi'(z_l)^2] / keep [/ Var(s_{l-1}) under BN]).
Convolutional (arch cnn, conv 3x3 with zero padding 1, inits.cnn_plan), the same recursion with
fan = C * k * k as torch counts it, to first order in the zero padding (every position taken alike):
    q_1(x) = Var(w_1) * T_1 * |x|^2 / 64 + Var(b),   q_l(x) = Var(w_l) * C_in * T_l * E[phi(z)^2 | q_{l-1}(x)] / keep + Var(b)
where T_l = the mean number of the k*k taps that land inside the image (9 in the interior, 4 at a corner:
8x8 -> T = 7.6, 4x4 -> 6.3, 2x2 -> 4), so even Kaiming fan_in loses a share 1 - T/9 of the variance per
layer. Backward, each input position feeds T'_l = (outputs * taps inside) / inputs per layer (9 at stride
1 without padding, about 9/4 at stride 2): Var(dL/dh_l) = C_out T'_{l+1} Var(w_{l+1}) E[phi'^2] / keep
Var(dL/dh_{l+1}); the weight gradient's norm sums over the layer's P_l output positions. Approximate:
q in fact differs between border and interior positions (and the digits' border pixels are blank).
Limits: infinite width (one network of width 256 strays from it by up to ~1.4x at depth 20 for
ReLU: see :func:`Theory.band`), and at init only (training moves the weights away).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch

from initviz.engine import gauss
from initviz.engine.config import RunConfig
from initviz.engine.inits import bias_value, hidden_fans, kaiming_gain, predicted_bias_std, predicted_std
from initviz.engine.model import make_activation

BN_EPS = 1e-5


@dataclass(frozen=True)
class Theory:
    """Predictions per hidden layer, each (L,), first layer first."""

    pre_std: np.ndarray  # std of the pre-activation (after BatchNorm when enabled)
    act_std: np.ndarray  # std of the post-activation
    grad_gain: np.ndarray  # predicted |dL/dh_l| relative to the last hidden layer's
    act_mean: Optional[np.ndarray] = None  # mean of the post-activation over (inputs, units)
    saturation: Optional[np.ndarray] = None  # predicted saturated fraction (probes' thresholds)
    weight_grad_gain: Optional[np.ndarray] = None  # predicted |dL/dW_l| relative to the last layer's
    branch_std: Optional[np.ndarray] = None  # resmlp: std of each block's branch A * f(h) (None for mlp)
    n_inputs: int = 0  # training inputs the recursion ran over
    config: Optional[RunConfig] = field(default=None, compare=False, repr=False)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [float(v) for v in getattr(self, k)] for k in ("pre_std", "act_std", "grad_gain")}

    def band(self) -> Any:
        """The finite-width band (:class:`initviz.engine.band.Band`), computed on first call (~0.5 s at
        depth 20 width 256) and kept: call it from the worker, then panels read :meth:`band_if_ready`."""
        if self.config is not None and self.config.arch != "mlp":
            return None  # the band draws MLPs only
        if "band" not in self._cache and self.config is not None:
            from initviz.engine.band import finite_width_band

            self._cache["band"] = None  # asked once: a failure is not retried at every tick
            self._cache["band"] = finite_width_band(self.config)
        return self._cache.get("band")

    def band_if_ready(self) -> Any:
        """The band if something already computed it, else None (never computes: safe in the GUI)."""
        return self._cache.get("band")

    def depth_scales(self) -> Optional["DepthScales"]:
        """Order or chaos at this init (Poole et al. 2016, Schoenholz et al. 2017): q*, chi_1 and xi_c of
        the configured activation at the hidden layers' sigma_w^2 = fan_in Var(w) and the biases'
        sigma_b^2; None where the mean-field picture does not apply (zeros/constant, BatchNorm,
        residual nets) or has no finite fixed point (ReLU family, linear). Up to ~1 s: computed
        once, from the worker; panels read :meth:`depth_scales_if_ready`."""
        if "scales" not in self._cache:
            self._cache["scales"] = None  # asked once
            self._cache["scales"] = _depth_scales(self.config) if self.config is not None else None
        return self._cache["scales"]

    def depth_scales_if_ready(self) -> Optional["DepthScales"]:
        return self._cache.get("scales")

    @property
    def scales_pending(self) -> bool:
        return "scales" not in self._cache and self.config is not None

    @property
    def band_pending(self) -> bool:
        """True until :meth:`band` has run (its answer may be None: zeros/constant have no band)."""
        return "band" not in self._cache and self.config is not None and self.config.arch == "mlp"


def _phi_and_dphi(activation: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activation and its derivative at z, evaluated by torch in float64."""
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    y = make_activation(activation)(t)
    (dy,) = torch.autograd.grad(y.sum(), t, allow_unused=True) if y.requires_grad else (None,)
    d = dy.numpy() if dy is not None else np.ones_like(z)
    return y.detach().numpy(), d


def _identical_units(config: RunConfig, x: np.ndarray) -> Theory:
    """Exact recursion for zeros/constant: one unit stands for all of them."""
    c = 0.0 if config.init.scheme == "zeros" else config.init.value
    b = bias_value(config)
    keep = 1.0 - config.dropout
    h = x.sum(1) * c + b  # z_1 per sample (every unit the same)
    pre_std, act_std, act_mean, sat, dphi = [], [], [], [], []
    for layer in range(config.depth):
        z = h
        if config.batchnorm:
            z = (z - z.mean()) / np.sqrt(z.var() + BN_EPS)
        y, d = _phi_and_dphi(config.activation, z)
        pre_std.append(z.std())
        act_std.append(y.std())
        act_mean.append(y.mean())
        sat.append(float(np.mean(gauss.saturated_fraction(config.activation, z, 0.0))))
        dphi.append(float(np.mean(np.abs(d))))
        h = c * config.width * y + b  # next layer's pre-activation (dropout keeps the mean)
    gains = np.ones(config.depth)
    for layer in range(config.depth - 2, -1, -1):
        gains[layer] = gains[layer + 1] * abs(c) * config.width * dphi[layer + 1] / np.sqrt(keep)
    return Theory(np.array(pre_std), np.array(act_std), gains, act_mean=np.array(act_mean), saturation=np.array(sat),
                  weight_grad_gain=np.full(config.depth, np.nan), n_inputs=len(x), config=config)


N_GROUPS = 64  # inputs are summarised by this many equal-count groups of |x|^2


def input_groups(x: np.ndarray, groups: int = N_GROUPS) -> tuple[np.ndarray, np.ndarray]:
    """(|x|^2 per group, weight per group): every input if there are few, else equal-count groups.

    Under the mean field every layer's q(x) is a function of |x|^2 alone, so a group of inputs
    with nearly the same norm is one input for the recursion (error second order in the spread).
    """
    r = np.sort((x * x).sum(1))
    if len(r) <= groups:
        return r, np.full(len(r), 1.0 / max(len(r), 1))
    parts = np.array_split(r, groups)
    return np.array([p.mean() for p in parts]), np.array([len(p) for p in parts], dtype=np.float64) / len(r)


def predict(config: RunConfig, x_train: torch.Tensor) -> Theory:
    """Predicted per-layer stds and gradient gains for `config` on these training inputs.

    Per input (mean field): q_1(x) = Var(w) |x|^2 + Var(b), q_{l+1}(x) = fan_in Var(w) E[phi^2 | q_l(x)]
    / keep + Var(b); the stds are over (inputs, units), the gradient gains averaged over inputs.
    """
    x = x_train.detach().double().cpu().numpy()
    if config.arch == "resmlp":
        return _freeze(_predict_residual(config, x))
    if config.arch == "cnn" and config.init.scheme not in ("zeros", "constant"):
        return _freeze(_predict_cnn(config, x))
    if config.init.scheme in ("zeros", "constant"):
        return _freeze(_identical_units(config, x))
    fans = hidden_fans(config, x.shape[1])
    kgain = kaiming_gain(config)
    mean = bias_value(config) if config.init.scheme != "pytorch_default" else 0.0
    keep = 1.0 - config.dropout
    r, weight = input_groups(x)  # (K,), (K,)
    var_ws = [predicted_std(config.init, fi, fo, kgain) ** 2 for fi, fo in fans]
    pre_std, act_std, act_mean, saturation = [], [], [], []
    ed2s, signals = [], []  # per layer (K,): E[phi'^2 | q(x)], and sum_j E[h_j^2] entering the layer
    signal = r  # sum over the layer's fan_in of h^2, per input
    for (fan_in, _), var_w in zip(fans, var_ws):
        var_b = predicted_bias_std(config, fan_in) ** 2
        q = var_w * signal + var_b
        m_layer = 0.0 if config.batchnorm else mean
        if config.batchnorm:
            q = np.where(q > 0, 1.0, 0.0)
        m = np.full_like(q, m_layer)
        e1, e2, ed2 = gauss.moments_fast(config.activation, m_layer, q)  # table in log q: ~1e-6 relative
        pre_std.append(np.sqrt(weight @ q + weight @ (m * m) - (weight @ m) ** 2))
        mu = weight @ e1
        act_mean.append(mu)
        act_std.append(np.sqrt(max(weight @ e2 - mu**2, 0.0)))
        saturation.append(weight @ gauss.saturated_fraction(config.activation, m, q))
        ed2s.append(ed2)
        signals.append(signal)
        signal = config.width * e2 / keep
    depth = config.depth
    g2 = [np.ones_like(r) for _ in range(depth)]  # per input: Var(dL/dh_l) / Var(dL/dh_L)
    raw_bn = config.width * gauss.moments(config.activation, 0.0, 1.0)[1]
    for layer in range(depth - 2, -1, -1):
        fan_in, fan_out = fans[layer + 1]
        factor = fan_out * var_ws[layer + 1] * ed2s[layer + 1] / keep
        if config.batchnorm:  # BatchNorm divides the gradient by the batch std of its input
            raw = var_ws[layer + 1] * raw_bn
            factor = factor / raw if raw > 0 else np.zeros_like(factor)
        g2[layer] = g2[layer + 1] * factor
    gains = np.sqrt(np.array([weight @ g for g in g2]))
    # |dL/dW_l|^2 ~ sum_x |phi'(z_l) dL/dh_l|^2 |h_{l-1}|^2 (cross terms between inputs dropped)
    wg = []
    for layer in range(depth):
        inp = signals[layer] if not config.batchnorm else 1.0 / max(var_ws[layer], 1e-300)
        wg.append(weight @ (ed2s[layer] * g2[layer] * inp))
    wg = np.sqrt(np.array(wg))
    wg = wg / wg[-1] if wg[-1] > 0 else np.full(depth, np.nan)
    return _freeze(
        Theory(
            np.array(pre_std), np.array(act_std), gains,
            act_mean=np.array(act_mean), saturation=np.array(saturation), weight_grad_gain=wg,
            n_inputs=len(x), config=config,
        )
    )


def _predict_residual(config: RunConfig, x: np.ndarray) -> Theory:
    """The residual recursion (module docstring) for arch resmlp; each layer is a block, its output
    the residual stream s_l. zeros/constant: every unit identical, one unit's exact recursion."""
    depth, width, act = config.depth, config.width, config.activation
    a = config.residual_factor()
    keep = 1.0 - config.dropout
    b = bias_value(config) if config.init.scheme != "pytorch_default" else 0.0
    b_branch = 0.0 if config.fixup else b
    identical = config.init.scheme in ("zeros", "constant")
    if identical:  # one unit stands for all: s per input, exact
        c = 0.0 if config.init.scheme == "zeros" else config.init.value
        s = x.sum(1) * c + b
        weight = np.full(len(x), 1.0 / max(len(x), 1))
        q, m = np.zeros_like(s), s
        var_w = 0.0 if config.fixup else c * c  # a "variance" that multiplies E[phi^2]: (c * width * phi)^2
    else:
        r, weight = input_groups(x)
        kgain = kaiming_gain(config)
        var_w0 = predicted_std(config.init, x.shape[1], width, kgain) ** 2
        q = var_w0 * r + predicted_bias_std(config, x.shape[1]) ** 2  # (K,) stream variance per input
        m = np.full_like(q, b)  # the stream's mean per input (the same for every unit)
        var_w = 0.0 if config.fixup else predicted_std(config.init, width, width, kgain) ** 2
    var_b = 0.0 if config.fixup else predicted_bias_std(config, width) ** 2
    gain_w = width * width * var_w if identical else width * var_w  # sum over fan_in of w^2 (times phi^2)

    def std(q_: np.ndarray, m_: np.ndarray) -> float:
        return float(np.sqrt(max(weight @ q_ + weight @ (m_ * m_) - (weight @ m_) ** 2, 0.0)))

    pre_std, act_std, act_mean, branch_std, e2s, ed2s, stream_var = [], [], [], [], [], [], []
    for _ in range(depth):
        if config.batchnorm:  # BatchNorm over the batch: z ~ N(0, 1) (all-equal inputs stay 0)
            total = std(q, m) ** 2
            mz = (m - weight @ m) / np.sqrt(total + BN_EPS)
            qz = np.where(q > 0, q / (total + BN_EPS), 0.0)
        else:
            mz, qz = m, q
        if identical:
            e1, e2, ed2 = gauss.moments(act, mz, qz)
        else:
            e1, e2, ed2 = gauss.moments_fast(act, float(mz[0]), qz) if np.all(mz == mz[0]) else gauss.moments(act, mz, qz)
        pre_std.append(std(qz, mz))
        stream_var.append(std(q, m) ** 2)
        if identical:  # the branch c * width * phi + b, the same in every unit
            bm = (0.0 if config.fixup else c * width) * e1 + b_branch
            bq = np.zeros_like(q)
        else:
            bm = np.full_like(q, b_branch)
            bq = gain_w * e2 / keep + var_b
        branch_std.append(a * std(bq, bm))
        q, m = q + a * a * bq, m + a * bm
        act_std.append(std(q, m))
        act_mean.append(float(weight @ m))
        e2s.append(e2)
        ed2s.append(ed2)
    g2 = [np.ones_like(q) for _ in range(depth)]  # per input: Var(dL/ds_l) / Var(dL/ds_L)
    for layer in range(depth - 2, -1, -1):
        branch = a * a * gain_w * ed2s[layer + 1] / keep
        if config.batchnorm:
            branch = branch / (stream_var[layer + 1] + BN_EPS)
        g2[layer] = g2[layer + 1] * (1.0 + branch)
    gains = np.sqrt(np.array([weight @ g for g in g2]))
    # dL/dW_l = A dL/ds_l (outer) drop(phi(z_l)): |.|^2 ~ A^2 Var(dL/ds_l) width E[phi^2] / keep per input
    wg = np.sqrt(np.array([weight @ (g2[i] * e2s[i]) for i in range(depth)]))
    wg = wg / wg[-1] if wg[-1] > 0 else np.full(depth, np.nan)
    return Theory(
        np.array(pre_std), np.array(act_std), gains,
        act_mean=np.array(act_mean), saturation=np.full(depth, np.nan), weight_grad_gain=wg,
        branch_std=np.array(branch_std), n_inputs=len(x), config=config,
    )


def _taps(size_in: int, stride: int, kernel: int = 3) -> tuple[float, float]:
    """(mean taps inside the image per output position, mean (output, tap) pairs per input position)
    along one axis of a conv with zero padding kernel // 2."""
    pad = kernel // 2
    size_out = (size_in + 2 * pad - kernel) // stride + 1
    inside = sum(1 for o in range(size_out) for k in range(kernel) if 0 <= o * stride + k - pad < size_in)
    return inside / size_out, inside / size_in


def _predict_cnn(config: RunConfig, x: np.ndarray) -> Theory:
    """The convolutional recursion (module docstring) for arch cnn."""
    from initviz.engine.inits import cnn_plan, conv_weight_std

    plan = cnn_plan(config)
    kgain = kaiming_gain(config)
    mean = bias_value(config) if config.init.scheme != "pytorch_default" else 0.0
    keep = 1.0 - config.dropout
    r, weight = input_groups(x)  # |x|^2 per group of inputs: 64 pixels
    var_ws = [conv_weight_std(config.init, c, kgain) ** 2 for c in plan]
    fwd = [_taps(c.side_in, c.stride)[0] ** 2 for c in plan]  # taps inside, per output position
    bwd = [_taps(c.side_in, c.stride)[1] ** 2 for c in plan]  # pairs per input position
    pre_std, act_std, act_mean, saturation, ed2s, signals, raw_q = [], [], [], [], [], [], []
    eh2 = r / (x.shape[1] or 1)  # E[x^2] per pixel, per input
    for c, var_w, t in zip(plan, var_ws, fwd):
        signal = c.c_in * t * eh2  # sum of h^2 over the taps inside the image
        var_b = predicted_bias_std(config, c.fan_in) ** 2
        q = var_w * signal + var_b
        raw_q.append(float(weight @ q))
        m_layer = 0.0 if config.batchnorm else mean
        if config.batchnorm:
            q = np.where(q > 0, 1.0, 0.0)
        e1, e2, ed2 = gauss.moments_fast(config.activation, m_layer, q)
        pre_std.append(np.sqrt(weight @ q))
        mu = weight @ e1
        act_mean.append(mu)
        act_std.append(np.sqrt(max(weight @ e2 - mu**2, 0.0)))
        saturation.append(weight @ gauss.saturated_fraction(config.activation, np.full_like(q, m_layer), q))
        ed2s.append(ed2)
        signals.append(signal)
        eh2 = e2 / keep
    depth = len(plan)
    g2 = [np.ones_like(r) for _ in range(depth)]  # per input: Var(dL/dh_l) / Var(dL/dh_L), per element
    for layer in range(depth - 2, -1, -1):
        nxt = plan[layer + 1]
        factor = nxt.c_out * bwd[layer + 1] * var_ws[layer + 1] * ed2s[layer + 1] / keep
        if config.batchnorm:  # BatchNorm divides the gradient by the batch std of its input
            factor = factor / raw_q[layer + 1] if raw_q[layer + 1] > 0 else np.zeros_like(factor)
        g2[layer] = g2[layer + 1] * factor
    gains = np.sqrt(np.array([weight @ g for g in g2]))
    # |dL/dW_l|^2 ~ C_out P_l sum_taps E[h^2] E[phi'^2] Var(dL/dh_l) (cross terms between positions dropped)
    wg = []
    for layer, c in enumerate(plan):
        inp = signals[layer] if not config.batchnorm else 1.0 / max(var_ws[layer], 1e-300)
        wg.append(c.c_out * c.side_out**2 * (weight @ (ed2s[layer] * g2[layer] * inp)))
    wg = np.sqrt(np.array(wg))
    wg = wg / wg[-1] if wg[-1] > 0 else np.full(depth, np.nan)
    return Theory(
        np.array(pre_std), np.array(act_std), gains,
        act_mean=np.array(act_mean), saturation=np.array(saturation), weight_grad_gain=wg,
        n_inputs=len(x), config=config,
    )


def _freeze(t: Theory) -> Theory:
    for a in (t.pre_std, t.act_std, t.grad_gain, t.act_mean, t.saturation, t.weight_grad_gain, t.branch_std):
        if a is not None:
            a.setflags(write=False)
    return t


@dataclass(frozen=True)
class DepthScales:
    """The mean-field phase of an init: fixed point q*, chi_1 (1 = critical) and the depth scale xi_c."""

    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    xi_c: float


def _depth_scales(config: RunConfig) -> Optional[DepthScales]:
    from initviz.engine import phase
    from initviz.engine.inits import describe_init, predicted_bias_std

    if config.init.scheme in ("zeros", "constant") or config.batchnorm or config.arch != "mlp":
        return None
    stds = np.asarray(describe_init(config).weight_std, dtype=np.float64)
    w_std = float(stds[1] if len(stds) > 1 else stds[0])
    sigma_w2 = config.width * w_std**2
    sigma_b2 = float(predicted_bias_std(config, config.width)) ** 2
    q = float(phase.fixed_point(config.activation, sigma_w2, sigma_b2))
    chi1 = float(phase.chi1(config.activation, sigma_w2, sigma_b2))
    if not (math.isfinite(q) and math.isfinite(chi1)):
        return None
    _, xi_c = phase.depth_scales(config.activation, sigma_w2, sigma_b2)
    return DepthScales(sigma_w2, sigma_b2, q, chi1, float(xi_c))
