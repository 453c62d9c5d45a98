"""A 40,000-question evaluation folder for the GUI benchmark's Evaluate phase (docs/evaluate.md's format).

Realistic rows: VQA v2-like question types (65 of them, skewed), three answer
types, a long tail of answers (about 2,000 distinct), ten human answers that
agree more or less, a top score that is higher when the answer is right, a
top-5, an 8 x 8 float16 map per question, and photos cycling over the given
dataset's images. The metrics are the real ones (``vqadesk evaluate --json``'s
document), so the tab shows what it would for a real run of that size.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vqadesk.engine.torch_free.evaluation_maps import MapsWriter
from vqadesk.engine.torch_free.evaluations import folder_name
from vqadesk.metrics.analysis.documents import vqa_analysis, vqa_document
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import evaluate_vqa

_STARTS = ("what is the", "is there a", "how many", "what color is the", "is the", "what", "are there", "is this",
           "what is", "where is the", "what kind of", "does the", "what type of", "is it", "who is", "why")
QUESTION_TYPES = tuple(f"{start}{'' if n == 0 else f' {n}'}" for start in _STARTS for n in range(4))[:65]
ANSWERS = tuple(f"answer {n}" for n in range(2000))


@dataclass(frozen=True)
class _Annotation:
    answers: tuple[str, ...]
    question_type: str
    answer_type: str


def _answer_of(kind: str, rng: random.Random) -> str:
    if kind == "yes/no":
        return rng.choice(("yes", "no"))
    if kind == "number":
        return str(min(int(rng.expovariate(0.5)), 12))
    return ANSWERS[min(int(rng.paretovariate(1.1)) - 1, len(ANSWERS) - 1)]


def write_big_evaluation(root: Path, dataset: Path, images: list[str], questions: int = 40_000) -> Path:
    """One evaluation folder of ``questions`` rows under ``root``; ``images``: photo paths relative to ``dataset``."""
    rng = random.Random(0)
    rows, annotations, results, maps = [], {}, [], MapsWriter()
    for n in range(questions):
        question_id = 1_000_000 + n
        question_type = QUESTION_TYPES[min(int(rng.expovariate(0.08)), len(QUESTION_TYPES) - 1)]
        kind = "yes/no" if question_type.startswith(("is", "are", "does")) else (
            "number" if question_type.startswith("how many") else "other")
        truth = _answer_of(kind, rng)
        humans = tuple(truth if rng.random() < 0.75 else _answer_of(kind, rng) for _ in range(10))
        right = rng.random() < 0.62
        answer = truth if right else _answer_of(kind, rng)
        score = min(0.999, max(0.01, rng.betavariate(5, 2) if right else rng.betavariate(2, 3)))
        top_k = [[answer, round(score, 4)]] + [[_answer_of(kind, rng), round((1 - score) / (k + 2), 4)]
                                               for k in range(4)]
        annotations[question_id] = _Annotation(humans, question_type, kind)
        results.append(VqaResult(question_id, answer, round(score, 4)))
        rows.append({"question_id": question_id, "image_id": n % len(images), "image": images[n % len(images)],
                     "question": f"{question_type} thing number {n} in the picture?", "question_type": question_type,
                     "answer_type": kind, "answer": answer, "score": round(score, 4), "top_k": top_k,
                     "human_answers": list(humans)})
        maps.add(question_id, np.asarray([[rng.random() for _ in range(8)] for _ in range(8)], dtype=np.float16))
    ids = list(annotations)
    evaluation = evaluate_vqa(ids, annotations, results)
    analysis, _note = vqa_analysis(evaluation, ids, annotations, results)
    for row in rows:
        row["accuracy"] = evaluation.per_question[row["question_id"]]
    created = datetime.now(UTC)
    folder = root / folder_name(created, "big-benchmark", "val")
    folder.mkdir(parents=True)
    manifest = {"format": "vqadesk-evaluation", "version": 1, "kind": "vqa",
                "model": {"reference": "benchmark", "label": "big-benchmark"}, "dataset": str(dataset),
                "split": "val", "subset": None, "count": questions, "created": created.isoformat(), "seconds": 1.0,
                "device": "cpu", "precision": "fp32", "headline": {"name": "VQA accuracy", "value": evaluation.overall},
                "has_maps": True}
    (folder / "evaluation.json").write_text(json.dumps(manifest))
    (folder / "results.json").write_text(json.dumps([{"question_id": r.question_id, "answer": r.answer,
                                                      "score": r.score} for r in results]))
    (folder / "metrics.json").write_text(json.dumps(vqa_document(evaluation, analysis)))
    (folder / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    maps.write(folder / "maps.safetensors")
    return folder
