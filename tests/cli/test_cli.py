"""`initviz run`: the documented JSON/CSV, errors as one line with exit status 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from initviz.cli import main
from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.report import PER_LAYER

REQUIRED = ("config", "layers", "steps", "loss", "act_mean", "act_std", "saturation", "dead", "symmetry",
            "nonfinite", "grad_norm", "weight_std", "update_ratio", "theory_act_std")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "initviz", *args], capture_output=True, text=True, timeout=300)


def test_run_writes_documented_json_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(["run", "--init", "xavier_normal", "--activation", "tanh", "--depth", "6", "--width", "16",
               "--steps", "12", "--out", str(out), "-q"])
    assert rc == 0
    data = json.loads((out / "stats.json").read_text())
    for key in REQUIRED:
        assert key in data, key
    assert data["schema"] == "initviz.run/1"
    assert data["steps"] == list(range(13))
    assert data["layers"] == [str(i) for i in range(1, 7)]
    for key in PER_LAYER:
        assert np.asarray(data[key], dtype=float).shape == (13, 6), key
    assert len(data["theory_act_std"]) == 6
    # The file holds the same numbers as a Trainer run with the same config.
    t = Trainer(RunConfig.from_dict(data["config"]))
    t.step(12)
    assert np.allclose(data["act_std"], t.history.series("act_std"))
    assert data["loss"][-1] == pytest.approx(t.latest.loss)
    with (out / "stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 13 * 6
    assert float(rows[-1]["act_std"]) == pytest.approx(data["act_std"][-1][-1])
    assert rows[0]["step"] == "0" and rows[0]["layer"] == "1"


def test_steps_zero_writes_only_the_record_at_init(tmp_path: Path) -> None:
    assert main(["run", "--init", "zeros", "--depth", "3", "--width", "8", "--steps", "0", "--out", str(tmp_path), "-q"]) == 0
    data = json.loads((tmp_path / "stats.json").read_text())
    assert data["steps"] == [0]
    assert data["symmetry"] == [[1.0, 1.0, 1.0]]


def test_divergence_is_strict_json_with_nulls(tmp_path: Path) -> None:
    rc = main(["run", "--init", "normal", "--std", "3", "--activation", "relu", "--depth", "20", "--width", "128",
               "--steps", "3", "--out", str(tmp_path), "-q"])
    assert rc == 0
    text = (tmp_path / "stats.json").read_text()
    assert ": NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["diverged"] is not None
    assert data["diverged"]["message"].startswith("Inf/NaN from step")
    assert any(v is None for row in data["act_std"] for v in row)


def test_config_file_and_flag_override(tmp_path: Path) -> None:
    cfg = RunConfig(depth=3, width=8, init=InitSpec("normal", std=0.5), seed=7)
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    assert main(["run", "--config", str(path), "--width", "12", "--steps", "1", "--out", str(tmp_path / "o"), "-q"]) == 0
    got = json.loads((tmp_path / "o" / "stats.json").read_text())["config"]
    assert got["width"] == 12 and got["seed"] == 7 and got["init"]["std"] == 0.5


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--activation", "swish"], "choose from"),
        (["--depth", "500"], "depth: 500"),
        (["--init", "normal", "--std", "-1"], "init.std"),
        (["--depth", "abc"], "invalid int value"),
        (["--steps", "-3"], "--steps"),
        (["--lr", "0"], "lr: 0"),
    ],
)
def test_invalid_input_is_one_line_and_status_2(args: list[str], needle: str, tmp_path: Path) -> None:
    proc = run_cli("run", *args, "--out", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    proc = run_cli("run", "--config", str(tmp_path / "nope.json"), "--out", str(tmp_path))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"depth": ')
    proc = run_cli("run", "--config", str(bad), "--out", str(tmp_path))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    bad.write_text('{"depht": 3}')
    proc = run_cli("run", "--config", str(bad), "--out", str(tmp_path))
    assert proc.returncode == 2 and "depht" in proc.stderr and "known" in proc.stderr


def test_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("run", "--steps", "0", "--depth", "2", "--width", "4", "--out", str(blocker))
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_imports_no_qt(tmp_path: Path) -> None:
    code = (
        "import sys; from initviz.cli import main; "
        f"main(['run','--steps','1','--depth','2','--width','4','-q','--out',{str(tmp_path)!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6','shiboken6','pyqtgraph','superqt') or m.startswith('initviz.ui')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
