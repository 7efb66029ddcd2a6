"""A corpus of hostile and damaged run files, built from one valid file by the tests themselves.

Each case is (label, path, expected): "refuse" (load_run must raise RunFileError) or "open" (it
must open, and train). Bombs have small real sizes and large declared ones, so building and
refusing the corpus never needs much memory. ``python tests/runs/hostile_corpus.py`` prints the
counts (tried / refused / opened / escaped) and this process's peak RSS while refusing.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

SMALL = dict(depth=4, width=16, batch_size=32)
Case = tuple[str, Path, str]


def valid_file(folder: Path, name: str = "valid", **config: object) -> Path:
    from initviz.engine.config import RunConfig
    from initviz.engine.lanes import Lanes
    from initviz.engine.store import save_run

    lanes = Lanes([RunConfig(**{**SMALL, **config})])  # type: ignore[arg-type]
    lanes.step(3)
    return save_run(folder / name, lanes)


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def header_of(path: Path) -> dict:
    raw = members(path)["header.npy"]
    return json.loads(np.load(io.BytesIO(raw)).tobytes())


def header_npy(header: object) -> bytes:
    text = header if isinstance(header, (str, bytes)) else json.dumps(header)
    data = text.encode("utf-8") if isinstance(text, str) else text
    return npy(np.frombuffer(data, dtype=np.uint8))


def write_zip(path: Path, items: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in items.items():
            z.writestr(name, data)
    return path


def variant(
    src: Path,
    dst: Path,
    header: Optional[Callable[[dict], object]] = None,
    drop: tuple[str, ...] = (),
    put: Optional[dict[str, bytes]] = None,
    method: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A copy of src with the header edited, members dropped or replaced."""
    items = members(src)
    if header is not None:
        h = header_of(src)
        new = header(h)
        items["header.npy"] = header_npy(h if new is None else new)
    for name in drop:
        items.pop(name)
    items.update(put or {})
    return write_zip(dst, items, method)


