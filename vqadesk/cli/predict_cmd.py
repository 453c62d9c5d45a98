"""``vqadesk predict vqa|captions``: results files for a whole folder of photos.

    vqadesk predict captions --images DIR [--out FILE] [--format json|jsonl|csv|coco] [--recursive]
                             [--sidecar txt] [--overwrite] [--captions K] [--beam N] [--restart]
                             [--batch-size B] [--model ...] [--device D] [--precision P]
    vqadesk predict vqa --images DIR (--question "..." [--question ...] | --questions-file FILE)
                        [--top-k K] [the options of captions but --captions and --beam]
    vqadesk predict vqa --questions Q.json --images DIR --out RESULTS.json
                        [--model ...] [--batch-size B] [--device D] [--precision P] [--skip-unreadable]

A folder of any photos (``--images DIR``, with ``--question`` / ``--questions-file``
for VQA) is a batch job: ``predict_folder.py``. Its default format for captions
of a COCO-named folder is the official results file ``[{"image_id", "caption"}]``
that ``vqadesk evaluate`` and the official tools score.

``vqa --questions Q.json`` answers every question of an official VQA questions
file and writes ``[{"question_id", "answer"}]``. Images are found by id
from their names (``*_%012d.<ext>`` or ``%012d.<ext>``, see
``vqadesk.data.coco_naming``). Work goes in batches (each image encoded once
per batch, questions grouped by image), with a progress bar on stderr when
it is a terminal. The official VQA evaluation needs an answer to every
question, so by default a question whose image file is missing stops the run
before any work (listing the image ids), and an image that cannot be read
stops it naming the file; nothing is written. ``--skip-unreadable`` instead
leaves those questions out of the results, with one warning line each on
stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from vqadesk.cli.options import add_beam_option, add_kind_commands, add_model_options, load_model, positive_int
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError, list_ids
from vqadesk.text.counts import noun_for, plural

Item = TypeVar("Item")
FORMATS = ("json", "jsonl", "csv", "coco")  # engine/torch_free/batch/exports.py's, without importing it here


def register(subparsers: argparse._SubParsersAction) -> None:
    vqa, captions = add_kind_commands(
        subparsers, "predict",
        help="caption or question a folder of photos, or answer a VQA questions file, into a results file",
        description="Caption every photo of a folder, or ask it questions, and write the results (JSON, JSON "
        "lines, CSV, or the official COCO results format) and, if asked, a caption file beside each photo; or "
        "answer an official VQA questions file. Folder runs resume where they stopped.",
        vqa_help="ask questions of every photo of a folder, or answer a VQA questions file",
        captions_help="caption every photo of a folder",
    )
    asked = vqa.add_mutually_exclusive_group(required=True)
    asked.add_argument("--question", action="append", metavar='"QUESTION"',
                       help="a question to ask of every photo (repeat it for several)")
    asked.add_argument("--questions-file", type=Path, metavar="FILE",
                       help="a UTF-8 text file of questions to ask of every photo, one a line (empty lines skipped)")
    asked.add_argument("--questions", metavar="Q.json",
                       help="an official VQA questions file: answer each question about its COCO image and write "
                       "the official results [{question_id, answer}]")
    _add_common(vqa, ModelKind.VQA, batch="photos per chunk (default: about 128 questions' worth); with "
                "--questions: questions per batch (default: 128)")
    vqa.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                     help="answers kept per question, best first (default: 3)")
    vqa.set_defaults(func=run_vqa, parser=vqa)

    _add_common(captions, ModelKind.CAPTIONING, batch="photos per chunk (default: 32)")
    add_beam_option(captions)
    captions.add_argument("--captions", type=positive_int, default=1, metavar="K",
                          help="captions per photo, best first (default: 1)")
    captions.set_defaults(func=run_captions, parser=captions)


def _add_common(parser: argparse.ArgumentParser, kind: ModelKind, *, batch: str) -> None:
    parser.add_argument("--images", required=True, type=Path, metavar="DIR", help="the folder of the photos")
    parser.add_argument(
        "--out", type=Path, metavar="FILE",
        help="results file to write (default for a folder: DIR's name + -captions or -answers, in the current "
        "folder); its progress is kept beside it in FILE.progress.jsonl",
    )
    add_model_options(parser, kind)
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="B", help=batch)
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="results format: json (one document with the settings), jsonl (one row a line), csv, "
                        "or coco (the official captions results, for photos named after COCO ids); default: "
                        "from --out's suffix, else coco for captions of a COCO-named folder, else json")
    parser.add_argument("--recursive", action="store_true", help="take the photos of subfolders too")
    parser.add_argument("--sidecar", choices=("txt",), default=None,
                        help="txt: also write NAME.txt beside each photo NAME.jpg (its caption; for questions, "
                        "'question: answer' lines)")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --sidecar, replace caption files that hold other text (kept by default)")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh, forgetting the photos a previous run of the same results file finished")
    parser.add_argument(
        "--skip-unreadable", action="store_true",
        help="with --questions Q.json: leave out questions whose image is missing or unreadable (warning on "
        "stderr) instead of stopping; folder runs always list unreadable photos and go on",
    )


_FOLDER_ONLY = ("format", "recursive", "sidecar", "overwrite", "restart")


def run_captions(args: argparse.Namespace) -> int:
    from vqadesk.cli.predict_folder import run_folder

    return run_folder(args, "captions")


def run_vqa(args: argparse.Namespace) -> int:
    if args.questions is None:
        from vqadesk.cli.predict_folder import run_folder

        return run_folder(args, "vqa")
    given = [f"--{name.replace('_', '-')}" for name in _FOLDER_ONLY if getattr(args, name)]
    if given:
        args.parser.error(f"{', '.join(given)}: for folder runs (--question / --questions-file), not --questions")
    if args.out is None:
        args.parser.error("--questions needs --out RESULTS.json")
    from vqadesk.cli.predict_folder import sharded

    if sharded():
        raise VqadeskError(f"{args.questions}: a VQA questions file is answered by one process; under torchrun, "
                           "ask a folder's photos with --question or --questions-file")
    if args.batch_size is None:
        args.batch_size = 128
    return _run_official_vqa(args)


# -- a VQA questions file: the official results ------------------------------------------------


def _run_official_vqa(args: argparse.Namespace) -> int:
    from vqadesk.data.vqa import read_vqa_questions
    from vqadesk.engine.inference.predictor import EmptyQuestionError, check_question
    from vqadesk.metrics.results_io import VqaResult, write_vqa_results

    started = time.perf_counter()
    _check_out(args.out)
    questions = read_vqa_questions(args.questions).questions
    if not questions:
        raise VqadeskError(f"{args.questions}: holds no questions")
    empty = []
    for question in questions:
        try:
            check_question(question.question)
        except EmptyQuestionError:
            empty.append(question.question_id)
    if empty:
        are = noun_for(len(empty), "is", "are")
        raise VqadeskError(f"{args.questions}: {plural(len(empty), 'question')} {are} empty: "
                           f"question_id {list_ids(empty)}")
    paths = _image_paths(args.images, sorted({q.image_id for q in questions}), args.skip_unreadable,
                         asked_in=args.questions)
    # Grouped by image, so each batch encodes few images and the rest come from the cache.
    todo = sorted((q for q in questions if q.image_id in paths), key=lambda q: (q.image_id, q.question_id))
    predictor, _ = load_model(ModelKind.VQA, args)

    def predict(batch: list) -> list[str]:
        found = predictor.ask_many([paths[q.image_id] for q in batch], [q.question for q in batch], top_k=1)
        return [prediction.best.text for prediction in found]

    answers = _run_batches(todo, predict, args, image_of=lambda q: paths[q.image_id], unit="question")
    by_question = {q.question_id: answer for q, answer in zip(todo, answers) if answer is not None}
    # In the questions file's order, which is easier to read against it.
    results = [VqaResult(q.question_id, by_question[q.question_id]) for q in questions if q.question_id in by_question]
    _write(args.out, write_vqa_results, results)
    _summary(args, f"{plural(len(results), 'answer')} of {plural(len(questions), 'question')}", predictor, started)
    return 0


# -- shared --------------------------------------------------------------------------------------


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot be a file before any work, not after an hour of it."""
    if out.is_dir():
        raise VqadeskError(f"{out}: is a folder; --out takes a file name such as {out / 'results.json'}")


