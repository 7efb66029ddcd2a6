"""`initviz export --run FILE`: a saved run's slides and data headless, through the bounded loader."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from initviz.cli import main
from initviz.engine.config import RunConfig
from initviz.engine.lanes import Lanes, compare_configs
from initviz.engine.store import save_run


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Lanes]:
    lanes = Lanes(compare_configs(RunConfig(depth=3, width=8, batch_size=32), ["normal", "xavier_normal"]),
                  names=['=HYPERLINK("https://x.example","x")', "<b>bold</b>"])  # fmt: skip
    lanes.step(6)
    return save_run(tmp_path / "student", lanes), lanes


def test_export_run_writes_the_saved_runs_panels_and_data(saved: tuple[Path, Lanes], tmp_path: Path) -> None:
    path, lanes = saved
    out = tmp_path / "slides"
    rc = main(["export", "--run", str(path), "--format", "png,json,csv", "--panels", "loss", "--size", "640x360",
               "--out", str(out), "-q"])  # fmt: skip
    assert rc == 0
    with Image.open(out / "loss.png") as im:
        assert im.size == (640, 360)
    data = json.loads((out / "stats.json").read_text())
    assert [lane["name"] for lane in data["lanes"]] == lanes.names
    for lane, t in zip(data["lanes"], lanes.trainers):
        assert lane["steps"] == [r.step for r in t.history]  # the saved history, not a new run
        assert lane["loss"][-1] == pytest.approx(t.latest.loss)
    with (out / "stats.csv").open(newline="", encoding="utf-8") as f:
        cells = {row["lane"] for row in csv.DictReader(f)}
    assert cells == {"'" + lanes.names[0], "<b>bold</b>"}  # the formula is neutralised for spreadsheets


def test_export_run_can_train_on_first(saved: tuple[Path, Lanes], tmp_path: Path) -> None:
    path, _ = saved
    assert main(["export", "--run", str(path), "--steps", "3", "--format", "json", "--out", str(tmp_path / "o"), "-q"]) == 0
    data = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert data["lanes"][0]["steps"][-1] == 9


@pytest.mark.parametrize("make, extra, needle", [
    (lambda d: d.joinpath("junk.initviz").write_bytes(b"PK\x03\x04junk") and d / "junk.initviz", (), "junk.initviz"),
    (lambda d: d / "missing.initviz", (), "does not exist"),
    (lambda d: Path("/dev/zero"), (), "device"),
    (lambda d: d / "student.initviz", ("--depth", "3"), "drop --depth"),
    (lambda d: d / "student.initviz", ("--steps", "-1"), "--steps"),
    (lambda d: d / "student.initviz", ("--range", "0:99"), "--range"),
], ids=["damaged", "missing", "device", "config flag", "negative steps", "range"])  # fmt: skip
def test_export_run_refusals_are_one_line_and_status_2(saved: tuple[Path, Lanes], tmp_path: Path, make, extra,
                                                       needle: str, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = make(tmp_path)
    capsys.readouterr()
    rc = main(["export", "--run", str(path), *extra, "--format", "png", "--out", str(tmp_path / "x"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("initviz export: error: ") and needle in err, err
    assert not (tmp_path / "x").exists()
