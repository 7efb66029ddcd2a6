"""Hostile --config files and scenario files: one line and exit status 2, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initviz.cli import main
from initviz.engine.config import RunConfig

VALID = RunConfig(depth=3, width=8).to_dict()
KEYS = sorted(VALID) + ["init.scheme", "colour", ""]


class Built(Exception):
    """Raised by the stand-in for Lanes: the config was accepted (nothing is trained)."""


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted configs stop at Lanes: a fuzzed width 4096 must not allocate anything here."""
    import initviz.engine.lanes as lanes

    def refuse_to_build(configs: Any, names: Any = None) -> None:
        raise Built(configs)

    monkeypatch.setattr(lanes, "Lanes", refuse_to_build)


def run_config(path: Path, tmp: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """(exit status, stderr) of `initviz run --config path`; status -1 if the config was accepted."""
    capsys.readouterr()
    try:
        rc = main(["run", "--config", str(path), "--steps", "0", "--out", str(tmp / "out"), "-q", *flags])
    except Built:
        rc = -1
    return rc, capsys.readouterr().err


def assert_one_line_refusal(rc: int, err: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("initviz run: error: "), err
    assert len(lines[0]) < 600, lines[0][:200]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _mutated(key: str, value: Any) -> bytes:
    data = json.loads(json.dumps(VALID))
    if key.startswith("init."):
        data["init"][key[5:]] = value
    else:
        data[key] = value
    return json.dumps(data).encode()


config_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(_mutated, st.sampled_from(KEYS), json_values),
    st.integers(30, 3000).map(lambda n: ("[" * n + "]" * n).encode()),
    st.integers(4301, 6000).map(lambda n: b'{"depth": ' + b"9" * n + b"}"),
    st.text(max_size=200).map(lambda t: t.encode("utf-16")),
)
FLAGS = st.lists(st.sampled_from([("--init", "zeros"), ("--std", "2"), ("--depth", "3"), ("--gain", "1.5")]),
                 max_size=2, unique=True)  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=config_bytes, flags=FLAGS)
def test_fuzzed_config_is_accepted_or_refused_in_one_line(
    data: bytes, flags: list, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    rc, err = run_config(path, tmp_path, capsys, *[x for pair in flags for x in pair])
    if rc != -1:
        assert_one_line_refusal(rc, err)


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"\xff\xfe{\x00", "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nests 5000 levels"),
        (b'{"depth": 1' + b"0" * 5000 + b"}", "5001 digits"),
        (b'{"init": null}', '"init" must be'),
        (b'{"dataset": "' + b"x" * 100_000 + b'"}', "100,000 characters"),
        (b" " * (2 << 20), "larger than"),
        (b'{"\\r\\nx": null}', "unknown setting"),  # a key with a line break (found by the fuzz)
    ],
    ids=["non-utf8", "deep", "5000-digit", "init-null-with-init", "long-value", "2MB", "key-with-newline"],
)
def test_each_reported_config_crash_is_one_line(content: bytes, needle: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str], no_training: None) -> None:  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    rc, err = run_config(path, tmp_path, capsys, "--init", "zeros")
    assert_one_line_refusal(rc, err)
    assert needle in err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "initviz", *args], capture_output=True, text=True, timeout=120)


