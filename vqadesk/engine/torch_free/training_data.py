"""Does a dataset folder hold what a training routine needs for its splits? (Qt-free, no parsing)

The Training tab asks before it enables Start, so a folder of photos or a
root without the chosen split is named at once instead of failing after the
routine has started and imported torch. Only file names are looked at (a few
``stat`` and ``glob`` calls): what the routine's readers would look for first
(``engine/training/vqa_examples.py``, ``caption_examples.py``). Options that
bring their own files (``--features``, ``--captions``) skip the check: the
routine checks those itself.
"""

from __future__ import annotations

from pathlib import Path

from vqadesk.data.dataset import find_vqa_files
from vqadesk.engine.torch_free.model_kind import ModelKind

# Extra options after which the dataset folder need not hold the split's usual files.
OWN_FILES_OPTIONS = ("--features", "--val-features", "--captions", "--val-captions")


def split_problem(kind: str, root: Path, split: str) -> str | None:
    """Why ``root`` cannot give the routine ``split`` (one short phrase), or None when it can."""
    annotations = root / "annotations"
    if not any((annotations / f"{name}_{split}.json").is_file() for name in ("captions", "instances")):
        return f"no split '{split}' (annotations/captions_{split}.json or instances_{split}.json)"
    if not any(folder.is_dir() for folder in (root / split, root / "images" / split)):
        return f"no image folder '{split}/' for split '{split}'"
    if kind == ModelKind.VQA:
        questions, answers = find_vqa_files(root, split)
        if questions is None or answers is None:
            return f"no VQA questions and answers for split '{split}' (v2_*_{split}_questions/annotations.json)"
    elif not (annotations / f"captions_{split}.json").is_file():
        return f"no captions for split '{split}' (annotations/captions_{split}.json)"
    return None


def dataset_problem(kind: str, data: str, splits: tuple[str, ...], extra: str = "") -> str | None:
    """Why training ``kind`` on ``data`` with ``splits`` cannot start, or None when it can."""
    if not data.strip():
        return "choose a dataset folder"
    root = Path(data.strip()).expanduser()
    if not root.is_dir():
        return f"{root}: no such folder"
    if any(option in extra.split() or f"{option}=" in extra for option in OWN_FILES_OPTIONS):
        return None
    for split in dict.fromkeys(splits):
        problem = split_problem(kind, root, split)
        if problem is not None:
            return f"{root}: {problem}"
    return None
