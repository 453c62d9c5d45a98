"""Evaluate any model on a split of a dataset into an evaluation folder, printing JSON events.

    python -m training.evaluate_model --model M --data DIR --split S [--subset N --seed S]
        [--precision P] [--device D] [--out-root DIR] [--batch-size B] [--threads N] [--nice N]

``M`` is anything ``--model`` takes elsewhere: a bundled or user model name, a checkpoint
(``runs/x/best.json``), ``hf:ORG/NAME`` from the Hugging Face cache, or a model folder. The
folder is made under ``--out-root`` (default: ``evaluations/`` in the user data folder); its
files are listed in docs/evaluate.md.

The contract of ``vqadesk/engine/torch_free/routine.py``: each stdout line is one JSON event
(``start {total, ...}``, ``progress {done, total}`` after every batch, ``done {folder, headline,
seconds}``, ``cancelled {done, total}`` or ``error {message}``); human text goes to stderr.
It runs at a lower priority (``--nice``, default 10, as the app's inference process) so the
window it runs beside keeps its cores. SIGTERM or SIGINT stops between batches and removes the
unfinished folder. Exit codes: 0 done, 1 bad input (one line), 2 usage, 3 a bug, 130 cancelled.
"""

from __future__ import annotations

import argparse
import sys

from vqadesk.engine.torch_free.evaluation_options import add_evaluation_arguments
from vqadesk.engine.torch_free.inference_protocol import NICE_INCREMENT, lower_priority
from vqadesk.engine.torch_free.routine import run_routine
from vqadesk.errors import EXIT_INTERRUPTED


def events_for(args: argparse.Namespace, stop):
    """The generator of events for parsed arguments (torch loads here, not for --help)."""
    from vqadesk.engine.inference.evaluation_run import run_evaluation

    return run_evaluation(args.model, args.data, args.split, args.subset, args.seed, args.precision,
                          args.device, stop, out_root=args.out_root, batch_size=args.batch_size, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate_model",
        description="Evaluate a model on a dataset split into an evaluation folder (JSON events on stdout).",
    )
    add_evaluation_arguments(parser, nice=NICE_INCREMENT)  # the app runs it beside its window
    args = parser.parse_args(argv)
    if args.nice:
        lower_priority(args.nice)
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
