"""A run's statistics as JSON and CSV: the schema the CLI writes and the GUI exports.

JSON (``stats.json``, schema ``initviz.run/1``): strict JSON, so NaN and ±inf are written as
null. Per-step per-layer arrays are indexed ``[step][layer]``, hidden layers only, first first.
CSV (``stats.csv``): one row per (step, layer) with the same quantities, for spreadsheets/pandas.
Files are written to a temporary name and renamed, so a failed write never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Optional, Sequence

import numpy as np

from initviz.engine.config import RunConfig
from initviz.engine.record import StepRecord
from initviz.engine.theory import Theory

SCHEMA = "initviz.run/1"
# per-step per-layer arrays written to JSON and CSV, in this order
PER_LAYER = (
    "act_mean",
    "act_std",
    "pre_mean",
    "pre_std",
    "saturation",
    "dead",
    "symmetry",
    "nonfinite",
    "grad_out_norm",
    "grad_norm",
    "weight_std",
    "update_ratio",
    "grad_data_ratio",
)
PER_STEP = ("loss", "accuracy", "test_accuracy")


def _clean(x: Any) -> Any:
    """numpy -> plain Python, with NaN/inf as None (strict JSON has no NaN)."""
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


class Column(list):
    """A per-step column (T,) or (T, L) kept as a numpy array, written as the nested list it
    stands for: ``json.dumps`` (any indent) sees a list of rows with NaN/inf as None, and
    :func:`dumps` renders it in C-speed batches. No Python object per record is built to write it.
    """

    def __init__(self, array: np.ndarray, tokens: Optional[list[str]] = None) -> None:
        super().__init__()
        self.array = array
        self.tokens = tokens  # repr of every value in C order (shared with the CSV), or None

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Iterator[Any]:
        return iter(_clean(self.array))

    def __getitem__(self, i):  # type: ignore[override]
        return list(iter(self))[i]

    def __eq__(self, other: object) -> bool:
        return list(iter(self)) == other

    __hash__ = None  # type: ignore[assignment]

    def render(self, level: int) -> str:
        """Exactly ``json.dumps(list(self), indent=1)`` nested at ``level``, from C-encoded text."""
        a = self.array
        if len(a) == 0:
            return "[]"
        if a.ndim == 2 and a.shape[1] == 0:
            return _indent(json.dumps(list(iter(self)), indent=1, allow_nan=False), level)
        tok = self.tokens if self.tokens is not None else _tokens(a)
        ind1, ind2 = "\n" + " " * (level + 1), "\n" + " " * (level + 2)
        if a.ndim == 1:
            return _nulls("[" + ind1 + ("," + ind1).join(tok) + "\n" + " " * level + "]")
        L, sep = a.shape[1], "," + ind2
        rows = [sep.join(tok[i : i + L]) for i in range(0, len(tok), L)]
        body = (ind1 + "]," + ind1 + "[" + ind2).join(rows)
        return _nulls("[" + ind1 + "[" + ind2 + body + ind1 + "]\n" + " " * level + "]")


def _tokens(a: np.ndarray) -> list[str]:
    """repr of every value of a (C order) as JSON tokens: NaN, Infinity, -Infinity for the rest.

    The float formatting (the C encoder's repr) is the floor of report writing: done once per
    value, shared by stats.json and stats.csv."""
    if a.size == 0:
        return []
    return json.dumps(a.ravel().tolist())[1:-1].split(", ")


def _nulls(text: str) -> str:
    """C-encoded JSON numbers with NaN/±Infinity as null (strict JSON)."""
    return text.replace("-Infinity", "null").replace("Infinity", "null").replace("NaN", "null")


def _indent(text: str, level: int) -> str:
    return text.replace("\n", "\n" + " " * level)


def dumps(obj: Any, level: int = 0) -> str:
    """``json.dumps(obj, indent=1, allow_nan=False)``, byte for byte, with Columns written fast."""
    if isinstance(obj, Column):
        return obj.render(level)
    pad, inner = " " * level, "\n" + " " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [json.dumps(str(k)) + ": " + dumps(v, level + 1) for k, v in obj.items()]
        return "{" + inner + ("," + inner).join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)) and obj:
        return "[" + inner + ("," + inner).join(dumps(v, level + 1) for v in obj) + "\n" + pad + "]"
    return _indent(json.dumps(obj, indent=1, allow_nan=False), level)


def _columns(records: Sequence[StepRecord], name: str) -> np.ndarray:
    """A field over the records: (T,) for scalars, (T, L) for per-layer arrays."""
    if not records:
        return np.zeros(0)
    first = getattr(records[0], name)
    if isinstance(first, np.ndarray):
        return np.stack([getattr(r, name) for r in records])
    return np.fromiter((getattr(r, name) for r in records), dtype=np.float64, count=len(records))


def columns(records: Sequence[StepRecord]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Every PER_STEP and PER_LAYER field over the records with its formatted tokens: format once,
    write both files."""
    out = {}
    for name in (*PER_STEP, *PER_LAYER):
        a = _columns(records, name)
        out[name] = (a, _tokens(a))
    return out


def run_dict(
    config: RunConfig,
    records: Sequence[StepRecord],
    theory: Theory,
    layer_names: Optional[Sequence[str]] = None,
    cols: Optional[dict[str, tuple[np.ndarray, list[str]]]] = None,
) -> dict[str, Any]:
    """The JSON object of one run (one lane); per-step data as Columns (see :func:`dumps`).
    ``cols``: :func:`columns` of the same records, when the caller already has them."""
    depth = config.depth
    names = list(layer_names) if layer_names is not None else [str(i + 1) for i in range(depth)]
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "config": config.to_dict(),
        "layers": names,
        "steps": Column(np.fromiter((r.step for r in records), dtype=np.int64, count=len(records))),
    }
    for name in (*PER_STEP, *PER_LAYER):
        out[name] = Column(*cols[name]) if cols is not None else Column(_columns(records, name))
    if config.arch == "resmlp":  # act_std is the residual stream's std; beside it, the branches'
        out["branch_std"] = [_clean(r.branch_std) if r.branch_std is not None else None for r in records]
        out["theory_branch_std"] = _clean(theory.branch_std)
    out["theory_act_std"] = _clean(theory.act_std)
    out["theory_pre_std"] = _clean(theory.pre_std)
    out["theory_grad_gain"] = _clean(theory.grad_gain)
    last = records[-1] if records else None
    if last is not None and last.diverged_at is not None:
        step, layer = last.diverged_at
        out["diverged"] = {"step": step, "layer": layer + 1, "message": last.diverged_message()}
    else:
        out["diverged"] = None
    if records:
        train = [r.train_seconds for r in records if r.step > 0]
        stats = [r.stats_seconds for r in records]
        out["cost"] = {
            "median_train_seconds": _clean(float(np.median(train))) if train else None,
            "median_stats_seconds": _clean(float(np.median(stats))),
        }
    return out


