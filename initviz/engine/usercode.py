"""Load and call a user's own Python file (``initviz inspect FILE.py:FACTORY``), with their traceback.

Anything the user's code raises (an import error, an exception in the factory, a wrong return
type, a batch of the wrong shape) becomes a :class:`UserCodeError` whose ``traceback`` shows only
the frames of the user's file, then the exception: the lines they can act on, without initviz's or
torch's internals. The CLI prints it and exits with status 2; the window shows it in a message box.
Qt-free.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional


class UserCodeError(Exception):
    """The user's code failed: ``str()`` is one line; ``traceback`` the user's frames and the error."""

    def __init__(self, message: str, traceback_text: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback_text

    def full_text(self) -> str:
        """The one-line message, then the user's traceback (if any)."""
        return f"{self}\n\n{self.traceback}".rstrip() if self.traceback else str(self)


def _same_file(a: str, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def user_traceback(exc: BaseException, files: tuple[Path, ...]) -> str:
    """The traceback of ``exc`` cut to the frames in ``files`` (most recent call last), then the
    exception line(s); a SyntaxError keeps its file, line and caret."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if any(_same_file(f.filename, p) for p in files)]
    lines: list[str] = []
    if frames:
        names = ", ".join(sorted({p.name for p in files}))
        lines.append(f"Traceback (most recent call last; frames in {names} only):\n")
        lines.extend(traceback.format_list(frames))
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines).rstrip() + "\n"


def _error_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def parse_target(spec: str, flag: str = "FILE.py:NAME") -> tuple[Path, str]:
    """'path/to/file.py:build' -> (path, 'build'); UserCodeError naming what is wrong."""
    path, sep, name = str(spec).rpartition(":")
    if not sep or not path or not name:
        raise UserCodeError(f"{spec!r} is not {flag}; write e.g. my_model.py:build")
    if not name.isidentifier():
        raise UserCodeError(f"{spec!r}: {name!r} is not a Python name; write e.g. my_model.py:build")
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserCodeError(f"{spec!r}: {p} is not a file")
    if p.suffix != ".py":
        raise UserCodeError(f"{spec!r}: {p} is not a .py file")
    return p.resolve(), name


class UserFile:
    """One imported user file (imported once; its folder goes on sys.path, as ``python FILE`` does)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        digest = hashlib.sha1(str(self.path).encode()).hexdigest()[:8]
        self.module_name = f"initviz_user_{self.path.stem if self.path.stem.isidentifier() else 'file'}_{digest}"
        folder = str(self.path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # so the file can import its neighbours
        spec = importlib.util.spec_from_file_location(self.module_name, self.path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
            raise UserCodeError(f"cannot import {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module  # dataclasses and pickling look the module up
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - anything their import does, SystemExit included
            sys.modules.pop(self.module_name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise UserCodeError(
                f"importing {self.path.name} failed: {_error_line(exc)}", user_traceback(exc, (self.path,))
            ) from None
        self.module = module

    def function(self, name: str, what: str) -> Callable[..., Any]:
        """The callable ``name`` of the file; ``what`` says what it is for ("the factory")."""
        if not hasattr(self.module, name):
            public = sorted(n for n, v in vars(self.module).items() if callable(v) and not n.startswith("_")
                            and getattr(v, "__module__", None) == self.module_name)  # fmt: skip
            known = f"; it defines {', '.join(public[:12])}" if public else ""
            raise UserCodeError(f"{self.path.name} has no {name!r} ({what}){known}")
        fn = getattr(self.module, name)
        if not callable(fn):
            raise UserCodeError(f"{self.path.name}:{name} is {type(fn).__name__}, not a function ({what})")
        return fn

    def call(self, fn: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)``; an exception becomes a UserCodeError with the user's frames only."""
        return call_user(fn, what, (self.path,), *args, **kwargs)


def call_user(fn: Callable[..., Any], what: str, files: tuple[Path, ...] = (), *args: Any, **kwargs: Any) -> Any:
    """Call user code; any exception (SystemExit too) becomes a UserCodeError saying ``what`` failed,
    with the frames of ``files`` (all frames when no file is known: a notebook's function)."""
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - anything the user's code does
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, UserCodeError):
            raise
        tb = user_traceback(exc, files) if files else "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise UserCodeError(f"{what} raised {_error_line(exc)}", tb) from None


_FILES: dict[Path, UserFile] = {}


def load_function(spec: str, what: str) -> tuple[UserFile, Callable[..., Any]]:
    """(the imported file, the named callable) of 'FILE.py:NAME' (each file imported once)."""
    path, name = parse_target(spec)
    uf = _FILES.get(path)
    if uf is None:
        uf = UserFile(path)
        _FILES[path] = uf
    return uf, uf.function(name, what)


def forget(path: Optional[Path] = None) -> None:
    """Drop imported user files (all, or one) so the next load imports them again (tests, reloads)."""
    for p in list(_FILES) if path is None else [Path(path).resolve()]:
        uf = _FILES.pop(p, None)
        if uf is not None:
            sys.modules.pop(uf.module_name, None)


__all__ = ["UserCodeError", "UserFile", "call_user", "forget", "load_function", "parse_target", "user_traceback"]