def test_fifo_and_dev_zero_configs_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would block forever
    for path, needle in ((fifo, "pipe (FIFO)"), (Path("/dev/zero"), "device")):
        proc = _cli("run", "--config", str(path), "--steps", "0", "--out", str(tmp_path / "o"))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_file_names_with_line_breaks_stay_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from initviz.engine.scenarios import load_scenarios
    from initviz.engine.store import RunFileError, load_run

    odd = tmp_path / "a\nb.initviz"
    odd.write_bytes(b"junk")
    with pytest.raises(RunFileError) as info:
        load_run(odd)
    assert "\n" not in str(info.value)
    assert main(["export", "--run", str(odd), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    (tmp_path / "x\ny.json").write_text("{")
    warnings: list[str] = []
    load_scenarios([tmp_path], warn=warnings.append)
    assert len(warnings) == 1 and "\n" not in warnings[0]


def test_fifo_run_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """load_run on a FIFO returns at once (a thread guards against the hang it used to be)."""
    from initviz.engine.store import RunFileError, load_run

    fifo = tmp_path / "x.initviz"
    os.mkfifo(fifo)
    got: list[BaseException] = []

    def attempt() -> None:
        try:
            load_run(fifo)
        except BaseException as exc:  # noqa: BLE001
            got.append(exc)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "wb"):
            pass
        t.join(5)
        pytest.fail("load_run blocked on a FIFO")
    assert len(got) == 1 and isinstance(got[0], RunFileError) and "FIFO" in str(got[0])


def test_memory_budget_refuses_a_huge_run_up_front(tmp_path: Path) -> None:
    proc = _cli("run", "--depth", "200", "--width", "4096", "--batch-size", "4096",
                "--compare", "zeros,normal,xavier_normal,kaiming_normal", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "depth 200 x width 4096" in line and "GB of memory" in line and "largest that fits" in line
    assert not (tmp_path / "stats.json").exists()


# --- scenario files ------------------------------------------------------------------------------
GOOD = {"id": "mine", "title": "Mine", "explanation": "e", "look_for": "l", "config": {"depth": 3, "width": 8}}
BAD_SCENARIOS: dict[str, bytes] = {
    "not_json.json": b"{",
    "not_utf8.json": b"\xff\xff",
    "a_list.json": b"[1, 2]",
    "a_number.json": b"3",
    "null.json": b"null",
    "empty.json": b"",
    "no_id.json": json.dumps({k: v for k, v in GOOD.items() if k != "id"}).encode(),
    "no_title.json": json.dumps({k: v for k, v in GOOD.items() if k != "title"}).encode(),
    "id_a_dict.json": json.dumps({**GOOD, "id": {"a": 1}}).encode(),
    "id_with_slash.json": json.dumps({**GOOD, "id": "../x"}).encode(),
    "title_a_list.json": json.dumps({**GOOD, "title": ["x"]}).encode(),
    "title_too_long.json": json.dumps({**GOOD, "title": "T" * 10_000}).encode(),
    "order_a_string.json": json.dumps({**GOOD, "order": "first"}).encode(),
    "order_infinite.json": json.dumps({**GOOD, "order": 1e400}).encode().replace(b"Infinity", b"1e400"),
    "config_a_list.json": json.dumps({**GOOD, "config": [1]}).encode(),
    "config_bad_depth.json": json.dumps({**GOOD, "config": {"depth": -1}}).encode(),
    "lanes_a_string.json": json.dumps({**GOOD, "lanes": "zeros"}).encode(),
    "lanes_a_dict.json": json.dumps({**GOOD, "lanes": {"scheme": "zeros"}}).encode(),
    "lanes_of_numbers.json": json.dumps({**GOOD, "lanes": [1, 2]}).encode(),
    "lane_unknown_key.json": json.dumps({**GOOD, "lanes": [{"scheme": "zeros", "colour": 1}]}).encode(),
    "five_lanes.json": json.dumps({**GOOD, "lanes": [{"scheme": "zeros"}] * 5}).encode(),
    "lane_name_a_number.json": json.dumps({**GOOD, "lanes": [{"scheme": "zeros", "name": 3}]}).encode(),
    "lane_name_too_long.json": json.dumps({**GOOD, "lanes": [{"scheme": "zeros", "name": "n" * 1000}]}).encode(),
    "deep.json": b"[" * 10_000 + b"]" * 10_000,
    "huge.json": b" " * (1 << 20),
    "duplicate_id.json": json.dumps({**GOOD, "title": "the same id again"}).encode(),
}


def test_bad_scenario_files_are_skipped_with_a_warning_each(tmp_path: Path) -> None:
    from initviz.engine.scenarios import load_scenarios

    (tmp_path / "aaa_good.json").write_text(json.dumps(GOOD))
    for name, data in BAD_SCENARIOS.items():
        (tmp_path / name).write_bytes(data)
    warnings: list[str] = []
    scenarios = load_scenarios([tmp_path], warn=warnings.append)
    ids = [s.id for s in scenarios]
    assert "mine" in ids and "zeros" in ids and ids.count("mine") == 1  # shipped ones and the good one
    assert len(warnings) == len(BAD_SCENARIOS)
    for name in BAD_SCENARIOS:
        line = next(w for w in warnings if f"{name}:" in w)
        assert line.startswith("initviz: warning: skipped scenario ") and "\n" not in line and len(line) < 400


def test_a_bad_shipped_scenario_does_not_stop_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from importlib import resources

    import initviz.engine.scenarios as sc

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for entry in resources.files("initviz.resources").joinpath("scenarios").iterdir():
        if entry.name.endswith(".json"):
            (shipped / entry.name).write_bytes(entry.read_bytes())
    (shipped / "broken.json").write_text('{"id": "broken", "title": 3}')

    class FakeFiles:
        @staticmethod
        def files(_: str) -> Any:
            class Root:
                @staticmethod
                def joinpath(_: str) -> Path:
                    return shipped

            return Root()

    monkeypatch.setattr(sc, "resources", FakeFiles)
    monkeypatch.setattr(sc, "_warned", set())
    assert main(["scenarios"]) == 0
    out, err = capsys.readouterr()
    assert "normal_relu_explosion" in out and "broken" not in out
    assert err.strip().splitlines() == [line for line in err.strip().splitlines() if "broken.json" in line]
    assert len(err.strip().splitlines()) == 1
    assert main(["run", "--scenario", "zeros", "--steps", "0", "--depth", "2", "--out", str(tmp_path / "o"), "-q"]) == 0
