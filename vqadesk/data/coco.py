"""``CocoIndex``: COCO images, captions and objects, merged and indexed by image.

Open one or several annotation files (captions and/or instances of one split,
say ``captions_val2014.json`` + ``instances_val2014.json``) with the folder of
their images, a dataset root laid out like COCO or the Shapes world, or a
plain folder of photos:

    CocoIndex([captions, instances], image_dir="val2014")
    CocoIndex.from_dataset_root("coco", "val2014")   # annotations/..._val2014.json + val2014/
    CocoIndex.from_folder("~/Pictures/holiday")        # no annotations at all

Which images exist: the union of the files' ``images`` blocks, or, when no
file has one (bare lists of annotations, or no file at all), the photos in
the image folder. An annotation whose ``image_id`` is not such an image is an
error naming the file and field: a file that refers to images it does not
list is broken, and silently dropping its annotations would hide that.

The index keeps compact tables (caption tuples, the validated annotation
objects as parsed) and creates the ``CocoImage``/``CocoCaption``/``CocoObject``
records callers see on demand. An index read back from the app's index cache
(``split_cache``, via ``CocoIndex.from_tables``) holds the same tables as
numpy columns grouped by image (``grouped_rows.GroupedRows``), without the
objects' segmentation and keypoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

from vqadesk.data.coco_naming import ImageFolder, coco_id_from_name
from vqadesk.data.coco_parse import CAPTIONS, INSTANCES, CocoFileContents, read_coco_file
from vqadesk.data.coco_records import CocoCaption, CocoImage, CocoObject
from vqadesk.data.grouped_rows import GroupedRows, row_count
from vqadesk.data.images import image_size as read_image_size
from vqadesk.errors import DataFormatError, ImageLoadError, VqadeskError

__all__ = ["CocoCaption", "CocoImage", "CocoIndex", "CocoObject", "UnknownImageError"]

PathLike = str | os.PathLike[str]


class UnknownImageError(VqadeskError, LookupError):
    """An image id that the index does not hold."""


class CocoIndex:
    """Images, captions, objects and categories of one COCO-style split."""

    def __init__(
        self, annotation_files: PathLike | Iterable[PathLike] = (), *, image_dir: PathLike | None = None
    ):
        if isinstance(annotation_files, (str, os.PathLike)):
            annotation_files = [annotation_files]
        self._files = tuple(Path(p) for p in annotation_files)
        self._folder = ImageFolder(image_dir) if image_dir is not None else None
        self._images: dict[int, CocoImage] = {}
        self._categories: dict[int, str] = {}
        # image id -> the file's (image_id, annotation id, caption) rows, shared with the parser;
        # a GroupedRows of the same rows in an index from the cache (see from_tables).
        self._captions: Mapping[int, list[tuple[int, int, str]]] = {}
        self._objects: Mapping[int, list[dict]] = {}
        self._category_sets: dict[int, frozenset[int]] | None = None  # image id -> its categories, on demand
        self._read_sizes: dict[int, tuple[int, int]] = {}
        # lower-cased id, file name, categories, captions; built on first search
        self._search_cache: dict[int, str] = {}
        self._loose_paths: dict[int, Path] = {}  # from_files: each image's own path

        contents = [read_coco_file(path) for path in self._files]
        image_blocks = [c for c in contents if c.images is not None]
        self._images_from_folder = not image_blocks
        if image_blocks:
            for file_contents in image_blocks:
                self._merge_images(file_contents)
        else:
            self._add_folder_photos(contents)
        # Categories a file defines itself win over the bundled official table.
        for file_contents in sorted(contents, key=lambda c: c.official_categories):
            if file_contents.categories is not None:
                self._merge_categories(file_contents)
        for file_contents in contents:
            self._add_annotations(file_contents)
        self._image_ids = tuple(self._images)
        self._image_records = tuple(self._images.values())

    # -- other ways in -------------------------------------------------------------------

    @classmethod
    def from_folder(cls, image_dir: PathLike) -> CocoIndex:
        """A folder of photos without annotations (top level only, sorted by name).

        COCO-style names (``COCO_val2014_000000262148.jpg``, ``000000000785.jpg``)
        give their id; other photos get ids 1, 2, 3... in name order, skipping
        ids already taken. Sizes are read from the headers when asked for.
        """
        return cls((), image_dir=image_dir)

    @classmethod
    def from_files(cls, paths: Iterable[PathLike]) -> CocoIndex:
        """Loose photos from anywhere (the app's "Dropped photos"): ids 1, 2, 3... in the order
        given, each file found by its own path; a path given twice is one image."""
        index = cls(())
        for path in dict.fromkeys(Path(p) for p in paths):
            image_id = len(index._images) + 1
            index._images[image_id] = CocoImage(id=image_id, file_name=path.name)
            index._loose_paths[image_id] = path
        index._image_ids = tuple(index._images)
        index._image_records = tuple(index._images.values())
        return index

    @classmethod
    def from_dataset_root(cls, root: PathLike, split: str) -> CocoIndex:
        """``<root>/annotations/{captions,instances}_<split>.json`` with images in
        ``<root>/<split>`` or ``<root>/images/<split>`` (COCO 2014/2017, Shapes)."""
        files, image_dir = dataset_root_files(root, split)
        return cls(files, image_dir=image_dir)

    @classmethod
    def from_tables(
        cls,
        annotation_files: Iterable[PathLike],
        image_dir: PathLike | None,
        *,
        images: dict[int, CocoImage],
        categories: dict[int, str],
        captions: Mapping[int, list[tuple[int, int, str]]],
        objects: Mapping[int, list[dict]],
    ) -> CocoIndex:
        """An index from tables already validated (the index cache reads them back).

        ``captions`` and ``objects`` hold the rows the parser makes: per image,
        ``(image_id, annotation id, caption)`` tuples and annotation dicts
        (``id``, ``image_id``, ``category_id``, ``bbox`` and optionally ``area``,
        ``iscrowd``, ``segmentation``, ``keypoints``). Nothing is read from disk.
        """
        index = cls(())
        index._files = tuple(Path(p) for p in annotation_files)
        index._folder = ImageFolder(image_dir) if image_dir is not None else None
        index._images_from_folder = False
        index._images, index._categories = images, categories
        index._captions, index._objects = captions, objects
        index._image_ids = tuple(images)
        index._image_records = tuple(images.values())
        return index

    # -- images --------------------------------------------------------------------------------

    @property
    def images(self) -> tuple[CocoImage, ...]:
        """All images, in the order the files list them."""
        return self._image_records

    @property
    def image_ids(self) -> tuple[int, ...]:
        return self._image_ids

    @property
    def image_dir(self) -> Path | None:
        return self._folder.folder if self._folder else None

    @property
    def annotation_files(self) -> tuple[Path, ...]:
        return self._files

    @property
    def images_from_folder(self) -> bool:
        """True when the images are the folder's photos (no file had an 'images' block)."""
        return self._images_from_folder

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._images

    def image(self, image_id: int) -> CocoImage:
        try:
            return self._images[image_id]
        except KeyError:
            raise UnknownImageError(f"{self._describe()}: no image with id {image_id}") from None

    def image_size(self, image_id: int) -> tuple[int, int]:
        """``(width, height)`` from the annotations, else read from the file's header."""
        record = self.image(image_id)
        if record.width is not None and record.height is not None:
            return record.width, record.height
        if image_id not in self._read_sizes:
            self._read_sizes[image_id] = read_image_size(self.image_path(image_id))
        return self._read_sizes[image_id]

    def find_image_path(self, image_id: int) -> Path | None:
        """The image file, or ``None`` when it is not on disk.

        Looks for the record's ``file_name`` in the image folder, then for any
        file named after the id in either COCO style (see ``coco_naming``).
        """
        loose = self._loose_paths.get(image_id)
        if loose is not None:
            return loose if loose.is_file() else None
        if self._folder is None:
            return None
        record = self._images.get(image_id)
        return self._folder.find(record.file_name if record else None, image_id)

    def image_path(self, image_id: int) -> Path:
        """Like ``find_image_path`` but a missing file is an ``ImageLoadError``."""
        path = self.find_image_path(image_id)
        if path is not None:
            return path
        record = self._images.get(image_id)
        name = record.file_name if record else f"image {image_id}"
        if image_id in self._loose_paths:
            raise ImageLoadError(self._loose_paths[image_id], "image file not found")
        if self._folder is None:
            raise ImageLoadError(name, f"no image folder was given for {self._describe()}")
        raise ImageLoadError(
            self._folder.folder / name,
            f"image file not found (nor any COCO-style name for id {image_id} in {self._folder.folder})",
        )

    # -- annotations -------------------------------------------------------------------------

    def captions(self, image_id: int) -> tuple[CocoCaption, ...]:
        self._check_known(image_id)
        rows = self._captions.get(image_id, ())
        return tuple(CocoCaption(id=row[1], image_id=image_id, caption=row[2]) for row in rows)

    def objects(self, image_id: int) -> tuple[CocoObject, ...]:
        self._check_known(image_id)
        return tuple(self._make_object(raw) for raw in self._objects.get(image_id, ()))

    def caption_rows(self, image_id: int) -> list[tuple[int, int, str]]:
        """The ``(image_id, annotation id, caption)`` rows behind ``captions`` (``from_tables``' format)."""
        return self._captions.get(image_id, [])

    def object_rows(self, image_id: int) -> list[dict]:
        """The validated annotation dicts behind ``objects`` (``from_tables``' format; do not modify)."""
        return self._objects.get(image_id, [])

    @property
    def categories(self) -> Mapping[int, str]:
        """``{category id: name}`` (read-only view)."""
        return MappingProxyType(self._categories)

    def category_names(self) -> list[str]:
        """Category names in id order."""
        return [self._categories[i] for i in sorted(self._categories)]

    @property
    def caption_count(self) -> int:
        return row_count(self._captions)

    @property
    def object_count(self) -> int:
        return row_count(self._objects)

    # -- filtering helpers (the browser's filter box) -------------------------------------------

    def image_ids_with_category(self, category: int | str) -> list[int]:
        """Ids of images with at least one object of ``category`` (id or name, any case)."""
        wanted = self._category_ids_matching(category)
        empty: frozenset[int] = frozenset()
        sets = self._categories_by_image()
        return [i for i in self._image_ids if not wanted.isdisjoint(sets.get(i, empty))]

    def search(
        self, text: str = "", *, category: int | str | None = None, image_id: int | None = None
    ) -> list[int]:
        """Image ids, in order, matching every criterion given.

        ``text``: every whitespace-separated word must occur (case-insensitive)
        in the image's id, file name, object category names or captions — what
        the browser's filter box does. ``category`` and ``image_id`` select
        exactly; criteria left out match everything."""
        ids: Iterable[int] = self._image_ids
        if image_id is not None:
            ids = [image_id] if image_id in self._images else []
        if category is not None:
            allowed = set(self.image_ids_with_category(category))
            ids = [i for i in ids if i in allowed]
        words = text.lower().split()
        if words:
            ids = [i for i in ids if all(w in self._searchable_text(i) for w in words)]
        return list(ids)

    # -- building ------------------------------------------------------------------------------

    def _merge_images(self, contents: CocoFileContents) -> None:
        images = self._images
        for position, record in enumerate(contents.images or ()):
            known = images.get(record.id)
            if known is None:
                images[record.id] = record
            elif known.file_name != record.file_name:
                raise DataFormatError(
                    contents.path,
                    f"image {record.id} is '{record.file_name}' here but '{known.file_name}' in another file",
                    f"images[{position}].file_name",
                )

    def _add_folder_photos(self, contents: list[CocoFileContents]) -> None:
        if self._folder is None:
            if contents:
                raise DataFormatError(
                    contents[0].path,
                    "has no 'images' block; give the image folder so its photos say which images exist",
                )
            return
        if not self._folder.folder.is_dir():
            raise ImageLoadError(self._folder.folder, "image folder not found")
        plain: list[str] = []
        for name in self._folder.photo_names:
            image_id = coco_id_from_name(name)
            if image_id is None or image_id in self._images:
                plain.append(name)
            else:
                self._images[image_id] = CocoImage(id=image_id, file_name=name)
        next_id = 1
        for name in plain:
            while next_id in self._images:
                next_id += 1
            self._images[next_id] = CocoImage(id=next_id, file_name=name)
        # Keep name order whatever the ids, like a file manager would.
        self._images = dict(sorted(self._images.items(), key=lambda item: item[1].file_name))

    def _merge_categories(self, contents: CocoFileContents) -> None:
        for category_id, name in (contents.categories or {}).items():
            known = self._categories.setdefault(category_id, name)
            if known != name and not contents.official_categories:
                raise DataFormatError(
                    contents.path,
                    f"category {category_id} is '{name}' here but '{known}' in another file",
                    "categories",
                )

    def _add_annotations(self, contents: CocoFileContents) -> None:
        # Group first and look for unknown image ids afterwards with one set
        # difference: the loops stay tight for val2014's 200k captions.
        if contents.kind == CAPTIONS:
            captions = self._captions
            for row in contents.captions:
                rows = captions.get(row[0])
                if rows is None:
                    rows = captions[row[0]] = []
                rows.append(row)
            image_ids = (row[0] for row in contents.captions)
        elif contents.kind == INSTANCES:
            objects = self._objects
            for raw in contents.objects:
                rows = objects.get(raw["image_id"])
                if rows is None:
                    rows = objects[raw["image_id"]] = []
                rows.append(raw)
            image_ids = (raw["image_id"] for raw in contents.objects)
        else:
            return
        unknown = (self._captions.keys() | self._objects.keys()) - self._images.keys()
        if unknown:
            for position, image_id in enumerate(image_ids):
                if image_id in unknown:
                    self._raise_unknown_image(contents, position, image_id)

    def _raise_unknown_image(self, contents: CocoFileContents, position: int, image_id: int) -> NoReturn:
        where = (
            "the 'images' of the annotation files"
            if contents.images is not None or self._folder is None
            else (f"the image folder {self._folder.folder}")
        )
        raise DataFormatError(
            contents.path,
            f"image {image_id} is not in {where}",
            contents.annotation_field(position, "image_id"),
        )

    # -- helpers -------------------------------------------------------------------------------

    def _make_object(self, raw: dict) -> CocoObject:
        x, y, width, height = raw["bbox"]
        iscrowd = raw.get("iscrowd")
        area = raw.get("area")
        return CocoObject(
            id=raw["id"],
            image_id=raw["image_id"],
            category_id=raw["category_id"],
            category_name=self._categories.get(raw["category_id"], str(raw["category_id"])),
            bbox=(float(x), float(y), float(width), float(height)),
            area=None if area is None else float(area),
            iscrowd=bool(iscrowd),
            segmentation=raw.get("segmentation"),
            keypoints=raw.get("keypoints"),
        )

    def _check_known(self, image_id: int) -> None:
        if image_id not in self._images:
            raise UnknownImageError(f"{self._describe()}: no image with id {image_id}")

    def _category_ids_matching(self, category: int | str) -> set[int]:
        if isinstance(category, int):
            return {category}
        wanted = category.strip().lower()
        return {i for i, name in self._categories.items() if name.lower() == wanted}

    def _searchable_text(self, image_id: int) -> str:
        text = self._search_cache.get(image_id)
        if text is None:
            parts = [str(image_id), self._images[image_id].file_name]
            categories = self._categories_by_image().get(image_id, ())
            parts += sorted({self._categories.get(c, str(c)) for c in categories})
            parts += [row[2] for row in self._captions.get(image_id, ())]
            text = self._search_cache[image_id] = "\n".join(parts).lower()
        return text

    def _categories_by_image(self) -> dict[int, frozenset[int]]:
        # Filtering needs only each image's category ids: build them once, from the
        # columns when the index came from the cache (no object dicts made).
        if self._category_sets is None:
            if isinstance(self._objects, GroupedRows):
                column = self._objects.column("category_id")
                self._category_sets = {k: frozenset(column[a:b]) for k, a, b in self._objects.spans()}
            else:
                self._category_sets = {
                    i: frozenset(o["category_id"] for o in rows) for i, rows in self._objects.items()
                }
        return self._category_sets

    def _describe(self) -> str:
        if self._files:
            return ", ".join(str(path) for path in self._files)
        if self._loose_paths:
            return f"{len(self._loose_paths)} loose photos"
        return str(self._folder.folder) if self._folder else "empty COCO index"

    def __repr__(self) -> str:
        return (
            f"CocoIndex({self._describe()}: {len(self._images)} images, "
            f"{self.caption_count} captions, {self.object_count} objects)"
        )


def dataset_root_files(root: PathLike, split: str) -> tuple[list[Path], Path]:
    """The annotation files and image folder of ``split`` under a COCO-style root (nothing parsed)."""
    root = Path(root)
    annotations = root / "annotations"
    files = [annotations / f"{kind}_{split}.json" for kind in ("captions", "instances")]
    # Any entry by that name counts, not only regular files: a FIFO, a device or a broken link is
    # then refused by the reader with its name, instead of the split opening without it unsaid.
    files = [path for path in files if os.path.lexists(path)]
    if not files:
        raise DataFormatError(
            annotations,
            f"no captions_{split}.json or instances_{split}.json: not a COCO-style dataset root for split '{split}'",
        )
    candidates = (root / split, root / "images" / split)
    image_dir = next((folder for folder in candidates if folder.is_dir()), candidates[0])
    return files, image_dir
