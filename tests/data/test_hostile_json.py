"""Hostile JSON files, generated here, refused by the readers with one line naming the file and field.

Each case was an internal error, a hang or a silent wrong value before
(issue 16): an integer longer than Python converts, an id beyond 64 bits, a
lone UTF-16 surrogate in a question or caption, a FIFO or a device in place of
a file, a file over the size limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vqadesk.data.coco_parse import read_coco_file
from vqadesk.data.vqa import read_vqa_annotations, read_vqa_questions
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import read_json


def questions_file(path: Path, question_id=1, text="what colour is it?") -> Path:
    path.write_text(json.dumps({
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "train", "license": {},
        "questions": [{"question_id": 5, "image_id": 1, "question": "how many?"},
                      {"question_id": question_id, "image_id": 1, "question": text}],
    }), encoding="utf-8")
    return path


def annotations_file(path: Path, answers: list[str] | None = None, confidence="yes", image_id=1) -> Path:
    answers = answers or ["red"] * 10
    path.write_text(json.dumps({
        "info": {}, "data_type": "mscoco", "data_subtype": "train", "license": {},
        "annotations": [{"question_id": 1, "image_id": image_id, "question_type": "what", "answer_type": "other",
                         "multiple_choice_answer": answers[0],
                         "answers": [{"answer": a, "answer_confidence": confidence, "answer_id": i + 1}
                                     for i, a in enumerate(answers)]}],
    }), encoding="utf-8")
    return path


def captions_file(path: Path, caption="a red square") -> Path:
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [{"id": 1, "image_id": 1, "caption": caption}],
    }), encoding="utf-8")
    return path


def test_an_integer_of_5000_digits_is_located(tmp_path):
    path = tmp_path / "q.json"
    path.write_text('{"questions": [{"question_id": ' + "7" * 5000 + "}]}", encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        read_vqa_questions(path)
    assert str(caught.value) == f"{path}: a number of 5,000 digits at line 1, column 32 (at most 4,300 are read)"


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70, 10**4000])
def test_ids_beyond_64_bits_name_the_field(tmp_path, value):
    with pytest.raises(DataFormatError) as caught:
        read_vqa_questions(questions_file(tmp_path / "q.json", question_id=value))
    assert caught.value.field == "questions[1].question_id"
    assert "beyond the 64-bit range" in caught.value.problem


def test_the_64_bit_edges_are_read(tmp_path):
    read = read_vqa_questions(questions_file(tmp_path / "q.json", question_id=2**63 - 1))
    assert read.questions[1].question_id == 2**63 - 1
    read = read_vqa_questions(questions_file(tmp_path / "q.json", question_id=-(2**63)))
    assert read.questions[1].question_id == -(2**63)


def test_an_image_id_beyond_64_bits_in_annotations_and_coco(tmp_path):
    with pytest.raises(DataFormatError) as caught:
        read_vqa_annotations(annotations_file(tmp_path / "a.json", image_id=2**64))
    assert caught.value.field == "annotations[0].image_id"
    coco = tmp_path / "c.json"
    coco.write_text(json.dumps({"images": [{"id": 2**64, "file_name": "a.png"}], "annotations": []}))
    with pytest.raises(DataFormatError) as caught:
        read_coco_file(coco)
    assert caught.value.field == "images[0].id"


@pytest.mark.parametrize("text", ["\ud800", "a \udfff b", "\ud83d alone", "é\udc00"])
def test_a_lone_surrogate_in_a_question_answer_or_caption_names_the_field(tmp_path, text):
    with pytest.raises(DataFormatError, match="lone UTF-16 surrogate") as caught:
        read_vqa_questions(questions_file(tmp_path / "q.json", text=text))
    assert caught.value.field == "questions[1].question"
    with pytest.raises(DataFormatError) as caught:
        read_vqa_annotations(annotations_file(tmp_path / "a.json", answers=["red"] * 3 + [text]))
    assert caught.value.field == "annotations[0].answers[3].answer"
    with pytest.raises(DataFormatError) as caught:
        read_coco_file(captions_file(tmp_path / "c.json", caption=text))
    assert caught.value.field == "annotations[0].caption"


def test_a_surrogate_in_a_key_and_pairs_that_are_fine(tmp_path):
    path = tmp_path / "k.json"
    path.write_text('{"a": {"\\udc80": 1}}')
    with pytest.raises(DataFormatError, match="a key with a lone") as caught:
        read_json(path)
    assert caught.value.field == "a"
    path.write_text('{"a": "\\ud83d\\ude00 \\\\ud800 is text"}')  # a pair (an emoji) and an escaped backslash
    assert read_json(path) == {"a": "\U0001f600 \\ud800 is text"}


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "questions.json"
    os.mkfifo(fifo)
    code = (f"from vqadesk.data.vqa import read_vqa_questions as r\n"
            f"try: r({str(fifo)!r})\nexcept Exception as e: print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"{fifo}: is not a regular file (a FIFO), expected a JSON file"


def test_a_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "annotations.json"
    link.symlink_to("/dev/urandom")
    with pytest.raises(DataFormatError, match=r"is not a regular file \(a device\)"):
        read_json(link)


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:  # sparse: 3 GiB of nothing, on disk almost nothing
        handle.truncate(3 << 30)
    with pytest.raises(DataFormatError, match="is 3,072 MiB, larger than the 1,024 MiB a JSON file may be"):
        read_json(path)
    path.write_text("[1, 2, 3]")
    with pytest.raises(DataFormatError, match="is 9 bytes, larger than the 8 bytes"):
        read_json(path, max_bytes=8)
    assert read_json(path, max_bytes=9) == [1, 2, 3]


def test_a_folder_and_a_missing_file_keep_their_messages(tmp_path):
    with pytest.raises(DataFormatError, match="is a folder, expected a JSON file"):
        read_json(tmp_path)
    with pytest.raises(DataFormatError, match="file not found"):
        read_json(tmp_path / "nope.json")
