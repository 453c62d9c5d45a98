"""The package installs and finds its resources, editable or from a wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vqadesk.paths import resource_path, resources_root

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_resources_found_from_this_install():
    categories = json.loads(resource_path("coco", "categories.json").read_text())
    assert len(categories["categories"]) == 80
    assert resources_root().is_dir()


def test_missing_resource_is_a_clear_error():
    from vqadesk.errors import VqadeskError

    with pytest.raises(VqadeskError, match="no-such-file.json"):
        resource_path("no-such-file.json")


@pytest.mark.slow
def test_wheel_install_finds_resources(tmp_path):
    """Build a wheel from a copy of the project, install it into a bare folder
    and use it from there, away from the checkout."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("vqadesk", "resources", "training"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(source)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = wheels.glob("vqadesk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "vqadesk/resources/coco/categories.json" in names
    assert "training/__init__.py" in names
    assert not any(n.startswith("tests/") for n in names)

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )
    probe = (
        "import vqadesk, json; from vqadesk.paths import resource_path; "
        "p = resource_path('coco', 'categories.json'); "
        "print(json.dumps([vqadesk.__file__, str(p), len(json.loads(p.read_text())['categories'])]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    module_file, categories_file, count = json.loads(out.stdout)
    assert Path(module_file).is_relative_to(site)
    assert Path(categories_file).is_relative_to(site)
    assert count == 80


def test_python_dash_m_vqadesk_runs():
    out = subprocess.run(
        [sys.executable, "-m", "vqadesk", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("vqadesk ")
