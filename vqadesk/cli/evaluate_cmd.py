"""``vqadesk evaluate vqa|captions``: score a results file with the official metrics.

    vqadesk evaluate vqa --questions Q.json --annotations A.json --results R.json
                         [--rules official|legacy] [--json]
    vqadesk evaluate captions --annotations CAPTIONS.json --results R.json [--json]

VQA: the questions file fixes the evaluated questions; the results must
answer each of them exactly once. Captions: as the COCO caption tool, the
images scored are those in the results; each must be an image of the
captions file, at most once. ``--json`` prints one JSON document on stdout
(official key names); otherwise a short table.
"""

from __future__ import annotations

import argparse
import json
import sys

from vqadesk.errors import EvaluationError, list_ids
from vqadesk.metrics.tables import format_caption_evaluation, format_vqa_evaluation


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a results file with the official metrics",
        description="Score VQA answers (VQA accuracy) or captions (BLEU-1..4, CIDEr-D) "
        "the way the official evaluation tools do.",
    )
    parser.set_defaults(func=lambda args: _missing_kind(parser))
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")

    vqa = kinds.add_parser("vqa", help="VQA accuracy of a results file [{question_id, answer}]")
    vqa.add_argument("--questions", required=True, metavar="Q.json",
                     help="VQA questions file (the questions evaluated)")
    vqa.add_argument("--annotations", required=True, metavar="A.json", help="VQA annotations file (human answers)")
    vqa.add_argument("--results", required=True, metavar="R.json", help="results: [{question_id, answer}, ...]")
    vqa.add_argument(
        "--rules", choices=("official", "legacy"), default="official",
        help="answer normalisation: the current official code (default) or the 2015-2020 one",
    )
    vqa.add_argument("--json", action="store_true", help="print one JSON document (official key names)")
    vqa.set_defaults(func=run_vqa)

    captions = kinds.add_parser("captions", help="BLEU-1..4 and CIDEr-D of a results file [{image_id, caption}]")
    captions.add_argument("--annotations", required=True, metavar="CAPTIONS.json", help="COCO captions file")
    captions.add_argument("--results", required=True, metavar="R.json", help="results: [{image_id, caption}, ...]")
    captions.add_argument("--json", action="store_true", help="print one JSON document")
    captions.set_defaults(func=run_captions)


def _missing_kind(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# -- VQA ------------------------------------------------------------------------------------


def run_vqa(args: argparse.Namespace) -> int:
    from vqadesk.data.vqa import read_vqa_annotations, read_vqa_questions
    from vqadesk.metrics.results_io import read_vqa_results
    from vqadesk.metrics.vqa_accuracy import evaluate_vqa

    questions = read_vqa_questions(args.questions).questions
    if not questions:
        raise EvaluationError(f"{args.questions}: no questions to evaluate")
    annotations = read_vqa_annotations(args.annotations)
    results = read_vqa_results(args.results)
    evaluation = evaluate_vqa(
        questions, annotations, results, args.rules,
        results_path=args.results, annotations_path=args.annotations,
    )
    if args.json:
        print(json.dumps(evaluation.to_official_json()))
        return 0
    print(format_vqa_evaluation(evaluation))
    return 0


# -- captions --------------------------------------------------------------------------------


def _reference_captions(path: str) -> dict[int, list[str]]:
    """image id -> its reference captions, for every image of a COCO captions file."""
    from vqadesk.data.coco import CocoIndex

    index = CocoIndex(path)
    if index.caption_count == 0:
        raise EvaluationError(f"{path}: no reference captions (expected a COCO captions_<split>.json file)")
    return {image_id: [c.caption for c in index.captions(image_id)] for image_id in index.image_ids}


def run_captions(args: argparse.Namespace) -> int:
    from vqadesk.metrics.captions import evaluate_captions
    from vqadesk.metrics.results_io import read_caption_results

    references = _reference_captions(args.annotations)
    results = read_caption_results(args.results)

    candidates: dict[int, str] = {}
    duplicated: dict[int, None] = {}
    for result in results:
        if result.image_id in candidates:
            duplicated[result.image_id] = None
        candidates[result.image_id] = result.caption
    if duplicated:
        raise EvaluationError(
            f"{args.results}: {len(duplicated)} image(s) have more than one caption: "
            f"image_id {list_ids(list(duplicated))}"
        )
    unknown = [image_id for image_id in candidates if image_id not in references]
    if unknown:
        raise EvaluationError(
            f"{args.results}: {len(unknown)} image(s) are not in {args.annotations}: image_id {list_ids(unknown)}"
        )
    uncaptioned = [image_id for image_id in candidates if not references[image_id]]
    if uncaptioned:
        raise EvaluationError(
            f"{args.annotations}: {len(uncaptioned)} result image(s) have no reference caption: "
            f"image_id {list_ids(uncaptioned)}"
        )
    try:
        evaluation = evaluate_captions(references, candidates)
    except EvaluationError as exc:
        raise EvaluationError(f"{args.results}: {exc}") from None

    annotated = sum(1 for captions in references.values() if captions)
    coverage = f"{evaluation.num_images} of {annotated} annotated images"
    if args.json:
        print(json.dumps(evaluation.scores()))
        if evaluation.num_images < annotated:
            print(f"vqadesk: note: scored {coverage}", file=sys.stderr)
        return 0
    print(format_caption_evaluation(evaluation, coverage))
    return 0
