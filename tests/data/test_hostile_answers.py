"""Answer lists that once blew up the VQA arrays: stored flat, bounded per question (issue 16).

More than 32,767 distinct answer confidences overflowed an int16 table (numpy
1.26 wraps silently); one annotation with 200,000 answers padded every
question to 200,000 slots (a 2.4 GB cache, then 6.4 GB of memory).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vqadesk.data.vqa import MAX_ANSWERS, read_vqa_annotations
from vqadesk.data.vqa_arrays import load_vqa_arrays
from vqadesk.errors import DataFormatError


def write_split(folder: Path, answer_lists: list[list[tuple[str, str]]]) -> tuple[Path, Path]:
    """A questions and an annotations file: question i (id i + 1) has ``answer_lists[i]`` as (answer, confidence)."""
    questions = folder / "q.json"
    annotations = folder / "a.json"
    questions.write_text(json.dumps({
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "t", "license": {},
        "questions": [{"question_id": i + 1, "image_id": 1, "question": f"what is {i}?"}
                      for i in range(len(answer_lists))]}))
    annotations.write_text(json.dumps({
        "info": {}, "data_type": "mscoco", "data_subtype": "t", "license": {},
        "annotations": [{"question_id": i + 1, "image_id": 1, "question_type": "what", "answer_type": "other",
                         "multiple_choice_answer": answers[0][0],
                         "answers": [{"answer": a, "answer_confidence": c, "answer_id": j + 1}
                                     for j, (a, c) in enumerate(answers)]}
                        for i, answers in enumerate(answer_lists)]}))
    return questions, annotations


def test_40000_distinct_confidences_come_back_exactly(tmp_path):
    # 400 questions of 100 answers, each answer with its own confidence string.
    lists = [[(f"a{q % 7}", f"c{q}-{j}") for j in range(100)] for q in range(400)]
    arrays = load_vqa_arrays(*write_split(tmp_path, lists))
    assert len(arrays.confidences) == 40_000
    assert arrays.answer_confidence.dtype == np.int32
    for row in (0, 200, 399):
        assert arrays.annotation(row).answer_confidences == tuple(c for _, c in lists[row])
    again = load_vqa_arrays(tmp_path / "q.json", tmp_path / "a.json")  # from the cache
    assert again.cache.built is False and again.annotation(399) == arrays.annotation(399)


def test_answers_are_flat_not_padded_to_the_longest_list(tmp_path):
    lists = [[("yes", "yes")] * MAX_ANSWERS] + [[("no", "maybe")]] * 50
    arrays = load_vqa_arrays(*write_split(tmp_path, lists))
    assert arrays.answer_raw.shape == (MAX_ANSWERS + 50,)  # padded, it would be 51 x 100
    assert arrays.annotation(0).answers == ("yes",) * MAX_ANSWERS
    assert arrays.annotation(50).answers == ("no",)


def test_soft_targets_from_flat_answers(tmp_path):
    from vqadesk.engine.training.vqa_encoding import answer_targets, build_answer_vocabulary

    # multiple-choice answers red, blue, green: the top two by count (red and blue, one each,
    # then green) make the vocabulary; question 2's only answer is then out of it.
    lists = [[("red", "yes")] * 2 + [("blue", "yes")], [("blue", "no")] * 10, [("green", "no")]]
    arrays = load_vqa_arrays(*write_split(tmp_path, lists))
    vocab = build_answer_vocabulary(arrays, np.arange(2), k=2)
    answers, classes, scores = answer_targets(arrays, np.arange(3), vocab, "min3")
    red, blue = vocab.index_of("red"), vocab.index_of("blue")
    row0 = dict(zip(classes[0].tolist(), scores[0].tolist()))
    assert row0[red] == pytest.approx(2 / 3) and row0[blue] == pytest.approx(1 / 3)
    assert dict(zip(classes[1].tolist(), scores[1].tolist()))[blue] == 1.0
    assert (classes[2] == -1).all() and answers[2] == -1  # "green" is out of the vocabulary


def test_an_annotation_with_200000_answers_is_refused_naming_it(tmp_path):
    _, annotations = write_split(tmp_path, [[("x", "yes")] * 10, [("y", "yes")] * 200_000])
    with pytest.raises(DataFormatError) as caught:
        read_vqa_annotations(annotations)
    assert caught.value.field == "annotations[1].answers"
    assert caught.value.problem == f"200,000 answers, more than the {MAX_ANSWERS} a question may have"
