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


def run_dict(
    config: RunConfig,
    records: Sequence[StepRecord],
    theory: Theory,
    layer_names: Optional[Sequence[str]] = None,
) -> dict[str, Any]:
    """The JSON object of one run (one lane)."""
    depth = config.depth
    names = list(layer_names) if layer_names is not None else [str(i + 1) for i in range(depth)]
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "config": config.to_dict(),
        "layers": names,
        "steps": [r.step for r in records],
    }
    for name in PER_STEP:
        out[name] = _clean([getattr(r, name) for r in records])
    for name in PER_LAYER:
        out[name] = _clean([getattr(r, name) for r in records])
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


def csv_text(config: RunConfig, records: Iterable[StepRecord], lane: Optional[str] = None) -> str:
    """One row per (step, layer); layer is 1-based. A 'lane' column is added when lane is given."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = (["lane"] if lane is not None else []) + ["step", "layer", *PER_STEP, *PER_LAYER]
    w.writerow(head)
    for r in records:
        per_step = [_fmt(getattr(r, n)) for n in PER_STEP]
        arrays = [getattr(r, n) for n in PER_LAYER]
        for j in range(config.depth):
            row = ([lane] if lane is not None else []) + [r.step, j + 1, *per_step, *(_fmt(a[j]) for a in arrays)]
            w.writerow(row)
    return buf.getvalue()


def _fmt(x: float) -> str:
    v = float(x)
    if math.isnan(v):
        return ""
    return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")


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
    atomic_write(json_path, json.dumps(obj, indent=1, allow_nan=False) + "\n")
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
        obj = run_dict(config, records, theory, rest[0] if rest else None)
        if single:
            return obj, csv_text(config, records)
        objs.append({"name": name, **obj})
        text = csv_text(config, records, lane=name)
        csvs.append(text if not csvs else text.split("\n", 1)[1])
    return {"schema": "initviz.compare/1", "lanes": objs}, "".join(csvs)
