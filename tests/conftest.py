"""Test-wide settings and fixtures.

Qt runs headless everywhere (``QT_QPA_PLATFORM=offscreen``), set before any
test module can import Qt. Real data lives in ``../shared/fixtures`` beside
the checkout; tests that need it skip cleanly when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


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
