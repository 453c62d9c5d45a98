"""The image loader: every mode to 8-bit RGB, orientation, and one clear error per failure."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from vqadesk.data.images import DEFAULT_MAX_PIXELS, image_size, load_image
from vqadesk.errors import ImageLoadError, VqadeskError

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def close_to(pixel, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def two_halves(width=40, height=20) -> Image.Image:
    """Left half red, right half blue: tells every rotation apart."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with next to no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


# -- orientation -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_6_is_turned_upright(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sideways{suffix}"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display after turning 90 degrees clockwise
    two_halves().save(path, exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))

    image = load_image(path)

    assert image.mode == "RGB" and image.size == (20, 40)
    assert close_to(image.getpixel((10, 5)), RED)  # the red left half is now on top
    assert close_to(image.getpixel((10, 35)), BLUE)
    assert image_size(path) == (20, 40)


def test_image_without_exif_keeps_its_size(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    two_halves().save(path)
    assert image_size(path) == (40, 20)
    assert load_image(path).size == (40, 20)


# -- colour modes ------------------------------------------------------------------------------


def test_palette_with_transparency_composites_onto_white(tmp_path: Path) -> None:
    image = Image.new("P", (4, 2), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.paste(1, (2, 0, 4, 2))  # right half: opaque red
    image.info["transparency"] = 0  # index 0 (black) is transparent
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)

    loaded = load_image(path)

    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == WHITE
    assert loaded.getpixel((3, 1)) == RED


def test_palette_without_transparency(tmp_path: Path) -> None:
    path = tmp_path / "palette.gif"
    two_halves().convert("P").save(path)
    loaded = load_image(path)
    assert loaded.mode == "RGB" and close_to(loaded.getpixel((2, 2)), RED)


@pytest.mark.parametrize(
    ("mode", "pixel", "expected"),
    [
        ("RGBA", (255, 0, 0, 0), WHITE),  # fully transparent: the background
        ("RGBA", (255, 0, 0, 255), RED),
        ("RGBA", (255, 0, 0, 128), (255, 127, 127)),  # half red, half white
        ("LA", (0, 128), (127, 127, 127)),
    ],
)
def test_alpha_is_composited_onto_white(tmp_path: Path, mode: str, pixel, expected) -> None:
    path = tmp_path / "alpha.png"
    Image.new(mode, (3, 3), pixel).save(path)
    assert close_to(load_image(path).getpixel((1, 1)), expected, tolerance=2)


def test_png_colour_key_transparency(tmp_path: Path) -> None:
    path = tmp_path / "colour_key.png"
    two_halves().save(path, transparency=BLUE)  # tRNS chunk on an RGB image
    loaded = load_image(path)
    assert loaded.getpixel((35, 5)) == WHITE and loaded.getpixel((5, 5)) == RED


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)  # pure red ink
    loaded = load_image(path)
    assert loaded.mode == "RGB" and close_to(loaded.getpixel((8, 8)), RED)


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 128, 65535, 1000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I;16")

    loaded = load_image(path)

    assert [loaded.getpixel((x, 0))[0] for x in range(4)] == [0, 128, 255, 4]
    assert loaded.mode == "RGB"


def test_big_endian_sixteen_bit(tmp_path: Path) -> None:
    path = tmp_path / "deep_be.tif"
    Image.frombytes("I;16B", (2, 1), struct.pack(">HH", 0, 65535)).save(path)
    loaded = load_image(path)
    assert [loaded.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), WHITE]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 257 * 100, 65535], [0, 100, 255]),  # 16-bit data widened to 32 bits
        ([-1000, 0, 1000], [0, 128, 255]),  # anything else: stretched min..max
    ],
)
def test_thirty_two_bit_integers(tmp_path: Path, values, expected) -> None:
    path = tmp_path / "int32.tif"
    Image.fromarray(np.array([values], dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    loaded = load_image(path)
    assert [loaded.getpixel((x, 0))[0] for x in range(3)] == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.0, 0.5, 1.0], [0, 128, 255]), ([0.0, 500.0, 1000.0], [0, 128, 255]), ([2.0, 2.0, 2.0], [0, 0, 0])],
)
def test_float_images(tmp_path: Path, values, expected) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([values], dtype=np.float32)).save(path)
    assert Image.open(path).mode == "F"
    loaded = load_image(path)
    assert [loaded.getpixel((x, 0))[0] for x in range(3)] == expected


def test_one_bit_and_greyscale(tmp_path: Path) -> None:
    one_bit, grey = tmp_path / "bw.png", tmp_path / "grey.jpg"
    image = Image.new("1", (4, 4), 0)
    image.putpixel((1, 1), 1)
    image.save(one_bit)
    Image.new("L", (4, 4), 77).save(grey)

    assert load_image(one_bit).getpixel((1, 1)) == WHITE
    assert load_image(one_bit).getpixel((0, 0)) == (0, 0, 0)
    assert close_to(load_image(grey).getpixel((2, 2)), (77, 77, 77), tolerance=1)


