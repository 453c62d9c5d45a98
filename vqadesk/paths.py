"""Where vqadesk's files are: bundled resources and the per-user data folder.

Bundled resources are the top-level ``resources/`` folder of the repository.
A wheel installs it inside the package as ``vqadesk/resources``; an editable
install or a bare source checkout uses the folder beside the package.
User data (generated Shapes world, caches, checkpoints, settings)
goes to the platform's per-user data folder, never into the package or the
current directory; ``VQADESK_DATA_DIR`` overrides it (tests, portable use).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from vqadesk.errors import VqadeskError

APP_NAME = "vqadesk"


@lru_cache(maxsize=1)
def resources_root() -> Path:
    """The folder holding the bundled resources."""
    package = Path(__file__).resolve().parent
    candidates = (package / "resources", package.parent / "resources")
    for root in candidates:
        if (root / "coco").is_dir():
            return root
    raise VqadeskError(
        "vqadesk's resources folder is missing (looked in "
        + " and ".join(str(c) for c in candidates) + "); reinstall vqadesk"
    )


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource file, e.g. ``resource_path("coco", "categories.json")``."""
    path = resources_root().joinpath(*parts)
    if not path.exists():
        raise VqadeskError(f"bundled resource {'/'.join(parts)} not found in {resources_root()}")
    return path


def user_data_dir() -> Path:
    """Per-user data folder (created on first use)."""
    override = os.environ.get("VQADESK_DATA_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserDataError(path, exc) from None
    return path


class UserDataError(VqadeskError, OSError):
    """The user data folder cannot be made: one readable line for the app and the CLI.

    Also an ``OSError``, so the code that treats an unwritable cache as a
    convenience lost (thumbnails, index caches) goes on without it.
    """

    def __init__(self, path: Path, exc: OSError):
        self.path = path
        reason = exc.strerror or str(exc)
        VqadeskError.__init__(self, f"{path}: vqadesk's user data folder cannot be created ({reason}); "
                                    "make it writable or set VQADESK_DATA_DIR to a writable folder")

    def __str__(self) -> str:
        return str(self.args[0])
