"""The index cache: one COCO split's index and VQA questions, read back without parsing JSON.

Opening val2014 from its JSON means parsing ~380 MB (captions, instances with
their segmentation polygons, VQA v2 questions and annotations): tens of
seconds. ``load_split(files)`` does that once, keeps what the app shows as
compact arrays, and reads those back afterwards:

* images: id, file name, size, license, date and URLs;
* categories: id and name;
* captions: id and text, grouped by image;
* objects: id, category, bbox, area, iscrowd, grouped by image -- *not* the
  segmentation or keypoints, which nothing in the app draws and which are
  most of instances_<split>.json;
* questions: id and text grouped by image, and, when annotated, the question
  and answer types, the ``multiple_choice_answer`` and the human answers with
  their confidences (strings as ids into tables of distinct strings).

Storage, keys and invalidation are ``array_cache``'s (shared with the training
caches): an entry ``.vqadesk-cache/coco-split-<first file's stem>-<hash>/``
beside the first annotations file, or under ``user_data_dir()/cache/`` when
that folder cannot be written; ``arrays.npz`` read with ``allow_pickle=False``
and ``entry.json`` (written last) with every input's path, size, mtime_ns and
SHA-256 and ``BUILDER_VERSION``. A changed input, a damaged or foreign entry,
or arrays that fail ``_valid`` are rebuilt from the JSON, whose problems are
reported by the strict readers exactly as without a cache.

Small inputs (under ``CACHE_MIN_BYTES`` in all, e.g. the Shapes world) are
parsed directly: that takes a fraction of a second and writes nothing. Files
without an 'images' block (their images are the folder's photos) are never
cached: the index then depends on the folder too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.data.array_cache import cached_arrays, entry_looks_current, pack_strings
from vqadesk.data.coco import CocoIndex
from vqadesk.data.coco_records import CocoImage
from vqadesk.data.grouped_rows import GroupedRows, PackedStrings
from vqadesk.data.vqa import QuestionRecord, VqaAnnotation, VqaQuestion, questions_by_image
from vqadesk.data.vqa_arrays import StringTable

# Bump whenever _to_arrays changes what it stores: older entries are then rebuilt.
BUILDER_VERSION = 1
# Below this many bytes of input, parsing is quick enough to skip the cache. In the app, a split
# this big is parsed by a child process (gui/background/split_process.py): one json.loads holds
# the GIL all along, longer than a frame may wait. The Shapes world stays under it and opens at
# once. The measurements behind the number: docs/data-formats.md, "Speed".
CACHE_MIN_BYTES = 4 * 1024 * 1024
CACHE_KIND = "coco-split"

Questions = Mapping[int, list[QuestionRecord]]
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class SplitFiles:
    """The files one split is read from."""

    coco_files: tuple[Path, ...]  # captions and/or instances
    image_dir: Path | None
    questions: Path | None = None  # VQA v2 questions, and their annotations if present
    annotations: Path | None = None

    @property
    def inputs(self) -> list[Path]:
        """Every file the split is made from, in a fixed order (the cache entry's key)."""
        if self.questions is None:
            return list(self.coco_files)  # annotations without their questions are not read
        return [*self.coco_files, self.questions, *([self.annotations] if self.annotations else [])]


class QuestionGroups(GroupedRows):
    """``{image id: [QuestionRecord]}`` from the cache; ``texts()`` without building records."""

    def __init__(self, keys, offsets, make_rows, texts: PackedStrings):
        super().__init__(keys, offsets, make_rows)
        self._texts = texts

    def texts(self) -> list[str]:
        return self._texts[:]


class _NotCacheable(Exception):  # noqa: N818 - a signal to fall back, not an error
    """The inputs parse fine but cannot be stored as arrays (see ``_to_arrays``)."""


def load_split(files: SplitFiles) -> tuple[CocoIndex, Questions]:
    """The split's index and questions: from the index cache when current, else parsed (and cached)."""
    if _total_size(files.inputs) < CACHE_MIN_BYTES:
        return _parse(files)
    parsed: tuple[CocoIndex, Questions] | None = None

    def build() -> Arrays:
        nonlocal parsed
        parsed = _parse(files)  # the strict readers: a bad file is named here, as without a cache
        return _to_arrays(*parsed)

    try:
        arrays, _ = cached_arrays(CACHE_KIND, files.inputs, build, builder_version=BUILDER_VERSION, validate=_valid)
    except _NotCacheable:
        assert parsed is not None
        return parsed
    # Even right after building, serve the index read back from the arrays: the
    # split behaves the same the first time as every later time, and the parsed
    # JSON (two GB of objects for val2014) is freed now rather than kept.
    parsed = None
    return _from_arrays(arrays, files)


def split_cache_looks_current(files: SplitFiles) -> bool:
    """Whether ``load_split(files)`` would read its index cache (a quick look at the entry, no hashing)."""
    return entry_looks_current(CACHE_KIND, files.inputs, builder_version=BUILDER_VERSION)


def _total_size(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            return 0  # missing or unreadable: let the parser say so
    return total


def _parse(files: SplitFiles) -> tuple[CocoIndex, Questions]:
    coco = CocoIndex(files.coco_files, image_dir=files.image_dir)
    questions = questions_by_image(files.questions, files.annotations) if files.questions else {}
    return coco, questions


# -- to arrays (once, after parsing) ------------------------------------------------------------------


def _to_arrays(coco: CocoIndex, questions: Questions) -> Arrays:
    if coco.images_from_folder:
        raise _NotCacheable("the images are the folder's photos")
    try:
        return {**_image_arrays(coco), **_caption_arrays(coco), **_object_arrays(coco), **_question_arrays(questions)}
    except OverflowError:
        raise _NotCacheable("an id beyond 64 bits") from None  # valid JSON, but not an int64


def _packed(name: str, texts: Sequence[str]) -> Arrays:
    data, offsets = pack_strings(texts)
    return {f"{name}_utf8": data, f"{name}_offsets": offsets}


def _optional_packed(name: str, texts: Sequence[str | None]) -> Arrays:
    return {**_packed(name, [t or "" for t in texts]), f"{name}_known": np.array([t is not None for t in texts])}


def _ints(values: Iterable[int], dtype=np.int64) -> np.ndarray:
    return np.fromiter(values, dtype=dtype)


def _offsets(lengths: Iterable[int]) -> np.ndarray:
    lengths = list(lengths)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _image_arrays(coco: CocoIndex) -> Arrays:
    images = coco.images
    licenses = [image.license for image in images]
    return {
        "image_id": _ints(image.id for image in images),
        **_packed("image_file_name", [image.file_name for image in images]),
        # Sizes are positive when known: -1 stands for "not in the file".
        "image_width": _ints(-1 if image.width is None else image.width for image in images),
        "image_height": _ints(-1 if image.height is None else image.height for image in images),
        "image_license": _ints(0 if value is None else value for value in licenses),
        "image_license_known": np.array([value is not None for value in licenses], dtype=bool),
        **_optional_packed("image_date_captured", [image.date_captured for image in images]),
        **_optional_packed("image_coco_url", [image.coco_url for image in images]),
        **_optional_packed("image_flickr_url", [image.flickr_url for image in images]),
        "category_id": _ints(coco.categories),
        **_packed("category_name", list(coco.categories.values())),
    }


def _grouped(coco: CocoIndex, rows_of) -> tuple[list[int], list[int], list]:
    """Images with rows (in image order), their row counts, and all rows in that order."""
    keys, lengths, rows = [], [], []
    for image_id in coco.image_ids:
        group = rows_of(image_id)
        if group:
            keys.append(image_id)
            lengths.append(len(group))
            rows.extend(group)
    return keys, lengths, rows


def _caption_arrays(coco: CocoIndex) -> Arrays:
    # The parser's own rows, not CocoCaption records: 200k objects fewer to make.
    keys, lengths, rows = _grouped(coco, coco.caption_rows)
    return {
        "caption_keys": _ints(keys),
        "caption_offsets": _offsets(lengths),
        "caption_id": _ints(row[1] for row in rows),
        **_packed("caption_text", [row[2] for row in rows]),
    }


def _object_arrays(coco: CocoIndex) -> Arrays:
    # What CocoIndex._make_object makes of a row, column by column (bbox, area as floats).
    keys, lengths, rows = _grouped(coco, coco.object_rows)
    areas = [row.get("area") for row in rows]
    return {
        "object_keys": _ints(keys),
        "object_offsets": _offsets(lengths),
        "object_id": _ints(row["id"] for row in rows),
        "object_category_id": _ints(row["category_id"] for row in rows),
        "object_bbox": np.array([row["bbox"] for row in rows], dtype=np.float64).reshape(len(rows), 4),
        "object_area": np.array([0.0 if a is None else a for a in areas], dtype=np.float64),
        "object_area_known": np.array([a is not None for a in areas], dtype=bool),
        "object_iscrowd": np.array([bool(row.get("iscrowd")) for row in rows], dtype=bool),
    }


def _question_arrays(questions: Questions) -> Arrays:
    records = [record for group in questions.values() for record in group]
    annotations = [record.annotation for record in records]
    answered = [a for a in annotations if a is not None]
    question_types, answer_types, answers, confidences = StringTable(), StringTable(), StringTable(), StringTable()
    return {
        "question_keys": _ints(questions),
        "question_offsets": _offsets(len(group) for group in questions.values()),
        "question_id": _ints(record.question.question_id for record in records),
        **_packed("question_text", [record.text for record in records]),
        "question_annotated": np.array([a is not None for a in annotations], dtype=bool),
        # The rest is per annotated question, in the same order.
        "answer_image_id": _ints(a.image_id for a in answered),
        "answer_question_type": _ints((question_types.id(a.question_type) for a in answered), np.int32),
        "answer_answer_type": _ints((answer_types.id(a.answer_type) for a in answered), np.int32),
        "answer_best": _ints((answers.id(a.multiple_choice_answer) for a in answered), np.int32),
        "answer_offsets": _offsets(len(a.answers) for a in answered),
        "answer_ids": _ints((answers.id(text) for a in answered for text in a.answers), np.int32),
        "answer_confidence": _ints((confidences.id(text) for a in answered for text in a.answer_confidences), np.int32),
        **_packed("table_question_type", list(question_types.ids)),
        **_packed("table_answer_type", list(answer_types.ids)),
        **_packed("table_answer", list(answers.ids)),
        **_packed("table_confidence", list(confidences.ids)),
    }


# -- checking an entry (cheap, whole-array) ----------------------------------------------------------


# Each column: its dtype kind (i: integer, f: float, b: bool) and whose length it has.
_COLUMNS = {
    "image_id": ("i", "images"), "image_width": ("i", "images"), "image_height": ("i", "images"),
    "image_license": ("i", "images"), "image_license_known": ("b", "images"),
    "image_date_captured_known": ("b", "images"), "image_coco_url_known": ("b", "images"),
    "image_flickr_url_known": ("b", "images"),
    "category_id": ("i", "categories"),
    "caption_keys": ("i", "captioned images"), "caption_id": ("i", "captions"),
    "object_keys": ("i", "images with objects"), "object_id": ("i", "objects"), "object_category_id": ("i", "objects"),
    "object_bbox": ("f", "objects"), "object_area": ("f", "objects"), "object_area_known": ("b", "objects"),
    "object_iscrowd": ("b", "objects"),
    "question_keys": ("i", "images with questions"), "question_id": ("i", "questions"),
    "question_annotated": ("b", "questions"),
    "answer_image_id": ("i", "annotated"), "answer_question_type": ("i", "annotated"),
    "answer_answer_type": ("i", "annotated"), "answer_best": ("i", "annotated"),
    "answer_ids": ("i", "answers"), "answer_confidence": ("i", "answers"),
}
_STRINGS = {
    "image_file_name": "images", "image_date_captured": "images", "image_coco_url": "images",
    "image_flickr_url": "images", "category_name": "categories", "caption_text": "captions",
    "question_text": "questions",
}
# Columns of ids into a string table.
_TABLE_IDS = {
    "answer_question_type": "table_question_type", "answer_answer_type": "table_answer_type",
    "answer_best": "table_answer", "answer_ids": "table_answer", "answer_confidence": "table_confidence",
}


def _valid(arrays: Arrays) -> bool:
    """Whether the arrays have every name, type, length and offset ``_from_arrays`` relies on.

    Whole-array checks, a few milliseconds for val2014: an entry that passes
    cannot make a later lookup fail (strings decode leniently, see ``PackedStrings``).
    """
    lengths = {
        "images": len(arrays["image_id"]),
        "categories": len(arrays["category_id"]),
        "captioned images": len(arrays["caption_keys"]),
        "captions": _group_rows(arrays, "caption"),
        "images with objects": len(arrays["object_keys"]),
        "objects": _group_rows(arrays, "object"),
        "images with questions": len(arrays["question_keys"]),
        "questions": _group_rows(arrays, "question"),
        "annotated": int(arrays["question_annotated"].sum()),
    }
    lengths["answers"] = _offsets_end(arrays["answer_offsets"], lengths["annotated"])
    if min(lengths.values()) < 0:
        return False
    for name, (kind, what) in _COLUMNS.items():
        column = arrays[name]
        shape = (lengths[what], 4) if name == "object_bbox" else (lengths[what],)
        if column.dtype.kind != kind or column.shape != shape:
            return False
    if any(_strings_count(arrays, name) != lengths[what] for name, what in _STRINGS.items()):
        return False
    if any(_strings_count(arrays, table) < 0 for table in _TABLE_IDS.values()):
        return False
    return all(_ids_below(arrays[name], _strings_count(arrays, table)) for name, table in _TABLE_IDS.items())


def _group_rows(arrays: Arrays, name: str) -> int:
    """Rows of a grouped table, or -1 (never a valid length) when its keys/offsets do not fit."""
    keys, offsets = arrays[f"{name}_keys"], arrays[f"{name}_offsets"]
    if keys.ndim != 1 or len(np.unique(keys)) != len(keys):  # a key twice would hide a group
        return -1
    return _offsets_end(offsets, len(keys))


def _offsets_end(offsets: np.ndarray, groups: int) -> int:
    if offsets.dtype.kind != "i" or offsets.shape != (groups + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        return -1
    return int(offsets[-1])


def _strings_count(arrays: Arrays, name: str) -> int:
    data, offsets = arrays[f"{name}_utf8"], arrays[f"{name}_offsets"]
    if data.dtype != np.uint8 or data.ndim != 1 or len(offsets) == 0:
        return -1
    if _offsets_end(offsets, len(offsets) - 1) != len(data):
        return -1
    return len(offsets) - 1


def _ids_below(ids: np.ndarray, limit: int) -> bool:
    return len(ids) == 0 or (int(ids.min()) >= 0 and int(ids.max()) < limit)


# -- from arrays (every open after the first) --------------------------------------------------------


def _strings(arrays: Arrays, name: str) -> PackedStrings:
    return PackedStrings(arrays[f"{name}_utf8"], arrays[f"{name}_offsets"])


def _optional_strings(arrays: Arrays, name: str) -> list[str | None]:
    known = arrays[f"{name}_known"].tolist()
    return [text if present else None for text, present in zip(_strings(arrays, name)[:], known)]


def _from_arrays(arrays: Arrays, files: SplitFiles) -> tuple[CocoIndex, Questions]:
    coco = CocoIndex.from_tables(
        files.coco_files,
        files.image_dir,
        images=_images(arrays),
        categories=dict(zip(arrays["category_id"].tolist(), _strings(arrays, "category_name")[:])),
        captions=_captions(arrays),
        objects=_objects(arrays),
    )
    return coco, _questions(arrays)


def _images(arrays: Arrays) -> dict[int, CocoImage]:
    widths, heights = arrays["image_width"].tolist(), arrays["image_height"].tolist()
    licenses, licensed = arrays["image_license"].tolist(), arrays["image_license_known"].tolist()
    columns = zip(
        arrays["image_id"].tolist(),
        _strings(arrays, "image_file_name")[:],
        widths,
        heights,
        licenses,
        licensed,
        _optional_strings(arrays, "image_date_captured"),
        _optional_strings(arrays, "image_coco_url"),
        _optional_strings(arrays, "image_flickr_url"),
    )
    return {
        i: CocoImage(i, name, w if w > 0 else None, h if h > 0 else None, lic if has_lic else None, *rest)
        for i, name, w, h, lic, has_lic, *rest in columns  # rest: date captured, COCO and Flickr URLs
    }


def _captions(arrays: Arrays) -> GroupedRows:
    ids, texts = arrays["caption_id"], _strings(arrays, "caption_text")

    def make_rows(image_id: int, start: int, end: int) -> list[tuple[int, int, str]]:
        return [(image_id, i, text) for i, text in zip(ids[start:end].tolist(), texts[start:end])]

    return GroupedRows(arrays["caption_keys"].tolist(), arrays["caption_offsets"].tolist(), make_rows)


def _objects(arrays: Arrays) -> GroupedRows:
    ids, categories, boxes = arrays["object_id"], arrays["object_category_id"], arrays["object_bbox"]
    areas, area_known, crowd = arrays["object_area"], arrays["object_area_known"], arrays["object_iscrowd"]

    def make_rows(image_id: int, start: int, end: int) -> list[dict[str, Any]]:
        span = slice(start, end)
        return [
            {"id": i, "image_id": image_id, "category_id": c, "bbox": box, "area": a if known else None, "iscrowd": z}
            for i, c, box, a, known, z in zip(
                ids[span].tolist(), categories[span].tolist(), boxes[span].tolist(),
                areas[span].tolist(), area_known[span].tolist(), crowd[span].tolist(),
            )
        ]

    return GroupedRows(arrays["object_keys"].tolist(), arrays["object_offsets"].tolist(), make_rows,
                       columns={"category_id": categories.tolist()})


def _questions(arrays: Arrays) -> QuestionGroups:
    question_ids, texts = arrays["question_id"], _strings(arrays, "question_text")
    annotated = arrays["question_annotated"]
    # Question k's annotation is row answer_row[k] of the answer_* arrays (they hold annotated questions only).
    answer_row = (np.cumsum(annotated) - 1).tolist()
    annotation = _Annotations(arrays)

    def make_rows(image_id: int, start: int, end: int) -> list[QuestionRecord]:
        columns = zip(range(start, end), question_ids[start:end].tolist(), texts[start:end],
                      annotated[start:end].tolist())
        return [
            QuestionRecord(VqaQuestion(qid, image_id, text), annotation(qid, answer_row[k]) if known else None)
            for k, qid, text, known in columns
        ]

    return QuestionGroups(arrays["question_keys"].tolist(), arrays["question_offsets"].tolist(), make_rows, texts)


class _Annotations:
    """Rebuilds the ``VqaAnnotation`` of one annotated question from the answer_* arrays.

    The columns become Python lists once (docs/data-formats.md, "Speed"):
    indexing numpy arrays element by element would cost more than the
    records, and the app's question list asks for all of them.
    """

    def __init__(self, arrays: Arrays):
        self.image_ids = arrays["answer_image_id"].tolist()
        self.question_types = arrays["answer_question_type"].tolist()
        self.answer_types = arrays["answer_answer_type"].tolist()
        self.best = arrays["answer_best"].tolist()
        self.offsets = arrays["answer_offsets"].tolist()
        self.answer_ids = arrays["answer_ids"].tolist()
        self.confidence_ids = arrays["answer_confidence"].tolist()
        self.question_type_names = _strings(arrays, "table_question_type")[:]
        self.answer_type_names = _strings(arrays, "table_answer_type")[:]
        self.answers = _strings(arrays, "table_answer")[:]
        self.confidences = _strings(arrays, "table_confidence")[:]

    def __call__(self, question_id: int, row: int) -> VqaAnnotation:
        start, end = self.offsets[row], self.offsets[row + 1]
        answers, confidences = self.answers, self.confidences
        return VqaAnnotation(
            question_id,
            self.image_ids[row],
            self.question_type_names[self.question_types[row]],
            self.answer_type_names[self.answer_types[row]],
            answers[self.best[row]],
            tuple([answers[i] for i in self.answer_ids[start:end]]),
            tuple([confidences[i] for i in self.confidence_ids[start:end]]),
        )
