"""One name per panel: the window's tabs, View menu, shortcuts and the export dialog's file names
all come from the Qt-free registry (initviz/registry.py), the same list ``initviz export`` reads."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui

from initviz import registry


def test_tabs_menu_and_shortcuts_come_from_the_registry(qtbot, open_window) -> None:
    window = open_window()
    specs = registry.PANELS
    assert [window.tabs.tabText(i).replace("&&", "&") for i in range(window.tabs.count())] == [s.title for s in specs]
    for n, spec in enumerate(specs):
        panel = window.panel(spec.id)
        assert type(panel) is spec.load() and getattr(window, spec.id) is panel and window.tabs.widget(n) is panel
        act = window.panel_actions[n]
        assert act.shortcut() == QtGui.QKeySequence(f"Ctrl+{n + 1}")
        # "&" is written "&&" so the menu reads "Loss & accuracy", not "Loss _accuracy"
        assert act.text().replace("&&", "&") == spec.title and "&" not in act.text().replace("&&", "")
        act.trigger()
        assert window.tabs.currentWidget() is panel
    assert window.menus["View"].actions()[: len(specs)] == window.panel_actions
    assert window.panels == [window.panel(i) for i in registry.ids()]


def test_the_export_dialog_names_files_by_panel_id(qtbot, open_window, tmp_path) -> None:
    from initviz.ui.export_dialog import ExportDialog

    window = open_window()
    window.export_action.trigger()
    dialog = next(w for w in window.findChildren(ExportDialog) if w.isVisible())
    qtbot.addWidget(dialog, before_close_func=lambda w: w.reject())
    dialog.set_format("png")
    for spec in registry.PANELS:
        dialog.set_target(spec.title)
        assert Path(dialog.path_edit.text()).name == f"{spec.id}.png"  # what initviz export writes
    dialog.close()
    QtCore.QCoreApplication.processEvents()
