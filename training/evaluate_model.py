"""Evaluate any model on a split of a dataset into an evaluation folder, printing JSON events.

    python -m training.evaluate_model --model M --data DIR --split S [--subset N --seed S]
        [--precision P] [--device D] [--out-root DIR] [--batch-size B]

``M`` is anything ``--model`` takes elsewhere: a bundled or user model name, a checkpoint
(``runs/x/best.json``), ``hf:ORG/NAME`` from the Hugging Face cache, or a model folder. The
folder is made under ``--out-root`` (default: ``evaluations/`` in the user data folder); its
files are listed in docs/evaluate.md.

The contract of ``vqadesk/engine/torch_free/routine.py``: each stdout line is one JSON event
(``start {total, ...}``, ``progress {done, total}`` after every batch, ``done {folder, headline,
seconds}``, ``cancelled {done, total}`` or ``error {message}``); human text goes to stderr.
SIGTERM or SIGINT stops between batches and removes the unfinished folder. Exit codes: 0 done,
1 bad input (one line), 2 usage, 3 a bug, 130 cancelled.
"""

from __future__ import annotations

import argparse
import sys

from vqadesk.engine.torch_free.routine import run_routine
from vqadesk.engine.torch_free.training_config import DEVICES_HELP
from vqadesk.errors import EXIT_INTERRUPTED

PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # engine/precision.py's, without importing torch


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this routine, shared with ``vqadesk evaluations run``."""
    add = parser.add_argument
    add("--model", required=True, metavar="M",
        help="a model name (shapes-vqa), a checkpoint (runs/x/best.json), hf:ORG/NAME or a model folder")
    add("--data", required=True, metavar="DIR", help="the dataset root (Shapes world or COCO / VQA v2)")
    add("--split", required=True, metavar="S", help="the split to evaluate on (e.g. val); it needs ground truth")
    add("--subset", type=_positive, default=None, metavar="N",
        help="evaluate a random subset of N questions (VQA) or images (captioning)")
    add("--seed", type=int, default=0, metavar="S", help="the subset's random seed (default 0)")
    add("--precision", choices=PRECISIONS, default="auto", help="pretrained models' arithmetic (default auto)")
    add("--device", default="auto", metavar="D", help=DEVICES_HELP)
    add("--out-root", default=None, metavar="DIR",
        help="where the evaluation folder is made (default: evaluations/ in the user data folder)")
    add("--batch-size", type=_positive, default=None, metavar="B",
        help="questions (default 64) or images (default 16) per batch")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def events_for(args: argparse.Namespace, stop):
    """The generator of events for parsed arguments (torch loads here, not for --help)."""
    from vqadesk.engine.inference.evaluation_run import run_evaluation

    return run_evaluation(args.model, args.data, args.split, args.subset, args.seed, args.precision,
                          args.device, stop, out_root=args.out_root, batch_size=args.batch_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate_model",
        description="Evaluate a model on a dataset split into an evaluation folder (JSON events on stdout).",
    )
    add_evaluation_arguments(parser)
    args = parser.parse_args(argv)
    last: list[str] = []

    def events(stop):
        for event in events_for(args, stop):
            last[:] = [event["event"]]
            _tell(event)
            yield event

    code = run_routine(events, is_main=lambda: True,
                       stop_message="stopping after this batch; the unfinished folder is removed…")
    return EXIT_INTERRUPTED if code == 0 and last == ["cancelled"] else code


def _tell(event: dict) -> None:
    """The human side, on stderr."""
    kind = event["event"]
    if kind == "start":
        if event.get("note"):
            print(f"note: {event['note']}", file=sys.stderr)
        print(f"evaluating {event['label']} on '{event['split']}': {event['total']:,} items", file=sys.stderr)
    elif kind == "done":
        headline = event["headline"]
        print(f"{headline['name']} {headline['value']:.2f}; written to {event['folder']}", file=sys.stderr)
    elif kind == "cancelled":
        print(f"cancelled after {event['done']:,} of {event['total']:,}; nothing was kept", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