def _write(out: Path, writer: Callable[[Path, list], None], results: list) -> None:
    try:
        writer(out, results)
    except OSError as exc:
        raise VqadeskError(f"{out}: cannot be written ({exc.strerror or exc})") from None


def _image_folder(images: Path):
    from vqadesk.data.coco_naming import ImageFolder

    if not images.is_dir():
        problem = "does not exist" if not images.exists() else "is not a folder"
        raise VqadeskError(f"{images}: {problem} (--images takes the folder of the images)")
    return ImageFolder(images)


def _image_paths(images: Path, image_ids: Sequence[int], skip: bool, *, asked_in: Path | str) -> dict[int, Path]:
    """image id -> its file in ``images``; ids without a file stop the run unless ``skip``."""
    folder = _image_folder(images)
    paths: dict[int, Path] = {}
    missing: list[int] = []
    for image_id in image_ids:
        name = folder.name_for_id(image_id)
        if name is None:
            missing.append(image_id)
        else:
            paths[image_id] = folder.folder / name
    if missing:
        message = (
            f"{images}: no image file for {plural(len(missing), 'image id')} asked about in {asked_in}: "
            f"image_id {list_ids(missing)} (expected names like *_%012d.jpg or %012d.png)"
        )
        if not skip:
            raise VqadeskError(f"{message}; pass --skip-unreadable to leave their questions out")
        print(f"vqadesk: warning: {message}; their questions are left out", file=sys.stderr)
    return paths


