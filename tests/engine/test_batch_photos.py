"""Listing a folder of photos for a batch job: names, order, what is skipped, links, and laziness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.batch_photos import make_photo
from vqadesk.engine.torch_free.batch import (
    Photo,
    check_photo_folder,
    count_photos,
    iter_photos,
    photos_from_files,
    survey_photos,
)
from vqadesk.errors import VqadeskError

REPO_ROOT = Path(__file__).resolve().parents[2]


def keys(root: Path, recursive: bool = True, **options) -> list[str]:
    return [photo.key for photo in iter_photos(root, recursive, **options)]


def test_odd_names_same_name_in_two_subfolders_and_a_repeatable_order(tmp_path):
    names = ["holiday photo.jpg", "IMG_1234.JPG", "Ünïcødé 写真.png", "2019/beach day.jpg", "2020/beach day.jpg",
             "2019/deeper/z.webp", "COCO_val2014_000000262148.jpg"]
    for name in names:
        make_photo(tmp_path / name)
    listed = keys(tmp_path)
    # Each folder's photos sorted by name, then its subfolders in order, each depth first.
    assert listed == ["COCO_val2014_000000262148.jpg", "IMG_1234.JPG", "holiday photo.jpg", "Ünïcødé 写真.png",
                      "2019/beach day.jpg", "2019/deeper/z.webp", "2020/beach day.jpg"]
    assert listed == keys(tmp_path)
    photos = {photo.key: photo for photo in iter_photos(tmp_path, True)}
    assert photos["2020/beach day.jpg"].path == tmp_path / "2020" / "beach day.jpg"
    assert photos["COCO_val2014_000000262148.jpg"].coco_id == 262148
    assert photos["IMG_1234.JPG"].coco_id is None
    assert keys(tmp_path, recursive=False) == listed[:4]
    assert count_photos(tmp_path, True) == 7 and count_photos(tmp_path) == 4
    assert survey_photos(tmp_path, True).coco_named == 1


def test_hidden_files_progress_files_sidecars_and_other_files_are_skipped(tmp_path):
    make_photo(tmp_path / "a.jpg")
    make_photo(tmp_path / ".hidden.jpg")
    make_photo(tmp_path / ".thumbnails" / "b.jpg")
    (tmp_path / "a.txt").write_text("a caption\n")
    (tmp_path / "out.json.progress.jsonl").write_text("{}\n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "folder.jpg").mkdir()  # a folder with a photo's name is not a photo
    assert keys(tmp_path) == ["a.jpg"]


def test_links_are_followed_inside_the_folder_only_and_loops_end(tmp_path):
    outside = tmp_path / "elsewhere"
    make_photo(outside / "far.jpg")
    make_photo(outside / "albums" / "deep.jpg")
    root = tmp_path / "photos"
    make_photo(root / "real" / "r.jpg")
    (root / "link-to-real").symlink_to(root / "real")  # the same folder again: listed once
    (root / "loop").symlink_to(root)  # a loop: not entered
    (root / "out").symlink_to(outside / "albums")  # a folder outside: not entered
    (root / "far.jpg").symlink_to(outside / "far.jpg")  # a file outside: a photo like any other
    (root / "near.jpg").symlink_to(root / "real" / "r.jpg")  # a file inside
    (root / "broken.jpg").symlink_to(root / "missing.jpg")
    skipped: list[tuple[str, str]] = []
    listed = keys(root, on_skip=lambda key, reason: skipped.append((key, reason)))
    assert listed == ["far.jpg", "near.jpg", "real/r.jpg"]
    assert dict(skipped) == {
        "broken.jpg": "broken link",
        "link-to-real": "a folder already listed (a link loop or a second way to it)",
        "loop": "a folder already listed (a link loop or a second way to it)",
        "out": "link to a folder outside the photo folder",
    }


def test_a_link_to_a_folder_inside_is_walked_when_its_folder_is_hidden(tmp_path):
    make_photo(tmp_path / ".originals" / "o.jpg")
    (tmp_path / "originals").symlink_to(tmp_path / ".originals")
    assert keys(tmp_path) == ["originals/o.jpg"]


def test_the_folder_must_exist(tmp_path):
    with pytest.raises(VqadeskError, match="nowhere: does not exist"):
        check_photo_folder(tmp_path / "nowhere")
    make_photo(tmp_path / "a.jpg")
    with pytest.raises(VqadeskError, match="is not a folder"):
        check_photo_folder(tmp_path / "a.jpg")
    assert check_photo_folder(tmp_path) == tmp_path


def test_photos_picked_one_by_one_are_keyed_under_the_root_or_by_their_full_path(tmp_path):
    inside = make_photo(tmp_path / "split" / "sub" / "a.jpg")
    outside = make_photo(tmp_path / "other" / "a.jpg")
    photos = list(photos_from_files([inside, outside], tmp_path / "split"))
    assert photos == [Photo("sub/a.jpg", inside, None), Photo(outside.absolute().as_posix(), outside, None)]


# Run in a fresh interpreter: tracemalloc counts every thread's allocations, and threads that
# earlier tests left running (thumbnailers, pools) would be counted as the listing's.
_LISTING_MEMORY = """
import json, sys, tracemalloc
from pathlib import Path
from vqadesk.engine.torch_free.batch import iter_photos
tracemalloc.start()
photos = iter_photos(Path(sys.argv[1]), True)
first = next(photos)
after_first = tracemalloc.get_traced_memory()[0]
count, last, at_20000 = 1, first, None
for photo in photos:
    count, last = count + 1, photo
    if count == 20_000:
        at_20000 = tracemalloc.get_traced_memory()[0]
at_end, peak = tracemalloc.get_traced_memory()
print(json.dumps(dict(count=count, first=first.key, last=last.key, after_first=after_first,
                      at_20000=at_20000, at_end=at_end, peak=peak)))
"""


def test_100000_names_are_listed_lazily_with_flat_memory(tmp_path):
    folders, per_folder = 100, 1000
    for f in range(folders):
        folder = tmp_path / f"folder {f:03d}"
        folder.mkdir()
        for n in range(per_folder):
            os.close(os.open(folder / f"photo {n:04d}.jpg", os.O_CREAT | os.O_WRONLY))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", _LISTING_MEMORY, str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=env, check=True)
    found = json.loads(out.stdout)
    assert found["count"] == folders * per_folder
    assert found["first"] == "folder 000/photo 0000.jpg" and found["last"] == "folder 099/photo 0999.jpg"
    # Held: one folder's names (about 100 KB) and pathlib's table of interned name parts (about 1 MB,
    # it does not shrink), never the tree's: the 100,000 Photo records take about 37 MB.
    assert found["after_first"] < 1_000_000
    assert found["at_end"] < found["at_20000"] + 200_000, found
    assert found["peak"] < 5_000_000, found
    assert count_photos(tmp_path, True) == folders * per_folder
