"""Images on disk -> one ``uint8`` tensor ``(N, 3, S, S)`` for training in memory.

Every image goes through ``vqadesk.data.images.load_image`` (upright, 8-bit
RGB, transparency on white: the same pixels the GUI and the Predictor see),
then ``fit_square``: a square image of another size is resized; any other
image has its *shorter* side resized to ``S`` and the centre ``S x S`` cut
out, so photos keep their aspect ratio (the usual ImageNet-style
"resize + centre crop"). Shapes images are already 128 x 128 and pass
through untouched.

The tensor stays ``uint8`` (a quarter of the memory of float32); models
convert and normalise a batch at a time on their own device. Holding every
image in memory suits the Shapes world and small COCO subsets (500 Shapes
images at 128 px: 25 MB). Full-scale COCO (123k photos, 18 GB at 224 px)
uses precomputed image features from the feature store instead (docs/real-data.md);
``load_image_tensors`` refuses a request larger than half the machine's
memory with a message saying so, rather than swapping the machine to death.

A file that cannot be read raises ``load_image``'s ``ImageLoadError`` naming
it; with several worker threads it is still the *first* bad file in list order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqadesk.data.images import load_image
from vqadesk.errors import VqadeskError

PathLike = str | os.PathLike[str]

# Bilinear resampling with Pillow's antialiasing (its filters widen when
# shrinking), good enough for 128-224 px inputs and several times cheaper
# than Lanczos on large photos.
_RESAMPLE = Image.Resampling.BILINEAR


class ImageMemoryError(VqadeskError):
    """Loading the requested images into memory would not fit."""


def fit_square(image: Image.Image, size: int) -> Image.Image:
    """``image`` as ``size x size``: shorter side resized to ``size``, centre cropped.

    An image already ``size x size`` is returned as is.
    """
    if size < 1:
        raise ValueError(f"image size must be at least 1, got {size}")
    width, height = image.size
    if (width, height) == (size, size):
        return image
    # Scale so the shorter side becomes exactly ``size``; the longer one is
    # rounded and never ends below ``size``.
    scale = size / min(width, height)
    new_width = max(size, round(width * scale))
    new_height = max(size, round(height * scale))
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), _RESAMPLE)
    if (new_width, new_height) == (size, size):
        return image
    left = (new_width - size) // 2
    top = (new_height - size) // 2
    return image.crop((left, top, left + size, top + size))


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB ``PIL.Image`` -> ``uint8`` tensor ``(3, H, W)`` (a copy, not a view)."""
    return torch.from_numpy(np.ascontiguousarray(_channels_first(image)))  # (3, H, W)


def load_image_tensor(path: PathLike, size: int, *, draft: bool = False) -> torch.Tensor:
    """One file -> ``uint8`` ``(3, size, size)``; an unreadable file is an ``ImageLoadError``.

    ``draft``: decode a large JPEG at a reduced DCT scale first (``load_image``'s
    ``draft_side``); faster, with slightly different pixels. Feature extraction
    uses it; training and the Predictor decode in full.
    """
    return image_to_tensor(fit_square(load_image(path, draft_side=size if draft else None), size))


def _channels_first(image: Image.Image) -> np.ndarray:
    """``(3, H, W)`` view of the image's pixels.

    The HWC -> CHW shuffle is done by numpy: the same copy through torch
    costs several times more on a busy 2-core machine (intra-op threads).
    """
    pixels = np.asarray(image.convert("RGB") if image.mode != "RGB" else image, dtype=np.uint8)
    return pixels.transpose(2, 0, 1)  # (3, H, W)


def load_image_tensors(
    paths: Sequence[PathLike], size: int, *, workers: int = 1
) -> torch.Tensor:
    """Every file of ``paths``, in order, as one ``uint8`` tensor ``(N, 3, size, size)``.

    ``workers`` > 1 decodes in that many threads (Pillow releases the GIL
    while decoding and resizing). The default decodes in this thread: threads
    did not pay on the reference machine (docs/training-data.md, docs/benchmarks.md).
    """
    if size < 1:
        raise ValueError(f"image size must be at least 1, got {size}")
    paths = [Path(p) for p in paths]
    _check_fits_in_memory(len(paths), size)
    images = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)  # (N, 3, S, S)
    if not paths:
        return images
    workers = max(1, min(workers, len(paths)))
    rows = images.numpy()  # shares memory with ``images``

    def load_into(row: int) -> None:
        rows[row] = _channels_first(fit_square(load_image(paths[row]), size))

    if workers == 1:
        for row in range(len(paths)):
            load_into(row)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-images") as pool:
            # list() re-raises the first failure in *submission* order, so the
            # error names the first bad file in the list, as the serial loop would.
            list(pool.map(load_into, range(len(paths))))
    return images


def gather_images(images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``images[rows]``, a new ``(B, 3, S, S)`` tensor: a training batch's pixels.

    On the CPU numpy's fancy indexing does it: measured 10x faster than
    torch's indexing of uint8 rows (one plain copy per row, no intra-op threads).
    Training sets built on a feature store hold a ``StoreImages`` instead of a
    tensor; its rows are read from the memory-mapped store (``store_features``).
    """
    if not isinstance(images, torch.Tensor):
        return images.gather(rows)
    if images.device.type != "cpu":
        return images[rows.to(images.device)]
    return torch.from_numpy(images.numpy()[rows.cpu().numpy()])


def _check_fits_in_memory(count: int, size: int) -> None:
    needed = count * 3 * size * size
    available = _physical_memory_bytes()
    if available is not None and needed > available // 2:
        raise ImageMemoryError(
            f"{count} images at {size} x {size} px need {needed / 2**30:.1f} GiB in memory, "
            f"more than half of this machine's {available / 2**30:.1f} GiB; use a smaller image "
            "size, fewer images, or precomputed image features"
        )


def _physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on every platform (Windows)
        return None
