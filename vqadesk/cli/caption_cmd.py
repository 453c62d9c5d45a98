"""``vqadesk caption``: describe one image in words.

    vqadesk caption IMAGE [--model NAME|PATH|hf:ORG/NAME[@REV]|FOLDER] [--beam N] [--captions K] [--device D]
                    [--precision P] [--json]

Beam search with ``--beam`` beams (1: greedy decoding) writes ``--captions``
distinct captions, best first. ``--json`` prints one JSON document
(docs/inference.md)::

    {"captions": [{"caption": "...", "score": -0.21,
                   "words": [{"word": "a", "prob": 0.98}, ...]}, ...],
     "model": "shapes-captioner",
     "timings_ms": {"load_image": .., "encode": .., "decode": .., "total": .., "load_model": ..}}

``score`` is the caption's length-normalised log-probability (beam search's
ranking; closer to 0 is more confident).
"""

from __future__ import annotations

import argparse

from vqadesk.cli.options import (
    add_beam_option,
    add_image_command,
    add_json_option,
    add_model_options,
    load_model,
    positive_int,
)
from vqadesk.cli.output import print_prediction_json, readable_stdout
from vqadesk.engine.torch_free.model_kind import ModelKind


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_image_command(
        subparsers, "caption",
        help="write captions for an image",
        description="Describe IMAGE with a captioning model (beam search), best caption first.",
    )
    add_model_options(parser, ModelKind.CAPTIONING)
    add_beam_option(parser)
    parser.add_argument(
        "--captions", type=positive_int, default=1, metavar="K", help="distinct captions to write (default: 1)"
    )
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    predictor, load_ms = load_model(ModelKind.CAPTIONING, args)
    prediction = predictor.caption(args.image, beam_size=args.beam, num_captions=args.captions)
    if args.json:
        print_prediction_json(prediction, load_ms)
        return 0
    readable_stdout()
    for rank, caption in enumerate(prediction.captions, start=1):
        print(f"{rank:>3}. {caption.text or '(no words)'}   (score {caption.score:.3f})")
    print(f"model {prediction.model} on {predictor.device_description}, beam {args.beam}, "
          f"{prediction.timings_ms['total']:.1f} ms (model loaded in {load_ms:.0f} ms)")
    return 0
