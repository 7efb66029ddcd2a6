"""Save and open a run: configuration, recorded history and weights, in a safe format.

One ``.initviz`` file is a zip of ``.npy`` arrays (numpy's NPZ) with a JSON header stored as
bytes; it is read with ``allow_pickle=False``, so opening a file never runs code. It holds, per
lane, every record in the history, the weights, the optimizer state and the batch stream's
position, so an opened run redraws exactly and goes on training exactly as it would have.

A corrupt, truncated, newer-format or pickle-bearing file raises :class:`RunFileError` with a
sentence for a person; nothing is built until the whole file has been read and checked.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from initviz import __version__
from initviz.engine.config import ConfigError, RunConfig
from initviz.engine.lanes import Lanes
from initviz.engine.record import LAYER_FIELDS, StepRecord, freeze
from initviz.engine.report import atomic_open
from initviz.engine.trainer import Trainer

FORMAT = "initviz.saved"
FORMAT_VERSION = 1
SUFFIX = ".initviz"
_HIST = ("act_hist", "act_under", "act_over", "pre_hist", "pre_under", "pre_over",
         "grad_hist", "grad_under", "grad_over")  # fmt: skip
_SCALARS = ("step", "loss", "accuracy", "test_accuracy", "train_seconds", "stats_seconds")


class RunFileError(Exception):
    """A run file that cannot be opened; str() is a full sentence for a person."""


# --- saving -------------------------------------------------------------------------------
def _lane_arrays(prefix: str, t: Trainer) -> dict[str, np.ndarray]:
    recs = list(t.history)
    out: dict[str, np.ndarray] = {}
    for name in _SCALARS:
        out[f"{prefix}rec/{name}"] = np.array([getattr(r, name) for r in recs])
    for name in (*LAYER_FIELDS, *_HIST):
        out[f"{prefix}rec/{name}"] = np.stack([getattr(r, name) for r in recs])
    if recs and all(r.branch_std is not None for r in recs):  # resmlp only
        out[f"{prefix}rec/branch_std"] = np.stack([r.branch_std for r in recs])
    div = [r.diverged_at if r.diverged_at is not None else (-1, -1) for r in recs]
    out[f"{prefix}rec/diverged_at"] = np.array(div, dtype=np.int64).reshape(len(recs), 2)
    for key, value in t.model.state_dict().items():
        out[f"{prefix}model/{key}"] = value.detach().cpu().numpy()
    opt_state = t.optimizer.state_dict()["state"]
    for idx, state in opt_state.items():
        for key, value in state.items():
            arr = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
            out[f"{prefix}opt/{idx}/{key}"] = arr
    out[f"{prefix}stream/generator"] = t.batches._gen.get_state().numpy()
    out[f"{prefix}stream/order"] = t.batches._order.numpy()
    out[f"{prefix}rng"] = t._rng_pending.numpy()
    return out


def save_run(path: Union[str, Path], run: Union[Lanes, Trainer]) -> Path:
    """Write the run to path (SUFFIX added if missing), through a temporary file and a rename."""
    lanes = run if isinstance(run, Lanes) else None
    trainers = lanes.trainers if lanes is not None else [run]
    names = lanes.names if lanes is not None else [run.config.init.label()]
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "written_by": f"initviz {__version__}",
        "lanes": [
            {
                "name": name,
                "config": t.config.to_dict(),
                "step_count": t.step_count,
                "stream_pos": t.batches._pos,
            }
            for name, t in zip(names, trainers)
        ],
    }
    arrays: dict[str, np.ndarray] = {"header": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)}
    for i, t in enumerate(trainers):
        arrays.update(_lane_arrays(f"lane{i}/", t))
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


# --- opening ------------------------------------------------------------------------------
def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        magic = b"PK\x03\x04"  # let np.load below report the precise reason
    if magic != b"PK\x03\x04":
        raise RunFileError(f"{path.name} is not a saved initviz run (not a zip archive)")
    try:
        # our own handle: np.load leaks its file when the zip turns out truncated
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise RunFileError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise RunFileError(f"{path} is a folder, not a saved run") from None
    except PermissionError:
        raise RunFileError(f"{path} cannot be read (permission denied)") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise RunFileError(
                f"{path.name} holds Python objects (pickle), which initviz never writes and will not load"
            ) from None
        raise RunFileError(f"{path.name} is not a saved initviz run or is damaged ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise RunFileError(f"{path.name} is not a saved initviz run, or it is truncated or damaged ({exc})") from None


def _header(arrays: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    raw = arrays.get("header")
    if raw is None or raw.dtype != np.uint8:
        raise RunFileError(f"{name} is not a saved initviz run (no header)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RunFileError(f"{name} has a damaged header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RunFileError(f"{name} is not a saved initviz run")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RunFileError(
            f"{name} was saved by a newer initviz ({header.get('written_by', '?')}, format {version}); "
            f"this version (initviz {__version__}) reads format {FORMAT_VERSION}: please update initviz"
        )
    if not isinstance(header.get("lanes"), list) or not header["lanes"]:
        raise RunFileError(f"{name} holds no run")
    return header


def _records(prefix: str, arrays: dict[str, np.ndarray], trainer: Trainer) -> list[StepRecord]:
    def get(key: str) -> np.ndarray:
        try:
            return arrays[prefix + "rec/" + key]
        except KeyError:
            raise RunFileError(f"the saved run lacks {prefix}rec/{key}") from None

    steps = get("step")
    T, L = len(steps), trainer.config.depth
    recs = []
    div = get("diverged_at")
    for i in range(T):
        fields: dict[str, Any] = {}
        for name in _SCALARS:
            v = get(name)[i]
            fields[name] = int(v) if name == "step" else float(v)
        for name in (*LAYER_FIELDS, *_HIST):
            a = get(name)
            if a.shape[0] != T or a.shape[1] != L:
                raise RunFileError(f"the saved run's {name} has shape {a.shape}, expected ({T}, {L}, ...)")
            fields[name] = freeze(a[i])
        branch = arrays.get(prefix + "rec/branch_std")  # resmlp runs; absent in older files
        if branch is not None and branch.shape == (T, L):
            fields["branch_std"] = freeze(branch[i])
        d = div[i]
        fields["diverged_at"] = None if d[0] < 0 else (int(d[0]), int(d[1]))
        fields["act_spec"], fields["pre_spec"], fields["grad_spec"] = trainer.specs
        recs.append(StepRecord(**fields))
    return recs


def _restore(prefix: str, arrays: dict[str, np.ndarray], lane: dict[str, Any], t: Trainer) -> None:
    model_state = {}
    for key, ref in t.model.state_dict().items():
        arr = arrays.get(f"{prefix}model/{key}")
        if arr is None or tuple(arr.shape) != tuple(ref.shape):
            raise RunFileError(f"the saved weights do not fit the saved configuration ({key})")
        model_state[key] = torch.as_tensor(arr).to(ref.dtype)
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, arr in arrays.items():
        if key.startswith(prefix + "opt/"):
            _, idx, name = key[len(prefix):].split("/")
            opt_state.setdefault(int(idx), {})[name] = torch.as_tensor(arr)
    records = _records(prefix, arrays, t)
    # Everything read and checked: now change the trainer.
    t.model.load_state_dict(model_state)
    sd = t.optimizer.state_dict()
    sd["state"] = opt_state
    t.optimizer.load_state_dict(sd)
    t.batches._gen.set_state(torch.as_tensor(arrays[prefix + "stream/generator"]))
    t.batches._order = torch.as_tensor(arrays[prefix + "stream/order"])
    t.batches._pos = int(lane["stream_pos"])
    t._rng_pending = torch.as_tensor(arrays[prefix + "rng"])  # the RNG before the pending pass
    t.step_count = int(lane["step_count"])
    # the gradients of the next update: forward/backward on the pending batch, unrecorded;
    # then the saved buffers again (BatchNorm's running stats must not move twice)
    t.rewind_pending_batch()
    t.model.load_state_dict(model_state)
    t.history.clear()
    for r in records:
        t.history.append(r)
    t.diverged_at = records[-1].diverged_at if records else None


def load_run(path: Union[str, Path]) -> Lanes:
    """Open a saved run as Lanes (one lane for a single run). Raises RunFileError."""
    path = Path(path)
    arrays = _read_arrays(path)
    header = _header(arrays, path.name)
    try:
        configs = [RunConfig.from_dict(lane["config"]) for lane in header["lanes"]]
    except (ConfigError, KeyError, TypeError) as exc:
        raise RunFileError(f"{path.name} has an invalid configuration: {exc}") from None
    try:
        lanes = Lanes(configs, names=[str(lane.get("name", i)) for i, lane in enumerate(header["lanes"])])
        for i, (lane, t) in enumerate(zip(header["lanes"], lanes.trainers)):
            _restore(f"lane{i}/", arrays, lane, t)
    except RunFileError:
        raise
    except (ConfigError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise RunFileError(f"{path.name} is damaged: {exc}") from None
    return lanes


__all__ = ["FORMAT_VERSION", "RunFileError", "SUFFIX", "load_run", "save_run"]
