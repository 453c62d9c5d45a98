"""Reading one COCO annotations file into validated, compact tables.

What is accepted (the leniencies are deliberate and documented in
docs/data-formats.md):

* a captions file, an instances file (``person_keypoints`` files are
  instances files), or an image-info file (``images`` and no annotations);
* a bare JSON list of instance annotations (no ``images``/``categories``
  block), as some tools write; its images come from the image folder;
* an instances file without ``categories``: names come from the official
  80-category table bundled in ``resources/coco/categories.json``;
* ``info``, ``licenses``, ``type`` and unknown keys are ignored;
  ``width``/``height``/``license``/urls of images, and ``area``/``iscrowd``/
  ``segmentation``/``keypoints`` of objects may be absent.

What is refused, with a ``DataFormatError`` naming the file and the field
(``annotations[12].caption: missing``): a missing or mistyped required field
(image ``id``/``file_name``, caption ``id``/``image_id``/``caption``, object
``id``/``image_id``/``category_id``/``bbox``), a present field of the wrong
type, a ``bbox`` that is not four numbers, a category id the file does not
define, a duplicated image id.

Speed matters (val2014 captions: 202k annotations), so each record is checked
with plain ``type(...) is`` tests first, and only a record that fails them goes
through the slower helpers that build the precise message.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from vqadesk.data.coco_records import CocoImage
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import describe_type, expect, field, int64, read_json, two_ids_and_text

CAPTIONS = "captions"
INSTANCES = "instances"
IMAGES_ONLY = "images"


@dataclass
class CocoFileContents:
    """What one file contributes to an index, every record already validated."""

    path: Path
    kind: str  # CAPTIONS, INSTANCES or IMAGES_ONLY
    images: list[CocoImage] | None  # None: the file has no 'images' block
    categories: dict[int, str] | None  # None: captions / image-info files
    # (image_id, annotation id, caption), in file order.
    captions: list[tuple[int, int, str]] = dataclass_field(default_factory=list)
    # Validated annotation objects as parsed (segmentation kept as given).
    objects: list[dict[str, Any]] = dataclass_field(default_factory=list)
    # True when the file has no 'categories' block and the bundled table named them.
    official_categories: bool = False
    # Field name prefix for messages: 'annotations' or '' for a bare list.
    annotations_field: str = "annotations"

    def annotation_field(self, position: int, key: str) -> str:
        return f"{self.annotations_field}[{position}].{key}"


def read_coco_file(path: str | Path) -> CocoFileContents:
    """Parse and validate one annotations file (see the module docstring)."""
    path = Path(path)
    data = read_json(path)
    if isinstance(data, list):
        return _read_bare_list(path, data)
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected a COCO annotations object, got {describe_type(data)}")
    _reject_other_formats(path, data)
    images_raw = data.get("images")
    annotations = data.get("annotations")
    if images_raw is None and annotations is None:
        raise DataFormatError(path, "not a COCO annotations file: no 'images' or 'annotations' list")
    images = None if images_raw is None else _read_images(path, expect(images_raw, list, path, "images"))
    annotations = [] if annotations is None else expect(annotations, list, path, "annotations")
    kind = _kind_of(path, data, annotations)
    contents = CocoFileContents(path=path, kind=kind, images=images, categories=None)
    if kind == CAPTIONS:
        contents.captions = _read_captions(contents, annotations)
    elif kind == INSTANCES:
        if "categories" in data and data["categories"] is not None:
            contents.categories = _read_categories(path, expect(data["categories"], list, path, "categories"))
        else:
            contents.categories, contents.official_categories = official_categories(), True
        contents.objects = _read_objects(contents, annotations)
    return contents


@lru_cache(maxsize=1)
def official_categories() -> dict[int, str]:
    """The 80 COCO categories {id: name}, from the bundled table."""
    from vqadesk.paths import resource_path

    path = resource_path("coco", "categories.json")
    table = field(read_json(path), "categories", list, path)
    return _read_categories(path, table)


# -- the file's kind -------------------------------------------------------------------


def _reject_other_formats(path: Path, data: dict[str, Any]) -> None:
    """Say what a VQA file is instead of complaining about missing COCO keys."""
    if "questions" in data:
        raise DataFormatError(path, "this is a VQA questions file, not COCO annotations")
    annotations = data.get("annotations")
    if isinstance(annotations, list) and annotations and isinstance(annotations[0], dict):
        if "question_id" in annotations[0] and "images" not in data:
            raise DataFormatError(path, "this is a VQA annotations file, not COCO annotations")


def _kind_of(path: Path, data: dict[str, Any], annotations: list[Any]) -> str:
    if "categories" in data:
        return INSTANCES
    if not annotations:
        return IMAGES_ONLY
    first = annotations[0]
    if isinstance(first, dict) and "caption" in first:
        return CAPTIONS
    if isinstance(first, dict) and "category_id" in first:
        return INSTANCES
    if not isinstance(first, dict):
        raise DataFormatError(path, f"expected an object, got {describe_type(first)}", "annotations[0]")
    raise DataFormatError(
        path,
        "neither 'caption' (captions file) nor 'category_id' (instances file): not a COCO annotation",
        "annotations[0]",
    )


def _read_bare_list(path: Path, data: list[Any]) -> CocoFileContents:
    """A JSON list of instance annotations, with no images or categories block."""
    contents = CocoFileContents(
        path=path,
        kind=INSTANCES,
        images=None,
        categories=official_categories(),
        official_categories=True,
        annotations_field="",
    )
    if data and isinstance(data[0], dict) and "caption" in data[0] and "category_id" not in data[0]:
        raise DataFormatError(
            path,
            "a bare list of captions (a caption results file?) has no image records; "
            "open the captions_<split>.json annotations file instead",
        )
    contents.objects = _read_objects(contents, data)
    return contents


# -- images and categories ----------------------------------------------------------------------------


def _read_images(path: Path, images: list[Any]) -> list[CocoImage]:
    records: list[CocoImage] = []
    append = records.append
    for position, raw in enumerate(images):
        try:
            image_id, file_name, get = raw["id"], raw["file_name"], raw.get
            width, height, license_id = get("width"), get("height"), get("license")
            date_captured, coco_url, flickr_url = get("date_captured"), get("coco_url"), get("flickr_url")
        except (KeyError, TypeError, AttributeError, IndexError):
            _raise_image_problem(path, position, raw)
        if not (
            int64(image_id)
            and type(file_name) is str
            and file_name.strip()
            and (width is None or (int64(width) and width > 0))
            and (height is None or (int64(height) and height > 0))
            and (license_id is None or int64(license_id))
            and (date_captured is None or type(date_captured) is str)
            and (coco_url is None or type(coco_url) is str)
            and (flickr_url is None or type(flickr_url) is str)
        ):
            _raise_image_problem(path, position, raw)
        append(CocoImage(image_id, file_name, width, height, license_id, date_captured, coco_url, flickr_url))
    if len({record.id for record in records}) != len(records):
        _raise_duplicate_image(path, records)
    return records


def _raise_image_problem(path: Path, position: int, raw: Any) -> NoReturn:
    where = f"images[{position}]"
    field(raw, "id", int, path, where)
    if not field(raw, "file_name", str, path, where).strip():
        raise DataFormatError(path, "empty file name", f"{where}.file_name")
    for key in ("width", "height"):
        _optional_size(raw, key, path, where)
    _optional(raw, "license", int, path, where)
    for key in ("date_captured", "coco_url", "flickr_url"):
        _optional(raw, key, str, path, where)
    raise DataFormatError(path, "not a valid image record", where)  # not reached


def _raise_duplicate_image(path: Path, records: list[CocoImage]) -> None:
    seen: set[int] = set()
    for position, record in enumerate(records):
        if record.id in seen:
            raise DataFormatError(path, f"duplicate image id {record.id}", f"images[{position}].id")
        seen.add(record.id)


def _optional(raw: dict[str, Any], key: str, types: type, path: Path, where: str) -> Any:
    value = raw.get(key)
    return None if value is None else expect(value, types, path, f"{where}.{key}")


def _optional_size(raw: dict[str, Any], key: str, path: Path, where: str) -> int | None:
    value = _optional(raw, key, int, path, where)
    if value is not None and value <= 0:
        raise DataFormatError(path, f"must be a positive number of pixels, got {value}", f"{where}.{key}")
    return value


def _read_categories(path: Path, categories: list[Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for position, raw in enumerate(categories):
        where = f"categories[{position}]"
        category_id = field(raw, "id", int, path, where)
        name = field(raw, "name", str, path, where)
        if category_id in names:
            raise DataFormatError(path, f"duplicate category id {category_id}", f"{where}.id")
        names[category_id] = name
    return names


# -- annotations: fast checks first, precise messages on failure ----------------------------------------------


def _read_captions(contents: CocoFileContents, annotations: list[Any]) -> list[tuple[int, int, str]]:
    return two_ids_and_text(annotations, ("image_id", "id", "caption"), contents.path, contents.annotations_field,
                            "caption annotation")


_NUMBER_TYPES = (int, float)


def _read_objects(contents: CocoFileContents, annotations: list[Any]) -> list[dict[str, Any]]:
    categories = contents.categories or {}
    for position, raw in enumerate(annotations):
        try:
            ok = (
                int64(raw["id"])
                and int64(raw["image_id"])
                and int64(raw["category_id"])
                and _is_box(raw["bbox"])
                and _optional_fields_ok(raw)
            )
        except (KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            _raise_object_problem(contents, position, raw)
        if raw["category_id"] not in categories:
            source = "the official COCO table" if contents.official_categories else "the file's 'categories'"
            raise DataFormatError(
                contents.path,
                f"unknown category {raw['category_id']} (not in {source})",
                contents.annotation_field(position, "category_id"),
            )
    return annotations


def _is_box(bbox: Any) -> bool:
    return type(bbox) is list and len(bbox) == 4 and all(type(value) in _NUMBER_TYPES for value in bbox)


def _optional_fields_ok(raw: dict[str, Any]) -> bool:
    area, iscrowd = raw.get("area"), raw.get("iscrowd")
    segmentation, keypoints = raw.get("segmentation"), raw.get("keypoints")
    return (
        (area is None or type(area) in _NUMBER_TYPES)
        and (iscrowd is None or type(iscrowd) in (int, bool))
        and (segmentation is None or type(segmentation) in (list, dict))
        and (keypoints is None or type(keypoints) is list)
    )


def _raise_object_problem(contents: CocoFileContents, position: int, raw: Any) -> NoReturn:
    path, where = contents.path, f"{contents.annotations_field}[{position}]"
    for key in ("id", "image_id", "category_id"):
        field(raw, key, int, path, where)
    bbox = field(raw, "bbox", list, path, where)
    if len(bbox) != 4:
        raise DataFormatError(
            path, f"expected 4 numbers [x, y, width, height], got {len(bbox)} values", f"{where}.bbox"
        )
    for index, value in enumerate(bbox):
        expect(value, float, path, f"{where}.bbox[{index}]")
    for key, types in (
        ("area", float),
        ("iscrowd", (int, bool)),
        ("segmentation", (list, dict)),
        ("keypoints", list),
    ):
        if raw.get(key) is not None:
            expect(raw[key], types, path, f"{where}.{key}")
    raise DataFormatError(path, "not a valid object annotation", where)  # not reached
