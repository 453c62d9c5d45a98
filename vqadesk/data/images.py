"""The one image loader: any photo on disk -> an 8-bit RGB ``PIL.Image``.

Every part of vqadesk (GUI, CLI, training, feature extraction) loads images
through ``load_image`` so they all see the same pixels:

* EXIF orientation is applied (a phone photo stored sideways shows upright);
* transparency (palette, LA, RGBA, PA, PNG colour keys) is composited onto
  white, so a transparent background never turns black;
* CMYK, 1-bit, greyscale, 16-bit and 32-bit integer / float images are
  converted, with high bit depths *scaled* to 0..255 instead of clipped;
* animated GIF / WebP / APNG files give their first frame.

Every failure is one ``ImageLoadError`` naming the file and saying what is
wrong (missing, a folder, empty, truncated, not an image, too large). Images
whose header claims more than ``max_pixels`` pixels are refused after reading
the header and before decoding a single pixel (decompression bombs).

Pillow's global settings are left alone (``ImageFile.LOAD_TRUNCATED_IMAGES``
in particular): a truncated file is an error, not a half-grey picture.
``image_size`` reads only the header, for listing folders of photos quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISREG

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vqadesk.errors import ImageLoadError
from vqadesk.jsonio import kind_of_file

# Pillow's own default (Image.MAX_IMAGE_PIXELS, ~89.5 megapixels): large enough
# for any real photo, small enough that a crafted header cannot eat the RAM.
DEFAULT_MAX_PIXELS = 89_478_485

# Orientations 5..8 rotate by 90 degrees, so width and height swap.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})

# First bytes of formats Pillow reads, to tell "damaged JPEG" from "not an image".
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

_NOT_READABLE = "not an image Pillow can read"


def load_image(
    path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_side: int | None = None
) -> Image.Image:
    """Load ``path`` as an upright, 8-bit RGB image (first frame if animated).

    ``max_pixels`` bounds width x height as declared by the header. Pillow
    itself refuses anything above twice its own limit (~179 MP) whatever
    ``max_pixels`` says, because raising that limit would mean changing a
    process-wide setting.

    ``draft_side``: a JPEG is decoded by Pillow's draft mode at the smallest
    DCT scale (1/2, 1/4 or 1/8) that keeps both sides at least ``draft_side``
    pixels -- several times less work when the caller shrinks the photo to
    that size anyway (feature extraction). The pixels differ slightly from a
    full decode followed by the same resize (docs/performance.md measures how
    much); other formats, and JPEGs already small, decode in full.
    """
    path = Path(path)
    check_image_file(path)
    with _pillow_errors(path, max_pixels), Image.open(path) as image:
        _check_pixel_count(path, image.size, max_pixels)
        if draft_side is not None and image.format == "JPEG":
            image.draft("RGB", (draft_side, draft_side))  # square: either orientation keeps both sides
        image.load()  # the first frame only, for animated files
        upright = _apply_exif_orientation(image)
    return to_rgb(path, upright)


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` as displayed, from the header only (no pixel decoding).

    EXIF orientations that rotate by 90 degrees swap the two, so the size
    matches what ``load_image`` returns.
    """
    path = Path(path)
    check_image_file(path)
    with _pillow_errors(path, DEFAULT_MAX_PIXELS), Image.open(path) as image:
        width, height = image.size
        orientation = _header_orientation(image)
    if orientation in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


# -- Pillow's exceptions -> ImageLoadError -------------------------------------


