"""The streamed report writers give the bytes of the plain per-record writers they replaced."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from initviz.engine import InitSpec, RunConfig, Trainer
from initviz.engine.report import PER_LAYER, PER_STEP, Column, csv_text, dumps, lanes_report, run_dict


def _plain(x):
    """numpy -> Python with NaN/inf as None, written out independently of report._clean."""
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return x


def _reference_csv(config: RunConfig, records, lane=None) -> str:
    """The per-record csv.writer version (the schema tests/cli check)."""
    def fmt(x) -> str:
        v = float(x)
        if math.isnan(v):
            return ""
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((["lane"] if lane is not None else []) + ["step", "layer", *PER_STEP, *PER_LAYER])
    for r in records:
        per_step = [fmt(getattr(r, n)) for n in PER_STEP]
        for j in range(config.depth):
            w.writerow(([lane] if lane is not None else []) + [r.step, j + 1, *per_step,
                                                                 *(fmt(getattr(r, n)[j]) for n in PER_LAYER)])
    return buf.getvalue()


def _diverging_run() -> tuple[RunConfig, Trainer]:
    cfg = RunConfig(depth=6, width=32, batch_size=32, activation="relu", init=InitSpec("normal", std=3.0), lr=0.5,
                    test_every=2)
    t = Trainer(cfg)
    t.step(6)
    return cfg, t


def test_csv_bytes_equal_the_per_record_writer_with_nan_inf_and_awkward_lane_names() -> None:
    cfg, t = _diverging_run()
    recs = list(t.history)
    values = np.concatenate([np.concatenate([getattr(r, n) for n in PER_LAYER]) for r in recs])
    assert np.isnan(values).any() and np.isinf(values).any()  # the cases are really there
    assert csv_text(cfg, recs) == _reference_csv(cfg, recs)
    for lane in ['xavier (tanh, lr 0.01)', 'say "hi"', "NaN", "a\nb", ""]:
        assert csv_text(cfg, recs, lane=lane) == _reference_csv(cfg, recs, lane=lane), lane


def test_json_bytes_equal_json_dumps_of_plain_lists() -> None:
    cfg, t = _diverging_run()
    recs = list(t.history)
    obj = run_dict(cfg, recs, t.theory)
    plain = {k: (_plain(v.array) if isinstance(v, Column) else v) for k, v in obj.items()}
    want = json.dumps(plain, indent=1, allow_nan=False)
    assert dumps(obj) == want
    assert json.dumps(obj, indent=1, allow_nan=False) == want  # Columns are lists to the stdlib too
    assert obj["act_std"] == plain["act_std"]
    compare, _ = lanes_report([("a", cfg, recs, t.theory), ("b", cfg, recs[:2], t.theory)], single=False)
    assert dumps(compare) == json.dumps(compare, indent=1, allow_nan=False)


def test_empty_and_single_record_reports() -> None:
    t = Trainer(RunConfig(depth=2, width=8))
    one = list(t.history)
    for recs in ([], one):
        obj = run_dict(t.config, recs, t.theory)
        assert dumps(obj) == json.dumps(obj, indent=1, allow_nan=False)
        assert csv_text(t.config, recs) == _reference_csv(t.config, recs)
