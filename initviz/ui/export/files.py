"""Writing files whole or not at all: a temporary file in the target folder, then os.replace."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

from initviz.ui.export.options import ExportError


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "the disk is full"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "permission denied (the folder is not writable)"
        if exc.errno == errno.ENOENT:
            return "the folder does not exist"
        if exc.errno == errno.ENOTDIR:
            return "part of the path is a file, not a folder"
        if exc.errno == errno.EISDIR:
            return "a folder of that name is in the way"
        if exc.errno == errno.ENAMETOOLONG:
            return "the file name is too long"
        return exc.strerror or str(exc)
    return str(exc)


def check_target(path: Union[str, Path]) -> Path:
    """The path to write, checked before any work: a name, an existing folder, not a folder itself."""
    raw = str(path)
    if not raw.strip():
        raise ExportError("No file name given.")
    if "\x00" in raw:
        raise ExportError(f"The file name {raw!r} holds a NUL character, which no file system allows.")
    p = Path(raw).expanduser()
    if p.name in ("", ".", ".."):
        raise ExportError(f"{raw!r} is not a file name.")
    if p.is_dir():
        raise ExportError(f"Cannot write {p}: it is a folder.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise ExportError(f"Cannot write {p}: the folder {parent} {what}.")
    return p


def write_bytes_atomic(path: Union[str, Path], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and os.replace.

    On any failure (unwritable folder, full disk, odd name) the temporary file is removed, the
    old file (if any) is left as it was, and ExportError says what went wrong.
    """
    p = check_target(path)
    tmp: Optional[str] = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:80]}.", suffix=".part", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, p)
        tmp = None
    except (OSError, ValueError) as exc:
        raise ExportError(f"Cannot write {p}: {_why(exc)}.") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p

