"""File > Export… (Ctrl+E) opens the export dialog on what the window shows."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


def test_ctrl_e_opens_the_export_dialog_with_every_panel(qtbot, open_window) -> None:
    from initviz.ui.export_dialog import ExportDialog

    window = open_window()
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    assert window.export_action in window.menus["File"].actions()
    window.export_action.trigger()
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, ExportDialog) and w.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    qtbot.addWidget(dialog)
    text = " ".join(
        dialog.findChild(QtWidgets.QComboBox, name).itemText(i)
        for name in [c.objectName() for c in dialog.findChildren(QtWidgets.QComboBox) if c.objectName()]
        for i in range(dialog.findChild(QtWidgets.QComboBox, name).count())
    )
    for panel in window.panels:
        assert panel.title in text, panel.title
    dialog.close()
    QtCore.QCoreApplication.processEvents()
