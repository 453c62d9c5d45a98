"""``vqadesk caption``: describe one image in words.

    vqadesk caption IMAGE [--model NAME|PATH] [--beam N] [--captions K] [--device D] [--json]

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
import json
import time

from vqadesk.cli.ask_cmd import add_model_options, positive_int, readable_stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    from vqadesk.engine.torch_free.model_registry import DEFAULT_CAPTIONER_NAME

    parser = subparsers.add_parser(
        "caption",
        help="write captions for an image",
        description="Describe IMAGE with a captioning model (beam search), best caption first.",
    )
    parser.add_argument("image", metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    add_model_options(parser, kind="captioning", default=DEFAULT_CAPTIONER_NAME)
    parser.add_argument("--beam", type=positive_int, default=3, metavar="N", help="beam size (default: 3; 1 is greedy)")
    parser.add_argument(
        "--captions", type=positive_int, default=1, metavar="K", help="distinct captions to write (default: 1)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vqadesk.engine.inference.predictor import Predictor

    predictor = Predictor(vqa=None, captioner=args.model, device=args.device)
    load_started = time.perf_counter()
    predictor.load_captioner(args.model)
    load_ms = (time.perf_counter() - load_started) * 1000.0
    prediction = predictor.caption(args.image, beam_size=args.beam, num_captions=args.captions)
    if args.json:
        document = prediction.to_json()
        document["timings_ms"]["load_model"] = round(load_ms, 3)
        print(json.dumps(document))  # ASCII: safe on any console, in any pipe
        return 0
    readable_stdout()
    for rank, caption in enumerate(prediction.captions, start=1):
        print(f"{rank:>3}. {caption.text or '(no words)'}   (score {caption.score:.3f})")
    print(f"model {prediction.model} on {predictor.device_description}, beam {args.beam}, "
          f"{prediction.timings_ms['total']:.1f} ms (model loaded in {load_ms:.0f} ms)")
    return 0
