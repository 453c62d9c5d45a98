"""The layers of docs/architecture.md hold: nothing below the GUI imports Qt.

Checked twice: statically (every import statement in every module) and at
run time (importing the Qt-free packages does not load PySide6).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vqadesk"
QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_files(*, exclude: tuple[str, ...]) -> list[Path]:
    return [
        p for p in sorted(PACKAGE.rglob("*.py"))
        if not any(p.relative_to(PACKAGE).parts[0] == part for part in exclude)
    ]


def test_no_qt_below_the_gui():
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if m.split(".")[0] in QT_MODULES)
        for p in module_files(exclude=("gui",))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_cli_imports_the_gui():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in module_files(exclude=("gui", "cli"))
        if any(m.startswith("vqadesk.gui") for m in imported_modules(p))
    ]
    assert offenders == []


def test_lower_layers_do_not_import_the_cli():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in module_files(exclude=("cli", "gui", "__main__.py"))
        if any(m.startswith("vqadesk.cli") for m in imported_modules(p))
    ]
    assert offenders == []


def test_qt_free_packages_import_without_qt():
    code = (
        "import sys, pkgutil, importlib, vqadesk\n"
        "for info in pkgutil.walk_packages(vqadesk.__path__, 'vqadesk.'):\n"
        "    if info.name.startswith(('vqadesk.gui', 'vqadesk.cli', 'vqadesk.__main__')):\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
