"""Evaluation folders written in the store's format (docs/evaluate.md), for tests of the readers.

``write_vqa_evaluation`` / ``write_caption_evaluation`` take what a runner
knows (the questions with their human answers, the model's answers with their
probabilities and top-k, optionally maps) and write the whole folder; the
metrics come from the real metric code (``vqadesk evaluate --json``'s
document), so each folder is consistent. ``real_vqa_entries`` /
``real_caption_entries`` describe the 15 real photos of
``../shared/fixtures/coco-real`` (tests/support/real_coco.py), answered by a
rule that gets some right and some wrong, confidently or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tests.support.real_coco import PHOTOS, _human_answers, _question_type, photo_files
from vqadesk.engine.torch_free.evaluation_maps import MapsWriter
from vqadesk.engine.torch_free.evaluations import folder_name
from vqadesk.metrics.analysis.documents import caption_analysis, caption_document, vqa_analysis, vqa_document
from vqadesk.metrics.captions import evaluate_captions
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import evaluate_vqa


@dataclass(frozen=True)
class VqaEntry:
    question_id: int
    image_id: int
    image: str
    question: str
    question_type: str
    answer_type: str
    human_answers: tuple[str, ...]
    answer: str
    score: float | None
    top_k: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class CaptionEntry:
    image_id: int
    image: str
    references: tuple[str, ...]
    caption: str


def _manifest(kind: str, count: int, headline: float, *, dataset: Path, split: str, label: str, created: datetime,
              has_maps: bool, subset: dict | None) -> dict:
    return {"format": "vqadesk-evaluation", "version": 1, "kind": kind,
            "model": {"reference": f"test:{label}", "label": label}, "dataset": str(dataset), "split": split,
            "subset": subset, "count": count, "created": created.isoformat(), "seconds": 1.5, "device": "cpu",
            "precision": "fp32", "headline": {"name": "VQA accuracy" if kind == "vqa" else "CIDEr-D",
                                              "value": headline}, "has_maps": has_maps}


def _write(folder: Path, manifest: dict, results: list, metrics: dict, rows: list[dict],
           maps: dict | None) -> Path:
    folder.mkdir(parents=True)
    (folder / "evaluation.json").write_text(json.dumps(manifest))
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if maps is not None:
        writer = MapsWriter()
        for key, value in maps.items():
            writer.add(key, value)
        writer.write(folder / "maps.safetensors")
    return folder


def write_vqa_evaluation(root: Path, entries: list[VqaEntry], *, dataset: Path, split: str = "val",
                         label: str = "tiny vqa", created: datetime | None = None,
                         maps: dict[int, np.ndarray] | None = None, subset: dict | None = None) -> Path:
    """One VQA evaluation folder under ``root``; ``maps`` keyed by question id."""
    created = created or datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    annotations = {e.question_id: _Annotation(e.human_answers, e.question_type, e.answer_type) for e in entries}
    results = [VqaResult(e.question_id, e.answer, e.score) for e in entries]
    ids = [e.question_id for e in entries]
    evaluation = evaluate_vqa(ids, annotations, results)
    analysis, _ = vqa_analysis(evaluation, ids, annotations, results)
    rows = [{"question_id": e.question_id, "image_id": e.image_id, "question": e.question,
             "question_type": e.question_type, "answer_type": e.answer_type, "answer": e.answer, "score": e.score,
             "top_k": [list(pair) for pair in e.top_k], "accuracy": evaluation.per_question[e.question_id],
             "human_answers": list(e.human_answers), "image": e.image} for e in entries]
    manifest = _manifest("vqa", len(entries), evaluation.overall, dataset=dataset, split=split, label=label,
                         created=created, has_maps=maps is not None, subset=subset)
    results_json = [{"question_id": r.question_id, "answer": r.answer}
                    | ({} if r.score is None else {"score": r.score}) for r in results]
    return _write(root / folder_name(created, label, split), manifest, results_json,
                  vqa_document(evaluation, analysis), rows, maps)


def write_caption_evaluation(root: Path, entries: list[CaptionEntry], *, dataset: Path, split: str = "val",
                             label: str = "tiny captioner", created: datetime | None = None,
                             maps: dict[tuple[int, int], np.ndarray] | None = None) -> Path:
    """One caption evaluation folder under ``root``; ``maps`` keyed by ``(image_id, word index)``."""
    created = created or datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC)
    evaluation = evaluate_captions({e.image_id: list(e.references) for e in entries},
                                   {e.image_id: e.caption for e in entries})
    rows = [{"image_id": e.image_id, "caption": e.caption, "cider": evaluation.per_image_cider[e.image_id],
             "bleu4": evaluation.per_image_bleu[e.image_id][3], "references": list(e.references), "image": e.image}
            for e in entries]
    manifest = _manifest("captioning", len(entries), evaluation.cider, dataset=dataset, split=split, label=label,
                         created=created, has_maps=maps is not None, subset=None)
    results = [{"image_id": e.image_id, "caption": e.caption} for e in entries]
    return _write(root / folder_name(created, label, split), manifest, results,
                  caption_document(evaluation, caption_analysis(evaluation)), rows, maps)


@dataclass(frozen=True)
class _Annotation:
    answers: tuple[str, ...]
    question_type: str
    answer_type: str


_WRONG = {"yes/no": "no", "number": "4", "other": "dog"}


def real_vqa_entries(coco_real: Path, *, wrong_every: int = 3) -> list[VqaEntry]:
    """The questions of the real photos (real_coco.PHOTOS); every ``wrong_every``-th is answered wrongly,
    alternately with high and low confidence; the others rightly."""
    files = photo_files(coco_real)
    entries = []
    for image_id, (_, questions) in PHOTOS.items():
        for k, (question, answer, answer_type) in enumerate(questions):
            qid = image_id * 1000 + k
            humans = tuple(h["answer"] for h in _human_answers(answer, answer_type))
            wrong = len(entries) % wrong_every == 0
            given = _WRONG[answer_type] if wrong and _WRONG[answer_type] != answer else ("yes" if wrong else answer)
            score = (0.92 if len(entries) % 2 else 0.31) if wrong else 0.55 + (len(entries) % 5) / 10
            top_k = ((given, score), (answer if wrong else _WRONG[answer_type], round((1 - score) / 2, 4)))
            entries.append(VqaEntry(qid, image_id, files[image_id].relative_to(coco_real).as_posix(), question,
                                    _question_type(question), answer_type, humans, given, score, top_k))
    return entries


def real_caption_entries(coco_real: Path) -> list[CaptionEntry]:
    """Each real photo with its two reference captions; the candidate is one of the references, reworded
    for every other photo so the scores spread."""
    files = photo_files(coco_real)
    return [CaptionEntry(image_id, files[image_id].relative_to(coco_real).as_posix(), captions,
                         captions[0] if n % 2 else "a photo of something")
            for n, (image_id, (captions, _)) in enumerate(PHOTOS.items())]


def with_answers(entries: list[VqaEntry], answers: dict[int, str]) -> list[VqaEntry]:
    """The same questions with some answers changed (another model of the same split)."""
    return [replace(e, answer=answers.get(e.question_id, e.answer)) for e in entries]


def maps_for(entries: list[VqaEntry], size: int = 7) -> dict[int, np.ndarray]:
    """A map per question: a bright spot that moves with the question id (distinct maps per row)."""
    maps = {}
    for e in entries:
        grid = np.zeros((size, size), np.float32)
        grid[e.question_id % size, (e.question_id // size) % size] = 1.0
        maps[e.question_id] = grid
    return maps


def write_vqa_ground_truth(folder: Path, entries: list[VqaEntry]) -> tuple[Path, Path]:
    """The VQA v2 questions and annotations files of ``entries`` (for ``vqadesk evaluate``), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    questions = [{"image_id": e.image_id, "question": e.question, "question_id": e.question_id} for e in entries]
    annotations = [{"question_id": e.question_id, "image_id": e.image_id, "question_type": e.question_type,
                    "answer_type": e.answer_type, "multiple_choice_answer": e.human_answers[0],
                    "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                for i, a in enumerate(e.human_answers)]} for e in entries]
    q_path, a_path = folder / "questions.json", folder / "annotations.json"
    q_path.write_text(json.dumps({"questions": questions}))
    a_path.write_text(json.dumps({"annotations": annotations}))
    return q_path, a_path
