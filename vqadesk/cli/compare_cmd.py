"""``vqadesk compare-results A B``: two evaluations of the same questions (images) side by side.

    vqadesk compare-results EVAL_A EVAL_B [--json]
    vqadesk compare-results A.json B.json --questions Q.json --annotations ANN.json [--rules R] [--json]
    vqadesk compare-results A.json B.json --captions CAPTIONS.json [--json]

A and B are evaluation folders (a path, a name under the evaluations folder, or the start of
one: as ``vqadesk evaluations``), or two results files scored first against the ground truth
given. Prints B - A overall and per type, and how many questions A gets right that B does not
and the reverse (``--json``: the ids too). The same code as the Evaluate tab's Compare.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vqadesk.cli.options import add_json_option
from vqadesk.errors import EXIT_OK, VqadeskError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-results", help="compare two evaluations (or results files) of the same questions",
        description="B - A per type, and the questions one gets right and the other wrong. A and B are "
        "evaluation folders, or results files with --questions/--annotations (VQA) or --captions.",
    )
    parser.add_argument("a", metavar="A", help="evaluation folder (or its name), or results file")
    parser.add_argument("b", metavar="B", help="evaluation folder (or its name), or results file")
    parser.add_argument("--questions", metavar="Q.json", help="VQA questions file, for two VQA results files")
    parser.add_argument("--annotations", metavar="ANN.json", help="VQA annotations file, for two VQA results files")
    parser.add_argument("--captions", metavar="CAPTIONS.json", help="COCO captions file, for two caption results")
    parser.add_argument("--rules", choices=("official", "legacy"), default="official",
                        help="VQA answer normalisation (as vqadesk evaluate vqa)")
    add_json_option(parser, help="print one JSON document, with the question (image) ids of both lists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vqadesk.metrics.analysis.diff import diff_evaluations
    from vqadesk.metrics.tables import format_diff

    if args.questions or args.annotations or args.captions:
        kind, a, b = _score_results_files(args)
        names = (args.a, args.b)
        diff = diff_evaluations(kind, a, b, names)
    else:
        from vqadesk.cli.evaluations_cmd import find_evaluation
        from vqadesk.engine.torch_free.evaluations import open_evaluation
        from vqadesk.engine.torch_free.evaluations.compare import compare_evaluations

        first, second = (open_evaluation(_folder(text, find_evaluation)) for text in (args.a, args.b))
        names = (first.path.name, second.path.name)
        diff = compare_evaluations(first, second)
    if args.json:
        print(json.dumps({"a": names[0], "b": names[1]} | diff.to_json()))
    else:
        print(format_diff(diff, names))
    return EXIT_OK


def _folder(text: str, find) -> Path:
    if Path(text).is_file():
        raise VqadeskError(f"{text}: a results file; comparing two results files needs the ground truth "
                           "(--questions and --annotations, or --captions)")
    return find(text)


def _score_results_files(args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Both results files' ``--json`` documents, as ``vqadesk evaluate`` would print them."""
    from vqadesk.metrics.analysis import documents

    if args.captions:
        if args.questions or args.annotations:
            raise VqadeskError("--captions compares caption results; --questions/--annotations VQA results: not both")
        from vqadesk.metrics.captions import evaluate_caption_results, read_reference_captions
        from vqadesk.metrics.results_io import read_caption_results

        references = read_reference_captions(args.captions)
        scored = []
        for path in (args.a, args.b):
            evaluation = evaluate_caption_results(references, read_caption_results(path), results_path=path,
                                                  annotations_path=args.captions)
            scored.append(documents.caption_document(evaluation, documents.caption_analysis(evaluation)))
        return "captioning", scored[0], scored[1]
    if not (args.questions and args.annotations):
        raise VqadeskError("two VQA results files need both --questions and --annotations")
    from vqadesk.data.vqa import read_vqa_annotations, read_vqa_questions
    from vqadesk.metrics.results_io import read_vqa_results
    from vqadesk.metrics.vqa_accuracy import evaluate_vqa

    question_ids = [q.question_id for q in read_vqa_questions(args.questions).questions]
    annotations = read_vqa_annotations(args.annotations)
    scored = []
    for path in (args.a, args.b):
        results = read_vqa_results(path)
        evaluation = evaluate_vqa(question_ids, annotations, results, args.rules, results_path=path,
                                  annotations_path=args.annotations)
        analysis, _ = documents.vqa_analysis(evaluation, question_ids, annotations, results)
        scored.append(documents.vqa_document(evaluation, analysis))
    return "vqa", scored[0], scored[1]
