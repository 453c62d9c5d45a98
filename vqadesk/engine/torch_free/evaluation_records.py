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
from pathlib import Path
from typing import Any

from vqadesk.engine.torch_free.evaluation_folder import PartialFolder
from vqadesk.engine.torch_free.evaluation_items import CaptionItems, VqaItems, relative_image
from vqadesk.engine.torch_free.evaluation_maps import MapsWriter
from vqadesk.engine.torch_free.evaluations import MAPS_FILE, METRICS_FILE, RESULTS_FILE, ROWS_FILE
from vqadesk.engine.torch_free.evaluations.manifest import HEADLINES
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction
from vqadesk.metrics.analysis.documents import caption_analysis, caption_document, vqa_analysis, vqa_document
from vqadesk.metrics.captions import evaluate_caption_results, read_reference_captions
from vqadesk.metrics.results_io import CaptionResult, VqaResult, write_caption_results, write_vqa_results
from vqadesk.metrics.vqa_accuracy import evaluate_vqa

QUESTIONS_FILE = "questions.json"


class VqaRecords:
    """Answers, top-k and maps of the questions of ``items``, in order."""

    def __init__(self, items: VqaItems, root: Path) -> None:
        self.items = items
        self.root = root
        self.predictions: list[tuple[str, float, list[list[Any]]]] = []
        self.maps = MapsWriter()

    def add(self, predictions: Sequence[VqaPrediction]) -> None:
        for prediction in predictions:
            question_id = self.items.question_ids[len(self.predictions)]
            # Probabilities to 6 decimals: the results file's "score" is what the calibration reads.
            top_k = [[answer.text, _probability(answer.prob)] for answer in prediction.answers]
            if prediction.attention is not None:
                self.maps.add(question_id, prediction.attention)
            self.predictions.append((prediction.best.text, top_k[0][1], top_k))

    def write(self, folder: PartialFolder) -> dict[str, Any]:
        """Write the files; the metrics document (``metrics.json``)."""
        items = self.items
        results = [VqaResult(qid, answer, score)
                   for qid, (answer, score, _) in zip(items.question_ids, self.predictions)]
        annotations = dict(zip(items.question_ids, items.annotations))
        evaluation = evaluate_vqa(items.question_ids, annotations, results)
        analysis, _ = vqa_analysis(evaluation, items.question_ids, annotations, results)
        metrics = vqa_document(evaluation, analysis)
        folder.write_json(QUESTIONS_FILE, {
            "info": {"description": f"the questions evaluated, from {items.questions_path}"},
            "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "evaluated",
            "questions": [{"question_id": qid, "image_id": image_id, "question": text}
                          for qid, image_id, text in zip(items.question_ids, items.image_ids, items.questions)],
        })
        folder.write_with(RESULTS_FILE, lambda path: write_vqa_results(path, results))
        folder.write_json(METRICS_FILE, metrics)
        image_names = _image_names(items.images, self.root)
        lines = []
        for position, (qid, (answer, score, top_k)) in enumerate(zip(items.question_ids, self.predictions)):
            annotation = items.annotations[position]
            lines.append(json.dumps({
                "question_id": qid, "image_id": items.image_ids[position], "question": items.questions[position],
                "question_type": annotation.question_type, "answer_type": annotation.answer_type,
                "answer": answer, "score": score, "top_k": top_k,
                "accuracy": evaluation.per_question[qid], "human_answers": list(annotation.answers),
                "image": image_names[items.images[position]],
            }, ensure_ascii=False))
        _write_rows_and_maps(folder, lines, self.maps)
        return metrics

    @staticmethod
    def headline(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"name": HEADLINES["vqa"], "value": metrics["overall"]}


class CaptionRecords:
    """The best caption of each image of ``items``, with its words' maps."""

    def __init__(self, items: CaptionItems, root: Path) -> None:
        self.items = items
        self.root = root
        self.captions: list[str] = []
        self.maps = MapsWriter()

    def add(self, predictions: Sequence[CaptionPrediction]) -> None:
        for prediction in predictions:
            image_id = self.items.image_ids[len(self.captions)]
            best = prediction.best
            # The store finds word k's map as the k-th word of the caption split on spaces.
            words_match = [word.word for word in best.words] == best.text.split(" ")
            if best.words and words_match and all(word.attention is not None for word in best.words):
                for index, word in enumerate(best.words):
                    self.maps.add((image_id, index), word.attention)
            self.captions.append(best.text)

    def write(self, folder: PartialFolder) -> dict[str, Any]:
        items = self.items
        results = [CaptionResult(image_id, caption) for image_id, caption in zip(items.image_ids, self.captions)]
        references = read_reference_captions(items.captions_path)  # as `vqadesk evaluate captions` reads them
        evaluation = evaluate_caption_results(references, results, results_path=RESULTS_FILE,
                                              annotations_path=items.captions_path)
        metrics = caption_document(evaluation, caption_analysis(evaluation))
        folder.write_with(RESULTS_FILE, lambda path: write_caption_results(path, results))
        folder.write_json(METRICS_FILE, metrics)
        image_names = _image_names(items.images, self.root)
        lines = []
        for position, (image_id, caption) in enumerate(zip(items.image_ids, self.captions)):
            lines.append(json.dumps({
                "image_id": image_id, "caption": caption,
                "cider": evaluation.per_image_cider[image_id], "bleu4": evaluation.per_image_bleu[image_id][3],
                "references": items.references[position],
                "image": image_names[items.images[position]],
            }, ensure_ascii=False))
        _write_rows_and_maps(folder, lines, self.maps)
        return metrics

    @staticmethod
    def headline(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"name": HEADLINES["captioning"], "value": metrics["CIDEr"]}


def _image_names(images: Sequence[Path], root: Path) -> dict[Path, str]:
    """Each distinct photo's path relative to the dataset root (ten questions share a photo)."""
    return {image: relative_image(image, root) for image in set(images)}


def _probability(value: float) -> float:
    """A softmax probability to 6 decimals, inside [0, 1] (the results reader checks the range)."""
    return min(max(round(float(value), 6), 0.0), 1.0)


def _write_rows_and_maps(folder: PartialFolder, lines: list[str], maps: MapsWriter) -> None:
    """``rows.jsonl``, and ``maps.safetensors`` when the model gave any map."""
    folder.write_lines(ROWS_FILE, lines)
    if len(maps):
        folder.write_with(MAPS_FILE, maps.write)
