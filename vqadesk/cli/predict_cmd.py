"""``vqadesk predict vqa|captions``: official-format results files for a whole folder.

    vqadesk predict vqa --questions Q.json --images DIR --out RESULTS.json
                        [--model NAME|PATH|hf:ORG/NAME[@REV]|FOLDER] [--batch-size B] [--device D]
                        [--precision P] [--skip-unreadable]
    vqadesk predict captions --images DIR --out RESULTS.json
                        [--model NAME|PATH|hf:ORG/NAME[@REV]|FOLDER] [--beam N] [--batch-size B]
                        [--device D] [--precision P] [--skip-unreadable]

``vqa`` answers every question of a VQA questions file and writes
``[{"question_id", "answer"}]``; ``captions`` captions every image of DIR whose
name carries a COCO id and writes ``[{"image_id", "caption"}]`` -- the files
``vqadesk evaluate`` and the official tools score. Images are found by id
from their names (``*_%012d.<ext>`` or ``%012d.<ext>``, see
``vqadesk.data.coco_naming``). Work goes in batches (each image encoded once
per batch, questions grouped by image), with a progress bar on stderr when
it is a terminal.

Missing or unreadable images: the official VQA evaluation needs an answer to
every question, so by default a question whose image file is missing stops
the run before any work (listing the image ids), and an image that cannot be
read stops it naming the file; nothing is written. ``--skip-unreadable``
instead leaves those questions (or images) out of the results, with one
warning line each on stderr.
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

Item = TypeVar("Item")


def register(subparsers: argparse._SubParsersAction) -> None:
    vqa, captions = add_kind_commands(
        subparsers, "predict",
        help="write an official-format results file for a folder of images",
        description="Answer a VQA questions file, or caption a folder of COCO-named images, "
        "and write the results file the official evaluation (and `vqadesk evaluate`) reads.",
        vqa_help="answer every question of a VQA questions file",
        captions_help="caption every COCO-named image of a folder",
    )
    vqa.add_argument("--questions", required=True, metavar="Q.json", help="VQA questions file")
    _add_common(vqa, ModelKind.VQA, batch=128, unit="questions")
    vqa.set_defaults(func=run_vqa)

    _add_common(captions, ModelKind.CAPTIONING, batch=32, unit="images")
    add_beam_option(captions)
    captions.set_defaults(func=run_captions)


def _add_common(parser: argparse.ArgumentParser, kind: ModelKind, *, batch: int, unit: str) -> None:
    parser.add_argument("--images", required=True, type=Path, metavar="DIR", help="folder of the images")
    parser.add_argument("--out", required=True, type=Path, metavar="RESULTS.json", help="results file to write")
    add_model_options(parser, kind)
    parser.add_argument(
        "--batch-size", type=positive_int, default=batch, metavar="B", help=f"{unit} per batch (default: {batch})"
    )
    parser.add_argument(
        "--skip-unreadable", action="store_true",
        help="leave out questions/images whose file is missing or unreadable (warning on stderr) "
        "instead of stopping",
    )


# -- VQA ----------------------------------------------------------------------------------------


def run_vqa(args: argparse.Namespace) -> int:
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
        raise VqadeskError(f"{args.questions}: {len(empty)} question(s) are empty: question_id {list_ids(empty)}")
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
    _summary(args, f"{len(results)} answers of {len(questions)} questions", predictor, started)
    return 0


# -- captions ----------------------------------------------------------------------------------


def run_captions(args: argparse.Namespace) -> int:
    from vqadesk.data.coco_naming import coco_id_from_name
    from vqadesk.metrics.results_io import CaptionResult, write_caption_results

    started = time.perf_counter()
    _check_out(args.out)
    folder = _image_folder(args.images)
    by_id: dict[int, Path] = {}
    unnamed = 0
    for name in folder.photo_names:  # sorted: the first of two files with one id wins, as ImageFolder does
        image_id = coco_id_from_name(name)
        if image_id is None:
            unnamed += 1
        else:
            by_id.setdefault(image_id, folder.folder / name)
    if not by_id:
        raise VqadeskError(
            f"{args.images}: no image named after a COCO id (expected names like "
            "COCO_val2014_000000262148.jpg or 000000262148.jpg)"
        )
    if unnamed:
        print(f"vqadesk: note: {unnamed} image(s) in {args.images} have no COCO id in their name; "
              "they are not captioned", file=sys.stderr)
    predictor, _ = load_model(ModelKind.CAPTIONING, args)
    image_ids = sorted(by_id)

    def predict(batch: list[int]) -> list[str]:
        found = predictor.caption_many([by_id[i] for i in batch], beam_size=args.beam, num_captions=1)
        return [prediction.best.text for prediction in found]

    captions = _run_batches(image_ids, predict, args, image_of=lambda i: by_id[i], unit="image")
    results = [CaptionResult(i, caption) for i, caption in zip(image_ids, captions) if caption is not None]
    _write(args.out, write_caption_results, results)
    _summary(args, f"{len(results)} captions of {len(image_ids)} images", predictor, started)
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
            f"{images}: no image file for {len(missing)} image id(s) asked about in {asked_in}: "
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
