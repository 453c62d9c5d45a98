"""``vqadesk evaluate vqa|captions``: score a results file with the official metrics.

    vqadesk evaluate vqa --questions Q.json --annotations A.json --results R.json
                         [--rules official|legacy] [--json]
    vqadesk evaluate captions --annotations CAPTIONS.json --results R.json [--json]

VQA: the questions file fixes the evaluated questions; the results must
answer each of them exactly once. Captions: as the COCO caption tool, the
images scored are those in the results; each must be an image of the
captions file, at most once. ``--json`` prints one JSON document on stdout
(the official key names first, then vqadesk's analysis: calibration when
the results carry ``score``, confusion matrices, correctness, per-image
CIDEr-D; docs/evaluate.md); otherwise a short table with the same sections.
"""

from __future__ import annotations

import argparse
import json
import sys

from vqadesk.cli.options import add_json_option, add_kind_commands
from vqadesk.errors import EvaluationError
from vqadesk.metrics.tables import format_caption_evaluation, format_vqa_evaluation


def register(subparsers: argparse._SubParsersAction) -> None:
    vqa, captions = add_kind_commands(
        subparsers, "evaluate",
        help="score a results file with the official metrics",
        description="Score VQA answers (VQA accuracy) or captions (BLEU-1..4, CIDEr-D) "
        "the way the official evaluation tools do.",
        vqa_help="VQA accuracy of a results file [{question_id, answer}]",
        captions_help="BLEU-1..4 and CIDEr-D of a results file [{image_id, caption}]",
    )
    vqa.add_argument("--questions", required=True, metavar="Q.json",
                     help="VQA questions file (the questions evaluated)")
    vqa.add_argument("--annotations", required=True, metavar="A.json", help="VQA annotations file (human answers)")
    vqa.add_argument("--results", required=True, metavar="R.json", help="results: [{question_id, answer}, ...]")
    vqa.add_argument(
        "--rules", choices=("official", "legacy"), default="official",
        help="answer normalisation: the current official code (default) or the 2015-2020 one",
    )
    add_json_option(vqa, help="print one JSON document (official key names)")
    vqa.set_defaults(func=run_vqa)

    captions.add_argument("--annotations", required=True, metavar="CAPTIONS.json", help="COCO captions file")
    captions.add_argument("--results", required=True, metavar="R.json", help="results: [{image_id, caption}, ...]")
    add_json_option(captions)
    captions.set_defaults(func=run_captions)


# -- VQA ------------------------------------------------------------------------------------


def run_vqa(args: argparse.Namespace) -> int:
    from vqadesk.data.vqa import read_vqa_annotations, read_vqa_questions
    from vqadesk.metrics.analysis.documents import vqa_analysis, vqa_document
    from vqadesk.metrics.results_io import read_vqa_results
    from vqadesk.metrics.tables import format_vqa_analysis
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
    analysis, note = vqa_analysis(evaluation, [q.question_id for q in questions], annotations, results)
    if args.json:
        print(json.dumps(vqa_document(evaluation, analysis)))
        if note:  # stdout stays one JSON document
            print(f"vqadesk: note: {note}", file=sys.stderr)
        return 0
    print(format_vqa_evaluation(evaluation))
    print(format_vqa_analysis(analysis))
    if note:
        print(f"{note[0].upper()}{note[1:]}")
    return 0


# -- captions --------------------------------------------------------------------------------


def run_captions(args: argparse.Namespace) -> int:
    from vqadesk.metrics.analysis.documents import caption_analysis, caption_document
    from vqadesk.metrics.captions import evaluate_caption_results, read_reference_captions
    from vqadesk.metrics.results_io import read_caption_results
    from vqadesk.metrics.tables import format_caption_analysis

    references = read_reference_captions(args.annotations)
    evaluation = evaluate_caption_results(
        references, read_caption_results(args.results),
        results_path=args.results, annotations_path=args.annotations,
    )
    annotated = sum(1 for captions in references.values() if captions)
    coverage = f"{evaluation.num_images} of {annotated} annotated images"
    analysis = caption_analysis(evaluation)
    if args.json:
        print(json.dumps(caption_document(evaluation, analysis)))
        if evaluation.num_images < annotated:
            print(f"vqadesk: note: scored {coverage}", file=sys.stderr)
        return 0
    print(format_caption_evaluation(evaluation, coverage))
    print(format_caption_analysis(analysis))
    return 0
