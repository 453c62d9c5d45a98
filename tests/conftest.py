"""Test-wide settings, hooks and fixtures.

- Qt runs headless everywhere (``QT_QPA_PLATFORM=offscreen``), set before any
  test module can import Qt.
- Nothing a test does reaches the user's own files: ``VQADESK_DATA_DIR`` (the
  per-user data folder: generated Shapes world, thumbnails, caches, runs, user
  models, the app's ``settings.ini``) points into a temporary folder for the
  whole session, and each test gets a fresh one of its own (``user_data``).
  Qt's own user-scope settings (``QSettings`` without a file, the file dialog's
  ``QtProject.conf``) go to the same temporary folder. Child processes
  inherit the environment, so they are isolated too. The folder is removed at
  the end of the session. The Hugging Face cache is per test too (``HF_HOME``,
  ``HF_HUB_CACHE``), and ``HF_ENDPOINT`` points at a closed local port, so no
  test reads the user's downloaded models or reaches the real Hub; tests of
  downloads point it at their own server (``tests/support/fake_hub.py``).
- A skip because a module cannot be imported is a failure: every dependency
  the tests import is a runtime or test-extra requirement, so such a skip
  means a broken install, not an optional feature. Other skips (the shared
  real-data fixtures missing outside the repository's CI layout, CUDA-only
  tests) stay skips.
- Speed is never asserted: Hypothesis runs without its deadline and too-slow health check.
- Real data lives in ``../shared/fixtures`` beside the checkout; tests that
  need it skip cleanly when it is absent.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Speed is never asserted in tests: no Hypothesis deadline, no "data generation too slow" check
# (a busy shared machine would fail them). Tests' own @settings still choose their example counts.
settings.register_profile("vqadesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vqadesk")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

DATA_DIR_VARIABLE = "VQADESK_DATA_DIR"
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, a request fails at once
_isolation_root = pytest.StashKey[Path]()
_previous_data_dir = pytest.StashKey[str | None]()
_test_numbers = itertools.count()


# -- the user's files stay untouched ------------------------------------------------------------


def isolation_root(config: pytest.Config) -> Path:
    """The session's temporary folder that stands in for the user's files."""
    return config.stash[_isolation_root]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Set before collection, so module imports and session fixtures see it too.
    root = Path(tempfile.mkdtemp(prefix="vqadesk-tests-"))
    config.stash[_isolation_root] = root
    config.stash[_previous_data_dir] = os.environ.get(DATA_DIR_VARIABLE)
    os.environ[DATA_DIR_VARIABLE] = str(root / "session-data")

    from PySide6.QtCore import QSettings

    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(root / "qt-settings"))


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(_isolation_root, None)
    if root is None:
        return
    previous = config.stash[_previous_data_dir]
    if previous is None:
        os.environ.pop(DATA_DIR_VARIABLE, None)
    else:
        os.environ[DATA_DIR_VARIABLE] = previous
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def user_data(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own per-user data folder (``VQADESK_DATA_DIR``; made on first use).

    A test may still point ``VQADESK_DATA_DIR`` elsewhere with ``monkeypatch``.
    """
    path = isolation_root(request.config) / "tests" / f"{next(_test_numbers):05d}"
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(path))
    monkeypatch.setenv("HF_HOME", str(path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_ENDPOINT)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of tiny models: a second only adds waiting on a busy 2-core machine.

    Used with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; torch is imported only then.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- a missing dependency fails, it is not skipped ------------------------------------------------

_IMPORT_SKIP_MARKERS = ("could not import", "No module named")


def _skip_message(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2])
    return str(longrepr)


def _fail_import_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Turn a skip caused by a module that cannot be imported into a failure, in place."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    message = _skip_message(report)
    if any(marker in message for marker in _IMPORT_SKIP_MARKERS):
        report.outcome = "failed"
        report.longrepr = (
            f"{message}\nA test was skipped because a module could not be imported; every module the tests "
            'import is a requirement (pip install -e ".[test]"), so this is a broken install, not a skip.'
        )


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    _fail_import_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    _fail_import_skip(report)
    return report


# -- shared real data ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures``; skips the test when the folder is not there."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def coco_real(shared_fixtures: Path) -> Path:
    """The 15 real COCO photos and their annotation files."""
    path = shared_fixtures / "coco-real"
    if not path.is_dir():
        pytest.skip(f"real COCO fixtures not found at {path}")
    return path


@pytest.fixture(scope="session")
def vqa_v2_sample(shared_fixtures: Path) -> Path:
    """The real VQA v2 questions file and its trimmed annotations."""
    path = shared_fixtures / "vqa-v2-sample"
    if not path.is_dir():
        pytest.skip(f"VQA v2 sample not found at {path}")
    return path
