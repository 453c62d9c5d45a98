"""Folders of photos for the batch tests, and a model that reads them for real.

``PixelModel`` has the ``caption_many`` / ``ask_many`` of a Predictor: it
loads each photo with vqadesk's own loader (so a broken, vanished or
too-large photo raises the loader's ``ImageLoadError``, as a real model's
would) and describes it by its mean colour, so results depend on the pixels
and are exact to compare. It counts the photos it was given.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.predictions import Answer, Caption, CaptionPrediction, VqaPrediction

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 210), "grey": (128, 128, 128)}


def make_photo(path: Path, colour: str = "red", size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


def make_bomb(path: Path) -> Path:
    """A PNG whose header claims 100,000 x 100,000 pixels with next to no data: the loader refuses it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


def colour_of(path: str) -> str:
    pixel = load_image(path).resize((1, 1)).getpixel((0, 0))
    return min(COLOURS, key=lambda name: sum((a - b) ** 2 for a, b in zip(COLOURS[name], pixel)))


class PixelModel:
    def __init__(self, precision: str = "fp32"):
        self.precision = precision
        self.seen: list[str] = []

    def caption_many(self, images, beam_size=3, num_captions=1):
        colours = [colour_of(str(image)) for image in images]  # the first unreadable one raises
        self.seen.extend(str(image) for image in images)
        return [
            CaptionPrediction(
                captions=[Caption(text=f"a {colour} photo" + " again" * n, words=[], score=-0.1 * (n + 1),
                                  log_prob=-1.0) for n in range(num_captions)],
                model="pixel", timings_ms={}, cached=False, precision=self.precision)
            for colour in colours
        ]

    def ask_many(self, images, questions, *, top_k=5):
        colours = [colour_of(str(image)) for image in images]
        self.seen.extend(str(image) for image in images)
        return [
            VqaPrediction(question=question, answers=[Answer(colour, 0.9), Answer("other", 0.05)][:top_k],
                          attention=None, glimpses=None, model="pixel", timings_ms={}, cached=False,
                          precision=self.precision)
            for colour, question in zip(colours, questions)
        ]