@pytest.mark.parametrize(("suffix", "options"), [(".gif", {}), (".webp", {"lossless": True}), (".png", {})])
def test_animations_give_their_first_frame(tmp_path: Path, suffix: str, options) -> None:
    path = tmp_path / f"animated{suffix}"
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    with Image.open(path) as check:
        assert getattr(check, "n_frames", 1) == 2
    loaded = load_image(path)
    assert loaded.mode == "RGB" and close_to(loaded.getpixel((4, 4)), RED)


# -- failures: one ImageLoadError naming the file -------------------------------------------------


def load_error(path: Path, **options) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, **options)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, VqadeskError)
    return caught.value


def noisy_jpeg(path: Path) -> bytes:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(path, quality=90)
    return path.read_bytes()


def test_truncated_jpeg(tmp_path: Path) -> None:
    full = noisy_jpeg(tmp_path / "full.jpg")
    path = tmp_path / "truncated.jpg"
    path.write_bytes(full[: len(full) // 2])
    assert "truncated" in load_error(path).problem
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # never flipped behind anyone's back


def test_jpeg_cut_inside_its_header(tmp_path: Path) -> None:
    full = noisy_jpeg(tmp_path / "full.jpg")
    path = tmp_path / "stub.jpg"
    path.write_bytes(full[:20])
    assert "damaged or truncated" in load_error(path).problem


def test_truncated_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    full_path = tmp_path / "full.png"
    Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(full_path)
    path = tmp_path / "truncated.png"
    path.write_bytes(full_path.read_bytes()[:5000])
    assert "truncated" in load_error(path).problem


def test_empty_missing_and_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert load_error(empty).problem == "file is empty"
    assert load_error(tmp_path / "nowhere.jpg").problem == "file not found"
    assert "is a folder" in load_error(tmp_path).problem
    with pytest.raises(ImageLoadError, match="file not found"):
        image_size(tmp_path / "nowhere.jpg")


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("a cat sitting on a couch\n", encoding="utf-8")
    problem = load_error(path).problem
    assert problem.startswith("not an image Pillow can read") and "text file" in problem


def test_svg_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "drawing.svg"
    path.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n', encoding="utf-8")
    assert (
        load_error(path).problem == "not an image Pillow can read (SVG is a vector format; convert it to PNG)"
    )
    with pytest.raises(ImageLoadError, match="SVG"):
        image_size(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(bytes(range(256)) * 4)
    assert load_error(path).problem == "not an image Pillow can read"


# -- decompression bombs: refused from the header, before decoding ---------------------------------------


def test_header_claiming_ten_gigapixels_is_refused_without_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(100_000, 100_000))
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image.size))
    error = load_error(path)
    assert "too large" in error.problem and "decompression bomb" in error.problem
    assert decoded == []  # refused from the header: no pixel was decoded (so no time or memory spent)


def test_header_just_above_the_default_limit_names_the_size(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(10_000, 10_000))  # 100 MP: Pillow only warns
    assert 10_000 * 10_000 > DEFAULT_MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        error = load_error(path)
    assert "10000 x 10000 = 100.0 megapixels" in error.problem
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # python -W error
        assert "too large" in load_error(path).problem


def test_max_pixels_parameter(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 20), RED).save(path)
    assert "20 x 20" in load_error(path, max_pixels=100).problem
    assert load_image(path, max_pixels=400).size == (20, 20)


# -- real photos -----------------------------------------------------------------------------------------


def test_all_real_coco_photos_load(coco_real: Path) -> None:
    photos = sorted(p for p in coco_real.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(photos) == 15
    for path in photos:
        image = load_image(path)
        assert image.mode == "RGB"
        assert image.size == image_size(path)
        assert 500 <= image.size[0] <= 640
    assert load_image(coco_real / "000000039769.png").size == (640, 480)


# -- damaged files of every kind: still one ImageLoadError -------------------------------------------------


def encoded(format_name: str) -> bytes:
    rng = np.random.default_rng(2)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buffer, format_name)
    return buffer.getvalue()


SEEDS = {name: encoded(name) for name in ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    format_name=st.sampled_from(sorted(SEEDS)),
    cut=st.integers(min_value=1, max_value=4000),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=4000), st.integers(0, 255)), max_size=6),
)
def test_damaged_files_raise_only_image_load_errors(
    tmp_path: Path, format_name: str, cut: int, flips
) -> None:
    data = bytearray(SEEDS[format_name][:cut])
    for position, value in flips:
        data[position % len(data)] = value
    path = tmp_path / "damaged.img"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about some damage before failing
        for read in (load_image, image_size):
            try:
                read(path)
            except ImageLoadError as error:
                assert str(path) in str(error)