def _run_batches(
    items: list[Item],
    predict: Callable[[list[Item]], list[str]],
    args: argparse.Namespace,
    *,
    image_of: Callable[[Item], Path],
    unit: str,
) -> list[str | None]:
    """``predict`` over ``items`` in batches: one text per item, None for an item left out.

    An unreadable image stops the run or, with ``--skip-unreadable``, drops
    the items that need it (one warning line per image) and the batch goes on.
    """
    from tqdm import tqdm

    from vqadesk.errors import ImageLoadError

    texts: list[str | None] = [None] * len(items)
    unreadable: set[Path] = set()  # an image's questions may span batches: warn once
    # disable=None: a bar on a terminal only, so logs and pipes are not filled with redraws.
    with tqdm(total=len(items), unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True, leave=False) as bar:
        for start in range(0, len(items), args.batch_size):
            rows = list(range(start, min(start + args.batch_size, len(items))))
            while rows:
                kept = [row for row in rows if Path(image_of(items[row])) not in unreadable]
                bar.update(len(rows) - len(kept))
                rows = kept
                if not rows:
                    break
                try:
                    outputs = predict([items[row] for row in rows])
                except ImageLoadError as exc:
                    if not args.skip_unreadable:
                        raise VqadeskError(f"{exc}; pass --skip-unreadable to leave out the {unit}s "
                                           "whose image cannot be read") from None
                    bad = Path(exc.path)
                    if bad in unreadable or not any(Path(image_of(items[row])) == bad for row in rows):
                        raise  # not one of this batch's files: never loop forever
                    bar.write(f"vqadesk: warning: skipped {exc}", file=sys.stderr)
                    unreadable.add(bad)
                    continue
                for row, text in zip(rows, outputs):
                    texts[row] = text
                bar.update(len(rows))
                break
    return texts


def _summary(args: argparse.Namespace, what: str, predictor: Any, started: float) -> None:
    model = predictor.vqa_model or predictor.captioner_model
    print(f"wrote {what} to {args.out} (model {model} on {predictor.device_description}, "
          f"{time.perf_counter() - started:.1f} s)")
