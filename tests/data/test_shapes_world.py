"""The Shapes world in memory: scenes, drawing, captions, ids and seeds."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from vqadesk.data.shapes import (
    CAPTION_STYLES,
    COLORS,
    SHAPES,
    SIZES,
    ShapesConfigError,
    generate_split,
    image_file_name,
    image_id_for,
    object_polygon,
    render_scene,
    sample_scene,
    scene_captions,
    split_seed,
)
from vqadesk.data.shapes.render import polygon_area, polygon_bbox
from vqadesk.data.shapes.scene import MAX_OBJECTS, MIN_OBJECTS, scene_gap


@pytest.fixture(scope="module")
def split():
    return generate_split("train", 60, seed=3)


def test_scenes_hold_two_to_six_objects_inside_the_image_and_apart(split):
    object_counts = Counter(len(scene.objects) for scene in split.scenes)
    assert set(object_counts) == set(range(MIN_OBJECTS, MAX_OBJECTS + 1))
    for scene in split.scenes:
        gap = scene_gap(scene.width)
        for obj in scene.objects:
            x0, y0, x1, y1 = obj.box
            assert gap <= x0 and x1 <= scene.width - gap and gap <= y0 and y1 <= scene.height - gap
        for i, a in enumerate(scene.objects):
            for b in scene.objects[i + 1 :]:
                ax0, ay0, ax1, ay1 = a.box
                bx0, by0, bx1, by1 = b.box
                assert ax1 + gap <= bx0 or bx1 + gap <= ax0 or ay1 + gap <= by0 or by1 + gap <= ay0
        assert list(scene.objects) == sorted(scene.objects, key=lambda o: (o.cx, o.cy))


def test_every_shape_colour_and_size_occurs(split):
    objects = [o for s in split.scenes for o in s.objects]
    assert {o.shape for o in objects} == set(SHAPES)
    assert {o.color for o in objects} == set(COLORS)
    assert {o.size for o in objects} == set(SIZES)
    assert len(SHAPES) >= 3 and len(COLORS) == 6 and set(SIZES) == {"small", "large"}


def test_colours_are_clearly_distinct():
    values = list(COLORS.values())
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            assert sum(abs(x - y) for x, y in zip(a, b)) >= 90, (a, b)


def test_render_draws_each_object_in_its_colour_on_a_light_background(split):
    for scene in split.scenes[:20]:
        image = render_scene(scene)
        assert image.size == (scene.width, scene.height) and image.mode == "RGB"
        for obj in scene.objects:
            # The centroid of a triangle is below its box centre; probe inside.
            probe_y = obj.cy + (obj.radius // 3 if obj.shape == "triangle" else 0)
            pixel = image.getpixel((obj.cx, probe_y))
            assert sum(abs(p - c) for p, c in zip(pixel, obj.rgb)) <= 30, (obj, pixel)
        corner = image.getpixel((0, 0))
        assert min(corner) >= 200


def test_render_is_deterministic(split):
    scene = split.scenes[0]
    assert render_scene(scene).tobytes() == render_scene(scene).tobytes()


def test_polygon_bbox_and_area_agree_and_fit_the_box(split):
    for scene in split.scenes:
        for obj in scene.objects:
            polygon = object_polygon(obj)
            x, y, w, h = polygon_bbox(polygon)
            x0, y0, x1, y1 = obj.box
            assert x0 - 1e-9 <= x and x + w <= x1 + 1e-9 and y0 - 1e-9 <= y and y + h <= y1 + 1e-9
            assert 0 < polygon_area(polygon) <= w * h + 1e-9
    small = [o for s in split.scenes for o in s.objects if o.size == "small"]
    large = [o for s in split.scenes for o in s.objects if o.size == "large"]
    assert max(polygon_area(object_polygon(o)) for o in small) < min(polygon_area(object_polygon(o)) for o in large)


def test_five_captions_in_five_phrasings_naming_every_object_left_to_right(split):
    assert len(CAPTION_STYLES) >= 5
    by_image = {}
    for caption in split.captions:
        by_image.setdefault(caption.image_id, []).append(caption.caption)
    assert len(split.captions) == 5 * len(split.scenes)
    for scene in split.scenes:
        captions = by_image[scene.image_id]
        assert captions == scene_captions(scene)
        assert len(set(captions)) == len(captions) >= 5
        openings = {" ".join(c.split()[:2]) for c in captions}
        assert len(openings) >= 3, captions
        for caption in captions:
            assert caption[0].isupper() and caption.endswith(".")
            named = re.findall(r"\b(small|large) (\w+) (circle|square|triangle)\b", caption)
            assert Counter(named) == Counter((o.size, o.color, o.shape) for o in scene.objects), caption
        # The "from left to right" caption lists objects in image order.
        ordered = re.findall(r"(small|large) (\w+) (circle|square|triangle)", captions[1])
        assert ordered == [(o.size, o.color, o.shape) for o in scene.objects]
    relation_words = {"to the left of", "above", "below"}
    assert any(any(w in c for w in relation_words) for cs in by_image.values() for c in cs)


def test_relation_caption_says_what_the_picture_shows():
    scene = sample_scene(random.Random(5), image_id=1)
    caption = scene_captions(scene)[3]
    objects = scene.objects
    for a, b in zip(objects[0::2], objects[1::2]):
        clause = re.search(rf"{a.phrase} (to the left of|above|below) an? {b.phrase}", caption)
        assert clause, caption
        relation = clause.group(1)
        if relation == "above":
            assert a.cy < b.cy
        elif relation == "below":
            assert a.cy > b.cy
        else:
            assert a.cx < b.cx


def test_ids_seeds_and_file_names():
    assert image_id_for("train", 0) == 1_000_001
    assert image_id_for("val", 0) == 2_000_001
    assert image_id_for("test", 4) == 3_000_005
    custom = image_id_for("extra", 0)
    assert custom not in range(1_000_000, 4_000_000) and custom < 10**12
    assert image_id_for("extra", 0) == custom  # stable, not Python's hash()
    assert image_file_name("val", 2_000_001) == "shapes_val_000002000001.png"
    assert split_seed(0, "train") == split_seed(0, "train") != split_seed(0, "val")
    assert split_seed(0, "train") != split_seed(1, "train")


def test_question_and_caption_ids(split):
    ids = [q.question_id for q in split.questions]
    assert len(ids) == len(set(ids))
    per_image = Counter(q.image_id for q in split.questions)
    for q in split.questions:
        assert q.question_id // 1000 == q.image_id and q.question_id % 1000 < per_image[q.image_id]
    assert len({c.caption_id for c in split.captions}) == len(split.captions)


def test_a_split_is_a_prefix_of_a_longer_one():
    short, long = generate_split("val", 8, 1), generate_split("val", 16, 1)
    assert short.scenes == long.scenes[:8]
    assert short.questions == long.questions[: len(short.questions)]
    assert short.captions == long.captions[:40]


def test_different_seeds_give_different_worlds():
    assert generate_split("val", 5, 1).scenes != generate_split("val", 5, 2).scenes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "train", "n_images": 0, "seed": 0},
        {"split": "train", "n_images": -3, "seed": 0},
        {"split": "train", "n_images": 10**7, "seed": 0},
        {"split": "a/b", "n_images": 1, "seed": 0},
        {"split": "..", "n_images": 1, "seed": 0},
        {"split": "tr ain", "n_images": 1, "seed": 0},
        {"split": "vqa", "n_images": 1, "seed": 0},
        {"split": "", "n_images": 1, "seed": 0},
        {"split": "train", "n_images": 1, "seed": "x"},
        {"split": "train", "n_images": 1, "seed": 0, "size": 8},
    ],
)
def test_bad_settings_raise_a_clear_error(kwargs):
    with pytest.raises(ShapesConfigError) as caught:
        generate_split(**kwargs)
    assert "\n" not in str(caught.value)
