"""The files of an evaluation folder, made from the Predictor's records (torch-free).

``VqaRecords`` and ``CaptionRecords`` take the predictions batch by batch (``add``) and, at the
end, write into a ``PartialFolder`` (``write``): ``results.json`` (the official results file;
VQA entries carry vqadesk's extra ``"score"``, the top answer's probability), ``metrics.json``
(exactly what ``vqadesk evaluate vqa|captions ... --json`` prints for that results file: the
same readers' inputs and the same functions), ``rows.jsonl`` (one line per question or image),
``maps.safetensors`` when the model gave attention maps (``evaluation_maps.py``) and, for VQA,
``questions.json``: the evaluated questions in the official questions format, so
``vqadesk evaluate vqa --questions FOLDER/questions.json --annotations <the split's annotations>
--results FOLDER/results.json --json`` reproduces ``metrics.json`` for a subset too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vqadesk.engine.torch_free.evaluation_folder import PartialFolder
from vqadesk.engine.torch_free.evaluation_items import CaptionItems, VqaItems, relative_image
from vqadesk.engine.torch_free.evaluation_maps import MAPS_FILE, MapsWriter
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction
from vqadesk.metrics.captions import evaluate_caption_results, read_reference_captions
from vqadesk.metrics.results_io import CaptionResult
from vqadesk.metrics.vqa_accuracy import evaluate_vqa

VQA_HEADLINE = "VQA accuracy"
CAPTION_HEADLINE = "CIDEr-D"


class VqaRecords:
    """Answers, top-k and maps of the questions of ``items``, in order."""

    def __init__(self, items: VqaItems, root) -> None:
        self.items = items
        self.root = root
        self.predictions: list[tuple[str, float, list[list[Any]], int | None]] = []
        self.maps = MapsWriter()

    def add(self, predictions: Sequence[VqaPrediction]) -> None:
        for prediction in predictions:
            question_id = self.items.question_ids[len(self.predictions)]
            top_k = [[answer.text, round(float(answer.prob), 6)] for answer in prediction.answers]
            index = None if prediction.attention is None else self.maps.add(prediction.attention, question_id)
            self.predictions.append((prediction.best.text, float(prediction.best.prob), top_k, index))

    def write(self, folder: PartialFolder) -> dict[str, Any]:
        """Write the files; the metrics document (``metrics.json``)."""
        items = self.items
        results = [{"question_id": qid, "answer": answer, "score": round(score, 6)}
                   for qid, (answer, score, _, _) in zip(items.question_ids, self.predictions)]
        annotations = dict(zip(items.question_ids, items.annotations))
        evaluation = evaluate_vqa(items.question_ids, annotations, {r["question_id"]: r["answer"] for r in results})
        metrics = evaluation.to_official_json()
        folder.write_json("questions.json", {
            "info": {"description": f"the questions evaluated, from {items.questions_path}"},
            "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "evaluated",
            "questions": [{"question_id": qid, "image_id": image_id, "question": text}
                          for qid, image_id, text in zip(items.question_ids, items.image_ids, items.questions)],
        })
        folder.write_json("results.json", results)
        folder.write_json("metrics.json", metrics)
        lines = []
        for position, (qid, (answer, score, top_k, index)) in enumerate(zip(items.question_ids, self.predictions)):
            annotation = items.annotations[position]
            lines.append(json.dumps({
                "question_id": qid, "image_id": items.image_ids[position], "question": items.questions[position],
                "question_type": annotation.question_type, "answer_type": annotation.answer_type,
                "answer": answer, "score": round(score, 6), "top_k": top_k,
                "accuracy": evaluation.per_question[qid], "human_answers": list(annotation.answers),
                "image": relative_image(items.images[position], self.root), "map": index,
            }, ensure_ascii=False))
        folder.write_lines("rows.jsonl", lines)
        if len(self.maps):
            folder.write_with(MAPS_FILE, self.maps.write)
        return metrics

    @staticmethod
    def headline(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"name": VQA_HEADLINE, "value": metrics["overall"]}


class CaptionRecords:
    """The best caption of each image of ``items``, with its words' maps."""

    def __init__(self, items: CaptionItems, root) -> None:
        self.items = items
        self.root = root
        self.captions: list[tuple[str, list[int] | None]] = []
        self.maps = MapsWriter()

    def add(self, predictions: Sequence[CaptionPrediction]) -> None:
        for prediction in predictions:
            image_id = self.items.image_ids[len(self.captions)]
            best = prediction.best
            span = None
            if best.words and all(word.attention is not None for word in best.words):
                first = len(self.maps)
                for index, word in enumerate(best.words):
                    self.maps.add(word.attention, image_id, index)
                span = [first, len(self.maps)]
            self.captions.append((best.text, span))

    def write(self, folder: PartialFolder) -> dict[str, Any]:
        items = self.items
        results = [CaptionResult(image_id, caption) for image_id, (caption, _) in zip(items.image_ids, self.captions)]
        references = read_reference_captions(items.captions_path)  # as `vqadesk evaluate captions` reads them
        evaluation = evaluate_caption_results(references, results, results_path="results.json",
                                              annotations_path=items.captions_path)
        metrics = evaluation.scores()
        folder.write_json("results.json", [{"image_id": r.image_id, "caption": r.caption} for r in results])
        folder.write_json("metrics.json", metrics)
        lines = []
        for position, (image_id, (caption, span)) in enumerate(zip(items.image_ids, self.captions)):
            lines.append(json.dumps({
                "image_id": image_id, "caption": caption,
                "cider": evaluation.per_image_cider[image_id], "bleu4": evaluation.per_image_bleu[image_id][3],
                "references": items.references[position],
                "image": relative_image(items.images[position], self.root), "map": span,
            }, ensure_ascii=False))
        folder.write_lines("rows.jsonl", lines)
        if len(self.maps):
            folder.write_with(MAPS_FILE, self.maps.write)
        return metrics

    @staticmethod
    def headline(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"name": CAPTION_HEADLINE, "value": metrics["CIDEr"]}
