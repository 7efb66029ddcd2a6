"""Save and open a run: configuration, recorded history and weights, in a safe format.

One ``.initviz`` file is a zip of ``.npy`` arrays (numpy's NPZ) with a JSON header stored as
bytes; it is read with ``allow_pickle=False``, so opening a file never runs code. It holds, per
lane, every record in the history, the weights, the optimizer state and the batch stream's
position, so an opened run redraws exactly and goes on training exactly as it would have.

Opening assumes the file may be hostile (a student's email, a damaged download): every failure
is one :class:`RunFileError` with a sentence for a person, and nothing is read or allocated before
it has been bounded. Only regular files are opened; the zip directory, every member's compression
method (stored or deflate, what numpy writes) and declared size, the header (a small JSON text),
the memory the described run needs, every array's npy header (shape and dtype as the configuration
implies) and data (read in chunks, to the byte) and every value that indexes anything are checked
in that order, and only then are the networks built.
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
# Limits. A file is checked in this order, and nothing larger than what the previous step
# allows is ever read or allocated: the file and its zip directory, each member's compression
# method and declared size, the header (a small JSON text), the configurations it describes
# against the memory budget, every member's npy header against the shape and dtype the
# configuration implies, every member's data with a streaming limit, the values that index
# anything, and only then the networks.
MAX_FILE_BYTES = 8 * 2**30  # absolute cap on the file and on its total uncompressed size
MAX_MEMBERS = 20_000  # 4 lanes x depth 200 x (7 tensors + 3 optimizer states) is ~15,000
MAX_DIRECTORY_BYTES = 8 * 2**20  # the zip's central directory
MAX_HEADER_BYTES = 1 * 2**20  # the JSON header (a few KB in practice)
MAX_HEADER_DEPTH = 16  # the header nests 4 levels
MAX_NPY_HEADER = 4096  # numpy writes 128 bytes
MAX_NAME_CHARS = 80  # a lane's name; longer names are cut on load
MAX_STEPS = 10**12
CHUNK = 1 << 20
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}  # what numpy writes
METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}


def _fail(message: str) -> RunFileError:
    return RunFileError(message)


def _lane_name(raw: Any, i: int) -> str:
    """A lane name from a file: plain one-line text of at most MAX_NAME_CHARS characters."""
    from initviz.engine.safe_io import plain

    if not isinstance(raw, str):
        raw = f"lane {i + 1}"
    name = plain(raw, MAX_NAME_CHARS).strip()
    return name or f"lane {i + 1}"


class _Expect:
    """The dtype(s) and shape a member must have; None in the shape is the lane's record count."""

    def __init__(self, shape: tuple, *dtypes: Any) -> None:
        self.shape = shape
        self.dtypes = tuple(np.dtype(d) for d in dtypes)

    def shape_for(self, T: int) -> tuple[int, ...]:
        return tuple(T if d is None else d for d in self.shape)

    def nbytes(self, T: int) -> int:
        return int(np.prod(self.shape_for(T), dtype=np.int64)) * max(d.itemsize for d in self.dtypes)


def _lane_manifest(prefix: str, cfg: RunConfig) -> tuple[dict[str, _Expect], dict[str, _Expect]]:
    """(required members, optional optimizer members) of one lane, from its configuration alone.

    The network's tensor shapes come from building it on torch's meta device: no memory.
    """
    from initviz.engine.data import dataset_info
    from initviz.engine.model import MODELS
    from initviz.engine.probes import hist_specs

    info = dataset_info(cfg.dataset, cfg.input_dim)  # gaussian inputs: input_dim features
    with torch.device("meta"):
        meta = MODELS[cfg.arch](info.n_features, info.n_classes, cfg)
    req: dict[str, _Expect] = {}
    L = cfg.depth
    for name in _SCALARS:
        req[f"{prefix}rec/{name}"] = _Expect((None,), np.int64 if name == "step" else np.float64)
    bins = dict(zip(("act_hist", "pre_hist", "grad_hist"), (s.bins for s in hist_specs(cfg.activation))))
    for name in (*LAYER_FIELDS, *_HIST):
        if name in bins:
            req[f"{prefix}rec/{name}"] = _Expect((None, L, bins[name]), np.float32)
        else:
            req[f"{prefix}rec/{name}"] = _Expect((None, L), np.float64)
    req[f"{prefix}rec/diverged_at"] = _Expect((None, 2), np.int64)
    if cfg.arch == "resmlp":  # every resmlp record has its branches' std
        req[f"{prefix}rec/branch_std"] = _Expect((None, L), np.float64)
    for key, t in meta.state_dict().items():
        req[f"{prefix}model/{key}"] = _Expect(tuple(t.shape), _np_dtype(t.dtype))
    opt: dict[str, _Expect] = {}
    for idx, p in enumerate(meta.parameters()):
        shape, dt = tuple(p.shape), _np_dtype(p.dtype)
        if cfg.optimizer == "adam":
            opt[f"{prefix}opt/{idx}/step"] = _Expect((), np.float32, np.float64)
            opt[f"{prefix}opt/{idx}/exp_avg"] = _Expect(shape, dt)
            opt[f"{prefix}opt/{idx}/exp_avg_sq"] = _Expect(shape, dt)
        elif cfg.momentum > 0:
            opt[f"{prefix}opt/{idx}/momentum_buffer"] = _Expect(shape, dt)
    state = torch.Generator().get_state()
    req[f"{prefix}stream/generator"] = _Expect(tuple(state.shape), np.uint8)
    req[f"{prefix}stream/order"] = _Expect((_n_train(cfg.dataset),), np.int64)
    req[f"{prefix}rng"] = _Expect(tuple(state.shape), np.uint8)
    return req, opt


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return torch.empty((), dtype=dtype).numpy().dtype


