"""The test configuration itself (``tests/conftest.py``): a test run leaves the user's files alone,
and a dependency that cannot be imported fails the run instead of skipping tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

from tests.conftest import DATA_DIR_VARIABLE, isolation_root
from vqadesk.paths import APP_NAME, user_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_user_data_goes_to_the_tests_own_temporary_folder(user_data, pytestconfig):
    root = isolation_root(pytestconfig)
    assert Path(tempfile.gettempdir()) in root.parents
    assert os.environ[DATA_DIR_VARIABLE] == str(user_data)
    assert user_data_dir() == user_data and user_data.is_dir()
    assert root in user_data.parents
    real = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    assert real not in user_data.parents and user_data != real


def test_each_test_has_a_folder_of_its_own(user_data, tmp_path, monkeypatch):
    assert user_data.name != "session-data" and not (user_data / "shapes-world").exists()
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "mine"))  # a test may still choose its own
    assert user_data_dir() == tmp_path / "mine"


def test_child_processes_inherit_the_temporary_folder(user_data):
    code = "from vqadesk.paths import user_data_dir; print(user_data_dir())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == user_data


def test_qt_user_settings_go_to_the_temporary_folder(pytestconfig):
    root = isolation_root(pytestconfig)
    for settings in (QSettings("QtProject", "vqadesk-tests"),  # what QFileDialog and a bare QSettings use
                     QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "vqadesk", "vqadesk-tests")):
        assert root in Path(settings.fileName()).parents, settings.fileName()


SKIPS = '''
import pytest


def test_needs_a_module_that_is_not_installed():
    pytest.importorskip("vqadesk_no_such_module")


def test_needs_a_cuda_gpu():
    pytest.skip("needs a CUDA GPU")
'''

SKIPS_AT_IMPORT = '''
import pytest

pytest.importorskip("vqadesk_no_such_module")


def test_never_collected():
    pass
'''


def test_a_skip_for_a_missing_module_fails_the_run_and_other_skips_stay_skips(tmp_path):
    (tmp_path / "test_skips.py").write_text(textwrap.dedent(SKIPS))
    (tmp_path / "test_skips_at_import.py").write_text(textwrap.dedent(SKIPS_AT_IMPORT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rs",
         "--continue-on-collection-errors", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    summary = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 failed" in summary and "1 skipped" in summary and "1 error" in summary, summary
    assert "needs a CUDA GPU" in out.stdout and "broken install" in out.stdout
