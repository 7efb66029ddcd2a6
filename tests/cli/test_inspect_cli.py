"""``initviz inspect``: an error in the user's file is their traceback (their frames only) and exit 2;
a healthy run prints the layer table and the diagnosis and writes its files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from initviz.cli import main
from initviz.engine import usercode

GOOD = textwrap.dedent('''
    import torch
    from torch import nn


    def build():
        net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        return net


    def batches():
        g = torch.Generator().manual_seed(1)
        return torch.randn(10, 8, generator=g), torch.randint(3, (10,), generator=g)


    def wrong_shape():
        return torch.randn(10, 5), torch.randint(3, (10,))


    def helper(depth):
        raise ValueError(f"depth {depth} is not allowed")


    def broken():
        return helper(-1)


    def not_a_model():
        return {"model": 1}


    def linear_only():
        return nn.Linear(8, 3)
''')


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_model.py"
    path.write_text(GOOD, encoding="utf-8")
    yield path
    usercode.forget()


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_exception_in_the_factory_is_their_traceback_and_exit_2(user_file: Path, capsys, tmp_path: Path) -> None:
    code, out, err = _run([f"{user_file}:broken", "--input-shape", "8", "--headless", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    first = err.splitlines()[0]
    assert first == "initviz inspect: error: the factory raised ValueError: depth -1 is not allowed"
    assert "frames in my_model.py only" in err
    assert 'line 25, in broken' in err and 'line 21, in helper' in err  # both of their frames, innermost last
    assert "return helper(-1)" in err and "ValueError: depth -1 is not allowed" in err
    assert "initviz" not in err.split("\n", 1)[1].replace("initviz inspect", "")  # none of initviz's frames
    assert not (tmp_path / "o").exists()


def test_import_error_names_their_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\ndef build(:\n    pass\n", encoding="utf-8")
    code, _, err = _run([f"{bad}:build", "--input-shape", "8", "--headless"], capsys)
    assert code == 2
    assert err.startswith("initviz inspect: error: importing bad.py failed: SyntaxError")
    assert 'bad.py", line 3' in err and "def build(:" in err
    missing = tmp_path / "missing.py"
    missing.write_text("import not_a_module_anywhere_xyz\n", encoding="utf-8")
    code, _, err = _run([f"{missing}:build", "--input-shape", "8", "--headless"], capsys)
    assert code == 2 and "ModuleNotFoundError: No module named 'not_a_module_anywhere_xyz'" in err
    assert 'missing.py", line 1, in <module>' in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["{f}:not_a_model", "--input-shape", "8"], "the factory returned dict; expected a torch.nn.Module"),
        (["{f}:nope", "--input-shape", "8"], "my_model.py has no 'nope' (the factory); it defines batches, broken, build"),
        (["{f}:build", "--batches", "{f}:wrong_shape"], "the model's forward pass raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
        (["{f}:build", "--input-shape", "3,4"], "the model's forward pass raised RuntimeError"),
        (["{f}:build"], "give --batches FILE.py:FUNC, or --input-shape C,H,W"),
        (["{f}:build", "--input-shape", "8", "--lanes", "as_built,bogus"], "lanes: 'bogus' is not allowed"),
        (["{f}", "--input-shape", "8"], "is not FILE.py:NAME"),
        (["{f}:build", "--input-shape", "a,b"], "--input-shape: 'a,b' is not a shape"),
        (["{f}:linear_only", "--input-shape", "8"], "the model has no activation module to measure (nn.ReLU, nn.Tanh"),
        (["{f}:build", "--input-shape", "3,1024,1024", "--batch-size", "4096"], "would hold more than 268,435,456 values"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(user_file: Path, capsys, tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = _run([a.replace("{f}", str(user_file)) for a in args] + ["--headless", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert message in err.splitlines()[0], err


def test_headless_writes_stats_and_prints_the_table(user_file: Path, capsys, tmp_path: Path) -> None:
    out = tmp_path / "o"
    code, text, err = _run([f"{user_file}:build", "--batches", f"{user_file}:batches", "--steps", "2", "--headless",
                            "--no-slides", "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    table = [line.split() for line in text.splitlines()]
    assert ["layer", "type", "after", "init", "at", "build", "act", "std", "satur.", "dead", "symm.", "|grad", "W|"] in table
    rows = [r for r in table if r[:3] in (["1", "ReLU", "0"], ["3", "ReLU", "2"])]
    assert len(rows) == 2 and all(r[3:5] == ["PyTorch", "default"] for r in rows)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["schema"] == "initviz.compare/1"
    assert [l["name"] for l in stats["lanes"]] == ["as built", "kaiming_normal", "xavier_normal"]
    lane = stats["lanes"][0]
    assert lane["schema"] == "initviz.run/1" and lane["layers"] == ["1", "3"]
    assert lane["steps"] == [0, 1, 2] and len(lane["act_std"][0]) == 2
    assert [l["init_at_build"] for l in lane["model"]["layers"]] == ["PyTorch default", "PyTorch default"]
    code, _, err = _run([f"{user_file}:build", "--batches", f"{user_file}:batches", "--headless", "--no-slides", "--out", str(out)], capsys)
    assert code == 2 and "exists" in err and "--force" in err


def test_exit_status_in_a_fresh_process(user_file: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "initviz", "inspect", f"{user_file}:broken", "--input-shape", "8", "--headless",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2
    assert "the factory raised ValueError: depth -1 is not allowed" in proc.stderr
    assert "Traceback" in proc.stderr and "site-packages" not in proc.stderr