def _n_train(dataset: str) -> int:
    from initviz.engine.budget import n_train

    return n_train(dataset)


def _max_records(req: dict[str, _Expect], prefix: str, n_lanes: int) -> int:
    """The most records a lane's history can hold: History's capacity for this record size."""
    from initviz.engine.budget import MIN_RECORDS
    from initviz.engine.record import HISTORY_BYTES

    per_record = sum(e.nbytes(1) for k, e in req.items() if k.startswith(prefix + "rec/")
                     and k.rsplit("/", 1)[1] in (*LAYER_FIELDS, *_HIST))  # fmt: skip
    return max(MIN_RECORDS, HISTORY_BYTES // n_lanes // max(per_record, 1)) + 1


def _read_exact(f: Any, n: int, what: str) -> bytes:
    out = f.read(n)
    if len(out) != n:
        raise _fail(f"{what} is truncated")
    return out


def _npy_header(f: Any, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse a member's npy header from a stream, reading at most MAX_NPY_HEADER bytes."""
    import io

    from numpy.lib import format as npy

    start = _read_exact(f, 8, what)
    if start[:6] != npy.MAGIC_PREFIX:
        raise _fail(f"{what} is not a numpy array")
    major = start[6]
    if major == 1:
        size_bytes = _read_exact(f, 2, what)
        hlen = int.from_bytes(size_bytes, "little")
    elif major in (2, 3):
        size_bytes = _read_exact(f, 4, what)
        hlen = int.from_bytes(size_bytes, "little")
    else:
        raise _fail(f"{what} uses numpy format version {major}, which initviz does not read")
    if hlen > MAX_NPY_HEADER:
        raise _fail(f"{what} has an array header of {hlen} bytes, far more than numpy writes")
    body = _read_exact(f, hlen, what)
    buf = io.BytesIO(start + size_bytes + body)
    version = npy.read_magic(buf)
    reader = npy.read_array_header_1_0 if version[0] == 1 else npy.read_array_header_2_0
    shape, fortran, dtype = reader(buf, max_header_size=MAX_NPY_HEADER)
    return shape, fortran, dtype


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, expect: _Expect, T: int, what: str) -> np.ndarray:
    """One array, read in chunks: header checked against ``expect`` before any data is read."""
    want = expect.shape_for(T)
    with zf.open(info) as f:
        shape, fortran, dtype = _npy_header(f, what)
        if dtype.hasobject:
            raise _fail(f"{what} holds Python objects (pickle), which initviz never writes and will not load")
        if dtype not in expect.dtypes:
            raise _fail(f"{what} holds {dtype} data, expected {expect.dtypes[0]}")
        if fortran:
            raise _fail(f"{what} is stored in Fortran order, which initviz never writes")
        if tuple(shape) != want:
            raise _fail(f"{what} has shape {tuple(shape)}, expected {want}")
        out = np.empty(want, dtype=dtype)
        view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(b"")
        pos, n = 0, out.nbytes
        while pos < n:
            chunk = f.read(min(CHUNK, n - pos))
            if not chunk:
                raise _fail(f"{what} is truncated")
            view[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        if f.read(1):  # also makes zipfile check the member's CRC
            raise _fail(f"{what} holds more data than its shape says")
    return out


def _parse_header(raw: np.ndarray, name: str) -> dict[str, Any]:
    from initviz.engine.safe_io import InputFileError, parse_json, plain

    try:
        header = parse_json(raw.tobytes(), "its header", MAX_HEADER_DEPTH)
    except InputFileError as exc:
        raise _fail(f"{name} is damaged: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _fail(f"{name} is not a saved initviz run")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(f"{name} has a damaged header (format version {plain(version, 20)!r})")
    if version > FORMAT_VERSION:
        raise _fail(
            f"{name} was saved by a newer initviz ({plain(header.get('written_by', '?'), 40)}, format {version}); "
            f"this version (initviz {__version__}) reads format {FORMAT_VERSION}: please update initviz"
        )
    lanes = header.get("lanes")
    if not isinstance(lanes, list) or not lanes:
        raise _fail(f"{name} holds no run")
    from initviz.engine.lanes import MAX_LANES

    if len(lanes) > MAX_LANES:
        raise _fail(f"{name} holds {len(lanes)} lanes; initviz runs at most {MAX_LANES} side by side")
    for i, lane in enumerate(lanes):
        if not isinstance(lane, dict) or not isinstance(lane.get("config"), dict):
            raise _fail(f"{name} has a damaged header (lane {i + 1} has no configuration)")
        for key, lo, hi in (("step_count", 0, MAX_STEPS), ("stream_pos", 1, 10**7)):
            v = lane.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise _fail(f"{name} has a damaged header (lane {i + 1}'s {key} is {plain(v, 30)!r})")
    if len({lane["step_count"] for lane in lanes}) != 1:
        raise _fail(f"{name} is damaged: its lanes are at different steps, but lanes train in lockstep")
    return header


def _open_zip(f: Any, name: str) -> zipfile.ZipFile:
    """The zip directory, read only after its size and entry count were checked."""
    size = f.seek(0, 2)
    if size > MAX_FILE_BYTES:
        raise _fail(f"{name} is {size / 2**30:.1f} GB, larger than any saved run initviz can open")
    f.seek(0)
    if f.read(4) != b"PK\x03\x04":
        raise _fail(f"{name} is not a saved initviz run (not a zip archive)")
    end = zipfile._EndRecData(f)  # the end-of-directory record, zip64 included
    if end is None:
        raise _fail(f"{name} is not a saved initviz run, or it is truncated or damaged (no zip directory)")
    entries, dir_size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > MAX_MEMBERS or dir_size > MAX_DIRECTORY_BYTES:
        raise _fail(f"{name} lists {entries} arrays in {dir_size} bytes, far more than a saved run holds")
    f.seek(0)
    return zipfile.ZipFile(f)


def _checked_infos(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        member = info.filename
        if member in infos:
            raise _fail(f"{name} is damaged: it holds {member[:60]!r} twice")
        if info.flag_bits & 0x1:
            raise _fail(f"{name} is encrypted, which initviz never writes")
        if info.compress_type not in METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise _fail(f"{name} holds an array compressed with {method}, which initviz never writes and will not read")
        if info.file_size > MAX_FILE_BYTES or info.compress_size > MAX_FILE_BYTES:
            raise _fail(f"{name} declares an array of {info.file_size} bytes, larger than initviz opens")
        infos[member] = info
    return infos


def _check_declared(infos: dict[str, zipfile.ZipInfo], sizes: dict[str, int], name: str) -> None:
    """Each member's declared sizes against what its shape needs; the total against the cap."""
    for member, info in infos.items():
        data = sizes.get(member)
        if data is None:
            raise _fail(f"{name} holds an array initviz never writes ({member[:60]!r})")
        if not data <= info.file_size <= data + MAX_NPY_HEADER + 16:
            raise _fail(f"{name} is damaged: {member[:60]} declares {info.file_size} bytes where its "
                        f"array needs {data}")  # fmt: skip
        if info.compress_size > info.file_size + info.file_size // 100 + 1024:  # deflate's worst case
            raise _fail(f"{name} is damaged: {member[:60]} is larger compressed than uncompressed")
    total = sum(info.file_size for info in infos.values())
    if total > MAX_FILE_BYTES:
        raise _fail(f"{name} would unpack to {total / 2**30:.1f} GB, more than initviz opens")


def _check_values(prefix: str, arrays: dict[str, np.ndarray], lane: dict[str, Any], cfg: RunConfig, name: str) -> None:
    """The values that index or count anything: steps, divergence marks, the batch order."""
    steps = arrays[prefix + "rec/step"]
    step_count = lane["step_count"]
    if steps[0] < 0 or (len(steps) > 1 and not np.all(np.diff(steps) > 0)):
        raise _fail(f"{name} is damaged: its recorded steps are not in order")
    last = int(steps[-1])
    if not last <= step_count < last + cfg.record_every:
        raise _fail(f"{name} is damaged: it is at step {step_count} but its last record is of step {last}")
    div = arrays[prefix + "rec/diverged_at"]
    none = (div[:, 0] == -1) & (div[:, 1] == -1)
    real = (div[:, 0] >= 0) & (div[:, 0] <= steps) & (div[:, 1] >= 0) & (div[:, 1] <= cfg.depth)
    if not np.all(none | real):
        raise _fail(f"{name} is damaged: its divergence marks point outside the run")
    order = arrays[prefix + "stream/order"]
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        raise _fail(f"{name} is damaged: its batch order is not a shuffle of the training set")
    batch = min(cfg.batch_size, len(order))
    if not batch <= lane["stream_pos"] <= len(order):
        raise _fail(f"{name} is damaged: its position in the batch stream ({lane['stream_pos']}) is outside it")
    for key, arr in arrays.items():
        if key.startswith(prefix + "opt/") and key.endswith("/step"):
            v = float(arr)
            if not (np.isfinite(v) and 0 <= v <= MAX_STEPS and v == int(v)):
                raise _fail(f"{name} is damaged: an optimizer step count is {v}")


def _read_arrays(f: Any, name: str) -> tuple[dict[str, Any], list[RunConfig], list[str], dict[str, np.ndarray]]:
    """(header, configs, names, arrays) of an open file, every check of the module docstring done."""
    from initviz.engine.budget import check_memory
    from initviz.engine.lanes import check_lanes

    zf = _open_zip(f, name)
    infos = _checked_infos(zf, name)
    head = infos.get("header.npy")
    if head is None:
        raise _fail(f"{name} is not a saved initviz run (no header)")
    if head.file_size > MAX_HEADER_BYTES + MAX_NPY_HEADER:
        raise _fail(f"{name}'s header declares {head.file_size} bytes, far more than a saved run's header")
    n = head.file_size - 128  # numpy's header for a 1-D uint8 array is 128 bytes
    raw = _read_member(zf, head, _Expect((n,), np.uint8), 0, f"{name}'s header")
    header = _parse_header(raw, name)
    try:
        configs = [RunConfig.from_dict(lane["config"]) for lane in header["lanes"]]
        check_lanes(configs)
    except ConfigError as exc:
        raise _fail(f"{name} has an invalid configuration: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _fail(f"{name} has an invalid configuration ({type(exc).__name__})") from None
    try:
        check_memory(configs)
    except ConfigError as exc:
        raise _fail(f"{name} describes a run too large for this machine: {exc}") from None
    names = [_lane_name(lane.get("name"), i) for i, lane in enumerate(header["lanes"])]

    expected: dict[str, tuple[_Expect, int]] = {}
    for i, cfg in enumerate(configs):
        prefix = f"lane{i}/"
        req, opt = _lane_manifest(prefix, cfg)
        step_info = infos.get(prefix + "rec/step.npy")
        if step_info is None:
            raise _fail(f"{name} is damaged: it lacks {prefix}rec/step")
        if step_info.file_size > _max_records(req, prefix, len(configs)) * 8 + MAX_NPY_HEADER:
            raise _fail(f"{name} is damaged: lane {i + 1} declares more records than a run keeps")
        with zf.open(step_info) as sf:
            shape, _, _ = _npy_header(sf, f"{name}'s {prefix}rec/step")
        T = int(shape[0]) if len(shape) == 1 else -1
        if not 1 <= T <= _max_records(req, prefix, len(configs)):
            raise _fail(f"{name} is damaged: lane {i + 1} holds {T} records")
        for key, e in req.items():
            if key + ".npy" not in infos:
                raise _fail(f"{name} is damaged: it lacks {key}")
            expected[key] = (e, T)
        present = {k for k in opt if k + ".npy" in infos}
        if present and present != set(opt):
            raise _fail(f"{name} is damaged: lane {i + 1}'s optimizer state is incomplete")
        for key in present:
            expected[key] = (opt[key], T)
    expected["header"] = (_Expect((n,), np.uint8), 0)
    _check_declared(infos, {k + ".npy": e.nbytes(T) for k, (e, T) in expected.items()}, name)
    arrays = {key: _read_member(zf, infos[key + ".npy"], e, T, f"{name}'s {key}") for key, (e, T) in expected.items()}
    for i, (lane, cfg) in enumerate(zip(header["lanes"], configs)):
        _check_values(f"lane{i}/", arrays, lane, cfg, name)
    return header, configs, names, arrays


def _records(prefix: str, arrays: dict[str, np.ndarray], trainer: Trainer) -> list[StepRecord]:
    steps = arrays[prefix + "rec/step"]
    div = arrays[prefix + "rec/diverged_at"]
    recs = []
    for i in range(len(steps)):
        fields: dict[str, Any] = {}
        for name in _SCALARS:
            v = arrays[prefix + "rec/" + name][i]
            fields[name] = int(v) if name == "step" else float(v)
        for name in (*LAYER_FIELDS, *_HIST):
            fields[name] = freeze(arrays[prefix + "rec/" + name][i])
        branch = arrays.get(prefix + "rec/branch_std")  # resmlp runs; absent in older files
        if branch is not None and branch.shape == (len(steps), trainer.config.depth):
            fields["branch_std"] = freeze(branch[i])
        d = div[i]
        fields["diverged_at"] = None if d[0] < 0 else (int(d[0]), int(d[1]))
        fields["act_spec"], fields["pre_spec"], fields["grad_spec"] = trainer.specs
        recs.append(StepRecord(**fields))
    return recs


def _restore(prefix: str, arrays: dict[str, np.ndarray], lane: dict[str, Any], t: Trainer) -> None:
    model_state = {}
    for key, ref in t.model.state_dict().items():
        model_state[key] = torch.as_tensor(arrays[f"{prefix}model/{key}"]).to(ref.dtype)
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, arr in arrays.items():
        if key.startswith(prefix + "opt/"):
            _, idx, name = key[len(prefix):].split("/")
            opt_state.setdefault(int(idx), {})[name] = torch.as_tensor(arr)
    records = _records(prefix, arrays, t)
    t.model.load_state_dict(model_state)
    sd = t.optimizer.state_dict()
    sd["state"] = opt_state
    t.optimizer.load_state_dict(sd)
    t.batches._gen.set_state(torch.as_tensor(arrays[prefix + "stream/generator"]))
    t.batches._order = torch.as_tensor(arrays[prefix + "stream/order"])
    t.batches._pos = int(lane["stream_pos"])
    t._rng_pending = torch.as_tensor(arrays[prefix + "rng"])  # the RNG before the pending pass
    torch.Generator().set_state(t._rng_pending)  # refuses a damaged RNG state now, not at Play
    t.step_count = int(lane["step_count"])
    # the gradients of the next update: forward/backward on the pending batch, unrecorded;
    # then the saved buffers again (BatchNorm's running stats must not move twice)
    t.rewind_pending_batch()
    t.model.load_state_dict(model_state)
    t.history.clear()
    for r in records:
        t.history.append(r)
    t.diverged_at = records[-1].diverged_at


def load_run(path: Union[str, Path]) -> Lanes:
    """Open a saved run as Lanes (one lane for a single run).

    Raises RunFileError, and nothing else, for any file: missing, unreadable, not a regular file,
    damaged, hostile (bombs, huge declared shapes) or too large for this machine.
    """
    from initviz.engine.safe_io import InputFileError, open_regular

    from initviz.engine.safe_io import plain

    path = Path(path)
    name = plain(path.name, 120)  # every message names the file: one line, bounded
    try:
        with open_regular(path, "the run file") as f:
            header, configs, names, arrays = _read_arrays(f, name)
        lanes = Lanes(configs, names=names)
        for i, (lane, t) in enumerate(zip(header["lanes"], lanes.trainers)):
            _restore(f"lane{i}/", arrays, lane, t)
        return lanes
    except RunFileError:
        raise
    except InputFileError as exc:
        raise RunFileError(str(exc)) from None
    except ConfigError as exc:
        raise RunFileError(f"{name} cannot be opened: {exc}") from None
    except zipfile.BadZipFile as exc:
        raise RunFileError(f"{name} is not a saved initviz run, or it is truncated or damaged ({exc})") from None
    except MemoryError:
        raise RunFileError(f"{name} needs more memory than this machine has free") from None
    except OSError as exc:
        raise RunFileError(f"{name} cannot be read ({exc.strerror or type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file must never escape as anything else
        raise RunFileError(f"{name} is damaged and cannot be opened ({type(exc).__name__}: {str(exc)[:120]})") from None


__all__ = ["FORMAT_VERSION", "MAX_NAME_CHARS", "RunFileError", "SUFFIX", "load_run", "save_run"]