def declare_size(path: Path, member: str, size: int) -> Path:
    """Patch the central directory so that member claims `size` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    sig = b"PK\x01\x02"
    pos = data.find(sig)
    while pos >= 0:
        nlen = struct.unpack_from("<H", data, pos + 28)[0]
        name = bytes(data[pos + 46 : pos + 46 + nlen]).decode()
        if name == member:
            struct.pack_into("<I", data, pos + 24, size)
        pos = data.find(sig, pos + 4)
    path.write_bytes(bytes(data))
    return path


def _edit_lane(key: str, value: object) -> Callable[[dict], None]:
    def edit(h: dict) -> None:
        h["lanes"][0][key] = value

    return edit


def _edit_config(**changes: object) -> Callable[[dict], None]:
    def edit(h: dict) -> None:
        h["lanes"][0]["config"].update(changes)

    return edit


def build(folder: Path) -> list[Case]:
    """Every hand-made case; the random ones live in the hypothesis tests."""
    folder.mkdir(parents=True, exist_ok=True)
    good = valid_file(folder)
    adam = valid_file(folder, "adam", optimizer="adam", lr=0.001, batchnorm=True)
    items = members(good)
    weight = "lane0/model/blocks.1.linear.weight.npy"
    cases: list[Case] = [("valid", good, "open"), ("valid adam+bn", adam, "open")]

    def add(label: str, path: Path, expected: str = "refuse") -> None:
        cases.append((label, path, expected))

    def p(label: str) -> Path:
        return folder / (label.replace(" ", "_").replace("/", "_") + ".initviz")

    # bombs: each compression method, a small real size and a large declared one
    zeros = npy(np.zeros((16, 16), np.float32)) + b"\0" * (4 << 20)  # 4 MB real
    for method, mname in ((zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflate"),
                          (zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")):  # fmt: skip
        f = variant(good, p(f"bomb {mname}"), put={weight: zeros}, method=method)
        add(f"bomb {mname} (4 MB real)", f)
        f2 = write_zip(p(f"bomb {mname} declared"), {**items, weight: items[weight]}, method)
        add(f"bomb {mname} declares 4 GB", declare_size(f2, weight, 0xFFFFFFF0))
    # a member that declares the right size but inflates to much more than it
    f = variant(good, p("bomb lies about its size"), put={weight: zeros})
    add("deflate member lies about its size", declare_size(f, weight, len(items[weight])))
    # a header that inflates to 64 MB
    add("header bomb", variant(good, p("header bomb"), put={"header.npy": npy(np.zeros(64 << 20, np.uint8))}))
    add("header declares 4 GB", declare_size(variant(good, p("header declared")), "header.npy", 0xFFFFFFF0))

    # header-only files describing networks far too large, or missing their arrays
    def header_only(label: str, lanes: int, **cfg: object) -> None:
        h = header_of(good)
        h["lanes"] = [{**h["lanes"][0], "config": {**h["lanes"][0]["config"], **cfg}} for _ in range(lanes)]
        add(label, write_zip(p(label), {"header.npy": header_npy(h)}))

    header_only("header only 4 lanes depth 200 x width 4096", 4, depth=200, width=4096, batch_size=4096)
    header_only("header only depth 200 x width 4096", 1, depth=200, width=4096)
    header_only("header only depth 20 x width 1024", 1, depth=20, width=1024)
    header_only("header only small", 1)

    # inconsistent counts, shapes and values
    h_cases: dict[str, Callable[[dict], object]] = {
        "step count below the records": _edit_lane("step_count", 1),
        "step count far above the records": _edit_lane("step_count", 10**6),
        "negative step count": _edit_lane("step_count", -3),
        "huge step count": _edit_lane("step_count", 10**400),
        "float step count": _edit_lane("step_count", 3.5),
        "bool step count": _edit_lane("step_count", True),
        "negative stream position": _edit_lane("stream_pos", -32),
        "stream position past the order": _edit_lane("stream_pos", 10**6),
        "string stream position": _edit_lane("stream_pos", "32"),
        "config depth differs from arrays": _edit_config(depth=5),
        "config width differs from arrays": _edit_config(width=17),
        "config optimizer adam with sgd state": _edit_config(optimizer="adam"),
        "config momentum 0 with a momentum buffer": _edit_config(momentum=0.0),
        "config null init": _edit_config(init=None),
        "config depth 0": _edit_config(depth=0),
        "config unknown key": _edit_config(colour="red"),
        "config dataset list": _edit_config(dataset=["spirals"]),
        "config 5000-char dataset": _edit_config(dataset="x" * 5000),
        "lanes empty": lambda h: {**h, "lanes": []},
        "lanes a dict": lambda h: {**h, "lanes": {"0": h["lanes"][0]}},
        "five lanes": lambda h: {**h, "lanes": h["lanes"] * 5},
        "two lanes, one of arrays": lambda h: {**h, "lanes": h["lanes"] * 2},
        "lane a string": lambda h: {**h, "lanes": ["lane"]},
        "lane without config": lambda h: {**h, "lanes": [{"name": "x"}]},
        "version 0": lambda h: {**h, "version": 0},
        "version a string": lambda h: {**h, "version": "1"},
        "newer version with an HTML written_by": lambda h: {**h, "version": 2, "written_by": "<a href='https://x.example'>click</a>" * 50},
        "format missing": lambda h: {k: v for k, v in h.items() if k != "format"},
        "header a list": lambda h: [h],
        "header nested 10,000 deep": lambda h: "[" * 10_000 + "]" * 10_000,
        "header nested inside config 40 deep": _edit_config(init={"scheme": json.loads("[" * 40 + "]" * 40)}),
        "header not UTF-8": lambda h: b"\xff\xfe" + json.dumps(h).encode("utf-16-le"),
        "header a 5000-digit number": lambda h: "1" * 5000,
        "header NaN step count": lambda h: json.dumps(h).replace('"step_count": 3', '"step_count": NaN'),
    }
    for label, edit in h_cases.items():
        add(label, variant(good, p(label), header=edit))
    # same shapes, another activation: a consistent file that opens (and trains as relu)
    add("config activation differs", variant(good, p("relu"), header=_edit_config(activation="relu")), "open")

    rec = "lane0/rec/"
    T = 4
    put_cases: dict[str, dict[str, bytes]] = {
        "empty history": {f"{rec}{k}.npy": npy(np.load(io.BytesIO(v))[:0]) for k, v in
                          ((n[len(rec):-4], d) for n, d in items.items() if n.startswith(rec))},  # fmt: skip
        "records disagree on their count": {f"{rec}loss.npy": npy(np.zeros(T + 1))},
        "steps out of order": {f"{rec}step.npy": npy(np.array([0, 2, 1, 3]))},
        "negative first step": {f"{rec}step.npy": npy(np.array([-5, 1, 2, 3]))},
        "divergence mark outside the network": {f"{rec}diverged_at.npy": npy(np.array([[0, 99]] * T))},
        "divergence mark negative": {f"{rec}diverged_at.npy": npy(np.array([[-7, 2]] * T))},
        "histogram with wrong bins": {f"{rec}act_hist.npy": npy(np.zeros((T, 4, 199), np.float32))},
        "layer stats of wrong depth": {f"{rec}act_std.npy": npy(np.zeros((T, 3)))},
        "weights of wrong shape": {weight: npy(np.zeros((16, 15), np.float32))},
        "weights as float64": {weight: npy(np.zeros((16, 16), np.float64))},
        "weights in Fortran order": {weight: npy(np.asfortranarray(np.zeros((16, 16), np.float32)))},
        "weights as objects (pickle)": {weight: npy(np.array([{"x": 1}] * 256, dtype=object).reshape(16, 16))},
        "momentum buffer of wrong shape": {"lane0/opt/1/momentum_buffer.npy": npy(np.zeros((3,), np.float32))},
        "batch order not a permutation": {"lane0/stream/order.npy": npy(np.full(960, 5000, np.int64))},
        "batch order too short": {"lane0/stream/order.npy": npy(np.arange(10, dtype=np.int64))},
        "generator state garbage": {"lane0/stream/generator.npy": npy(np.full(5056, 255, np.uint8))},
        "dropout RNG state garbage": {"lane0/rng.npy": npy(np.full(5056, 255, np.uint8))},
        "an extra member": {"lane0/evil.npy": npy(np.zeros(3))},
        "a path-like extra member": {"../../etc/passwd": b"root"},
        "npy header of 1 MB": {weight: b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 20) + b" " * (1 << 20)},
        "npy version 9": {weight: b"\x93NUMPY\x09\x00" + items[weight][8:]},
        "npy not numpy": {weight: b"hello world" * 10},
        "npy truncated data": {weight: items[weight][:-40]},
        "npy extra data": {weight: items[weight] + b"\0" * 64},
        "npy header literal bomb": {weight: npy(np.zeros((16, 16), np.float32))[:10] + b"{'descr': '<f4', 'fortran_order': False, 'shape': (" + b"(" * 500 + b")" * 500 + b")}\n"},
    }
    for label, put in put_cases.items():
        add(label, variant(good, p(label), put=put))
    add("missing weights", variant(good, p("missing weights"), drop=(weight,)))
    add("missing header", variant(good, p("missing header"), drop=("header.npy",)))
    opt = [n for n in items if n.startswith("lane0/opt/")]
    add("optimizer state incomplete", variant(good, p("optimizer state incomplete"), drop=tuple(opt[:2])))
    add("no optimizer state at all", variant(good, p("no optimizer state"), drop=tuple(opt)), "open")
    adam_opt = [n for n in members(adam) if n.endswith("/step.npy") and "/opt/" in n]
    add("adam step negative", variant(adam, p("adam step negative"), put={adam_opt[0]: npy(np.array(-1.0, np.float32))}))
    add("adam step NaN", variant(adam, p("adam step nan"), put={adam_opt[0]: npy(np.array(np.nan, np.float32))}))
    dup = p("duplicate member")
    with zipfile.ZipFile(dup, "w") as z:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, data in items.items():
                z.writestr(name, data)
            z.writestr(weight, data)
    add("duplicate member", dup)
    enc = bytearray(good.read_bytes())  # set the "encrypted" flag of every entry
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = enc.find(sig)
        while pos >= 0:
            enc[pos + off] |= 1
            pos = enc.find(sig, pos + 4)
    (folder / "encrypted.initviz").write_bytes(bytes(enc))
    add("encrypted members", folder / "encrypted.initviz")

    # names: long, HTML, control characters; they open with the name made plain and capped
    for label, name in (("100,000-char name", "W" * 100_000), ("HTML name", "<img src='file:///etc/x.png'><b>bold</b>"),
                        ("formula name", "=HYPERLINK(\"https://x.example\",\"click\")"),
                        ("control chars name", "a\nb\x00c\x1b[31m"), ("not a string name", 12)):  # fmt: skip
        add(label, variant(good, p(label), header=_edit_lane("name", name)), "open")

    # not zips, truncated, empty, not regular files
    (folder / "empty.initviz").write_bytes(b"")
    add("empty file", folder / "empty.initviz")
    (folder / "text.initviz").write_text("hello")
    add("a text file", folder / "text.initviz")
    raw = good.read_bytes()
    for frac in (0.1, 0.5, 0.9, 0.99):
        f = folder / f"truncated_{frac}.initviz"
        f.write_bytes(raw[: int(len(raw) * frac)])
        add(f"truncated at {frac:.0%}", f)
    f = folder / "zip directory claims 70,000 entries.initviz"
    data = bytearray(raw)
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, eocd + 8, 65535, 65535)
    f.write_bytes(bytes(data))
    add("zip directory claims 65,535 entries", f)
    (folder / "a folder.initviz").mkdir(exist_ok=True)
    add("a folder", folder / "a folder.initviz")
    add("missing file", folder / "missing.initviz")
    add("/dev/zero", Path("/dev/zero"))
    import os

    fifo = folder / "fifo.initviz"
    if not fifo.exists():
        os.mkfifo(fifo)
    add("a FIFO", fifo)
    return cases


def run(cases: list[Case]) -> dict[str, int]:
    """Open every case through the engine; count what happened (escaped = anything not expected)."""
    from initviz.engine.store import RunFileError, load_run

    counts = {"tried": 0, "refused": 0, "opened": 0, "escaped": 0, "unexpected": 0}
    for label, path, expected in cases:
        counts["tried"] += 1
        try:
            lanes = load_run(path)
            lanes.step(1)
        except RunFileError:
            got = "refuse"
            counts["refused"] += 1
        except Exception as exc:  # noqa: BLE001
            print(f"ESCAPED {label}: {type(exc).__name__}: {exc}", file=sys.stderr)
            counts["escaped"] += 1
            continue
        else:
            got = "open"
            counts["opened"] += 1
        if got != expected and expected != "either":
            print(f"UNEXPECTED {label}: {got}, expected {expected}", file=sys.stderr)
            counts["unexpected"] += 1
    return counts


def random_damage(folder: Path, n: int, seed: int = 0) -> dict[str, dict[str, int]]:
    """Counts for n single-bit flips and n 16-byte overwrites of a valid file (seeded)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = valid_file(folder).read_bytes()
    rng = np.random.default_rng(seed)
    out = {}
    for kind in ("bit flip", "16-byte overwrite"):
        cases = []
        for k in range(n):
            data = bytearray(raw)
            i = int(rng.integers(0, len(raw)))
            if kind == "bit flip":
                data[i] ^= 1 << int(rng.integers(0, 8))
            else:
                data[i : i + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
                data = data[: len(raw)]
            path = folder / f"{kind.replace(' ', '_')}_{k}.initviz"
            path.write_bytes(bytes(data))
            cases.append((f"{kind} {k}", path, "either"))
        out[kind] = run(cases)
        for path in folder.glob(f"{kind.replace(' ', '_')}_*.initviz"):
            path.unlink()
    return out


def build_listing(folder: Path) -> Path:
    """Build the corpus in folder and list it in folder/cases.json (for another process to open)."""
    cases = build(folder)
    listing = folder / "cases.json"
    listing.write_text(json.dumps([[label, str(path), expected] for label, path, expected in cases]))
    return listing


def open_listing(listing: Path) -> dict[str, int]:
    """Open a listed corpus in this process: the counts and this process's peak RSS in MB.

    The baseline (torch imported, one small run trained) is measured first, so the report says
    what refusing the corpus added to it.
    """
    from initviz.engine.budget import peak_rss_bytes

    valid = next(Path(p) for label, p, _ in json.loads(listing.read_text()) if label == "valid")
    run([("warm-up", valid, "open")])
    baseline = peak_rss_bytes()
    cases = [(label, Path(p), expected) for label, p, expected in json.loads(listing.read_text())]
    counts = run(cases)
    return {**counts, "baseline_rss_mb": baseline >> 20, "peak_rss_mb": peak_rss_bytes() >> 20}


def main(argv: list[str]) -> None:
    """No argument: build in a child process, then open here and print the counts as JSON."""
    import subprocess
    import tempfile

    if argv[:1] == ["--build"]:
        build_listing(Path(argv[1]))
        return
    if argv[:1] == ["--random"]:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(random_damage(Path(tmp), int(argv[1]))))
        return
    if argv[:1] == ["--open"]:
        print(json.dumps(open_listing(Path(argv[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--build", tmp], check=True)
        print(json.dumps(open_listing(Path(tmp) / "cases.json")))


if __name__ == "__main__":
    main(sys.argv[1:])
