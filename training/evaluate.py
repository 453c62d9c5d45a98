"""Evaluate a checkpoint on a split and print the official metrics.

    python -m training.evaluate --checkpoint PATH --data DIR --split NAME --out RESULTS.json
        [--device D] [--precision auto|fp32|bf16|fp16] [--batch-size B] [--beam-size N] [--json]
        [--features STORE] [--questions Q.json] [--annotations A.json] [--captions C.json]

Loads a VQA or captioning checkpoint (the kind is read from the file; a
pickled ``.pt`` is refused, never unpickled), answers every question or
captions every image of the split with the checkpoint's own vocabularies and
image size, writes the official results file atomically (VQA:
``[{"question_id", "answer"}]``; captions: ``[{"image_id", "caption"}]``) and
prints the official metrics, the same numbers ``vqadesk evaluate vqa|captions``
gives for that file. A split without ground truth (test-dev style) gets the
results file only. A model trained on a feature store needs ``--features``:
the split's images extracted the same way (docs/real-data.md).

``--json`` prints one JSON document on stdout::

    {"kind": "vqa" | "captioning", "split": .., "checkpoint": .., "results": "R.json",
     "precision": "fp32" | "bf16" | "fp16" (the arithmetic the model ran in),
     "count": <questions answered | images captioned>,
     "metrics": {"overall", "perAnswerType", "perQuestionType", "questions"}
              | {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "images"} | null,
     "note": null | "why there are no metrics"}

The progress bar goes to stderr. Exit codes (``vqadesk.errors.run_entry_point``):
0 done, 1 bad input (one line naming the file), 2 usage, 3 a bug (one line;
VQADESK_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import DEVICES_HELP, PRECISIONS
from vqadesk.errors import VqadeskError, run_entry_point
from vqadesk.text.counts import plural

if TYPE_CHECKING:  # torch loads when the routine runs, not for --help
    from vqadesk.engine.inference.evaluation import CheckpointEvaluation


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description="Evaluate a VQA or captioning checkpoint on a dataset split: write the official "
        "results file and print the official metrics.",
    )
    add = parser.add_argument
    add("--checkpoint", required=True, metavar="PATH", help="a checkpoint's .json (e.g. RUN/best.json)")
    add("--data", required=True, metavar="DIR", help="dataset root (as written by `vqadesk shapes`, or COCO)")
    add("--split", required=True, metavar="NAME", help="the split to evaluate on (e.g. val)")
    add("--out", required=True, metavar="RESULTS.json", help="where to write the official results file")
    add("--device", default="auto", metavar="D", help=DEVICES_HELP)
    add("--precision", default="auto", choices=PRECISIONS,
        help="the model's arithmetic: auto (default: bf16 on CPUs with AVX512-BF16/AMX and on CUDA, else fp32), "
        "fp32 (reproduces the training run's validation metrics exactly), bf16, fp16 (CUDA)")
    add("--batch-size", type=int, default=None, metavar="B",
        help="questions (VQA, default 256) or images (captioning, default 64) per batch")
    add("--beam-size", type=int, default=None, metavar="N",
        help="captioning beam width (default: the one the model was validated with in training, else 3)")
    add("--json", action="store_true", help="print one JSON document instead of tables")
    real = parser.add_argument_group("real data (docs/real-data.md)")
    real.add_argument("--features", metavar="STORE",
                      help="for a model trained on a feature store: the store holding this split's images")
    real.add_argument("--questions", metavar="FILE", help="the split's VQA v2 questions (default: found in --data)")
    real.add_argument("--annotations", metavar="FILE", help="the split's VQA v2 annotations (default: found in --data)")
    real.add_argument("--captions", metavar="FILE",
                      help="the split's captions (default: --data/annotations/captions_<split>.json)")
    return parser


def run(args: argparse.Namespace) -> int:
    # Imported here so --help and usage errors answer before torch loads.
    from vqadesk.engine.device import pick_device
    from vqadesk.engine.inference.evaluation import SplitFiles, evaluate_checkpoint
    from vqadesk.engine.precision import settle_precision
    from vqadesk.metrics.tables import format_caption_evaluation, format_vqa_evaluation

    out = Path(args.out)
    if out.is_dir():  # found out before the evaluation, not after it
        raise VqadeskError(f"{out}: is a folder; --out takes the results file's path (e.g. {out / 'results.json'})")
    device = pick_device(args.device)
    precision = settle_precision(args.precision, device)
    with _progress_bar() as progress:
        evaluation = evaluate_checkpoint(
            args.checkpoint, args.data, args.split, device=device,
            batch_size=args.batch_size, beam_size=args.beam_size, progress=progress,
            files=SplitFiles(features=args.features, questions=args.questions, annotations=args.annotations,
                             captions=args.captions),
            precision=precision,
        )
    _write_results(evaluation, out)

    if args.json:
        print(json.dumps({
            "kind": evaluation.kind,
            "split": evaluation.split,
            "checkpoint": str(evaluation.checkpoint),
            "results": str(args.out),
            "precision": evaluation.precision,
            "count": len(evaluation.results),
            "metrics": evaluation.metrics(),
            "note": _no_metrics_note(evaluation),
        }))
        return 0
    what = "answers" if evaluation.kind == ModelKind.VQA else "captions"
    print(f"{evaluation.checkpoint} on split '{evaluation.split}' ({evaluation.precision}): "
          f"{len(evaluation.results)} {what} in {args.out}")
    if evaluation.vqa is not None:
        print(format_vqa_evaluation(evaluation.vqa))
    elif evaluation.captions is not None:
        print(format_caption_evaluation(evaluation.captions, plural(evaluation.captions.num_images, "image")))
    else:
        print(_no_metrics_note(evaluation))
    return 0


def _no_metrics_note(evaluation: CheckpointEvaluation) -> str | None:
    if evaluation.missing_ground_truth is None:
        return None
    return f"no metrics could be computed: {evaluation.missing_ground_truth}"


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr fed by ``(done, total)`` calls; silent when stderr is not a terminal."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, file=sys.stderr, unit="item", disable=None, leave=False))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _write_results(evaluation: CheckpointEvaluation, out: Path) -> None:
    try:
        evaluation.write_results(out)
    except OSError as exc:
        raise VqadeskError(f"{out}: cannot write the results file ({exc.strerror or exc})") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_entry_point(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
