"""Hostile and damaged run files: each is refused with one sentence or opens and trains; none escapes.

The hand-made corpus (hostile_corpus.py: bombs of every compression method, header-only files
describing huge networks, inconsistent counts and shapes, deep nesting, long and HTML names, not
regular files) is opened in a child process under an address-space limit, whose peak RSS must stay
under PEAK_RSS_MB. Random damage of a valid file (bit flips, 16-byte overwrites) runs here under
hypothesis.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_corpus
from initviz.engine.store import MAX_NAME_CHARS, RunFileError, load_run, save_run

PEAK_RSS_MB = 500  # the bound for refusing any of them (torch alone takes ~320 MB)
ADDRESS_SPACE = 3 * 2**30  # the child's RLIMIT_AS: a bomb that got through fails there, not the machine


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list:
    return hostile_corpus.build(tmp_path_factory.mktemp("corpus"))


def test_every_corpus_file_is_refused_or_opens_within_the_memory_bound(corpus: list) -> None:
    listing = corpus[0][1].parent / "cases.json"
    listing.write_text(json.dumps([[label, str(path), expected] for label, path, expected in corpus]))
    proc = subprocess.run(
        [sys.executable, hostile_corpus.__file__, "--open", str(listing)],
        capture_output=True, text=True, timeout=600, preexec_fn=_limit_child,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts["escaped"] == 0 and counts["unexpected"] == 0, proc.stderr[-3000:]
    assert counts["tried"] == len(corpus) == counts["refused"] + counts["opened"]
    assert counts["refused"] >= 80 and counts["opened"] >= 5
    assert counts["peak_rss_mb"] < PEAK_RSS_MB, counts


@pytest.mark.parametrize("label", ["bomb bzip2 (4 MB real)", "bomb deflate declares 4 GB", "header only 4 lanes depth 200 x width 4096",
                                   "header nested 10,000 deep", "step count below the records", "momentum buffer of wrong shape",
                                   "negative stream position", "empty history", "a FIFO", "/dev/zero"])  # fmt: skip
def test_refusals_are_one_sentence_naming_the_problem(corpus: list, label: str) -> None:
    path = next(p for lab, p, _ in corpus if lab == label)
    with pytest.raises(RunFileError) as info:
        load_run(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400 and "Traceback" not in message
    assert path.name in message or str(path) in message


def test_the_memory_refusal_gives_the_estimate_and_what_fits(corpus: list) -> None:
    path = next(p for lab, p, _ in corpus if lab == "header only 4 lanes depth 200 x width 4096")
    with pytest.raises(RunFileError, match=r"depth 200 x width 4096.*needs ~\d+ GB of memory; this machine has .* free \(largest that fits: depth \d+ at width 4096"):
        load_run(path)


def test_names_are_made_plain_and_capped_on_load(corpus: list) -> None:
    long = load_run(next(p for lab, p, _ in corpus if lab == "100,000-char name"))
    assert len(long.names[0]) == MAX_NAME_CHARS and long.names[0].endswith("…")
    ctrl = load_run(next(p for lab, p, _ in corpus if lab == "control chars name"))
    assert all(ch.isprintable() for ch in ctrl.names[0])
    html = load_run(next(p for lab, p, _ in corpus if lab == "HTML name"))
    assert html.names[0] == "<img src='file:///etc/x.png'><b>bold</b>"  # kept as text; the UI escapes it


def test_a_formula_lane_name_is_neutralised_in_csv(tmp_path: Path) -> None:
    from initviz.engine.config import RunConfig
    from initviz.engine.lanes import Lanes
    from initviz.engine.report import csv_text

    lanes = Lanes([RunConfig(depth=2, width=4)] * 2, names=['=HYPERLINK("https://x.example","x")', "@SUM(A1)"])
    rows = [line.split(",")[0] for line in csv_text(lanes.configs[0], lanes.trainers[0].history, lanes.names[0]).splitlines()[1:]]
    assert rows and all(r.startswith('"\'=HYPERLINK') for r in rows)
    assert csv_text(lanes.configs[1], lanes.trainers[1].history, lanes.names[1]).splitlines()[1].startswith("'@SUM")


# --- random damage ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return hostile_corpus.valid_file(tmp_path_factory.mktemp("valid")).read_bytes()


def _open_damaged(data: bytes, folder: Path) -> None:
    """load_run either refuses with RunFileError or gives lanes that train; nothing else."""
    path = folder / "damaged.initviz"
    path.write_bytes(data)
    try:
        lanes = load_run(path)
    except RunFileError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    lanes.step(2)
    assert lanes.latest[0].step == lanes.step_count
    save_run(folder / "resaved", lanes)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=3))
def test_bit_flips_are_refused_or_open(valid_bytes: bytes, flips: list, tmp_path: Path) -> None:
    data = bytearray(valid_bytes)
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    _open_damaged(bytes(data), tmp_path)


@FUZZ
@given(where=st.floats(0, 1, exclude_max=True), junk=st.binary(min_size=16, max_size=16))
def test_16_byte_overwrites_are_refused_or_open(valid_bytes: bytes, where: float, junk: bytes, tmp_path: Path) -> None:
    data = bytearray(valid_bytes)
    i = int(where * len(data))
    data[i : i + 16] = junk
    _open_damaged(bytes(data[: len(valid_bytes)]), tmp_path)


def test_bit_flips_in_the_header_member_are_refused_or_open(valid_bytes: bytes, tmp_path: Path) -> None:
    """A bit of each byte of the first local header and of the start of the deflated JSON header."""
    rng = np.random.default_rng(0)
    for i in list(range(0, 48, 3)) + list(rng.integers(0, len(valid_bytes), 8)):
        data = bytearray(valid_bytes)
        data[int(i)] ^= 1 << int(rng.integers(0, 8))
        _open_damaged(bytes(data), tmp_path)
