"""Export renders panels and never reaches into pyqtgraph's (or its own items') private state."""

from __future__ import annotations

import ast
from pathlib import Path

import initviz

ROOT = Path(initviz.__file__).parent
# what ui/export.py used to read or store on pyqtgraph's objects from outside the panels
REMOVED = ("_tickLevels", "addedItems", "_initviz_ticks", "_initviz_log_levels", "_initviz_slide_pen",
           "_initviz_min_height", "_initviz_sizes", "_initviz_collapsed")  # fmt: skip


def attribute_names(path: Path) -> list[tuple[int, str, str]]:
    """(line, object expression, attribute) of every attribute access, getattr/setattr/hasattr with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            out.append((node.lineno, ast.unparse(node.value), node.attr))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "hasattr"):
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                out.append((node.lineno, ast.unparse(node.args[0]), node.args[1].value))
    return out


def test_no_module_uses_the_removed_private_attributes() -> None:
    hits = [f"{p.relative_to(ROOT)}:{line} {obj}.{name}" for p in ROOT.rglob("*.py")
            for line, obj, name in attribute_names(p) if name in REMOVED]  # fmt: skip
    assert hits == []


def test_export_touches_only_public_attributes_of_other_objects() -> None:
    """In initviz/ui/export/ and the panels' slide layout, a private name (_x) is only ever read on
    self, on the canvas (our own SlideCanvas) or on a module."""
    files = [*sorted((ROOT / "ui" / "export").glob("*.py")), ROOT / "ui" / "panels" / "slide.py"]
    hits = []
    for p in files:
        for line, obj, name in attribute_names(p):
            if name.startswith("_") and not name.startswith("__") and obj not in ("self", "canvas", "os"):
                hits.append(f"{p.name}:{line} {obj}.{name}")
    assert hits == []
