"""Caches against hostile or unlucky conditions (issue 16), and image files that are not files.

An edit while the inputs are parsed, a symlinked ``.vqadesk-cache``, a user
data folder that cannot be made, one permission policy for every cache file,
a decompression bomb in the thumbnail cache, FIFOs and ``/dev/urandom`` as images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.hostile_files import png_header_only
from vqadesk.data import array_cache, thumbnails
from vqadesk.data.array_cache import ARRAYS, CACHE_FOLDER, ENTRY, cached_arrays
from vqadesk.data.images import load_image
from vqadesk.errors import ImageLoadError, VqadeskError
from vqadesk.jsonio import plain_file_mode
from vqadesk.paths import UserDataError, user_data_dir


def numbers_builder(path: Path, calls: list[int], edit_while_parsing: bool = False):
    """A ``build`` reading ``path``'s numbers; optionally appending one to the file as it parses."""
    def build() -> dict[str, np.ndarray]:
        values = [int(v) for v in path.read_text().split()]
        if edit_while_parsing:
            with open(path, "a") as handle:
                handle.write(" 99")
        calls.append(1)
        return {"values": np.array(values, dtype=np.int64)}
    return build


def test_an_edit_during_parsing_is_noticed_next_time(tmp_path):
    data = tmp_path / "numbers.txt"
    data.write_text("1 2 3")
    calls: list[int] = []
    arrays, info = cached_arrays("n", [data], numbers_builder(data, calls, edit_while_parsing=True),
                                 builder_version=1)
    assert arrays["values"].tolist() == [1, 2, 3] and info.built
    again, info = cached_arrays("n", [data], numbers_builder(data, calls), builder_version=1)
    assert again["values"].tolist() == [1, 2, 3, 99], "the edit made during parsing was cached as the old data"
    assert info.built and len(calls) == 2
    third, info = cached_arrays("n", [data], numbers_builder(data, calls), builder_version=1)
    assert not info.built and third["values"].tolist() == [1, 2, 3, 99]


def test_every_cache_file_has_the_plain_file_permissions(tmp_path):
    data = tmp_path / "numbers.txt"
    data.write_text("4 5")
    _, info = cached_arrays("n", [data], numbers_builder(data, []), builder_version=1)
    modes = {name: (info.path / name).stat().st_mode & 0o777 for name in (ARRAYS, ENTRY)}
    assert modes == {ARRAYS: plain_file_mode(), ENTRY: plain_file_mode()}


def test_a_symlinked_cache_folder_is_not_followed(tmp_path, user_data):
    dataset, elsewhere = tmp_path / "dataset", tmp_path / "elsewhere"
    dataset.mkdir()
    elsewhere.mkdir()
    (dataset / CACHE_FOLDER).symlink_to(elsewhere, target_is_directory=True)
    data = dataset / "numbers.txt"
    data.write_text("7")
    _, info = cached_arrays("n", [data], numbers_builder(data, []), builder_version=1)
    assert list(elsewhere.iterdir()) == []
    assert info.path.is_relative_to(user_data_dir())
    _, info = cached_arrays("n", [data], numbers_builder(data, []), builder_version=1)
    assert not info.built


def test_no_user_data_folder_and_a_symlinked_cache_still_builds(tmp_path, monkeypatch):
    def cannot_make() -> Path:
        raise UserDataError(tmp_path / "ro", PermissionError(13, "Permission denied"))
    monkeypatch.setattr(array_cache, "user_data_dir", cannot_make)
    (tmp_path / CACHE_FOLDER).symlink_to(tmp_path / "nowhere", target_is_directory=True)
    data = tmp_path / "numbers.txt"
    data.write_text("8 9")
    arrays, info = cached_arrays("n", [data], numbers_builder(data, []), builder_version=1)
    assert arrays["values"].tolist() == [8, 9] and info.built
    assert not (tmp_path / "nowhere").exists()


def test_a_user_data_folder_that_cannot_be_made_is_one_readable_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("VQADESK_DATA_DIR", str(blocker / "data"))  # under a file: mkdir fails, even for root
    with pytest.raises(VqadeskError) as caught:
        user_data_dir()
    assert isinstance(caught.value, OSError)
    assert str(caught.value).startswith(f"{blocker / 'data'}: vqadesk's user data folder cannot be created (")


@pytest.mark.parametrize("claimed", [(30_000, 30_000), (500, 500)])
def test_a_bomb_or_an_oversized_file_in_the_thumbnail_cache_is_made_again(tmp_path, claimed):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (200, 100), "red").save(photo)
    cache = tmp_path / "thumbs"
    key = thumbnails.cache_key(photo, 64)
    cached = cache / key[:2] / f"{key}.png"
    cached.parent.mkdir(parents=True)
    png_header_only(cached, *claimed)
    image = thumbnails.cached_thumbnail(photo, 64, cache_dir=cache)
    assert image.size == (64, 32) and image.getpixel((0, 0)) == (255, 0, 0)
    assert Image.open(cached).size == (64, 32)  # replaced by the real thumbnail
    assert cached.stat().st_mode & 0o777 == plain_file_mode()


def test_a_fifo_or_a_device_as_an_image_is_refused(tmp_path):
    fifo = tmp_path / "a.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match=r"is not a regular file \(a FIFO\), not an image file"):
        load_image(fifo)
    link = tmp_path / "b.jpg"
    link.symlink_to("/dev/urandom")
    with pytest.raises(ImageLoadError, match=r"is not a regular file \(a device\)"):
        thumbnails.cached_thumbnail(link, 64, cache_dir=tmp_path / "thumbs")
