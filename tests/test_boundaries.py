"""The engine never loads Qt: checked in a fresh interpreter (pytest-qt has already imported Qt
into this one) and by scanning the engine's source for imports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import initviz.engine

FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "initviz.ui")
ENGINE_DIR = Path(initviz.engine.__file__).resolve().parent

CHILD = r"""
import importlib, json, pkgutil, sys
import initviz.engine
from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.diagnosis import diagnose
from initviz.engine.inits import describe_init
# every engine module, including ones the Trainer does not need
for m in pkgutil.iter_modules(initviz.engine.__path__):
    importlib.import_module("initviz.engine." + m.name)
cfg = RunConfig(depth=3, width=8, batch_size=16, init=InitSpec("kaiming_normal"))
trainer = Trainer(cfg)
(rec,) = trainer.step()
diagnose(rec, cfg)
describe_init(cfg)
print(json.dumps({"step": rec.step, "modules": sorted(sys.modules)}))
"""


def _forbidden(name: str) -> bool:
    return name.startswith(FORBIDDEN)


def test_engine_runs_without_loading_qt() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["step"] == 1
    modules = report["modules"]
    assert "torch" in modules and "initviz.engine.trainer" in modules  # the child did real work
    loaded = [m for m in modules if _forbidden(m)]
    assert loaded == [], f"the engine loaded Qt/UI modules: {loaded}"


def test_forbidden_name_matching() -> None:
    assert _forbidden("PySide6.QtCore") and _forbidden("pyqtgraph") and _forbidden("initviz.ui.app")
    assert _forbidden("shiboken6") and _forbidden("superqt.utils")
    assert not _forbidden("initviz.engine") and not _forbidden("initviz") and not _forbidden("torch")


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module name an engine file imports: import/from statements anywhere (also inside
    functions), plus importlib.import_module("...") and __import__("...") with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                out.append((node.lineno, node.module))
                out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            elif node.level > 0:  # relative: resolve against initviz.engine
                base = "initviz" if node.level == 2 else "initviz.engine"
                mod = f"{base}.{node.module}" if node.module else base
                out.append((node.lineno, mod))
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value))
    return out


def test_engine_source_imports_no_qt() -> None:
    files = sorted(ENGINE_DIR.rglob("*.py"))
    assert len(files) >= 9  # config, inits, model, data, probes, theory, trainer, record, ...
    bad = [f"{p.name}:{line}: {name}" for p in files for line, name in _imported_names(p) if _forbidden(name)]
    assert bad == [], bad


def test_import_scan_sees_every_form(tmp_path: Path) -> None:
    src = tmp_path / "x.py"
    src.write_text(
        "import os\n"
        "def f():\n    from PySide6 import QtCore\n"
        "import pyqtgraph as pg\n"
        "from initviz import ui\n"
        "from .. import ui as u2\n"
        "importlib.import_module('superqt')\n",
        encoding="utf-8",
    )
    names = {n for _, n in _imported_names(src)}
    assert {"PySide6", "pyqtgraph", "initviz.ui", "superqt"} <= names
    assert sum(_forbidden(n) for n in names) >= 4


UI_DIR = ENGINE_DIR.parent / "ui"


def test_ui_never_imports_the_cli() -> None:
    """cli -> ui is the only direction: a ui module importing initviz.cli closes an import circle."""
    files = sorted(UI_DIR.rglob("*.py"))
    assert len(files) >= 10
    bad = [f"{p.name}:{line}: {name}" for p in files for line, name in _imported_names(p)
           if name == "initviz.cli" or name.startswith("initviz.cli.")]  # fmt: skip
    assert bad == [], bad


def test_panel_registry_is_qt_free() -> None:
    """The CLI lists panels (``--panels`` help) without starting Qt."""
    code = "import json, sys; from initviz import registry; print(json.dumps([registry.ids(), sorted(sys.modules)]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ids, modules = json.loads(proc.stdout)
    assert "overview" in ids and len(ids) == len(set(ids))
    assert [m for m in modules if m.startswith(("PySide6", "shiboken6", "pyqtgraph", "superqt"))] == []
