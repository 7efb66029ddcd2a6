"""The experiment panel: every RunConfig field, validated by the engine, applied on demand."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Optional

from PySide6 import QtCore, QtGui, QtWidgets

from initviz.engine.config import (
    ACTIVATIONS,
    ARCHS,
    CNN_DATASETS,
    DATASETS,
    DEVICES,
    INIT_SCHEMES,
    MODES,
    NONLINEARITIES,
    OPTIMIZERS,
    ConfigError,
    RunConfig,
)
from initviz.engine.lanes import MAX_LANES, SHARED
from initviz.ui import theme
from initviz.ui.scenarios import Scenario, all_scenarios, lesson_text

# Which init parameters each scheme uses (the others are hidden).
SCHEME_PARAMS: dict[str, tuple[str, ...]] = {
    "zeros": (),
    "constant": ("init.value",),
    "normal": ("init.std",),
    "uniform": ("init.bound",),
    "xavier_uniform": ("init.gain",),
    "xavier_normal": ("init.gain",),
    "kaiming_uniform": ("init.mode", "init.nonlinearity"),
    "kaiming_normal": ("init.mode", "init.nonlinearity"),
    "lecun_normal": (),
    "orthogonal": ("init.gain",),
    "pytorch_default": (),
}
COUPLED = ("arch", "dataset", "residual_scale")  # checked together: each alone may be refused by the others
INIT_PARAMS = ("init.std", "init.value", "init.bound", "init.gain", "init.mode", "init.nonlinearity")


@dataclass(frozen=True)
class FieldSpec:
    name: str  # RunConfig field, "init.x" for InitSpec fields (same as ConfigError.field)
    label: str
    kind: str  # "choice", "int", "float", "bool"
    tip: str
    choices: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()  # the config value of each choice, where it is not the text itself


SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    (
        "Network",
        (
            FieldSpec(
                "arch",
                "Architecture",
                "choice",
                "mlp: Linear -> φ layers. resmlp: residual blocks h + A·Linear(φ(h)) after an input projection. "
                "cnn: conv 3×3 layers on the 8x8 digits, channels doubling at each stride-2 stage "
                "(fan_in = C_in·3·3, fan_out = C_out·3·3, as torch counts them).",
                ARCHS,
            ),
            FieldSpec(
                "residual_scale",
                "Residual scale A",
                "choice",
                "resmlp: each block adds A·f(h). 1: the stream's variance grows every block; 1/√depth: it stays "
                "bounded; fixup: A = 1 with every branch's Linear starting at zero (each block starts as the identity).",
                ("1", "1/√depth", "fixup"),
                (1.0, "1/sqrt(depth)", "fixup"),
            ),
            FieldSpec("dataset", "Dataset", "choice", "The task: 2-D toy sets or 8x8 digits (cnn: digits only).", DATASETS),
            FieldSpec("depth", "Hidden layers", "int", "Number of hidden layers, residual blocks or conv layers (1 to 200)."),
            FieldSpec("width", "Width", "int", "Units in every hidden layer (cnn: channels of the first stage; ×2 per stage)."),
            FieldSpec("activation", "Activation φ", "choice", "Nonlinearity after every hidden layer.", ACTIVATIONS),
            FieldSpec("batchnorm", "BatchNorm", "bool", "BatchNorm1d between each hidden Linear and its activation."),
            FieldSpec("dropout", "Dropout", "float", "Dropout probability after each hidden activation (0 to 0.95)."),
        ),
    ),
    (
        "Initialisation",
        (
            FieldSpec("init.scheme", "Init scheme", "choice", "How the hidden weights are drawn.", INIT_SCHEMES),
            FieldSpec("init.std", "σ", "float", "Standard deviation of N(0, σ²)."),
            FieldSpec("init.value", "Constant c", "float", "Every weight equals c."),
            FieldSpec("init.bound", "Bound a", "float", "Weights from U(-a, a); std = a/√3."),
            FieldSpec("init.gain", "Gain", "float", "Multiplies the std (Xavier, orthogonal)."),
            FieldSpec("init.mode", "Fan", "choice", "Kaiming: scale by fan_in (forward) or fan_out (backward).", MODES),
            FieldSpec(
                "init.nonlinearity",
                "Gain for",
                "choice",
                "Kaiming: the nonlinearity whose calculate_gain multiplies the std (auto = the activation).",
                NONLINEARITIES,
            ),
            FieldSpec("bias_init", "Bias", "float", "Every bias starts at this constant."),
        ),
    ),
    (
        "Training",
        (
            FieldSpec("optimizer", "Optimizer", "choice", "Plain SGD (with momentum) or Adam.", OPTIMIZERS),
            FieldSpec("lr", "Learning rate", "float", "Step size of the optimizer."),
            FieldSpec("momentum", "Momentum", "float", "SGD momentum (0 to 0.999)."),
            FieldSpec("batch_size", "Batch size", "int", "Examples per training step."),
            FieldSpec("seed", "Seed", "int", "Seeds weights and batch order: same seed, same run."),
            FieldSpec("device", "Device", "choice", "Where the network trains.", DEVICES),
            FieldSpec("record_every", "Record every", "int", "Measure every k-th step (step 0 always)."),
            FieldSpec("test_every", "Test every", "int", "Test accuracy every k-th recorded step."),
        ),
    ),
)
ALL_FIELDS = {f.name: f for _, fields in SECTIONS for f in fields}


def get_value(config: RunConfig, name: str) -> Any:
    if name.startswith("init."):
        return getattr(config.init, name[5:])
    return getattr(config, name)


def with_value(config: RunConfig, name: str, value: Any) -> RunConfig:
    """A validated copy of ``config`` with one field changed (raises ConfigError)."""
    if name.startswith("init."):
        return config.replace(init={name[5:]: value})
    return config.replace(**{name: value})


def parse_number(text: str) -> Any:
    """An int or float from the text, or the raw text (the engine then says what is expected)."""
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


class _Field:
    """One editor plus the error line under it."""

    def __init__(self, spec: FieldSpec, on_change: Any) -> None:
        self.spec = spec
        self.values = list(spec.values)
        if spec.kind == "choice":
            w: QtWidgets.QWidget = QtWidgets.QComboBox()
            for c in spec.choices:
                w.addItem(c)
            w.currentIndexChanged.connect(on_change)
        elif spec.kind == "bool":
            w = QtWidgets.QCheckBox()
            w.toggled.connect(on_change)
        elif spec.kind == "int":
            w = QtWidgets.QSpinBox()
            w.setRange(-2_000_000_000, 2_000_000_000)  # the engine says what is allowed
            w.setKeyboardTracking(True)
            w.valueChanged.connect(on_change)
        else:
            w = QtWidgets.QLineEdit()
            w.setMaximumWidth(140)
            w.textChanged.connect(on_change)
        w.setObjectName(f"field_{spec.name}")
        w.setToolTip(spec.tip)
        self.editor = w
        self.error = QtWidgets.QLabel()
        self.error.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.error.setObjectName(f"error_{spec.name}")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color:{theme.BAD_COLOUR};")
        self.error.hide()
        self.container = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(self.container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(w)
        box.addWidget(self.error)
        self.label = QtWidgets.QLabel(spec.label)
        self.label.setToolTip(spec.tip)

    def value(self) -> Any:
        w = self.editor
        if isinstance(w, QtWidgets.QComboBox):
            if self.values:
                return self.values[max(w.currentIndex(), 0)]
            return w.currentText()
        if isinstance(w, QtWidgets.QCheckBox):
            return w.isChecked()
        if isinstance(w, QtWidgets.QSpinBox):
            return int(w.value())
        return parse_number(w.text())

    def set_value(self, value: Any) -> None:
        w = self.editor
        w.blockSignals(True)
        try:
            if isinstance(w, QtWidgets.QComboBox) and self.values:
                if value not in self.values:  # a number a scenario or a file set: offer it as a choice
                    self.values.append(value)
                    w.addItem(f"{value:g}" if isinstance(value, float) else str(value))
                w.setCurrentIndex(self.values.index(value))
            elif isinstance(w, QtWidgets.QComboBox):
                w.setCurrentIndex(max(w.findText(str(value)), 0))
            elif isinstance(w, QtWidgets.QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QtWidgets.QSpinBox):
                w.setValue(int(value))
            else:
                w.setText(f"{value:g}" if isinstance(value, float) else str(value))
        finally:
            w.blockSignals(False)

    def set_error(self, message: Optional[str]) -> None:
        if message:
            self.error.setText(message)
            self.error.show()
            self.editor.setStyleSheet(f"border:1px solid {theme.BAD_COLOUR};")
        else:
            self.error.hide()
            self.error.clear()
            self.editor.setStyleSheet("")

    def set_visible(self, visible: bool) -> None:
        self.label.setVisible(visible)
        self.container.setVisible(visible)


class ExperimentPanel(QtWidgets.QWidget):
    """Edit the run's settings; Apply rebuilds the network. Invalid values say why and block Apply."""

    apply_requested = QtCore.Signal(object)  # a one-lane scenario: a validated RunConfig for the whole run
    lanes_requested = QtCore.Signal(object, object)  # a comparison scenario: (configs, lane names or None)
    lane_apply_requested = QtCore.Signal(int, object)  # Apply: (selected lane, its validated RunConfig)
    lane_add_requested = QtCore.Signal(int)  # add a copy of this lane
    lane_remove_requested = QtCore.Signal(int)  # remove this lane
    lane_selected = QtCore.Signal(int)  # the lane the fields (and the info lines) describe
    lane_visibility_changed = QtCore.Signal(str, bool)  # (lane name, shown in the panels)

    def __init__(self, config: RunConfig, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.applied = config
        self.fields: dict[str, _Field] = {}
        self._candidate: Optional[RunConfig] = config
        self.lane_names: list[str] = []
        self.lane_configs: list[RunConfig] = []
        self.hidden: set[str] = set()

        self.scenario_box = QtWidgets.QComboBox()
        self.scenario_box.setObjectName("scenario")
        self.scenario_box.addItem("(custom settings)", None)
        for sc in all_scenarios():
            # comparisons (several lanes side by side) are marked with their lane count
            self.scenario_box.addItem(f"{sc.title} ({len(sc.lane_configs)} lanes)" if sc.is_comparison else sc.title, sc)
        self.scenario_box.setToolTip("Pick a guided scenario: it sets every field and rebuilds the network.")
        # long titles must not widen the dock: the box elides, its popup shows them in full
        self.scenario_box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scenario_box.setMinimumContentsLength(18)
        self.scenario_box.view().setMinimumWidth(self.scenario_box.view().sizeHintForColumn(0) + 24)
        self.scenario_box.activated.connect(self._scenario_chosen)
        self.lesson = QtWidgets.QLabel()
        self.lesson.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # a scenario file's text
        self.lesson.setWordWrap(True)
        self.lesson.setStyleSheet("color:#444; font-style:italic;")

        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        sc_box = QtWidgets.QGroupBox("Scenario")
        sc_layout = QtWidgets.QVBoxLayout(sc_box)
        sc_layout.addWidget(self.scenario_box)
        sc_layout.addWidget(self.lesson)
        outer.addWidget(sc_box)
        outer.addWidget(self._build_lane_box())

        for title, specs in SECTIONS:
            group = QtWidgets.QGroupBox(title)
            form = QtWidgets.QFormLayout(group)
            form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
            for spec in specs:
                f = _Field(spec, self._changed)
                self.fields[spec.name] = f
                form.addRow(f.label, f.container)
            if title == "Initialisation":
                self.formula = QtWidgets.QLabel()
                self.formula.setObjectName("initFormula")
                self.formula.setWordWrap(True)
                self.formula.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
                self.formula.setToolTip("The init's formula and the weight std it predicts (from the engine).")
                self.formula.setStyleSheet("background:#f6f8fa; border:1px solid #e1e4e8; padding:4px;")
                form.addRow(self.formula)
                self.phase_caption = QtWidgets.QLabel()
                self.phase_caption.setObjectName("phaseCaption")
                self.phase_caption.setWordWrap(True)
                self.phase_caption.setTextFormat(QtCore.Qt.TextFormat.PlainText)
                self.phase_caption.setToolTip(
                    "Mean-field phase of this init (Poole et al. 2016, Schoenholz et al. 2017): chi_1 < 1 ordered,\n"
                    "> 1 chaotic, = 1 critical; xi_c is how many layers two inputs stay told apart."
                )
                self.phase_caption.hide()
                form.addRow(self.phase_caption)
            outer.addWidget(group)

        self.apply_button = QtWidgets.QPushButton("Apply (rebuild network)")
        self.apply_button.setObjectName("applyButton")
        self.apply_button.setToolTip("Build a new network from these settings (Ctrl+Return)")
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QtWidgets.QPushButton("Revert")
        self.revert_button.setToolTip("Put back the settings of the running network")
        self.revert_button.clicked.connect(lambda: self.set_config(self.applied))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.apply_button, 1)
        buttons.addWidget(self.revert_button)
        outer.addLayout(buttons)
        self.status = QtWidgets.QLabel()
        self.status.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        outer.addStretch(1)
        self.set_config(config)

    def _build_lane_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Lane")
        self.lane_box = QtWidgets.QComboBox()
        self.lane_box.setObjectName("lane")
        self.lane_box.setToolTip("The lane (run) these fields show and Apply changes; the other lanes keep their settings.")
        self.lane_box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.lane_box.setMinimumContentsLength(14)
        self.lane_box.activated.connect(self._lane_chosen)
        self.lane_shown = QtWidgets.QCheckBox("shown")
        self.lane_shown.setObjectName("laneShown")
        self.lane_shown.setChecked(True)
        self.lane_shown.setToolTip("Hide this lane from every panel (it keeps training); at least one lane stays shown.")
        self.lane_shown.toggled.connect(self._lane_shown_toggled)
        self.add_lane_button = QtWidgets.QPushButton("Add lane")
        self.add_lane_button.setObjectName("addLane")
        self.add_lane_button.setToolTip(f"Add a copy of this lane (at most {MAX_LANES}); every lane starts again at step 0")
        self.add_lane_button.clicked.connect(lambda: self.lane_add_requested.emit(self.selected_lane))
        self.remove_lane_button = QtWidgets.QPushButton("Remove")
        self.remove_lane_button.setObjectName("removeLane")
        self.remove_lane_button.setToolTip("Remove this lane; the others go on where they are")
        self.remove_lane_button.clicked.connect(lambda: self.lane_remove_requested.emit(self.selected_lane))
        self.shared_note = QtWidgets.QLabel(
            "Every lane shares " + ", ".join(n.replace("_", " ") for n in SHARED) + ": changing one changes all."
        )
        self.shared_note.setWordWrap(True)
        self.shared_note.setStyleSheet("color:#666;")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.lane_box, 1)
        row.addWidget(self.lane_shown)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.add_lane_button)
        buttons.addWidget(self.remove_lane_button)
        lay = QtWidgets.QVBoxLayout(box)
        lay.addLayout(row)
        lay.addLayout(buttons)
        lay.addWidget(self.shared_note)
        self._update_lane_buttons()
        return box

    # --- lanes ---------------------------------------------------------------------------
    @property
    def selected_lane(self) -> int:
        """Index of the lane the fields describe (0 with one lane)."""
        return max(self.lane_box.currentIndex(), 0)

    @property
    def selected_name(self) -> Optional[str]:
        return self.lane_names[self.selected_lane] if self.lane_names else None

    def set_lanes(self, names: list[str], configs: list[RunConfig], hidden: Optional[set[str]] = None) -> None:
        """The engine runs these lanes now (a new build): list them; the fields show the selected one.

        The selection stays on the lane of the same name, else on the same place, else lane 1."""
        previous = self.selected_name
        index = self.selected_lane
        old_configs = self.lane_configs
        self.lane_names, self.lane_configs = list(names), list(configs)
        if hidden is not None:
            self.hidden = set(hidden) & set(names)
        self.lane_box.blockSignals(True)
        try:
            self.lane_box.clear()
            for i, name in enumerate(names):
                pix = QtGui.QPixmap(12, 12)
                pix.fill(QtGui.QColor(theme.lane_colour(i)))
                shown = len(name) <= 60
                self.lane_box.addItem(QtGui.QIcon(pix), f"{i + 1}: {name if shown else name[:59] + '…'}", i)
                self.lane_box.setItemData(i, name, QtCore.Qt.ItemDataRole.ToolTipRole)
            if previous in names:
                index = names.index(previous)
            self.lane_box.setCurrentIndex(min(index, len(names) - 1))
        finally:
            self.lane_box.blockSignals(False)
        self._update_lane_buttons()
        if configs:
            same = previous is not None and previous == self.selected_name and len(old_configs) == len(configs)
            # the same lane rebuilt (Reseed, Reset): edits not yet applied stay; another lane: its settings
            self.set_applied(configs[self.selected_lane], keep_edits=same)

    def select_lane(self, index: int) -> None:
        """Show lane ``index`` in the fields (edits not applied are dropped) and tell the window."""
        self.lane_box.setCurrentIndex(index)
        self._lane_chosen(index)

    def _lane_chosen(self, index: int) -> None:
        if 0 <= index < len(self.lane_configs):
            self.set_applied(self.lane_configs[index], keep_edits=False)
        self._update_lane_buttons()
        self.lane_selected.emit(self.selected_lane)

    def _lane_shown_toggled(self, on: bool) -> None:
        name = self.selected_name
        if name is None:
            return
        if not on and len(self.hidden | {name}) >= len(self.lane_names):
            self.lane_shown.blockSignals(True)
            self.lane_shown.setChecked(True)
            self.lane_shown.blockSignals(False)
            self.status.setText("At least one lane stays shown.")
            return
        if on:
            self.hidden.discard(name)
        else:
            self.hidden.add(name)
        self.lane_visibility_changed.emit(name, on)

    def _update_lane_buttons(self) -> None:
        n = len(self.lane_names)
        self.add_lane_button.setEnabled(0 < n < MAX_LANES)
        self.remove_lane_button.setEnabled(n > 1)
        self.lane_shown.setEnabled(n > 1)
        self.shared_note.setVisible(n > 1)
        self.lane_shown.blockSignals(True)
        self.lane_shown.setChecked(self.selected_name not in self.hidden)
        self.lane_shown.blockSignals(False)

    # --- public --------------------------------------------------------------------------
    def set_config(self, config: RunConfig) -> None:
        """Show ``config`` in every field (discarding edits) and take it as the applied one."""
        self.applied = config
        for name, f in self.fields.items():
            f.set_value(get_value(config, name))
        self._changed(keep_scenario=True)
        self._match_scenario(config)

    def _match_scenario(self, config: RunConfig) -> None:
        for i in range(1, self.scenario_box.count()):
            sc = self.scenario_box.itemData(i)
            if isinstance(sc, Scenario) and dataclasses.replace(sc.config, device=config.device) == config:
                self.scenario_box.setCurrentIndex(i)
                self.lesson.setText(lesson_text(sc))
                return
        self.scenario_box.setCurrentIndex(0)
        self.lesson.setText("")

    def forget_scenario(self) -> None:
        """Show "(custom settings)" and no lesson text (e.g. after opening a saved run)."""
        self.scenario_box.setCurrentIndex(0)
        self.lesson.setText("")

    def set_applied(self, config: RunConfig, keep_edits: bool = True) -> None:
        """The engine runs ``config`` now (e.g. after Reseed): update fields the user did not edit
        (every field with ``keep_edits`` False, e.g. when another lane is chosen)."""
        old, self.applied = self.applied, config
        for name, f in self.fields.items():
            if not keep_edits or f.value() == get_value(old, name):
                f.set_value(get_value(config, name))
        self._changed(keep_scenario=not keep_edits)

    def select_scenario_shown(self, scenario: Scenario) -> None:
        """Show ``scenario`` as the chosen one (box and lesson text) without applying anything."""
        i = self.scenario_box.findData(scenario)
        if i < 0:
            i = self.scenario_box.findText(scenario.title, QtCore.Qt.MatchFlag.MatchStartsWith)
        if i >= 0:
            self.scenario_box.setCurrentIndex(i)
            self.lesson.setText(lesson_text(scenario))

    def select_scenario(self, scenario: Scenario) -> None:
        """Set every field from ``scenario`` and apply it."""
        i = self.scenario_box.findText(scenario.title)
        self.scenario_box.setCurrentIndex(i)
        self._scenario_chosen(i)

    @property
    def candidate(self) -> Optional[RunConfig]:
        """The config the fields describe, or None while a field is invalid."""
        return self._candidate

    def error_text(self, name: str) -> str:
        f = self.fields[name]
        return f.error.text() if not f.error.isHidden() else ""

    def apply(self) -> bool:
        """Emit ``lane_apply_requested`` (the selected lane, the fields' config); False (and
        nothing sent) if a field is invalid. The other lanes keep their settings."""
        self._changed(keep_scenario=True)
        if self._candidate is None:
            self.status.setText("Fix the fields marked in red first.")
            return False
        self.status.setText("")
        self.applied = self._candidate
        self.lane_apply_requested.emit(self.selected_lane, self._candidate)
        self._update_buttons()
        return True

    # --- internals -----------------------------------------------------------------------
    def _scenario_chosen(self, index: int) -> None:
        sc = self.scenario_box.itemData(index)
        if not isinstance(sc, Scenario):
            return
        cfg = dataclasses.replace(sc.config, device=self.applied.device)
        if sc.is_comparison:
            # the fields show the first lane's settings until the engine lists the lanes (set_lanes)
            lanes = [dataclasses.replace(c, device=self.applied.device) for c in sc.lane_configs]
            for name, f in self.fields.items():
                f.set_value(get_value(lanes[0], name))
            self.applied = lanes[0]
            self._changed(keep_scenario=True)
            self.scenario_box.setCurrentIndex(index)
            self.lesson.setText(lesson_text(sc))
            self.lanes_requested.emit(lanes, list(sc.lane_names) if sc.lane_names else None)
            return
        for name, f in self.fields.items():
            f.set_value(get_value(cfg, name))
        self._changed(keep_scenario=True)
        self.lesson.setText(lesson_text(sc))
        if self._candidate is not None:  # a one-lane scenario replaces every lane
            self.applied = self._candidate
            self.apply_requested.emit(self._candidate)
            self._update_buttons()

    def _visible_names(self) -> set[str]:
        scheme = self.fields["init.scheme"].value()
        names = set(self.fields) - set(INIT_PARAMS)
        names |= set(SCHEME_PARAMS.get(scheme, ()))
        if scheme == "pytorch_default":
            names.discard("bias_init")
        if self.fields["optimizer"].value() != "sgd":
            names.discard("momentum")
        if self.fields["arch"].value() != "resmlp":
            names.discard("residual_scale")
        return names

    def _changed(self, *_: Any, keep_scenario: bool = False) -> None:
        arch = self.fields["arch"].value()
        if arch != getattr(self, "_arch_shown", arch):  # a newly picked architecture brings what it needs
            if arch == "cnn" and self.fields["dataset"].value() not in CNN_DATASETS:
                self.fields["dataset"].set_value(CNN_DATASETS[0])
            if arch != "resmlp":
                self.fields["residual_scale"].set_value(1.0)
        self._arch_shown = arch
        visible = self._visible_names()
        errors: dict[str, str] = {}
        # the architecture's fields depend on each other (cnn needs the digits, residual_scale resmlp)
        coupled = dataclasses.replace(self.applied, **{n: self.fields[n].value() for n in COUPLED})
        top: dict[str, Any] = {} if arch == "resmlp" else {"residual_scale": 1.0}
        init: dict[str, Any] = {}
        for name, f in self.fields.items():
            f.set_visible(name in visible)
            if name not in visible:
                continue  # hidden fields keep the applied value
            value = f.value()
            try:
                try:
                    with_value(self.applied, name, value)
                except ConfigError:
                    if name not in COUPLED:
                        raise
                    with_value(coupled, name, value)  # valid together with the other architecture fields
            except ConfigError as exc:
                errors[name] = str(exc)
                continue
            if name.startswith("init."):
                init[name[5:]] = value
            else:
                top[name] = value
        candidate: Optional[RunConfig] = None
        if not errors:
            try:
                candidate = self.applied.replace(init=init, **top)
            except ConfigError as exc:  # a combination the single-field checks did not see
                errors[exc.field if exc.field in self.fields else "init.scheme"] = str(exc)
        for name, f in self.fields.items():
            f.set_error(errors.get(name))
        self._candidate = candidate
        if not keep_scenario and candidate is not None and candidate != self.applied:
            self.scenario_box.setCurrentIndex(0)
            self.lesson.setText("")
        self._update_formula(candidate or self.applied)
        self._update_buttons()

    def _update_buttons(self) -> None:
        dirty = self._candidate is not None and self._candidate != self.applied
        self.apply_button.setEnabled(self._candidate is not None)
        self.apply_button.setDefault(dirty)
        font = self.apply_button.font()
        font.setBold(dirty)
        self.apply_button.setFont(font)
        self.revert_button.setEnabled(self._candidate != self.applied)
        if self._candidate is None:
            self.status.setText("Fix the fields marked in red first.")
        elif dirty:
            self.status.setText("Changed: press Apply to rebuild the network.")
        else:
            self.status.setText("")

    def _update_formula(self, config: RunConfig) -> None:
        # describe_init lives next to torch; until the worker has loaded it, do not block the GUI on it
        if "initviz.engine.inits" not in sys.modules:
            self.formula.setText(f"{config.init.label()}  (formula once the engine has loaded)")
            return
        from initviz.engine.inits import describe_init

        try:
            info = describe_init(config)
        except Exception as exc:  # noqa: BLE001 - show, never crash the form
            self.formula.setText(f"{config.init.label()}: {exc}")
            return
        self.formula.setText(f"{info.formula}\n{info.summary()}")

    def set_phase_caption(self, text: str) -> None:
        """The engine's order/chaos sentence for the selected lane ('' hides it)."""
        if text != self.phase_caption.text():
            self.phase_caption.setText(text)
        self.phase_caption.setVisible(bool(text))

    def refresh_formula(self) -> None:
        self._update_formula(self._candidate or self.applied)
