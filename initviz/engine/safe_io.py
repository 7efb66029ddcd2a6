"""Read files a person hands us without letting them hurt: regular files only, bounded, UTF-8.

A config or scenario JSON, or a saved run, may come from anyone. ``/dev/zero`` would be read
forever, a FIFO blocks the reader until someone writes to it, a deeply nested JSON text raises
RecursionError inside the parser and a 5,000-digit integer a ValueError. Everything here either
returns the data or raises :class:`InputFileError`, whose str() is one sentence for a person.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import IO, Any, Union

MAX_JSON_BYTES = 1 << 20  # a run config is ~500 bytes, a scenario ~2 KB
MAX_JSON_DEPTH = 32  # a scenario nests 4 levels
MAX_INT_DIGITS = 30  # no setting needs more; Python refuses > 4300 digits with a ValueError


class InputFileError(ValueError):
    """A file that cannot be read as asked; str() is a full sentence for a person."""


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _show(path: Union[str, Path]) -> str:
    """A path for a message: one line, of bounded length (a file name may hold a newline)."""
    return plain(str(path), 200)


def open_regular(path: Union[str, Path], what: str = "file") -> IO[bytes]:
    """Open path for binary reading if it is a regular file; refuse anything else at once.

    stat before open refuses a device or FIFO without touching it; O_NONBLOCK makes the open
    itself return at once should a FIFO be swapped in between, and fstat then refuses it.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFileError(f"{what} cannot read {_show(path)}: it does not exist") from None
    except PermissionError:
        raise InputFileError(f"{what} {_show(path)} cannot be read (permission denied)") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputFileError(f"{what} {_show(path)} cannot be read ({_reason(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{what} {_show(path)} is {_describe(st.st_mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise InputFileError(f"{what} {_show(path)} cannot be read (permission denied)") from None
    except OSError as exc:
        raise InputFileError(f"{what} {_show(path)} cannot be read ({_reason(exc)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(f"{what} {_show(path)} is {_describe(st.st_mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)[:100]


def read_bounded(path: Union[str, Path], limit: int, what: str = "file") -> bytes:
    """The whole file, if it is a regular file of at most ``limit`` bytes."""
    with open_regular(path, what) as f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise InputFileError(f"{what} {_show(path)} cannot be read ({_reason(exc)})") from None
    if len(data) > limit:
        raise InputFileError(f"{what} {_show(path)} is larger than {_size(limit)}, far more than it should be")
    return data


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 1024:g} KB"


# a string ends at its closing quote or, unterminated, at the end: every match attempt succeeds,
# so the scan stays linear whatever the text
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)


def nesting_depth(text: str) -> int:
    """How deeply [ and { nest in a JSON text (brackets inside strings do not count)."""
    bare = _STRING.sub("", text)
    depth = peak = 0
    for ch in re.findall(r"[\[\]{}]", bare):
        depth += 1 if ch in "[{" else -1
        peak = max(peak, depth)
    return peak


def _parse_int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(s.lstrip('-'))} digits")
    return int(s)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes, name: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode UTF-8 and parse JSON, with nesting and integer-size limits; InputFileError names the problem."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    depth = nesting_depth(text)
    if depth > max_depth:
        raise InputFileError(f"{name} nests {depth} levels deep; at most {max_depth} are allowed")
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{name} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InputFileError(f"{name} is not valid JSON ({str(exc)[:80]})") from None


def load_json_file(
    path: Union[str, Path], what: str = "file", limit: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse a JSON file that must be a regular, UTF-8 file of at most ``limit`` bytes."""
    return parse_json(read_bounded(path, limit, what), f"{what} {_show(path)}", max_depth)


def plain(text: Any, limit: int = 200) -> str:
    """A value from a file as one short line of text: control characters dropped, cut at limit."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(text)[: limit + 1])
    return s if len(s) <= limit else s[: limit - 1] + "…"


__all__ = [
    "InputFileError",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "load_json_file",
    "nesting_depth",
    "open_regular",
    "parse_json",
    "plain",
    "read_bounded",
]
