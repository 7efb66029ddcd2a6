"""`initviz sweep`: sweep.json (initviz.sweep/1), the CSV, the diagram files, resume, bad grids."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from initviz.engine import phase
from initviz.engine.sweep import Sweep, SweepSpec
from initviz.sweep_cli import GridError, parse_grid

CELL_KEYS = {"sigma_w2", "sigma_b2", "depth", "test_accuracy", "loss", "diverged", "seconds"}


def sweep_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "initviz", "sweep", *args], capture_output=True, text=True, timeout=300)


def test_sweep_writes_the_schema_csv_and_diagrams_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--sigma-w2", "1:3:2", "--depth", "2:3:2", "--width", "16", "--steps", "5", "--workers", "1",
            "--format", "png,svg", "--out", str(out)]  # fmt: skip
    proc = sweep_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "cell 4/4" in proc.stderr  # progress on stderr
    doc = json.loads((out / "sweep.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert doc["schema"] == "initviz.sweep/1"
    assert doc["config"]["sigma_w2"] == [1.0, 3.0] and doc["config"]["depths"] == [2, 3]
    assert len(doc["cells"]) == 4 and all(CELL_KEYS <= set(c) for c in doc["cells"])
    th = doc["theory"]
    assert th["critical_sigma_w2"] == pytest.approx(phase.critical_sigma_w2("tanh", 0.05))
    assert th["chi1"] == pytest.approx([phase.chi1("tanh", 1.0, 0.05), phase.chi1("tanh", 3.0, 0.05)])
    assert th["six_xi_c"] == pytest.approx([phase.six_xi_c("tanh", 1.0, 0.05), phase.six_xi_c("tanh", 3.0, 0.05)])
    # the same cells as the engine trains them in this process
    spec = SweepSpec(sigma_w2=(1.0, 3.0), depths=(2, 3), width=16, steps=5)
    here = {(c.sigma_w2, c.depth): c.test_accuracy for c in Sweep(spec).run().cells}
    assert {(c["sigma_w2"], c["depth"]): c["test_accuracy"] for c in doc["cells"]} == here
    rows = list(csv.DictReader((out / "sweep.csv").read_text().splitlines()))
    assert len(rows) == 4 and float(rows[0]["sigma_w2"]) == 1.0
    assert (out / "phase.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "phase.svg").read_bytes().startswith(b"<?xml")
    assert not (out / "phase.pdf").exists()
    again = sweep_cli(*args)
    assert again.returncode == 0 and again.stderr.count("(cached)") == 4


def test_theory_only_skips_training(tmp_path: Path) -> None:
    proc = sweep_cli("--theory-only", "--sigma-w2", "0.5:4:8", "--format", "pdf", "--out", str(tmp_path), "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["cells"] == [] and len(doc["theory"]["six_xi_c"]) == 8
    assert (tmp_path / "phase.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("flags, flag", [
    (["--sigma-w2", "4:1:5"], "--sigma-w2"), (["--sigma-w2", "a:b:c"], "--sigma-w2"),
    (["--depth", "0:10:3"], "--depth"), (["--depth", "2:10"], "--depth"), (["--sigma-b2", "-1"], "--sigma-b2"),
    (["--workers", "-2"], "--workers"), (["--format", "gif"], "--format"), (["--width", "0"], "--width"),
])  # fmt: skip
def test_bad_grids_exit_2_with_one_line(tmp_path: Path, flags: list[str], flag: str) -> None:
    proc = sweep_cli(*flags, "--theory-only", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"initviz sweep: error: {flag}")


def test_parse_grid() -> None:
    assert parse_grid("0.5:2:4", "--sigma-w2") == (0.5, 1.0, 1.5, 2.0)
    assert parse_grid("2:29:10", "--depth", integer=True) == (2, 5, 8, 11, 14, 17, 20, 23, 26, 29)
    assert parse_grid("1.5", "--sigma-w2") == (1.5,)
    with pytest.raises(GridError):
        parse_grid("1:2:0", "--sigma-w2")
