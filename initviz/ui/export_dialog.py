"""File > Export…: a dialog that exports a panel, one of its plots, the whole dashboard or the data.

Wiring into the main window (Ctrl+E)::

    from initviz.ui.export_dialog import ExportDialog

    self.export_action = self._action("Export…", self.show_export, "Ctrl+E", "Export a slide, an animation or the data")
    file_menu.insertAction(self.quit_action, self.export_action)

    def show_export(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        dialog = ExportDialog({p.title: p for p in self.panels}, frame, self)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

The dialog exports the frame it was given (what was on screen when it opened), so training may
go on meanwhile. Errors (unwritable folder, full disk, odd names) show in a message box and
leave no file behind; a GIF shows a cancellable progress dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from PySide6 import QtCore, QtGui, QtWidgets

from initviz import registry
from initviz.ui.export import (
    DASHBOARD,
    DATA_FORMATS,
    GIF_FPS,
    GIF_MAX_FRAMES,
    MAX_SIZE,
    MIN_SIZE,
    PLOT_FORMATS,
    SIZE_PRESETS,
    ExportCancelled,
    ExportError,
    SlideCanvas,
    SlideOptions,
    check_target,
    data_bytes,
    figure_bytes,
    gif_bytes,
    history_frames,
    plot_name,
    recorded_steps,
    slug,
    write_bytes_atomic,
)
from initviz.ui.panels.base import Frame, Panel
from initviz.ui.text import elide, plain_html

FORMAT_LABELS = (
    ("png", "PNG image"),
    ("svg", "SVG (vector, editable)"),
    ("pdf", "PDF (vector)"),
    ("gif", "GIF animation over steps"),
    ("json", "JSON data (as initviz run)"),
    ("csv", "CSV data (as initviz run)"),
)
CUSTOM = "custom"
SETTINGS_ORG, SETTINGS_APP = "initviz", "initviz"  # QSettings: ~/.config/initviz/initviz.conf on Linux
LAST_FOLDER_KEY = "export/last_folder"
PREVIEW_WIDTH = 480  # px of the preview thumbnail
PREVIEW_DELAY_MS = 120  # settle time after an option changes before the preview is redrawn

# what the target box holds: a panel title, DASHBOARD, or (panel title, plot index)
Target = Union[str, tuple[str, int]]
FramesForRange = Callable[[int, int], Sequence[Frame]]


class ExportDialog(QtWidgets.QDialog):
    """Export a slide (PNG/SVG/PDF), an animation (GIF) or the data (JSON/CSV), with a live preview.

    ``panels``: the window's panels by title, in tab order (their view options, e.g. pre- or
    post-activations, are copied into the export; the panels themselves are never touched).
    ``frame``: the Frame on screen. ``frames_for_range(a, b)``: the Frames of a GIF from step a
    to b; default: replayed from ``frame``'s history (at most the "frames" box's count).
    """

    exported = QtCore.Signal(str)  # the path just written
    last_folder: Optional[Path] = None  # remembered for the session, shared by all dialogs

    def __init__(
        self,
        panels: dict[str, Panel],
        frame: Frame,
        parent: Optional[QtWidgets.QWidget] = None,
        frames_for_range: Optional[FramesForRange] = None,
        settings: Optional[QtCore.QSettings] = None,
    ) -> None:
        """``settings``: where the last folder used is remembered (default: initviz's user settings;
        tests pass a QSettings on a temporary ini file)."""
        super().__init__(parent)
        if not panels:
            raise ValueError("ExportDialog needs at least one panel")
        self.setWindowTitle("Export")
        self.settings = settings if settings is not None else QtCore.QSettings(SETTINGS_ORG, SETTINGS_APP)
        remembered = self.settings.value(LAST_FOLDER_KEY, "")
        if remembered and Path(str(remembered)).is_dir():
            ExportDialog.last_folder = Path(str(remembered))
        self.panels = dict(panels)
        self.frame = frame
        self.frames_for_range = frames_for_range
        self.last_error: Optional[str] = None
        self.last_path: Optional[Path] = None
        self._auto_stem = ""  # the file name the dialog suggested last (replaced when the target changes)
        self._canvases: dict[str, SlideCanvas] = {}
        self._steps = recorded_steps(frame)

        # --- what ---
        self.target_box = QtWidgets.QComboBox()
        self.target_box.setObjectName("exportTarget")
        for title in self.panels:
            self.target_box.addItem(title, title)
        self.target_box.addItem(DASHBOARD, DASHBOARD)
        self.target_box.setToolTip("A panel as on screen, or every panel tiled on one slide.")
        self.plot_box = QtWidgets.QComboBox()
        self.plot_box.setObjectName("exportPlot")
        self.plot_box.setToolTip("The whole panel, or one of its plots alone (PNG or SVG, through pyqtgraph's exporters).")
        self.format_box = QtWidgets.QComboBox()
        self.format_box.setObjectName("exportFormat")
        for fmt, label in FORMAT_LABELS:
            self.format_box.addItem(label, fmt)

        # --- size ---
        self.size_box = QtWidgets.QComboBox()
        self.size_box.setObjectName("exportSize")
        for label, size in SIZE_PRESETS:
            self.size_box.addItem(label, size)
        self.size_box.addItem("custom W × H", CUSTOM)
        self.width_box = QtWidgets.QSpinBox()
        self.height_box = QtWidgets.QSpinBox()
        for box, value in ((self.width_box, 1920), (self.height_box, 1080)):
            box.setRange(MIN_SIZE, MAX_SIZE)
            box.setValue(value)
            box.setSuffix(" px")
            box.setToolTip(f"At least {MIN_SIZE} px: a smaller slide is not readable (choose ½× scale for a small picture).")
        self.scale_box = QtWidgets.QComboBox()
        self.scale_box.setObjectName("exportScale")
        self.scale_box.addItem("1× (as the size says)", 1.0)
        self.scale_box.addItem("2× (twice the pixels, sharper)", 2.0)
        self.scale_box.addItem("½× (half the pixels: a small GIF or thumbnail)", 0.5)
        self.scale_box.setToolTip("PNG and GIF: pixels per slide pixel. 1920 × 1080 at 2× is 3840 × 2160.")
        self.zoom_box = QtWidgets.QDoubleSpinBox()
        self.zoom_box.setRange(0.0, 4.0)
        self.zoom_box.setSingleStep(0.25)
        self.zoom_box.setSpecialValueText("auto")
        self.zoom_box.setSuffix("× screen")
        self.zoom_box.setValue(0.0)
        self.zoom_box.setToolTip("Text and line size on the slide. auto: 2× for a panel, 1.25× for the dashboard.")
        self.header_box = QtWidgets.QCheckBox("header: title, step, settings, lane colours")
        self.header_box.setChecked(True)
        self.title_edit = QtWidgets.QLineEdit()
        self.title_edit.setPlaceholderText("automatic: panel name and step")
        # one box per lane: the lanes the slide shows (set on the export's own panels' ViewState)
        self.lanes_row = QtWidgets.QWidget()
        lanes_layout = QtWidgets.QHBoxLayout(self.lanes_row)
        lanes_layout.setContentsMargins(0, 0, 0, 0)
        first = next(iter(self.panels.values()))
        on_screen = first.view_state().lanes
        self.lane_boxes: list[QtWidgets.QCheckBox] = []
        for lane in frame.lanes:
            box = QtWidgets.QCheckBox(elide(lane.name, 24).replace("&", "&&"))  # no mnemonic
            box.setObjectName("exportLane")
            box.setToolTip(f"Show the lane {lane.name} on the slide")
            box.setProperty("lane", lane.name)
            box.setChecked(on_screen is None or lane.name in on_screen)
            box.toggled.connect(self._lanes_changed)
            lanes_layout.addWidget(box)
            self.lane_boxes.append(box)
        lanes_layout.addStretch(1)
        if not any(b.isChecked() for b in self.lane_boxes) and self.lane_boxes:
            for b in self.lane_boxes:
                b.setChecked(True)

        # --- animation ---
        self.from_box = QtWidgets.QSpinBox()
        self.to_box = QtWidgets.QSpinBox()
        first, last = (self._steps[0], self._steps[-1]) if self._steps else (0, 0)
        for box, value in ((self.from_box, first), (self.to_box, last)):
            box.setRange(first, last)
            box.setValue(value)
        self.fps_box = QtWidgets.QDoubleSpinBox()
        self.fps_box.setRange(0.5, 50.0)
        self.fps_box.setValue(GIF_FPS)
        self.fps_box.setSuffix(" frames/s")
        self.frames_box = QtWidgets.QSpinBox()
        self.frames_box.setRange(1, 1000)
        self.frames_box.setValue(GIF_MAX_FRAMES)
        self.frames_box.setToolTip("At most this many frames, at evenly spaced recorded steps (first and last included).")
        self.gif_group = QtWidgets.QGroupBox("Animation (GIF)")
        gif_form = QtWidgets.QFormLayout(self.gif_group)
        steps_row = QtWidgets.QHBoxLayout()
        steps_row.addWidget(self.from_box)
        steps_row.addWidget(QtWidgets.QLabel("to"))
        steps_row.addWidget(self.to_box)
        gif_form.addRow("Steps from", steps_row)
        gif_form.addRow("Frame rate", self.fps_box)
        gif_form.addRow("At most", self.frames_box)

        # --- file ---
        self.path_edit = QtWidgets.QLineEdit()
        self.path_edit.setObjectName("exportPath")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        path_row = QtWidgets.QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        # --- preview ---
        self.preview = QtWidgets.QLabel()
        self.preview.setObjectName("exportPreview")
        self.preview.setFixedSize(PREVIEW_WIDTH, PREVIEW_WIDTH * 9 // 16 + 60)
        self.preview.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background:#f3f3f3; border:1px solid #d0d0d0;")
        self.preview.setWordWrap(True)
        self.preview_image: Optional[QtGui.QImage] = None
        self.info = QtWidgets.QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # paths are user data
        self.open_folder_button = QtWidgets.QPushButton("Open folder")
        self.open_folder_button.setObjectName("exportOpenFolder")
        self.open_folder_button.setToolTip("Show the folder of the file just written")
        self.open_folder_button.clicked.connect(self.open_folder)
        self.open_folder_button.hide()

        form = QtWidgets.QFormLayout()
        form.addRow("Export", self.target_box)
        form.addRow("Part", self.plot_box)
        form.addRow("Format", self.format_box)
        size_row = QtWidgets.QHBoxLayout()
        size_row.addWidget(self.size_box, 1)
        size_row.addWidget(self.width_box)
        size_row.addWidget(QtWidgets.QLabel("×"))
        size_row.addWidget(self.height_box)
        form.addRow("Size", size_row)
        form.addRow("Scale", self.scale_box)
        form.addRow("Text size", self.zoom_box)
        form.addRow("", self.header_box)
        form.addRow("Title", self.title_edit)
        if len(self.lane_boxes) > 1:
            form.addRow("Lanes", self.lanes_row)
        else:
            self.lanes_row.hide()
        left = QtWidgets.QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.gif_group)
        left.addStretch(1)
        left.addWidget(QtWidgets.QLabel("Save as"))
        left.addLayout(path_row)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(QtWidgets.QLabel("Preview (slide theme)"))
        right.addWidget(self.preview)
        right.addWidget(self.info)
        right.addWidget(self.open_folder_button, 0, QtCore.Qt.AlignmentFlag.AlignLeft)
        right.addStretch(1)
        body = QtWidgets.QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addLayout(body, 1)
        outer.addWidget(self.buttons)

        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        self.target_box.currentIndexChanged.connect(self._target_changed)
        for box in (self.plot_box, self.format_box):
            box.currentIndexChanged.connect(self._naming_changed)
        for box in (self.size_box, self.scale_box):
            box.currentIndexChanged.connect(self._options_changed)
        for spin in (self.width_box, self.height_box, self.to_box, self.zoom_box):
            spin.valueChanged.connect(self._options_changed)
        self.header_box.toggled.connect(self._options_changed)
        self.title_edit.textChanged.connect(self._options_changed)
        self._fill_plots()
        self._suggest_path()
        self._sync_enabled()
        self._preview_timer.start(0)

    # --- reading the form ---------------------------------------------------------------------
    @property
    def fmt(self) -> str:
        return self.format_box.currentData()

    @property
    def target(self) -> Target:
        """The panel title or DASHBOARD; (panel title, plot index) when one plot is chosen."""
        plot = self.plot_box.currentData() if self.plot_box.isEnabled() else None
        title = self.target_box.currentData()
        return (title, int(plot)) if plot is not None and title != DASHBOARD else title

    def options(self, scale: Optional[float] = None) -> SlideOptions:
        """The slide options the form describes (``scale`` overrides the scale box: the preview)."""
        size = self.size_box.currentData()
        w, h = (self.width_box.value(), self.height_box.value()) if size == CUSTOM else size
        title: Optional[str] = self.title_edit.text().strip() or None
        if not self.header_box.isChecked():
            title = ""
        zoom = self.zoom_box.value() or None
        return SlideOptions(int(w), int(h), float(scale if scale is not None else self.scale_box.currentData()), zoom, title)

    def set_target(self, target: Target) -> None:
        """Select a panel title, DASHBOARD or (panel title, plot index) (also for tests and scripts)."""
        title, plot = (target if isinstance(target, tuple) else (target, None))
        i = self.target_box.findData(title)
        if i < 0:
            raise ValueError(f"no export target {title!r}")
        self.target_box.setCurrentIndex(i)
        self._fill_plots()
        j = self.plot_box.findData(plot) if plot is not None else 0
        if j < 0:
            raise ValueError(f"{title} has no plot number {plot}")
        self.plot_box.setCurrentIndex(j)

    def _fill_plots(self) -> None:
        """The plot choices of the chosen panel, named from its export copy laid out at the export size."""
        title = self.target_box.currentData()
        if getattr(self, "_plots_for", None) == title:
            return
        self._plots_for = title
        self.plot_box.blockSignals(True)
        self.plot_box.clear()
        self.plot_box.addItem("the whole panel", None)
        if title != DASHBOARD:
            canvas = self._canvas(title)
            try:
                canvas.prepare(self.frame, self.options())
                for i, item in enumerate(canvas.plot_items()):
                    self.plot_box.addItem(f"plot {i + 1}: {plot_name(item) or 'untitled'}", i)
            except ExportError:
                pass
        self.plot_box.setCurrentIndex(0)
        self.plot_box.blockSignals(False)
        self.plot_box.setEnabled(title != DASHBOARD and self.plot_box.count() > 1)

    def set_format(self, fmt: str) -> None:
        i = self.format_box.findData(fmt)
        if i < 0:
            raise ValueError(f"no format {fmt!r}")
        self.format_box.setCurrentIndex(i)

    def set_size(self, width: int, height: int) -> None:
        """A preset when one matches, else custom W x H."""
        for i in range(self.size_box.count()):
            if self.size_box.itemData(i) == (width, height):
                self.size_box.setCurrentIndex(i)
                return
        self.size_box.setCurrentIndex(self.size_box.findData(CUSTOM))
        self.width_box.setValue(width)
        self.height_box.setValue(height)

    # --- reacting -----------------------------------------------------------------------------------
    def _target_changed(self, *_: object) -> None:
        self._fill_plots()
        self._naming_changed()

    def _naming_changed(self, *_: object) -> None:
        self._sync_enabled()
        self._suggest_path()
        self._preview_timer.start()

    def lanes(self) -> Optional[tuple[str, ...]]:
        """The lanes ticked, in the run's order (None: all of them)."""
        names = tuple(str(b.property("lane")) for b in self.lane_boxes if b.isChecked())
        return None if len(names) == len(self.lane_boxes) else names

    def set_lanes(self, names: Optional[Sequence[str]]) -> None:
        """Tick exactly the lanes ``names`` (None: all) (also for tests and scripts)."""
        for b in self.lane_boxes:
            b.blockSignals(True)
            b.setChecked(names is None or str(b.property("lane")) in names)
            b.blockSignals(False)
        self._lanes_changed()

    def _lanes_changed(self, *_: object) -> None:
        if self.lane_boxes and not any(b.isChecked() for b in self.lane_boxes):
            sender = self.sender()  # a slide shows at least one lane: the last one stays ticked
            box = sender if isinstance(sender, QtWidgets.QCheckBox) else self.lane_boxes[0]
            box.blockSignals(True)
            box.setChecked(True)
            box.blockSignals(False)
        self._preview_timer.start()

    def _options_changed(self, *_: object) -> None:
        self._sync_enabled()
        self._preview_timer.start()

    def _sync_enabled(self) -> None:
        fmt, target = self.fmt, self.target
        if isinstance(target, tuple) and fmt not in PLOT_FORMATS and fmt not in DATA_FORMATS:
            self.format_box.blockSignals(True)
            self.set_format("png")  # a single plot: pyqtgraph's exporters (PNG, SVG)
            self.format_box.blockSignals(False)
            fmt = "png"
        data = fmt in DATA_FORMATS
        custom = self.size_box.currentData() == CUSTOM
        self.width_box.setEnabled(custom and not data)
        self.height_box.setEnabled(custom and not data)
        for w in (self.target_box, self.size_box, self.zoom_box, self.header_box, self.title_edit, self.lanes_row):
            w.setEnabled(not data)
        self.plot_box.setEnabled(not data and self.target_box.currentData() != DASHBOARD and self.plot_box.count() > 1)
        self.scale_box.setEnabled(fmt in ("png", "gif"))
        self.gif_group.setEnabled(fmt == "gif")
        for i in range(self.format_box.count()):
            item = self.format_box.model().item(i)
            allowed = not isinstance(target, tuple) or self.format_box.itemData(i) in PLOT_FORMATS + DATA_FORMATS
            item.setEnabled(allowed)

    def _default_stem(self) -> str:
        if self.fmt in DATA_FORMATS:
            return "stats"
        target = self.target
        if target == DASHBOARD:
            return "dashboard"
        if isinstance(target, tuple):
            return f"{registry.panel_id(target[0]) or slug(target[0])}_plot{target[1] + 1}"
        return registry.panel_id(str(target)) or slug(str(target))  # the registry id, as the CLI names files

    def _suggest_path(self) -> None:
        """Keep the chosen folder; the suffix follows the format; the name follows the target unless
        the user typed one."""
        current = self.path_edit.text().strip()
        folder = Path(current).parent if current else (self.last_folder or Path.cwd())
        stem = Path(current).stem if current else ""
        if not stem or stem == self._auto_stem:
            stem = self._auto_stem = self._default_stem()
        self.path_edit.setText(str(folder / f"{stem}.{self.fmt}"))

    def browse(self) -> None:
        """Choose the file with the platform's save dialog."""
        fmt = self.fmt
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export as", self.path_edit.text(), f"{fmt.upper()} (*.{fmt})")
        if path:
            if not path.lower().endswith(f".{fmt}"):
                path += f".{fmt}"
            self.path_edit.setText(path)

    # --- preview ----------------------------------------------------------------------------------------
    def _canvas(self, target: Target) -> SlideCanvas:
        key = DASHBOARD if target == DASHBOARD else target[0] if isinstance(target, tuple) else str(target)
        canvas = self._canvases.get(key)
        if canvas is None:
            on_dashboard = set(registry.dashboard_ids())
            sources = (
                [p for t, p in self.panels.items() if registry.panel_id(t) in on_dashboard]
                if key == DASHBOARD
                else [self.panels[key]]
            )
            canvas = SlideCanvas(sources, heading="initviz dashboard" if key == DASHBOARD else key)
            self._canvases[key] = canvas
        canvas.show_lanes(self.lanes())
        return canvas

    def _preview_frame(self) -> Frame:
        if self.fmt != "gif":
            return self.frame
        frames = history_frames(self.frame, self.from_box.value(), self.to_box.value(), 1)
        return frames[-1]  # the last frame of the animation

    def update_preview(self) -> None:
        """Render the thumbnail now, in the slide theme, at the export's layout."""
        self._preview_timer.stop()
        fmt = self.fmt
        if fmt in DATA_FORMATS:
            lanes = self.frame.lanes
            self.preview.setPixmap(QtGui.QPixmap())
            self.preview_image = None
            self.preview.setText(
                f"stats.{fmt}: {len(lanes)} lane{'s' if len(lanes) > 1 else ''} × {len(lanes[0].records)} recorded steps × "
                f"{lanes[0].config.depth} layers\n(the same {fmt.upper()} as initviz run)"
            )
            self.info.setText("")
            return
        try:
            options = self.options()
            options.check()
            preview = SlideOptions(options.width, options.height, PREVIEW_WIDTH / options.width, options.zoom, options.title)
            canvas = self._canvas(self.target)
            canvas.prepare(self._preview_frame(), preview)
            target = self.target
            if isinstance(target, tuple):
                image = QtGui.QImage.fromData(figure_bytes(canvas, "png", preview, plot=target[1]))
            else:
                image = canvas.render_image(preview)
        except ExportError as exc:
            self.preview_image = None
            self.preview.setPixmap(QtGui.QPixmap())
            self.preview.setText(str(exc))
            return
        self.preview_image = image
        pix = QtGui.QPixmap.fromImage(image)
        if pix.width() > self.preview.width() or pix.height() > self.preview.height():
            pix = pix.scaled(
                self.preview.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio, QtCore.Qt.TransformationMode.SmoothTransformation
            )
        self.preview.setPixmap(pix)
        w, h = options.pixel_size
        what = f"{w} × {h} px" if fmt in ("png", "gif") else f"{options.width} × {options.height} (vector)"
        if isinstance(self.target, tuple):
            what = "the plot cut from the panel laid out at this size"
        if fmt == "gif":
            what += f", up to {self.frames_box.value()} frames"
        self.info.setText(what)

    # --- exporting ---------------------------------------------------------------------------------------
    def export(self) -> Optional[Path]:
        """Export with the current settings; on failure a message box says why; an existing file is
        replaced only when the user says so. Returns the path written or None."""
        self.last_error = None
        try:
            target_path = self.target_path(self.path_edit.text())
            if target_path.exists() and not self._ask_overwrite(target_path):
                self.info.setText(f"Not written: {target_path} exists and was kept.")
                return None
            path = self.export_to(target_path)
        except ExportCancelled:
            self.info.setText("Cancelled: nothing was written.")
            return None
        except ExportError as exc:
            self.last_error = str(exc)
            self._warn(self.last_error)
            return None
        self.last_path = path
        ExportDialog.last_folder = path.parent
        self.settings.setValue(LAST_FOLDER_KEY, str(path.parent))
        self.settings.sync()
        self.info.setText(f"Wrote {path}\n{self.written_summary(path)}")
        self.open_folder_button.show()
        self.exported.emit(str(path))
        return path

    def written_summary(self, path: Path) -> str:
        """What the file holds: its size on disk and the picture's pixels (or the data's rows)."""
        size = path.stat().st_size
        on_disk = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} KB"
        fmt = path.suffix.lower().lstrip(".")
        if fmt in DATA_FORMATS:
            return f"{on_disk}, the data of {len(self.frame.lanes)} lane(s)"
        options = self.options()
        if fmt in ("png", "gif"):
            w, h = options.pixel_size
            return f"{w} × {h} px, {on_disk}"
        return f"{options.width} × {options.height} (vector), {on_disk}"

    def open_folder(self) -> bool:
        """Show the folder of the last file written in the desktop's file manager."""
        if self.last_path is None:
            return False
        return QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.last_path.parent)))

    def _ask_overwrite(self, path: Path) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self, "Replace the file?", f"{path} exists. Replace it?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No,
        )  # fmt: skip
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def _warn(self, message: str) -> None:
        QtWidgets.QMessageBox.warning(self, "Export failed", plain_html(message))  # names a file: never rich text

    def target_path(self, path: Union[str, Path]) -> Path:
        """The file the export writes for ``path``: checked, with the format's suffix."""
        fmt = self.fmt
        target_path = check_target(path)
        if target_path.suffix.lower() != f".{fmt}":
            target_path = target_path.with_name(target_path.name + f".{fmt}")
            check_target(target_path)
        return target_path

    def export_to(self, path: Union[str, Path]) -> Path:
        """Write the export to ``path`` (ExportError, ExportCancelled); the dialog stays open."""
        fmt = self.fmt
        target_path = self.target_path(path)
        if fmt in DATA_FORMATS:
            return write_bytes_atomic(target_path, data_bytes(self.frame, fmt))
        options = self.options().check()
        target = self.target
        canvas = self._canvas(target)
        if fmt == "gif":
            data = self._gif(canvas, options)
        else:
            canvas.prepare(self.frame, options)
            data = figure_bytes(canvas, fmt, options, plot=target[1] if isinstance(target, tuple) else None)
        written = write_bytes_atomic(target_path, data)
        self._preview_timer.start()  # the canvas now shows the export; redraw the thumbnail from it
        return written

    def _gif(self, canvas: SlideCanvas, options: SlideOptions) -> bytes:
        a, b = self.from_box.value(), self.to_box.value()
        if a > b:
            raise ExportError(f"The step range {a} to {b} is empty: the first step must not be after the last.")
        if self.frames_for_range is not None:
            frames = list(self.frames_for_range(a, b))
        else:
            frames = history_frames(self.frame, a, b, self.frames_box.value())
        progress = QtWidgets.QProgressDialog("Rendering the animation…", "Cancel", 0, 2 * len(frames) + 1, self)
        progress.setObjectName("exportProgress")
        progress.setWindowTitle("Export GIF")
        progress.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.setValue(0)

        def tick(done: int, total: int, what: str) -> bool:
            progress.setLabelText(what)
            progress.setValue(done)
            QtWidgets.QApplication.processEvents()
            return not progress.wasCanceled()

        try:
            return gif_bytes(canvas, frames, options, self.fps_box.value(), tick)
        finally:
            progress.close()
            progress.deleteLater()

    # --- closing -----------------------------------------------------------------------------------------
    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        """Close: stop the preview timer and free the export canvases."""
        self._preview_timer.stop()
        for canvas in self._canvases.values():
            canvas.dispose()
        self._canvases.clear()
        super().done(result)


__all__ = ["ExportDialog"]
