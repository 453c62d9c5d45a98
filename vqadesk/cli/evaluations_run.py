"""``vqadesk evaluations run``: evaluate a model on a split into an evaluation folder, with a progress bar.

    vqadesk evaluations run --model M --data DIR --split S [--subset N --seed S]
                            [--precision P] [--device D] [--out-root DIR] [--batch-size B]
                            [--threads N] [--nice N] [--json]

The options of ``python -m training.evaluate_model`` (the same ``add_evaluation_arguments``) and
the same Qt-free generator (``engine/inference/evaluation_run.py``): the routine prints its events
for the app; this prints a progress bar with the ETA on stderr and, at the end, the headline score
and the folder (``--json``: the folder's manifest, ``evaluation.json``). Ctrl+C stops it and
removes the unfinished folder (exit 130). ``register(group)`` adds ``run`` to the ``evaluations``
sub-command group.
"""

from __future__ import annotations

import argparse
import json
import sys

from vqadesk.engine.torch_free.evaluation_options import add_evaluation_arguments


def register(group: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = group.add_parser(
        "run", help="evaluate a model on a dataset split into an evaluation folder",
        description="Evaluate a model (bundled, own checkpoint, hf:ORG/NAME or a model folder) on a split "
        "with ground truth, or a random subset of it, into a folder the Evaluate tab lists.",
    )
    add_evaluation_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the evaluation's manifest as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vqadesk.engine.inference.evaluation_run import run_evaluation
    from vqadesk.engine.torch_free.evaluations import MANIFEST_FILE
    from vqadesk.engine.torch_free.inference_protocol import lower_priority
    from vqadesk.jsonio import read_json

    if args.nice:
        lower_priority(args.nice)
    bar = None
    try:
        events = run_evaluation(args.model, args.data, args.split, args.subset, args.seed, args.precision,
                                args.device, out_root=args.out_root, batch_size=args.batch_size, threads=args.threads)
        for event in events:
            kind = event["event"]
            if kind == "start":
                if event.get("note"):
                    print(f"vqadesk: note: {event['note']}", file=sys.stderr)
                unit = "question" if event["kind"] == "vqa" else "image"
                bar = tqdm(total=event["total"], unit=unit, file=sys.stderr, disable=None, leave=False,
                           desc=f"{event['label']} on {event['split']}")
            elif kind == "progress" and bar is not None:
                bar.update(event["done"] - bar.n)
            elif kind == "done":
                if bar is not None:
                    bar.close()
                if args.json:
                    print(json.dumps(read_json(f"{event['folder']}/{MANIFEST_FILE}")))
                else:
                    headline = event["headline"]
                    print(f"{headline['name']} {headline['value']:.2f} in {event['seconds']:.1f} s: {event['folder']}")
    finally:
        if bar is not None:
            bar.close()
    return 0
