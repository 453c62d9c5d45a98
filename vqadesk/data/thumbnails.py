"""Thumbnails cached on disk, so a 40k-image split scrolls fast the second time (Qt-free).

``thumbnail(path, size)`` returns a Pillow image no larger than ``size`` x
``size``: from ``<user data folder>/thumbnails/`` when a thumbnail of that
file, in that version (its resolved path, size in bytes and modification
time), at that size was made before; else decoded with the project's image
loader, shrunk, and written there (atomically: a temporary file, then a
rename) for next time, with the permissions of every file vqadesk writes
(``jsonio.plain_file_mode``). A cache that cannot be written (read-only disk) is
skipped silently; the thumbnail is still returned. A cached file is read with
the project's loader limited to ``size`` x ``size`` pixels: anything else there
(a decompression bomb, a damaged or foreign file) is made again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image

from vqadesk.data.images import load_image
from vqadesk.errors import ImageLoadError
from vqadesk.jsonio import plain_file_mode
from vqadesk.paths import user_data_dir

CACHE_FOLDER = "thumbnails"
_FORMAT_VERSION = 1  # bump to ignore thumbnails made by an older rule


def thumbnail_cache_dir() -> Path:
    return user_data_dir() / CACHE_FOLDER


def cache_key(path: Path, size: int) -> str:
    stat = path.stat()
    text = f"{_FORMAT_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}"
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def thumbnail(path: str | os.PathLike[str], size: int) -> Image.Image:
    """An RGB thumbnail of ``path``; ``ImageLoadError`` (naming the file) when it cannot be read."""
    path = Path(path)
    image = load_image(path)  # the project's one-line error for a missing or unreadable file
    image.thumbnail((size, size))
    return image


def cached_thumbnail(path: str | os.PathLike[str], size: int, *, cache_dir: Path | None = None) -> Image.Image:
    """Like ``thumbnail``, but read from (and written to) the on-disk cache."""
    path = Path(path)
    try:
        folder = cache_dir or thumbnail_cache_dir()
        key = cache_key(path, size)
    except OSError:
        return thumbnail(path, size)  # the file vanished or the cache folder cannot exist: decode (and report)
    cached = folder / key[:2] / f"{key}.png"
    if cached.is_file():
        try:
            return load_image(cached, max_pixels=size * size)
        except ImageLoadError:
            pass  # a damaged, oversized or foreign cache entry: make it again
    image = thumbnail(path, size)
    _store(image, cached)
    return image


def _store(image: Image.Image, target: Path) -> None:
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".thumb-", suffix=".png")
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format="PNG")
        os.chmod(temporary, plain_file_mode())
        os.replace(temporary, target)
    except OSError:  # a cache is a convenience: never fail the thumbnail for it
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
