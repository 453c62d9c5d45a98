"""Before the QApplication: on X11, check that the libraries of Qt's xcb platform plugin load.

Without them Qt aborts (SIGABRT, exit 134) with its own message, which names
at best one library and sometimes the wrong one (it blames ``libxcb-cursor0``
whatever is missing). This check loads each library the plugin needs with
``ctypes.CDLL`` by its soname -- what the dynamic loader will do for Qt -- and
raises one ``VqadeskError`` naming the missing ones and the Debian/Ubuntu and
Fedora packages that provide them. It runs only when the platform will be
xcb: Linux (and other X11 Unixes), no ``QT_QPA_PLATFORM`` naming another
platform, no Wayland session. The list is the ``NEEDED`` entries of PySide6's
``libQt6XcbQpa.so.6`` and ``libqxcb.so`` that are not bundled with PySide6
(README "Linux system packages" lists the same packages).

No Qt import here: it must run before anything Qt loads the plugin.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vqadesk.errors import VqadeskError


@dataclass(frozen=True)
class SystemLibrary:
    soname: str
    debian: str  # Debian and Ubuntu package
    fedora: str


XCB_LIBRARIES = (
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx"),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl"),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    SystemLibrary("libfreetype.so.6", "libfreetype6", "freetype"),
    SystemLibrary("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)


def platform_will_be_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will pick its xcb plugin: an X11 Unix, and neither ``QT_QPA_PLATFORM`` nor a
    Wayland session (Qt 6 then tries wayland first) says otherwise."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "darwin", "cygwin", "emscripten", "wasi"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    return not (environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"))


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] | None = None) -> list[SystemLibrary]:
    """The libraries that do not load (``loads``: a stand-in for tests, else ``ctypes``)."""
    loads = loads or _loads
    return [library for library in XCB_LIBRARIES if not loads(library.soname)]


def missing_message(missing: list[SystemLibrary]) -> str:
    """One line: the missing libraries and the commands that install them."""
    names = ", ".join(library.soname for library in missing)
    debian = " ".join(dict.fromkeys(library.debian for library in missing))
    fedora = " ".join(dict.fromkeys(library.fedora for library in missing))
    return (f"Qt's xcb platform (X11) cannot start: missing {names}; install them with "
            f"`sudo apt install {debian}` (Debian/Ubuntu) or `sudo dnf install {fedora}` (Fedora), "
            f"or set QT_QPA_PLATFORM=wayland in a Wayland session")


def check_xcb_libraries(environ: Mapping[str, str] | None = None, platform: str | None = None,
                        loads: Callable[[str], bool] | None = None) -> None:
    """Raise ``VqadeskError`` naming what is missing when Qt will use xcb and cannot load it."""
    if not platform_will_be_xcb(environ, platform):
        return
    missing = missing_libraries(loads)
    if missing:
        raise VqadeskError(missing_message(missing))
