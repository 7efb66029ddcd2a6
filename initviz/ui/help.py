"""The Help dialog: what every panel shows and the formulas behind the init schemes."""

from __future__ import annotations

from typing import Optional

from PySide6 import QtCore, QtWidgets


FORMULAS_HTML = """
<h2>Weight initialisation, in formulas</h2>
<p>A hidden layer computes <i>z</i><sub>l</sub> = <i>W</i><sub>l</sub> <i>h</i><sub>l-1</sub> + <i>b</i><sub>l</sub>
and <i>h</i><sub>l</sub> = φ(<i>z</i><sub>l</sub>). <i>fan_in</i> is the number of inputs of a unit,
<i>fan_out</i> the number of units it feeds.</p>

<h3>The variance recursion</h3>
<p style="font-size:large">Var(<i>z</i><sub>l</sub>) = fan_in · Var(<i>w</i>) · E[φ(<i>z</i><sub>l-1</sub>)²] + Var(<i>b</i>)</p>
<p>Each layer multiplies the signal's variance by fan_in·Var(<i>w</i>)·E[φ²]/Var(<i>z</i>). If that factor is
above 1 the activations explode with depth, below 1 they vanish (tanh/sigmoid: they saturate or collapse).
The <b>Depth profile</b> panel draws this prediction (dashed) over the measured std.
initviz runs it for every training input on its own (Var(<i>z</i><sub>1</sub>) = Var(<i>w</i>)·|x|² + Var(<i>b</i>))
and averages at the end; the expectations E[·] over the Gaussian are exact to ~1e-10 at any variance.</p>
<p style="font-size:large">Var(∂L/∂<i>h</i><sub>l</sub>) = fan_out · Var(<i>w</i>) · E[φ′(<i>z</i><sub>l+1</sub>)²] · Var(∂L/∂<i>h</i><sub>l+1</sub>)</p>
<p>The same recursion backward gives the gradients' shape (dashed in the <b>Gradients</b> panel, scaled to the
measured last layer). The light bands: where 80% of networks of this very shape land at init
(10-90% over 32 networks with other seeds): the theory is for infinite width, one network of width 256
strays from it by up to ~1.4x at depth 20 (ReLU).</p>

<h3>Xavier / Glorot (tanh, sigmoid, linear)</h3>
<p style="font-size:large">Var(<i>w</i>) = 2 / (fan_in + fan_out)</p>
<p>normal: σ = gain·√(2/(fan_in+fan_out)); uniform: U(−a, a) with a = gain·√(6/(fan_in+fan_out)).
A compromise between keeping the forward variance (fan_in) and the backward variance (fan_out).</p>

<h3>Kaiming / He (ReLU family)</h3>
<p style="font-size:large">Var(<i>w</i>) = 2 / fan_in &nbsp;&nbsp; i.e. &nbsp;&nbsp; std = gain / √fan_in</p>
<p>torch's <code>calculate_gain</code> <b>multiplies the std</b>: std = gain/√fan_in, not √(gain/fan_in).
Gains: relu √2, tanh 5/3, sigmoid 1, linear 1, selu 3/4, leaky_relu √(2/(1+slope²)).
So Kaiming with the tanh gain gives std = (5/3)/√fan_in. With <i>fan_out</i> mode, fan_in is replaced by
fan_out (keeps the backward pass's variance instead).</p>

<h3>LeCun</h3>
<p style="font-size:large">Var(<i>w</i>) = 1 / fan_in</p>
<p>For SELU: with it, SELU networks keep mean 0 and variance 1 by themselves.</p>

<h3>PyTorch's default for nn.Linear</h3>
<p style="font-size:large">W ~ U(−1/√fan_in, 1/√fan_in), &nbsp; std = 1/√(3·fan_in)</p>
<p>It is kaiming_uniform with a = √5, i.e. std = 1/√(3·fan_in): 0.0255 for fan_in = 512, <b>not</b> 0.0625.
With ReLU each layer keeps only fan_in·(1/(3 fan_in))·½ = 1/6 of the variance: deep default-initialised
ReLU stacks fade out.</p>

<h3>Constant and zero weights</h3>
<p>Every unit of a layer computes the same function and receives the same gradient, so the units stay identical
forever (the <b>symmetry</b> line stays at 1). Random init exists to break this symmetry.</p>

<h3>Update:data ratio</h3>
<p>‖ΔW‖/‖W‖ per step. Around 10<sup>−3</sup> is the usual healthy range: much smaller and the layer barely learns,
much larger and it is being rewritten every step.</p>
"""

