"""`initviz export`: slides, GIFs and data with no window; same seed, same files; errors in one line."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from initviz.cli import main

SMALL_NET = ("--depth", "4", "--width", "16", "--batch-size", "32")


def export_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "initviz", "export", *args], capture_output=True, text=True,
                          timeout=300, env=environment)  # fmt: skip


def test_export_writes_every_format_for_all_lanes_and_twice_the_same(tmp_path: Path) -> None:
    """End to end in a subprocess with no display: a 4-lane scenario, every format, then again."""
    args = ("--scenario", "four_classic_inits", *SMALL_NET, "--steps", "4", "--format", "png,svg,pdf,gif,json,csv",
            "--panels", "loss,dashboard", "--size", "640x360", "--range", "2:4", "--fps", "5")  # fmt: skip
    first = export_cli(*args, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    out = tmp_path / "a"
    names = {f"{p}.{f}" for p in ("loss", "dashboard") for f in ("png", "svg", "pdf", "gif")}
    assert {p.name for p in out.iterdir()} == names | {"stats.json", "stats.csv"}, "<panel>.<ext>, no temporary files"
    assert "wrote" in first.stdout and "Traceback" not in first.stderr
    assert "propagateSizeHints" not in first.stderr  # the offscreen plugin's notices are not shown
    for name in ("loss", "dashboard"):
        with Image.open(out / f"{name}.png") as im:
            assert (im.format, im.size) == ("PNG", (640, 360))
        root = ET.parse(out / f"{name}.svg").getroot()
        assert any(el.tag.endswith(("path", "polyline")) for el in root.iter())
        text = " ".join(el.text or "" for el in root.iter())
        assert "step" in text or "layer" in text
        pdf = (out / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf)) == 1
        with Image.open(out / f"{name}.gif") as im:
            assert (im.format, im.n_frames, im.size) == ("GIF", 3, (640, 360))  # steps 2..4
    data = json.loads((out / "stats.json").read_text())
    assert data["schema"] == "initviz.compare/1"
    assert [lane["name"] for lane in data["lanes"]] == ["zeros", "N(0, 1)", "Xavier", "He"]  # the scenario's names
    assert all(lane["steps"] == [0, 1, 2, 3, 4] for lane in data["lanes"])
    with (out / "stats.csv").open(newline="", encoding="utf-8") as f:
        lanes_in_csv = {row["lane"] for row in csv.DictReader(f)}
    assert lanes_in_csv == {"zeros", "N(0, 1)", "Xavier", "He"}

    # the same command again: byte-identical data and pictures
    second = export_cli(*args, "--out", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    for name in ("stats.json", "stats.csv", "loss.png", "dashboard.png", "loss.svg", "loss.gif", "dashboard.gif"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--format", "png,bmp"), "--format: 'bmp' is not a format"),
        (("--panels", "activations,weights"), "--panels: 'weights' is not a panel"),
        (("--size", "big"), "--size: 'big' is not a size"),
        (("--size", "10x10"), "--size: 10x10: each side must be between"),
        (("--scale", "0"), "--scale: 0 is not allowed"),
        (("--fps", "100"), "--fps: 100 is not allowed"),
        (("--range", "3:2"), "--range: 3:2 is empty"),
        (("--range", "0:99"), "--range: 0:99 lies outside the run's steps 0:3"),
        (("--range", "a:b"), "--range: 'a:b' is not a step range"),
        (("--scenario", "no_such_thing"), "scenario"),
        (("--steps", "-1"), "--steps: -1 is not allowed"),
        (("--depth", "0"), "depth"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, expected, tmp_path: Path, capsys) -> None:
    rc = main(["export", *SMALL_NET, "--steps", "3", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("initviz export: error: ") and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists(), "nothing trained or written"


def test_out_that_is_a_file_or_unwritable_fails_cleanly(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["export", *SMALL_NET, "--steps", "0", "--format", "json", "--out", str(blocker), "-q"]) == 2
    assert "--out:" in capsys.readouterr().err
    # a folder that cannot be made (its parent is a file): status 1, one line, nothing left over
    rc = main(["export", *SMALL_NET, "--steps", "0", "--format", "json", "--out", str(blocker / "sub"), "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("initviz export: error: Cannot create the folder") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_single_run_json_is_initviz_run_json_without_the_timing(tmp_path: Path) -> None:
    flags = ["--init", "xavier_normal", *SMALL_NET, "--steps", "3", "-q"]
    assert main(["export", *flags, "--format", "json,csv", "--out", str(tmp_path / "e")]) == 0
    assert main(["run", *flags, "--out", str(tmp_path / "r")]) == 0
    exported = json.loads((tmp_path / "e" / "stats.json").read_text())
    ran = json.loads((tmp_path / "r" / "stats.json").read_text())
    assert exported["schema"] == "initviz.run/1" and exported["cost"] is None
    assert ran.pop("cost") is not None
    exported.pop("cost")
    assert exported == ran
    assert (tmp_path / "e" / "stats.csv").read_text() == (tmp_path / "r" / "stats.csv").read_text()
    assert main(["export", *flags, "--format", "json", "--timing", "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "stats.json").read_text())["cost"]["median_train_seconds"] > 0


def test_existing_files_are_kept_unless_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    flags = ["export", *SMALL_NET, "--steps", "1", "--format", "json", "--out", str(out), "-q"]
    assert main(flags) == 0
    before = (out / "stats.json").read_bytes()
    capsys.readouterr()
    assert main(flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("initviz export: error: --out: ") and str(out / "stats.json") in err and "--force" in err
    assert err.count("\n") == 1
    assert (out / "stats.json").read_bytes() == before
    assert main([*flags, "--force"]) == 0


def test_a_size_below_the_readable_minimum_names_the_minimum(tmp_path: Path, capsys) -> None:
    assert main(["export", *SMALL_NET, "--steps", "1", "--size", "100x100", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "100x100" in err and "360" in err and "not readable" in err and err.count("\n") == 1


def test_export_lanes_chooses_the_lanes_of_the_slides_and_refuses_unknown_names(tmp_path: Path) -> None:
    """``--lanes 1,Xavier`` draws the zeros and Xavier lanes only (no pixel in the N(0, 1) lane's
    magenta); an unknown name exits 2 naming the valid lanes, before any training."""
    bad = export_cli("--scenario", "four_classic_inits", *SMALL_NET, "--steps", "2", "--panels", "loss",
                     "--lanes", "Kaiming", "--out", str(tmp_path / "bad"))  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert "--lanes: 'Kaiming' is not a lane" in bad.stderr and "zeros, N(0, 1), Xavier, He" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
    ok = export_cli("--scenario", "four_classic_inits", *SMALL_NET, "--steps", "2", "--panels", "loss", "--size", "640x360",
                    "--lanes", "1,xavier", "--out", str(tmp_path / "ok"))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    with Image.open(tmp_path / "ok" / "loss.png") as im:
        px = np.asarray(im.convert("RGB"), dtype=np.int16)

    def near(colour: str) -> int:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
        return int((np.abs(px - rgb).sum(axis=2) < 40).sum())

    assert near("#2e8b3a") > 50 and near("#1f5fa8") > 50, "lane 1 and Xavier (lane 3) are drawn"
    assert near("#c2258a") == 0, "N(0, 1) (lane 2) is not"
