"""``vqadesk ask``: answer one question about one image.

    vqadesk ask IMAGE "QUESTION" [--model NAME|PATH|hf:ORG/NAME[@REV]|FOLDER] [--top-k K] [--device D]
                [--precision P] [--json]

Prints the K most likely answers with their probabilities, best first; with
``--json`` one JSON document on stdout (docs/inference.md)::

    {"question": "...", "answers": [{"answer": "red", "score": 0.93}, ...],
     "attention": [[...], ...] or null, "attention_region": "centre-square", "model": "shapes-vqa",
     "timings_ms": {"load_image": .., "encode": .., "answer": .., "total": .., "load_model": ..}}

``attention`` is the model's attention over the image grid (rows top to
bottom), summing to 1, or null for models without attention; ``attention_region``
says what it covers: the centre square the own models see, or the whole photo
(``whole-image``, the pretrained BLIP and ViLT).
"""

from __future__ import annotations

import argparse

from vqadesk.cli.options import add_image_command, add_json_option, add_model_options, load_model, positive_int
from vqadesk.cli.output import print_prediction_json, readable_stdout
from vqadesk.engine.torch_free.model_kind import ModelKind

_BAR_WIDTH = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_image_command(
        subparsers, "ask",
        help="answer a question about an image",
        description="Answer QUESTION about IMAGE with a VQA model: the most likely answers, best first.",
    )
    parser.add_argument("question", metavar="QUESTION", help="the question, quoted")
    add_model_options(parser, ModelKind.VQA)
    parser.add_argument("--top-k", type=positive_int, default=5, metavar="K", help="answers to show (default: 5)")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vqadesk.engine.inference.predictor import check_question

    check_question(args.question)  # before the model loads: an empty question fails at once
    predictor, load_ms = load_model(ModelKind.VQA, args)
    prediction = predictor.ask(args.image, args.question, top_k=args.top_k)
    if args.json:
        print_prediction_json(prediction, load_ms)
        return 0
    readable_stdout()
    print(f"Q: {prediction.question}")
    width = max(len(answer.text) for answer in prediction.answers)
    for rank, answer in enumerate(prediction.answers, start=1):
        bar = "#" * round(answer.prob * _BAR_WIDTH)
        print(f"{rank:>3}. {answer.text:<{width}}  {answer.prob * 100:5.1f}%  {bar}")
    print(f"model {prediction.model} on {predictor.device_description}, "
          f"{prediction.timings_ms['total']:.1f} ms (model loaded in {load_ms:.0f} ms)")
    return 0
