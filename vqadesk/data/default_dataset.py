"""The Shapes world the app opens on first launch, kept in the user data folder.

It is generated once (a few hundred images per split, fixed seed) and marked
complete by a small JSON file written last, so a launch interrupted halfway
through generation regenerates instead of opening half a dataset.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json, write_json_atomic
from vqadesk.paths import user_data_dir

DEFAULT_SPLITS = ("train", "val")
DEFAULT_IMAGES_PER_SPLIT = 300
DEFAULT_SEED = 0
_MARKER = ".vqadesk-complete.json"


def default_shapes_root() -> Path:
    return user_data_dir() / "shapes-world"


def ensure_shapes_world(root: Path | None = None) -> Path:
    """Return the default Shapes world's folder, generating it if needed."""
    from vqadesk.data.shapes import write_shapes_dataset

    root = root or default_shapes_root()
    wanted = {
        "splits": list(DEFAULT_SPLITS),
        "images_per_split": DEFAULT_IMAGES_PER_SPLIT,
        "seed": DEFAULT_SEED,
    }
    marker = root / _MARKER
    if marker.is_file():
        try:
            if read_json(marker) == wanted:
                return root
        except VqadeskError:
            pass  # a damaged marker: regenerate below
    if root.exists():
        shutil.rmtree(root)
    write_shapes_dataset(
        root, splits=DEFAULT_SPLITS, n_images=DEFAULT_IMAGES_PER_SPLIT, seed=DEFAULT_SEED
    )
    write_json_atomic(marker, wanted)
    return root
