"""Before Qt starts: are the system libraries its X11 (xcb) platform plugin needs installed?

Without them Qt aborts with "Could not load the Qt platform plugin xcb ... Reinstalling the
application may fix this problem", which sends people the wrong way. This module imports no Qt:
it tries to load each library the way the dynamic linker would and, when some are missing, returns
one line naming the Debian/Ubuntu packages to install. The list is what PySide6 6.10.3's
``plugins/platforms/libqxcb.so`` and the Qt libraries under it link against (objdump -p), minus the
libraries every desktop has anyway (libc, libstdc++, glib, zlib).
"""

from __future__ import annotations

import ctypes
import os
from typing import Callable, Mapping, Optional

# soname -> Debian/Ubuntu package that ships it
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
}

APT_LINE = "sudo apt install " + " ".join(dict.fromkeys(XCB_LIBRARIES.values()))


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will try its xcb (X11) plugin: asked for, or the default outside Wayland sessions."""
    platform = env.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "") == "wayland")


def missing_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The sonames of XCB_LIBRARIES that cannot be loaded."""
    return [name for name in XCB_LIBRARIES if not loads(name)]


def xcb_problem(
    env: Optional[Mapping[str, str]] = None, loads: Callable[[str], bool] = _loads
) -> Optional[str]:
    """One line naming the packages to install when Qt's xcb plugin would fail; None when fine."""
    env = os.environ if env is None else env
    if not uses_xcb(env) or not env.get("DISPLAY", ":0"):
        return None
    missing = missing_libraries(loads)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[m] for m in missing))
    return (
        f"initviz: Qt cannot open a window: the system libraries {', '.join(missing)} are missing. "
        f"On Debian/Ubuntu: sudo apt install {packages}  (no window needed: initviz run / initviz export)"
    )
