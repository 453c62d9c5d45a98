"""What a drop on the window holds: folders to open, photos to caption, things to refuse (Qt-free).

A photo is a file whose name has an image extension (``PHOTO_SUFFIXES``)
and whose header Pillow can read; anything else is refused with its reason,
so dropping a PDF or a broken JPEG says so instead of failing later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vqadesk.data.coco_naming import is_photo_name
from vqadesk.data.images import image_size as read_image_size
from vqadesk.errors import VqadeskError


@dataclass
class DroppedItems:
    folders: list[Path] = field(default_factory=list)
    photos: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one line each: the file and why

    def refusal_message(self) -> str:
        shown = self.refused[:5]
        more = f"\n… and {len(self.refused) - 5} more" if len(self.refused) > 5 else ""
        return "Not opened:\n" + "\n".join(shown) + more


def classify_drop(paths: list[str]) -> DroppedItems:
    items = DroppedItems()
    for text in paths:
        if not text:
            continue
        path = Path(text)
        if text.startswith(("http://", "https://")):
            items.refused.append(f"{text}: only files on this computer can be opened (vqadesk works offline)")
        elif path.is_dir():
            items.folders.append(path)
        elif not path.exists():
            items.refused.append(f"{path}: file not found")
        elif not is_photo_name(path.name):
            items.refused.append(f"{path.name}: not an image (vqadesk opens JPEG, PNG, BMP, GIF, WebP and TIFF)")
        else:
            try:
                read_image_size(path)
            except VqadeskError as exc:
                items.refused.append(str(exc))
            else:
                items.photos.append(path)
    return items