def lane_cell(lane: str) -> str:
    """The CSV text of a lane-name cell (quoted by the csv module's rules where needed)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text_cell(lane), ""])  # as a cell of a longer row
    return buf.getvalue()[:-2]


def csv_text(
    config: RunConfig,
    records: Iterable[StepRecord],
    lane: Optional[str] = None,
    cols: Optional[dict[str, tuple[np.ndarray, list[str]]]] = None,
) -> str:
    """One row per (step, layer); layer is 1-based. A 'lane' column is added when lane is given.

    Written from column arrays: numbers as ``repr(float)`` (formatted once per value, see
    :func:`columns`), NaN as an empty cell, ±inf as ``inf``/``-inf``.
    """
    records = list(records)
    buf = io.StringIO()
    head = (["lane"] if lane is not None else []) + ["step", "layer", *PER_STEP, *PER_LAYER]
    csv.writer(buf, lineterminator="\n").writerow(head)
    T, L = len(records), config.depth
    if T == 0 or L == 0:
        return buf.getvalue()
    if cols is None:
        cols = columns(records)
    per_step = [[t for t in cols[n][1] for _ in range(L)] for n in PER_STEP]  # each value once per layer
    per_layer = []
    for n in PER_LAYER:
        a, tok = cols[n]
        per_layer.append(tok if a.shape[1] == L else _tokens(a[:, :L]))
    steps = [str(r.step) for r in records for _ in range(L)]
    layers = [str(j + 1) for j in range(L)] * T
    text = "\n".join(map(",".join, zip(steps, layers, *per_step, *per_layer)))
    text = text.replace("-Infinity", "-inf").replace("Infinity", "inf").replace("NaN", "")
    if lane is not None:  # after the number clean-up: a lane may be called "NaN"
        cell = lane_cell(lane) + ","
        text = cell + text.replace("\n", "\n" + cell)
    buf.write(text)
    buf.write("\n")
    return buf.getvalue()


def text_cell(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading = + - @ (or tab, CR) gets a ' before it,
    as OWASP's CSV-injection advice and the spreadsheets themselves expect."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside path; on success rename it onto path, on failure delete it.

    So a failed or interrupted write never leaves a half-written file under the final name.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write(path: Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder and a rename."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write bytes to path through a temporary file in the same folder, fsync and a rename
    (the single atomic writer: slides, GIFs and data files alike); returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_run(out_dir: Path, obj: dict[str, Any], csv_body: str) -> list[Path]:
    """Write stats.json and stats.csv into out_dir (created if needed); return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / "stats.json", out_dir / "stats.csv"
    atomic_write(json_path, dumps(obj) + "\n")
    atomic_write(csv_path, csv_body)
    return [json_path, csv_path]


def lanes_report(runs: Sequence[tuple], single: bool) -> tuple[dict[str, Any], str]:
    """The JSON object and CSV text of ``initviz run`` (also the GUI's and ``initviz export``'s data).

    ``runs``: one ``(name, config, records, theory[, layer_names])`` per lane. ``single``: the
    ``initviz.run/1`` object of the first run; else ``initviz.compare/1`` with every lane and a
    ``lane`` CSV column. Qt-free.
    """
    objs, csvs = [], []
    for name, config, records, theory, *rest in runs:
        records = list(records)
        cols = columns(records)
        obj = run_dict(config, records, theory, rest[0] if rest else None, cols)
        if single:
            return obj, csv_text(config, records, cols=cols)
        objs.append({"name": name, **obj})
        text = csv_text(config, records, lane=name, cols=cols)
        csvs.append(text if not csvs else text.split("\n", 1)[1])
    return {"schema": "initviz.compare/1", "lanes": objs}, "".join(csvs)