# (keys, what they do): every shortcut of the window (tests check each action's key is here)
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Space", "Play / Pause (whatever has the focus, except while typing in a text field)"),
    ("Right", "Live: train one step. Scrubbing: the next recorded step"),
    ("Left", "Pause and show the previous recorded step"),
    ("Home", "Pause and show step 0: the network at initialisation"),
    ("End", "Timeline: follow training again (live)"),
    ("Shift+Right", "Step N steps (N next to the button)"),
    ("Ctrl+R", "Reset: same seed, the very same initial weights again"),
    ("Ctrl+Shift+R", "Reseed: next seed, new initial weights"),
    ("Ctrl+Return", "Apply the experiment settings (rebuilds the network); the keyboard returns to the panels"),
    ("Ctrl+1 … Ctrl+{panels}", "Show a panel (in tab order)"),
    ("Ctrl+P", "Activations: show pre-activations z instead of φ(z)"),
    ("Ctrl+= (or Ctrl++) / Ctrl+- / Ctrl+0", "Zoom every font, line and marker in / out / back to 100% (projector)"),
    ("Ctrl+O", "Open a saved run"),
    ("Ctrl+S", "Save the run (every lane)"),
    ("Ctrl+E", "Export a panel or the dashboard (PNG/SVG/PDF/GIF, data)"),
    ("F1", "This help"),
    ("Ctrl+Q", "Quit"),
)


def controls_html() -> str:
    from initviz import registry

    rows = "".join(
        f"<tr><td><b>{keys.format(panels=len(registry.PANELS))}</b></td><td>{text}</td></tr>" for keys, text in SHORTCUTS
    )
    return (
        "<h2>Controls</h2><table cellpadding=\"3\">" + rows + "</table>"
        "<p>Step 0 is the network at initialisation (measured on the first batch, before any update). "
        "Drag the timeline to look at any recorded step; every panel redraws there. "
        "The toolbar shows the training speed and how much of each step the measuring costs. "
        "The window remembers its size, panel sizes, zoom and scenario; View &gt; Restore the Experiment "
        "panel brings the settings back at a usable width.</p>"
    )


# The depth-scale caption, for the engine's phase analysis (fixed point q*, chi_1, xi_c) to fill.
DEPTH_SCALE_TEMPLATE = (
    "{phase}: χ₁ = {chi1:.3g} at the fixed point q* = {q_star:.3g}; {consequence}"
)


def depth_scale_sentence(chi1: float, q_star: float, xi_c: float) -> str:
    """One sentence on order vs chaos (Poole et al. 2016, Schoenholz et al. 2017) from chi_1 and xi_c."""
    if not (chi1 == chi1 and xi_c == xi_c):  # NaN: nothing to say
        return ""
    if abs(chi1 - 1.0) < 1e-3 or xi_c == float("inf"):
        phase, consequence = "critical", "correlations between inputs survive any depth (ξ_c is unbounded)."
    elif chi1 < 1.0:
        phase = "ordered"
        consequence = (f"signals forget their input after ~ξ_c = {xi_c:.3g} layers: every input maps to the same "
                       f"point; trainable to about 6 ξ_c ≈ {6 * xi_c:.0f} layers.")
    else:
        phase = "chaotic"
        consequence = (f"nearby inputs decorrelate after ~ξ_c = {xi_c:.3g} layers; trainable to about "
                       f"6 ξ_c ≈ {6 * xi_c:.0f} layers.")
    return DEPTH_SCALE_TEMPLATE.format(phase=phase.capitalize(), chi1=chi1, q_star=q_star, consequence=consequence)


def help_html() -> str:
    from initviz import registry

    # every registered panel's own help, in tab order: a new panel needs no edit here
    panels = "".join(f"<p>{spec.load().help_text}</p>" for spec in registry.PANELS)
    return FORMULAS_HTML + "<h2>The panels</h2>" + panels + controls_html()


class HelpDialog(QtWidgets.QDialog):
    """Formulas, panel descriptions and shortcuts in one scrollable page (non-modal)."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("initviz help")
        self.resize(760, 820)
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(help_html())
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.setWindowFlag(QtCore.Qt.WindowType.WindowContextHelpButtonHint, False)
