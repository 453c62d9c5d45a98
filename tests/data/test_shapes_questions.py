"""Shapes questions: every family, unambiguous, and no help to a blind model."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from vqadesk.data.shapes import ANSWER_TYPES, COLORS, FAMILIES, SHAPES, SIZES, generate_split
from vqadesk.data.shapes.questions import SPATIAL_MIN_OFFSET

ATTRIBUTE_WORDS = {**{c: "color" for c in COLORS}, **{s: "size" for s in SIZES}}


@pytest.fixture(scope="module")
def train():
    return generate_split("train", 300, seed=0)


@pytest.fixture(scope="module")
def val():
    # Another seed and split name: nothing shared with the training scenes.
    return generate_split("val", 300, seed=1)


def described(phrase: str) -> dict[str, str]:
    """{'size': 'large', 'color': 'red', 'shape': 'circle'} from 'large red circle'."""
    *modifiers, noun = phrase.split()
    attributes = {ATTRIBUTE_WORDS[word]: word for word in modifiers}
    if noun != "object":
        assert noun in SHAPES, phrase
        attributes["shape"] = noun
    return attributes


def fits(obj, attributes: dict[str, str]) -> bool:
    return all(getattr(obj, name) == value for name, value in attributes.items())


def test_every_family_is_asked_with_its_answer_type(train):
    families = Counter(q.family for q in train.questions)
    assert set(families) == set(FAMILIES) == {"color", "shape", "size", "count", "exist", "spatial", "compare"}
    assert min(families.values()) >= 0.05 * len(train.questions)
    for q in train.questions:
        assert q.answer_type == ANSWER_TYPES[q.family]
        assert q.question.lower().startswith(q.question_type), q
        assert q.question.endswith("?") and q.question[0].isupper()


def test_several_distinct_questions_per_image(train):
    by_image = defaultdict(list)
    for q in train.questions:
        by_image[q.image_id].append(q.question)
    assert set(by_image) == {s.image_id for s in train.scenes}
    for questions in by_image.values():
        assert 8 <= len(questions) <= 12
        assert len(set(questions)) == len(questions)


def test_answers_come_from_small_fixed_vocabularies(train):
    allowed = {
        "color": set(COLORS),
        "shape": set(SHAPES),
        "size": set(SIZES),
        "count": {str(n) for n in range(0, 7)},
        "exist": {"yes", "no"},
        "spatial": {"yes", "no"},
        "compare": {"yes", "no"},
    }
    for family, values in allowed.items():
        given = {q.answer for q in train.questions if q.family == family}
        assert given <= values, family
        # Every value a family can give does occur (counts up to 6 included).
        assert given == values, (family, values - given)


def test_answers_are_balanced_within_each_question_type(train):
    by_type = defaultdict(Counter)
    for q in train.questions:
        by_type[q.question_type][q.answer] += 1
    for question_type, answers in by_type.items():
        top = answers.most_common(1)[0][1] / sum(answers.values())
        limit = 0.56 if set(answers) <= {"yes", "no", "small", "large"} else 0.40
        assert top <= limit, (question_type, answers)


def test_referring_expressions_pick_out_one_object_minimally(train):
    patterns = {
        "color": re.compile(r"^What color is the (.+)\?$"),
        "shape": re.compile(r"^What shape is the (.+)\?$"),
        "size": re.compile(r"^What size is the (.+)\?$"),
    }
    scenes = {s.image_id: s for s in train.scenes}
    for q in train.questions:
        if q.family not in patterns:
            continue
        attributes = described(patterns[q.family].match(q.question).group(1))
        assert q.family not in attributes, q  # the question does not give its answer away
        objects = scenes[q.image_id].objects
        matching = [o for o in objects if fits(o, attributes)]
        assert len(matching) == 1, q
        assert getattr(matching[0], q.family) == q.answer
        # No description with fewer attributes (not naming the asked one) would do.
        target = matching[0]
        for name in ("size", "color", "shape"):
            if name not in attributes or len(attributes) == 1:
                continue
            shorter = {k: v for k, v in attributes.items() if k != name}
            assert sum(fits(o, shorter) for o in objects) > 1, (q, shorter, target)


def test_spatial_questions_are_about_clearly_separated_objects(train):
    pattern = re.compile(r"^Is the (.+?) (to the left of|to the right of|above|below) the (.+)\?$")
    scenes = {s.image_id: s for s in train.scenes}
    relations = Counter()
    for q in (q for q in train.questions if q.family == "spatial"):
        first, relation, second = pattern.match(q.question).groups()
        objects = scenes[q.image_id].objects
        (a,) = [o for o in objects if fits(o, described(first))]
        (b,) = [o for o in objects if fits(o, described(second))]
        dx, dy = b.cx - a.cx, b.cy - a.cy
        offset = abs(dx) if "of" in relation else abs(dy)
        assert offset >= SPATIAL_MIN_OFFSET * scenes[q.image_id].width
        truth = {"to the left of": dx > 0, "to the right of": dx < 0, "above": dy > 0, "below": dy < 0}[relation]
        assert q.answer == ("yes" if truth else "no"), q
        relations[relation, q.answer] += 1
    assert len(relations) == 8  # all four relations, answered both ways


def blind_accuracy(train, val, key) -> float:
    """Exact-match accuracy on ``val`` of the most common ``train`` answer per key."""
    by_type, by_key = defaultdict(Counter), defaultdict(Counter)
    for q in train.questions:
        by_type[q.question_type][q.answer] += 1
        by_key[key(q)][q.answer] += 1
    hits = 0
    for q in val.questions:
        answers = by_key.get(key(q)) or by_type[q.question_type]
        hits += answers.most_common(1)[0][0] == q.answer
    return hits / len(val.questions)


def test_a_blind_model_cannot_beat_chance(train, val):
    per_type = blind_accuracy(train, val, lambda q: q.question_type)
    per_question = blind_accuracy(train, val, lambda q: q.question)
    assert per_type <= 0.50, per_type
    assert per_question <= 0.55, per_question


def test_the_blind_prior_check_would_catch_a_leak(train, val):
    """A world whose questions gave their answers away fails the same measure."""

    def leak(q):
        return q.question + q.answer

    assert blind_accuracy(train, val, leak) > 0.9


# Chance plus a margin: 6 colours, 3 shapes, 2 sizes, counts 0-6, yes/no.
FAMILY_BLIND_LIMITS = {
    "color": 0.25,
    "shape": 0.42,
    "size": 0.58,
    "count": 0.35,
    "exist": 0.58,
    "spatial": 0.58,
    "compare": 0.58,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_no_family_helps_a_blind_model(train, val, family):
    def only(split):
        return type(split)(
            name=split.name,
            seed=split.seed,
            image_size=split.image_size,
            scenes=split.scenes,
            questions=tuple(q for q in split.questions if q.family == family),
            captions=split.captions,
        )

    accuracy = blind_accuracy(only(train), only(val), lambda q: q.question)
    assert accuracy <= FAMILY_BLIND_LIMITS[family], (family, accuracy)
