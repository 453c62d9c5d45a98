"""The xcb libraries check made before the QApplication: when it runs, what it says, and that a bare
``vqadesk`` stops with that one line (exit 1) instead of Qt's abort."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vqadesk.errors import VqadeskError
from vqadesk.gui import platform_check
from vqadesk.gui.platform_check import (
    XCB_LIBRARIES,
    check_xcb_libraries,
    missing_libraries,
    platform_will_be_xcb,
)


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland"}, "linux", True),  # no compositor to talk to: Qt falls back to xcb
    ({}, "darwin", False),
    ({}, "win32", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "win32", False),
])
def test_only_an_xcb_platform_is_checked(environ, platform, expected):
    assert platform_will_be_xcb(environ, platform) is expected


def test_the_message_names_each_missing_library_and_its_packages():
    gone = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0"}
    with pytest.raises(VqadeskError) as error:
        check_xcb_libraries({}, "linux", loads=lambda soname: soname not in gone)
    message = str(error.value)
    assert "\n" not in message
    for soname in gone:
        assert soname in message
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-shape0" in message
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms libxcb" in message
    assert "libxcb-cursor" not in message  # present: not blamed, unlike Qt's own message


def test_nothing_is_loaded_for_another_platform():
    asked = []
    check_xcb_libraries({"QT_QPA_PLATFORM": "offscreen"}, "linux", loads=lambda s: asked.append(s) or False)
    check_xcb_libraries({}, "darwin", loads=lambda s: asked.append(s) or False)
    assert asked == []


def test_all_present_passes():
    check_xcb_libraries({}, "linux", loads=lambda soname: True)


def test_each_library_has_both_package_names():
    sonames = [library.soname for library in XCB_LIBRARIES]
    assert len(set(sonames)) == len(sonames)
    assert all(library.debian and library.fedora for library in XCB_LIBRARIES)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sonames are Linux's")
def test_the_real_loader_tells_present_from_absent(monkeypatch):
    assert platform_check._loads("libc.so.6")
    assert not platform_check._loads("libvqadesk-no-such-library.so.7")
    monkeypatch.setattr(platform_check, "XCB_LIBRARIES", (
        platform_check.SystemLibrary("libc.so.6", "libc6", "glibc"),
        platform_check.SystemLibrary("libvqadesk-no-such-library.so.7", "no-such-deb", "no-such-rpm"),
    ))
    assert [library.debian for library in missing_libraries()] == ["no-such-deb"]


def test_a_bare_vqadesk_stops_with_one_line_before_qt_starts(tmp_path):
    """The real entry point, with the loader told that one library is missing: exit 1 (a user's
    error, not 3), the one line on stderr, and no QApplication made (Qt would abort first)."""
    script = textwrap.dedent("""
        import sys
        from vqadesk.gui import platform_check
        platform_check._loads = lambda soname: soname != "libxcb-icccm.so.4"
        from vqadesk.cli.main import main
        code = main([])
        from PySide6.QtWidgets import QApplication
        assert QApplication.instance() is None
        sys.exit(code)
    """)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "xcb",
           "XDG_DATA_HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("vqadesk: error: Qt's xcb platform (X11) cannot start: missing libxcb-icccm.so.4;")
    assert "libxcb-icccm4" in lines[0] and "xcb-util-wm" in lines[0]
