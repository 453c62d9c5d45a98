"""``vqadesk ask``: answer one question about one image.

    vqadesk ask IMAGE "QUESTION" [--model NAME|PATH] [--top-k K] [--device D] [--json]

Prints the K most likely answers with their probabilities, best first; with
``--json`` one JSON document on stdout (docs/inference.md)::

    {"question": "...", "answers": [{"answer": "red", "score": 0.93}, ...],
     "attention": [[...], ...] or null, "model": "shapes-vqa",
     "timings_ms": {"load_image": .., "encode": .., "answer": .., "total": .., "load_model": ..}}

``attention`` is the model's attention over the image grid (rows top to
bottom), summing to 1, or null for models without attention. The shared
options (``--model``, ``--device``, ``--json``) and ``positive_int`` are used by
``vqadesk caption`` and ``vqadesk predict`` too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

_BAR_WIDTH = 20


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser, *, kind: str, default: str) -> None:
    """``--model`` and ``--device``, worded for a ``kind`` ("VQA" or "captioning") model."""
    parser.add_argument(
        "--model", default=default, metavar="NAME|PATH",
        help=f"{kind} model: a bundled or user model name, or a checkpoint .json (default: {default})",
    )
    parser.add_argument(
        "--device", default="auto", metavar="DEVICE",
        help="auto (CUDA, else MPS, else CPU; the default), cpu, cuda, cuda:N or mps",
    )


def readable_stdout() -> None:
    """Let human-readable output survive any console: characters the console's encoding
    cannot show (or lone surrogates from undecodable command-line bytes) print as '?'.
    ``--json`` output needs none of this: it is plain ASCII with escapes."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")


def register(subparsers: argparse._SubParsersAction) -> None:
    from vqadesk.engine.torch_free.model_registry import DEFAULT_VQA_NAME  # JSON-only module: cheap

    parser = subparsers.add_parser(
        "ask",
        help="answer a question about an image",
        description="Answer QUESTION about IMAGE with a VQA model: the most likely answers, best first.",
    )
    parser.add_argument("image", metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    parser.add_argument("question", metavar="QUESTION", help="the question, quoted")
    add_model_options(parser, kind="VQA", default=DEFAULT_VQA_NAME)
    parser.add_argument("--top-k", type=positive_int, default=5, metavar="K", help="answers to show (default: 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vqadesk.engine.inference.predictor import Predictor, check_question

    check_question(args.question)  # before the model loads: an empty question fails at once
    predictor = Predictor(vqa=args.model, captioner=None, device=args.device)
    load_started = time.perf_counter()
    predictor.load_vqa(args.model)
    load_ms = (time.perf_counter() - load_started) * 1000.0
    prediction = predictor.ask(args.image, args.question, top_k=args.top_k)
    if args.json:
        document = prediction.to_json()
        document["timings_ms"]["load_model"] = round(load_ms, 3)
        print(json.dumps(document))  # ASCII: safe on any console, in any pipe
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
