"""Questions about Shapes scenes, balanced so the text alone does not give the answer.

Seven families: colour, shape, size (of one object named by its shortest
unique description), counting, existence, spatial relations and count
comparisons. For each scene every family lists all the questions it could
ask (``Candidate``: text, exact answer, VQA question type, balancing form).

Balancing chooses the answer first. ``AnswerBalancer`` keeps, per question
type and form (e.g. "how many" + "color+shape"), how often each answer has
been given in the split so far; for a new question it picks a form, then the
least-given answer that this scene can support, then a random question with
that answer (forms where this scene can supply the answer they lack most
are preferred). Answers within a form therefore come out as even as the scenes
allow, and because the world is symmetric in colours, shapes and left/right,
each exact question string inherits that balance: a blind model that learns
the most common answer per question (or per question type) stays near
chance. ``tests/data/test_shapes_questions.py`` measures it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import permutations, product
from typing import NamedTuple

from vqadesk.data.shapes.language import (
    DescriptionKey,
    description_counts,
    description_key,
    noun_phrase,
    unique_description,
    with_article,
)
from vqadesk.data.shapes.scene import COLOR_NAMES, SHAPES, SIZES, Scene

FAMILIES = ("color", "shape", "size", "count", "exist", "spatial", "compare")
ANSWER_TYPES = {
    "color": "other",
    "shape": "other",
    "size": "other",
    "count": "number",
    "exist": "yes/no",
    "spatial": "yes/no",
    "compare": "yes/no",
}
QUESTIONS_PER_IMAGE = 10
# Families that may be asked more than once per image, to fill up to
# QUESTIONS_PER_IMAGE after one question of each family.
_REPEATABLE_FAMILIES = ("count", "exist", "spatial", "compare", "color", "shape")
_FILL_ATTEMPTS = 30
# Centres must differ by this fraction of the image side before "left of" or
# "above" is asked about two objects.
SPATIAL_MIN_OFFSET = 0.12


class Candidate(NamedTuple):
    """A question a scene could be asked, with its exact answer.

    A named tuple rather than a frozen dataclass: hundreds are built per
    scene and thrown away, and tuples are several times cheaper to make.
    """

    question: str
    answer: str
    question_type: str
    form: str  # sub-group balanced on its own (which attributes the question names)
    objects: tuple[int, ...] = ()  # the scene objects it names, in the order named (grounding)


@dataclass(frozen=True)
class ShapesQuestion:
    """One VQA question with its single exact answer."""

    question_id: int
    image_id: int
    question: str
    answer: str
    question_type: str
    answer_type: str
    family: str
    # Indices into the scene's objects that the question names, in the order it
    # names them: (A, B) for "is the A left of the B?", (A,) for "what color is
    # the A?", () for counts, existence and comparisons, which name groups.
    objects: tuple[int, ...] = ()


# A family's question maker: the scene and its attribute counts in, candidates out.
_Builder = Callable[[Scene, Counter[DescriptionKey]], Iterator[Candidate]]


class AnswerBalancer:
    """Chooses among candidates so each (question type, form) gets even answers."""

    def __init__(self) -> None:
        self._given: dict[tuple[str, str], Counter[str]] = {}

    def pick(self, rng: random.Random, candidates: list[Candidate]) -> Candidate:
        # Sorted throughout: set order of strings changes between runs (hash seed).
        answers_by_group: dict[tuple[str, str], set[str]] = {}
        for c in candidates:
            answers_by_group.setdefault((c.question_type, c.form), set()).add(c.answer)
        groups = sorted(answers_by_group)
        # Prefer groups where this scene can give the answer they lack most
        # (e.g. a "yes" to "as many small as large objects?"); else any group.
        needy = [g for g in groups if self._can_even_out(g, answers_by_group[g])]
        group = rng.choice(needy or groups)
        given = self._given.setdefault(group, Counter())
        answers = sorted(answers_by_group[group])
        fewest = min(given[a] for a in answers)
        answer = rng.choice([a for a in answers if given[a] == fewest])
        chosen = rng.choice([c for c in candidates if (c.question_type, c.form) == group and c.answer == answer])
        given[answer] += 1
        return chosen

    def _can_even_out(self, group: tuple[str, str], answers: set[str]) -> bool:
        given = self._given.get(group, Counter())
        known = answers | set(given)
        return min(given[a] for a in answers) <= min(given[a] for a in known)


def generate_questions(
    scene: Scene, rng: random.Random, balancer: AnswerBalancer, *, per_image: int = QUESTIONS_PER_IMAGE
) -> list[ShapesQuestion]:
    """About ``per_image`` distinct questions: each family once, then repeats.

    A family with nothing unambiguous to ask about this scene is skipped.
    """
    counts = description_counts(scene.objects)
    by_family = {family: list(builder(scene, counts)) for family, builder in _BUILDERS.items()}
    plan = list(FAMILIES[:per_image])
    plan += [rng.choice(_REPEATABLE_FAMILIES) for _ in range(_FILL_ATTEMPTS)]
    asked: set[str] = set()
    questions: list[ShapesQuestion] = []
    for family in plan:
        if len(questions) == per_image:
            break
        fresh = [c for c in by_family[family] if c.question not in asked]
        if not fresh:
            continue
        chosen = balancer.pick(rng, fresh)
        asked.add(chosen.question)
        questions.append(
            ShapesQuestion(
                # VQA's scheme: image id times 1000 plus the question's index.
                question_id=scene.image_id * 1000 + len(questions),
                image_id=scene.image_id,
                question=chosen.question,
                answer=chosen.answer,
                question_type=chosen.question_type,
                answer_type=ANSWER_TYPES[family],
                family=family,
                objects=chosen.objects,
            )
        )
    return questions


def _attribute_questions(attribute: str, template: str, question_type: str) -> _Builder:
    """Questions about one attribute of an object named without that attribute."""

    def build(scene: Scene, counts: Counter[DescriptionKey]) -> Iterator[Candidate]:
        for index, obj in enumerate(scene.objects):
            description = unique_description(obj, scene.objects, without=attribute, counts=counts)
            if description is not None:
                yield Candidate(template.format(description), getattr(obj, attribute), question_type, "object",
                                (index,))

    return build


# Attribute combinations a counting / existence question may name, by form.
_COUNT_FORMS: dict[str, list[dict[str, str]]] = {
    "all": [{}],
    "color": [{"color": c} for c in COLOR_NAMES],
    "shape": [{"shape": s} for s in SHAPES],
    "color+shape": [{"color": c, "shape": s} for c, s in product(COLOR_NAMES, SHAPES)],
    "size+shape": [{"size": z, "shape": s} for z, s in product(SIZES, SHAPES)],
}
_EXIST_FORMS: dict[str, list[dict[str, str]]] = {
    "color": _COUNT_FORMS["color"],
    "shape": _COUNT_FORMS["shape"],
    "color+shape": _COUNT_FORMS["color+shape"],
    "size+shape": _COUNT_FORMS["size+shape"],
    "size+color+shape": [{"size": z, "color": c, "shape": s} for z, c, s in product(SIZES, COLOR_NAMES, SHAPES)],
}
_COMPARE_FORMS: dict[str, list[tuple[dict[str, str], dict[str, str]]]] = {
    "shape": [({"shape": a}, {"shape": b}) for a, b in permutations(SHAPES, 2)],
    "color": [({"color": a}, {"color": b}) for a, b in permutations(COLOR_NAMES, 2)],
    "size": [({"size": a}, {"size": b}) for a, b in permutations(SIZES, 2)],
}


# The question texts do not depend on the scene: built once.
_COUNT_TEXTS = [
    (form, description_key(attributes), f"How many {noun_phrase(**attributes, plural=True)} are there?")
    for form, attribute_sets in _COUNT_FORMS.items()
    for attributes in attribute_sets
]
_EXIST_TEXTS = [
    (form, description_key(attributes), f"Is there {with_article(noun_phrase(**attributes))}?")
    for form, attribute_sets in _EXIST_FORMS.items()
    for attributes in attribute_sets
]
_COMPARE_TEXTS = [
    (
        form,
        description_key(first),
        description_key(second),
        noun_phrase(**first, plural=True),
        noun_phrase(**second, plural=True),
    )
    for form, pairs in _COMPARE_FORMS.items()
    for first, second in pairs
]


def _count_questions(scene: Scene, counts: Counter[DescriptionKey]) -> Iterator[Candidate]:
    for form, key, text in _COUNT_TEXTS:
        yield Candidate(text, str(counts[key]), "how many", form)


def _exist_questions(scene: Scene, counts: Counter[DescriptionKey]) -> Iterator[Candidate]:
    for form, key, text in _EXIST_TEXTS:
        yield Candidate(text, "yes" if counts[key] else "no", "is there a", form)


def _spatial_questions(scene: Scene, counts: Counter[DescriptionKey]) -> Iterator[Candidate]:
    """'Is the A left of / right of / above / below the B?', only where clear.

    Asked only when the two centres differ by at least SPATIAL_MIN_OFFSET of
    the image on that axis, so no answer hinges on a pixel or two.
    """
    min_offset = SPATIAL_MIN_OFFSET * scene.width
    named = [(k, obj, unique_description(obj, scene.objects, counts=counts)) for k, obj in enumerate(scene.objects)]
    named = [(k, obj, name) for k, obj, name in named if name is not None]
    for (k_a, a, name_a), (k_b, b, name_b) in permutations(named, 2):
        dx, dy = b.cx - a.cx, b.cy - a.cy  # image y grows downwards
        truths: dict[str, bool] = {}
        if abs(dx) >= min_offset:
            truths["to the left of"] = dx > 0
            truths["to the right of"] = dx < 0
        if abs(dy) >= min_offset:
            truths["above"] = dy > 0
            truths["below"] = dy < 0
        for relation, truth in truths.items():
            yield Candidate(f"Is the {name_a} {relation} the {name_b}?", "yes" if truth else "no", "is the", relation,
                            (k_a, k_b))


def _compare_questions(scene: Scene, counts: Counter[DescriptionKey]) -> Iterator[Candidate]:
    """More / fewer / as many, between two groups that are not both empty."""
    for form, first, second, a, b in _COMPARE_TEXTS:
        n_first, n_second = counts[first], counts[second]
        if n_first + n_second == 0:
            continue  # "as many red as blue objects" with neither present is a trick question
        for question, question_type, truth in (
            (f"Are there more {a} than {b}?", "are there more", n_first > n_second),
            (f"Are there fewer {a} than {b}?", "are there fewer", n_first < n_second),
            (f"Are there as many {a} as {b}?", "are there as many", n_first == n_second),
        ):
            yield Candidate(question, "yes" if truth else "no", question_type, form)


_BUILDERS: dict[str, _Builder] = {
    "color": _attribute_questions("color", "What color is the {}?", "what color is the"),
    "shape": _attribute_questions("shape", "What shape is the {}?", "what shape is the"),
    "size": _attribute_questions("size", "What size is the {}?", "what size is the"),
    "count": _count_questions,
    "exist": _exist_questions,
    "spatial": _spatial_questions,
    "compare": _compare_questions,
}
