"""The run's statistics as JSON or CSV: the files of ``initviz run``, for the lanes of a frame."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from initviz.ui.export.files import check_target, write_bytes_atomic
from initviz.ui.export.options import DATA_FORMATS, ExportError
from initviz.ui.panels.base import Frame


def data_report(frame: Frame, timing: bool = True) -> tuple[dict, str]:
    """The JSON object and CSV text of ``initviz run`` for the lanes of ``frame``.

    One lane: schema initviz.run/1; several: initviz.compare/1 with a ``lane`` CSV column.
    ``timing=False`` writes ``"cost": null`` so the same seed gives byte-identical files.
    """
    from initviz.engine.report import lanes_report

    runs = []
    for lane in frame.lanes:
        theory = lane.theory
        if theory is None:  # a frame built without predictions: compute them as the engine would
            from initviz.engine.data import make_dataset
            from initviz.engine.theory import predict

            c = lane.config
            theory = predict(c, make_dataset(c.dataset, c.seed, "cpu", input_dim=c.input_dim).x_train)
        runs.append((lane.name, lane.config, list(lane.records), theory))
    obj, text = lanes_report(runs, single=len(runs) == 1)
    if not timing:
        for run in obj.get("lanes", [obj]):
            if "cost" in run:
                run["cost"] = None
    return obj, text


def data_bytes(frame: Frame, fmt: str, timing: bool = True) -> bytes:
    import json

    obj, text = data_report(frame, timing)
    if fmt == "json":
        return (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "csv":
        return text.encode("utf-8")
    raise ExportError(f"{fmt!r} is not a data format; choose json or csv.")


def export_data(frame: Frame, path: Union[str, Path], fmt: Optional[str] = None, timing: bool = True) -> Path:
    """Write the run's statistics (every lane) as JSON or CSV, the format of ``initviz run``."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in DATA_FORMATS:
        raise ExportError(f"Cannot export data as {fmt!r}; choose json or csv.")
    check_target(path)
    return write_bytes_atomic(path, data_bytes(frame, fmt, timing))