@contextmanager
def _pillow_errors(path: Path, max_pixels: int) -> Iterator[None]:
    """Turn whatever Pillow raises while opening or decoding ``path`` into one ``ImageLoadError``.

    ``max_pixels`` only words the message of a decompression bomb Pillow caught itself.
    """
    try:
        yield
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning only arrives here when warnings are errors (python -W error).
        raise ImageLoadError(path, _too_large_message(None, max_pixels)) from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, _unidentified_message(path)) from None
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied") from None
    except MemoryError:
        raise ImageLoadError(path, "not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        # Pillow's decoders report damage with all of these, depending on the
        # format and on where the data stops.
        raise ImageLoadError(path, _decode_failure_message(exc)) from None


# -- checks before decoding ---------------------------------------------------


def check_image_file(path: Path) -> None:
    """Name the common mistakes before Pillow turns them into vaguer errors.

    Also the check before anything else opens an image file (hashing it for a
    cache key): a FIFO would block the reader and ``/dev/urandom`` never ends.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL byte or unencodable name
        raise ImageLoadError(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image file")
    if not S_ISREG(stat.st_mode):  # a FIFO would block the reader; /dev/urandom never ends
        raise ImageLoadError(path, f"is not a regular file ({kind_of_file(stat.st_mode)}), not an image file")
    if stat.st_size == 0:
        raise ImageLoadError(path, "file is empty")


def _check_pixel_count(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageLoadError(path, _too_large_message((width, height), max_pixels))


def _too_large_message(size: tuple[int, int] | None, max_pixels: int) -> str:
    limit = f"{max_pixels / 1e6:.1f} megapixels"
    if size is None:
        return f"image is too large: its header claims more than {limit} (refused as a possible decompression bomb)"
    width, height = size
    return (
        f"image is too large: {width} x {height} = {width * height / 1e6:.1f} megapixels, "
        f"above the limit of {limit} (refused as a possible decompression bomb)"
    )


# -- error messages --------------------------------------------------------------


def _unidentified_message(path: Path) -> str:
    """Why Pillow did not recognise the file, as precisely as the first bytes tell."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        head = b""
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return (
                f"file is damaged or truncated (it starts like a {name} file but its header cannot be read)"
            )
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "file is damaged or truncated (it starts like a WebP file but its header cannot be read)"
    lowered = head.lstrip().lower()
    suffix = path.suffix.lower()
    if (
        suffix in (".svg", ".svgz")
        or lowered.startswith(b"<svg")
        or (lowered.startswith(b"<?xml") and b"<svg" in lowered)
    ):
        return f"{_NOT_READABLE} (SVG is a vector format; convert it to PNG)"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc") or suffix in (".heic", ".heif"):
        return f"{_NOT_READABLE} (HEIC/HEIF needs an extra Pillow plugin; convert it to JPEG or PNG)"
    if head.startswith(b"%PDF") or suffix == ".pdf":
        return f"{_NOT_READABLE} (PDF is a document; export the page as PNG)"
    if _looks_like_text(head):
        return f"{_NOT_READABLE} (it looks like a text file)"
    return _NOT_READABLE


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 512-byte window is still text.
        return exc.start >= len(head) - 3
    return True


def _decode_failure_message(exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "file is truncated (the image data stops before the end)"
    return f"file is damaged and cannot be decoded ({text or type(exc).__name__})"


# -- orientation ---------------------------------------------------------------------


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """The image turned upright, always a new image detached from the file."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - malformed EXIF must not cost the user the pixels
        return image.copy()


def _header_orientation(image: Image.Image) -> int:
    """The EXIF orientation tag, without decoding pixels.

    ``PngImageFile.getexif`` decodes the whole image when the eXIf chunk sits
    after the pixel data, so for PNG only an eXIf chunk seen in the header counts.
    """
    try:
        if image.format == "PNG":
            raw = image.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = image.getexif()
        orientation = exif.get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF: take the pixels as stored
        return 1
    return orientation if isinstance(orientation, int) else 1


# -- colour conversion -----------------------------------------------------------------

_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_HIGH_DEPTH_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def to_rgb(path: Path, image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, transparency composited onto white."""
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_rgb(image)
    try:
        if mode in _ALPHA_MODES or "transparency" in image.info:
            return _composite_on_white(image.convert("RGBA"))
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageLoadError(path, f"colour mode {mode} cannot be converted to RGB ({exc})") from None


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale, scaled (not clipped) to 0..255.

    16-bit images map 0..65535 onto 0..255 (divide by 257, rounded, so an
    8-bit value stored as 16 bits comes back exactly). 32-bit integer images
    whose values fit 0..65535 are 16-bit data Pillow widened and get the same
    scale; others are stretched from their minimum to their maximum. Float
    images in 0..1 are multiplied by 255; others are stretched likewise.
    """
    import numpy as np  # lazy: only high bit depth images need it

    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = (values.astype(np.uint32) + 128) // 257
    elif image.mode == "I" and values.size and values.min() >= 0 and values.max() <= 65535:
        scaled = (values.astype(np.int64) + 128) // 257
    else:
        floats = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = (float(floats.min()), float(floats.max())) if floats.size else (0.0, 0.0)
        if image.mode == "F" and low >= 0.0 and high <= 1.0:
            scaled = np.rint(floats * 255.0)
        elif high > low:
            scaled = np.rint((floats - low) * (255.0 / (high - low)))
        else:
            scaled = np.zeros_like(floats)
    grey = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))  # 2-D uint8 -> "L"
    return grey.convert("RGB")
