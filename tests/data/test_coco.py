"""CocoIndex: reading, merging, naming fallback, folders of photos, and precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.support.json_files import write
from vqadesk.data.coco import CocoCaption, CocoIndex, CocoObject, UnknownImageError
from vqadesk.data.coco_naming import coco_id_from_name
from vqadesk.errors import DataFormatError, ImageLoadError, VqadeskError

CATEGORIES = [
    {"supercategory": "animal", "id": 17, "name": "cat"},
    {"supercategory": "furniture", "id": 63, "name": "couch"},
]


def image_record(image_id: int, split: str = "val2014", **extra) -> dict:
    return {
        "license": 3,
        "file_name": f"COCO_{split}_{image_id:012d}.jpg",
        "coco_url": "http://images.cocodataset.org/x.jpg",
        "height": 480,
        "width": 640,
        "date_captured": "2013-11-14 16:28:13",
        "flickr_url": "http://farm.staticflickr.com/x.jpg",
        "id": image_id,
        **extra,
    }


def captions_file(tmp_path: Path, images=None, annotations=None, name="captions_val2014.json") -> Path:
    images = [image_record(42), image_record(7)] if images is None else images
    if annotations is None:
        annotations = [
            {"image_id": 42, "id": 1, "caption": "A cat sleeping on a couch."},
            {"image_id": 7, "id": 2, "caption": "Two dogs play in the snow."},
            {"image_id": 42, "id": 3, "caption": "A grey cat on a red sofa."},
        ]
    document = {"info": {}, "licenses": [], "type": "captions", "images": images, "annotations": annotations}
    return write(tmp_path / name, document)


def instances_file(tmp_path: Path, annotations=None, categories=CATEGORIES, images=None) -> Path:
    images = [image_record(42), image_record(7)] if images is None else images
    if annotations is None:
        annotations = [
            {
                "segmentation": [[1, 2, 3, 4, 5, 6]],
                "area": 120.5,
                "iscrowd": 0,
                "image_id": 42,
                "bbox": [10, 20.5, 30, 40],
                "category_id": 17,
                "id": 900,
            },
            {
                "segmentation": {"counts": [0, 5], "size": [480, 640]},
                "area": 900,
                "iscrowd": 1,
                "image_id": 42,
                "bbox": [0, 0, 30, 30],
                "category_id": 63,
                "id": 901,
            },
        ]
    document = {"images": images, "annotations": annotations}
    if categories is not None:
        document["categories"] = categories
    return write(tmp_path / "instances_val2014.json", document)



def touch_image(path: Path, size=(8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (0, 128, 0)).save(path)
    return path


def format_error(*args, **kwargs) -> DataFormatError:
    with pytest.raises(DataFormatError) as caught:
        CocoIndex(*args, **kwargs)
    return caught.value


# -- reading and merging ------------------------------------------------------------------------


def test_captions_and_instances_merge_into_one_index(tmp_path: Path) -> None:
    index = CocoIndex([captions_file(tmp_path), instances_file(tmp_path)], image_dir=tmp_path)

    assert index.image_ids == (42, 7)  # file order
    assert [image.file_name for image in index.images] == [
        "COCO_val2014_000000000042.jpg",
        "COCO_val2014_000000000007.jpg",
    ]
    assert index.image(42).width == 640 and index.image(42).license == 3
    assert index.captions(42) == (
        CocoCaption(id=1, image_id=42, caption="A cat sleeping on a couch."),
        CocoCaption(id=3, image_id=42, caption="A grey cat on a red sofa."),
    )
    cat, couch = index.objects(42)
    assert cat == CocoObject(
        id=900, image_id=42, category_id=17, category_name="cat", bbox=(10.0, 20.5, 30.0, 40.0), area=120.5
    )
    assert cat.segmentation == [[1, 2, 3, 4, 5, 6]]
    assert couch.iscrowd is True and couch.segmentation == {"counts": [0, 5], "size": [480, 640]}
    assert index.objects(7) == ()
    assert dict(index.categories) == {17: "cat", 63: "couch"}
    assert index.category_names() == ["cat", "couch"]
    assert (index.caption_count, index.object_count, len(index)) == (3, 2, 2)


def test_image_info_file_without_annotations(tmp_path: Path) -> None:
    path = write(
        tmp_path / "image_info_test2015.json",
        {"images": [image_record(5, "test2015")], "categories": CATEGORIES},
    )
    index = CocoIndex(path)
    assert index.image_ids == (5,) and index.captions(5) == () and index.objects(5) == ()


def test_instances_without_categories_use_the_official_table(tmp_path: Path) -> None:
    index = CocoIndex(instances_file(tmp_path, categories=None))
    assert [o.category_name for o in index.objects(42)] == ["cat", "couch"]
    assert len(index.categories) == 80


def test_same_image_with_two_file_names_is_an_error(tmp_path: Path) -> None:
    other = [image_record(42, file_name="elsewhere.jpg"), image_record(7)]
    error = format_error([captions_file(tmp_path), instances_file(tmp_path, images=other)])
    assert error.field == "images[0].file_name" and "instances_val2014.json" in error.path


def test_category_names_disagreeing_between_files(tmp_path: Path) -> None:
    first = instances_file(tmp_path)
    second = write(
        tmp_path / "second.json", {"images": [], "annotations": [], "categories": [{"id": 17, "name": "dog"}]}
    )
    assert "category 17 is 'dog'" in str(format_error([first, second]))


def test_real_person_keypoints_file(coco_real: Path) -> None:
    index = CocoIndex(coco_real / "annotations" / "mmpose_test_coco.json", image_dir=coco_real)
    assert index.image_ids == (785, 40083, 196141, 197388)
    assert index.object_count == 14 and dict(index.categories) == {1: "person"}
    person = index.objects(785)[0]
    assert person.category_name == "person" and person.bbox == (280.79, 44.73, 218.7, 346.68)
    assert len(person.keypoints) == 51 and person.iscrowd is False
    assert [len(index.objects(i)) for i in index.image_ids] == [1, 3, 5, 5]
    assert index.image_path(40083) == coco_real / "000000040083.jpg"
    assert index.image(785).coco_url.endswith("000000000785.jpg")


def test_real_bare_list_of_instances_with_its_folder(coco_real: Path) -> None:
    index = CocoIndex(coco_real / "annotations" / "hf_transformers_coco_annotations.txt", image_dir=coco_real)
    assert len(index) == 15 and 39769 in index
    names = sorted(o.category_name for o in index.objects(39769))
    assert names == ["bed", "cat", "cat", "couch", "remote", "remote"]
    assert index.objects(262148) == ()
    assert index.image_size(39769) == (640, 480)  # no width/height in a folder: read from the header


def test_bare_list_needs_an_image_folder(coco_real: Path) -> None:
    error = format_error(coco_real / "annotations" / "hf_transformers_coco_annotations.txt")
    assert "image folder" in error.problem


def test_bare_list_pointing_at_a_photo_not_in_the_folder(tmp_path: Path) -> None:
    touch_image(tmp_path / "photos" / "000000000001.jpg")
    path = write(
        tmp_path / "objects.json", [{"id": 1, "image_id": 2, "category_id": 17, "bbox": [0, 0, 1, 1]}]
    )
    error = format_error(path, image_dir=tmp_path / "photos")
    assert error.field == "[0].image_id" and "image folder" in error.problem


# -- strictness: errors name the file and the field ---------------------------------------------------


def test_annotation_for_an_unknown_image_is_an_error(tmp_path: Path) -> None:
    annotations = [{"image_id": 42, "id": 1, "caption": "ok"}, {"image_id": 99, "id": 2, "caption": "lost"}]
    error = format_error(captions_file(tmp_path, annotations=annotations))
    assert error.field == "annotations[1].image_id" and "image 99" in error.problem


@pytest.mark.parametrize(
    ("annotation", "field", "problem"),
    [
        ({"image_id": 42, "id": 5}, "annotations[2].caption", "missing"),
        (
            {"image_id": 42, "id": "5", "caption": "x"},
            "annotations[2].id",
            "expected an integer, got a string",
        ),
        (
            {"image_id": True, "id": 5, "caption": "x"},
            "annotations[2].image_id",
            "expected an integer, got true or false",
        ),
        (
            {"image_id": 42, "id": 5, "caption": ["x"]},
            "annotations[2].caption",
            "expected a string, got a list",
        ),
        ("a caption", "annotations[2]", "expected an object, got a string"),
    ],
)
def test_caption_field_errors(tmp_path: Path, annotation, field: str, problem: str) -> None:
    good = {"image_id": 42, "id": 1, "caption": "fine"}
    error = format_error(captions_file(tmp_path, annotations=[good, good, annotation]))
    assert (error.field, error.problem) == (field, problem)
    assert str(error).startswith(str(tmp_path / "captions_val2014.json"))


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (
            {"bbox": [1, 2, 3]},
            "annotations[0].bbox",
            "expected 4 numbers [x, y, width, height], got 3 values",
        ),
        ({"bbox": [1, 2, "3", 4]}, "annotations[0].bbox[2]", "expected a number, got a string"),
        ({"bbox": None}, "annotations[0].bbox", "expected a list, got null"),
        (
            {"category_id": 5},
            "annotations[0].category_id",
            "unknown category 5 (not in the file's 'categories')",
        ),
        ({"area": "big"}, "annotations[0].area", "expected a number, got a string"),
        (
            {"segmentation": "polygon"},
            "annotations[0].segmentation",
            "expected a list or an object, got a string",
        ),
        ({"iscrowd": "0"}, "annotations[0].iscrowd", "expected an integer or true or false, got a string"),
    ],
)
def test_object_field_errors(tmp_path: Path, change: dict, field: str, problem: str) -> None:
    annotation = {"image_id": 42, "id": 1, "category_id": 17, "bbox": [0, 0, 1, 1], **change}
    error = format_error(instances_file(tmp_path, annotations=[annotation]))
    assert (error.field, error.problem) == (field, problem)


def test_missing_object_id(tmp_path: Path) -> None:
    error = format_error(
        instances_file(tmp_path, annotations=[{"image_id": 42, "category_id": 17, "bbox": [0, 0, 1, 1]}])
    )
    assert (error.field, error.problem) == ("annotations[0].id", "missing")


@pytest.mark.parametrize(
    ("images", "field", "problem"),
    [
        ([image_record(1), {"id": 2}], "images[1].file_name", "missing"),
        ([image_record(1, file_name="  ")], "images[0].file_name", "empty file name"),
        ([image_record(1, width=-5)], "images[0].width", "must be a positive number of pixels, got -5"),
        ([image_record(1, height=1.5)], "images[0].height", "expected an integer, got a number"),
        ([image_record(1), image_record(1)], "images[1].id", "duplicate image id 1"),
        ([image_record(1, license="cc")], "images[0].license", "expected an integer, got a string"),
        ([["not", "an", "object"]], "images[0]", "expected an object, got a list"),
    ],
)
def test_image_field_errors(tmp_path: Path, images, field: str, problem: str) -> None:
    error = format_error(captions_file(tmp_path, images=images, annotations=[]))
    assert (error.field, error.problem) == (field, problem)


def test_image_records_may_leave_out_optional_fields(tmp_path: Path) -> None:
    index = CocoIndex(captions_file(tmp_path, images=[{"id": 3, "file_name": "x.jpg"}], annotations=[]))
    assert index.image(3).width is None and index.image(3).coco_url is None


@pytest.mark.parametrize(
    ("document", "field", "problem"),
    [
        ("just text", None, "expected a COCO annotations object, got a string"),
        ({"info": {}}, None, "not a COCO annotations file: no 'images' or 'annotations' list"),
        ({"images": {}}, "images", "expected a list, got an object"),
        ({"questions": []}, None, "this is a VQA questions file, not COCO annotations"),
        (
            {"annotations": [{"question_id": 1, "answers": []}]},
            None,
            "this is a VQA annotations file, not COCO annotations",
        ),
        (
            {"images": [], "annotations": [{"id": 1}]},
            "annotations[0]",
            "neither 'caption' (captions file) nor 'category_id' (instances file): not a COCO annotation",
        ),
        ({"images": [], "annotations": [], "categories": [{"id": 1}]}, "categories[0].name", "missing"),
        (
            [{"image_id": 1, "caption": "a result"}],
            None,
            "a bare list of captions (a caption results file?) has no image records; "
            "open the captions_<split>.json annotations file instead",
        ),
    ],
)
def test_whole_file_errors(tmp_path: Path, document, field, problem: str) -> None:
    error = format_error(write(tmp_path / "file.json", document), image_dir=tmp_path)
    assert (error.field, error.problem) == (field, problem)


def test_malformed_and_missing_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [', encoding="utf-8")
    assert "malformed JSON" in format_error(broken).problem
    assert format_error(tmp_path / "absent.json").problem == "file not found"


# -- finding image files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name_on_disk",
    [
        "COCO_val2014_000000000042.jpg",  # the recorded file_name
        "000000000042.jpg",  # 2017 style
        "COCO_train2014_000000000042.jpeg",  # another 2014 prefix and extension
        "shapes_val_000000000042.png",  # the Shapes world
    ],
)
def test_image_path_naming_fallback(tmp_path: Path, name_on_disk: str) -> None:
    touch_image(tmp_path / "images" / name_on_disk)
    index = CocoIndex(captions_file(tmp_path), image_dir=tmp_path / "images")
    assert index.image_path(42) == tmp_path / "images" / name_on_disk
    assert index.find_image_path(7) is None
    with pytest.raises(ImageLoadError, match=r"image file not found .*id 7"):
        index.image_path(7)


def test_file_name_with_a_subfolder_and_one_escaping_the_folder(tmp_path: Path) -> None:
    touch_image(tmp_path / "images" / "val" / "a.png")
    touch_image(tmp_path / "secret.png")
    images = [image_record(1, file_name="val/a.png"), image_record(2, file_name="../secret.png")]
    index = CocoIndex(captions_file(tmp_path, images=images, annotations=[]), image_dir=tmp_path / "images")
    assert index.image_path(1) == tmp_path / "images" / "val" / "a.png"
    assert index.find_image_path(2) is None


def test_no_image_folder(tmp_path: Path) -> None:
    index = CocoIndex(captions_file(tmp_path))
    assert index.find_image_path(42) is None
    with pytest.raises(ImageLoadError, match="no image folder"):
        index.image_path(42)


def test_coco_ids_need_twelve_digits() -> None:
    assert coco_id_from_name("COCO_val2014_000000262148.jpg") == 262148
    assert coco_id_from_name("000000000785.JPG") == 785
    assert coco_id_from_name("shapes_train_000000000003.png") == 3
    assert coco_id_from_name("IMG_1234.jpg") is None
    assert coco_id_from_name("000000000785.gif") is None


# -- folders of photos and dataset roots ------------------------------------------------------------------


def test_folder_of_plain_and_coco_named_photos(tmp_path: Path) -> None:
    touch_image(tmp_path / "b_holiday.jpg", size=(30, 10))
    touch_image(tmp_path / "a_beach.png")
    touch_image(tmp_path / "000000000002.jpg")
    touch_image(tmp_path / ".hidden.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "sub").mkdir()

    index = CocoIndex.from_folder(tmp_path)

    # Name order; the COCO name keeps id 2, the others take 1 and 3.
    assert [(i.id, i.file_name) for i in index.images] == [
        (2, "000000000002.jpg"),
        (1, "a_beach.png"),
        (3, "b_holiday.jpg"),
    ]
    assert index.image(3).width is None
    assert index.image_size(3) == (30, 10)
    assert index.image_path(1) == tmp_path / "a_beach.png"
    assert index.captions(1) == () and index.objects(1) == ()


def test_folder_photo_size_follows_exif_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (30, 10)).save(tmp_path / "sideways.jpg", exif=exif)
    assert CocoIndex.from_folder(tmp_path).image_size(1) == (10, 30)


def test_real_photo_folder(coco_real: Path) -> None:
    index = CocoIndex.from_folder(coco_real)
    assert sorted(index.image_ids) == sorted(
        [
            785,
            40083,
            196141,
            197388,
            39769,
            14439,
            87038,
            570688,
            458752,
            262148,
            393225,
            562207,
            165547,
            579664,
            60623,
        ]
    )


def test_missing_photo_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="image folder not found"):
        CocoIndex.from_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("image_folder", ["val", "images/val"])
def test_dataset_root_layouts(tmp_path: Path, image_folder: str) -> None:
    (tmp_path / "annotations").mkdir()
    images = [image_record(1, file_name="shapes_val_000000000001.png")]
    captions_file(
        tmp_path / "annotations",
        images=images,
        annotations=[{"image_id": 1, "id": 1, "caption": "a red circle"}],
        name="captions_val.json",
    )
    write(
        tmp_path / "annotations" / "instances_val.json",
        {
            "images": images,
            "categories": [{"id": 1, "name": "circle"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}
            ],
        },
    )
    touch_image(tmp_path / image_folder / "shapes_val_000000000001.png")

    index = CocoIndex.from_dataset_root(tmp_path, "val")

    assert index.image_path(1) == tmp_path / image_folder / "shapes_val_000000000001.png"
    assert index.captions(1)[0].caption == "a red circle"
    assert index.objects(1)[0].category_name == "circle"
    assert len(index.annotation_files) == 2


def test_dataset_root_without_annotations(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no captions_val.json or instances_val.json"):
        CocoIndex.from_dataset_root(tmp_path, "val")


# -- lookups and filtering -------------------------------------------------------------------------------------


def test_unknown_image_id(tmp_path: Path) -> None:
    index = CocoIndex(captions_file(tmp_path))
    for lookup in (index.image, index.captions, index.objects):
        with pytest.raises(UnknownImageError, match="no image with id 5") as caught:
            lookup(5)
        assert isinstance(caught.value, VqadeskError) and isinstance(caught.value, LookupError)


def test_search(tmp_path: Path) -> None:
    index = CocoIndex([captions_file(tmp_path), instances_file(tmp_path)])
    assert index.search("CAT") == [42]
    assert index.search("snow") == [7]
    assert index.search("") == [42, 7]
    assert index.search(category="Couch") == [42]
    assert index.search(category=17) == [42]
    assert index.search(category="giraffe") == []
    assert index.search(image_id=7) == [7] and index.search(image_id=8) == []
    assert index.search("dogs", category="cat") == []
    assert index.search("000000000007") == [7]  # the file name counts too


def test_search_words_match_id_categories_and_captions_anywhere(tmp_path: Path) -> None:
    index = CocoIndex([captions_file(tmp_path), instances_file(tmp_path)])
    assert index.search("couch cat") == [42]  # a category word and a caption word
    assert index.search("  42  ") == [42]  # the id itself
    assert index.search("couch snow") == []  # every word must match
