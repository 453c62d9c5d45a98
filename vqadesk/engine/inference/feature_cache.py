"""A small in-memory LRU of image features, keyed by image content and encoder.

Asking several questions about one picture is the common case in the app:
the CNN is by far the most expensive part of an answer (a few ms for the
Shapes CNN on a CPU, 100+ ms for a ResNet), the answer head a fraction of a
millisecond. The Predictor keeps the last ``max_entries`` images' features
here, so the second question about an image skips the encoder.

Keys are ``(image key, encoder key)``:

* ``image_key`` is a SHA-256 of the image's *content* -- the file's bytes
  for a path, the pixels (with mode and size) for a PIL image -- so a file
  edited in place is a new image, and the same picture under two names is one;
* the encoder key names the loaded model instance and its image encoder
  config (name, layer, size, weights): features of one model are never
  served to another, even to a reloaded copy of the same file.

Features are stored as they come out of the encoder, one image at a time
(``(C, h, w)`` or ``(D,)``), on the model's device.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Generic, TypeVar

from PIL import Image

from vqadesk.data.images import check_image_file, load_image
from vqadesk.errors import ImageLoadError

DEFAULT_MAX_ENTRIES = 64

Value = TypeVar("Value")


class FeatureCache(Generic[Value]):
    """A thread-safe least-recently-used map ``key -> features`` of bounded size."""

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES):
        if max_entries < 0:
            raise ValueError(f"max_entries cannot be negative, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Value] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str]) -> Value | None:
        """The features stored under ``key`` (now the most recent), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[str, str], value: Value) -> None:
        """Store ``value``, dropping the least recently used entries beyond ``max_entries``."""
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_encoder(self, encoder_key: str) -> None:
        """Drop every entry of one encoder (a model that was unloaded)."""
        with self._lock:
            for key in [key for key in self._entries if key[1] == encoder_key]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


def image_key(image: str | os.PathLike[str] | Image.Image) -> str:
    """SHA-256 (hex) of an image's content: a file's bytes, or a PIL image's pixels.

    A file that cannot be read raises ``load_image``'s ``ImageLoadError`` for
    it, so a missing file or a folder is reported in the loader's words.
    """
    if isinstance(image, Image.Image):
        digest = hashlib.sha256(f"pil:{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
        digest.update(image.tobytes())
        return digest.hexdigest()
    path = Path(image)
    check_image_file(path)  # before opening: a FIFO would hang the hash, /dev/urandom never end it
    try:
        with open(path, "rb") as handle:
            return "file:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except (OSError, ValueError):  # ValueError: NUL byte in the name
        load_image(path)  # raises the loader's precise ImageLoadError (missing, folder, permission...)
        raise ImageLoadError(path, "cannot be read") from None
