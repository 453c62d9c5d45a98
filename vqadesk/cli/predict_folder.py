"""``vqadesk predict captions|vqa --images DIR``: caption or question every photo of a folder.

    vqadesk predict captions --images DIR [--out FILE] [--format json|jsonl|csv|coco] [--recursive]
                             [--sidecar txt] [--overwrite] [--captions K] [--beam N] [--restart] ...
    vqadesk predict vqa --images DIR (--question "..." ... | --questions-file FILE) [--top-k K] [same options]

Any file names: photos are keyed by their path relative to DIR
(``engine/torch_free/batch``). The job runs in chunks of ``--batch-size``
photos through ``run_batch``; every finished chunk is in the progress file
``OUT.progress.jsonl`` (fsynced), so Ctrl-C (exit 130) or a kill loses
nothing finished and the same command goes on where it stopped; other
settings are refused with what differs, ``--restart`` starts afresh.
Unreadable or vanished photos get one warning line each and the job goes
on. At the end the results file is written from the progress file in
``--format`` (default: from ``--out``'s suffix, else ``coco`` for captions of
a COCO-named folder, else ``json``), and with ``--sidecar txt`` a ``NAME.txt``
beside each photo. A tqdm bar on stderr (on a terminal) shows photos/s and
the time left.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from vqadesk.engine.torch_free.batch import (
    CAPTIONS,
    VQA,
    BatchSettings,
    BatchSettingsError,
    ExportReport,
    Finished,
    Photo,
    PhotoFailed,
    Progress,
    SettingsMismatchError,
    SidecarReport,
    Started,
    check_export_format,
    check_photo_folder,
    default_format,
    export_results,
    iter_photos,
    iter_results,
    predict_photos,
    progress_path,
    read_settings,
    run_batch,
    survey_photos,
    write_sidecars,
)
from vqadesk.engine.torch_free.batch.shards import rank_files, take_up
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.text.counts import noun_for, plural

_SUFFIXES = {"json": ".json", "coco": ".json", "jsonl": ".jsonl", "csv": ".csv"}
VQA_QUESTIONS_PER_BATCH = 128  # the default chunk of a folder VQA run: photos x questions about this many


def run_folder(args: argparse.Namespace, kind: str) -> int:
    """A folder run of ``kind`` (``captions`` or ``vqa``) as ``args`` ask; returns the exit code."""
    started = time.perf_counter()
    root = check_photo_folder(args.images)
    settings = _settings(args, kind, root)
    survey = survey_photos(root, args.recursive)
    if survey.photos == 0:
        deeper = "" if args.recursive else "; --recursive looks in subfolders too"
        raise VqadeskError(f"{args.images}: holds no photos (jpg, jpeg, png, bmp, gif, webp, tif, tiff){deeper}")
    fmt = args.format or default_format(settings, survey, args.out)
    check_export_format(fmt, settings)
    out = args.out or Path(f"{root.resolve().name or 'photos'}-{'captions' if kind == CAPTIONS else 'answers'}"
                           f"{_SUFFIXES[fmt]}")
    if out.is_dir():
        raise VqadeskError(f"{out}: is a folder; --out takes a file name such as {out / 'results.json'}")
    progress = progress_path(out)
    if progress.exists() and not args.restart:
        _check_same_job(progress, settings)  # before loading the model: a mismatch is told at once
    if sharded():
        from vqadesk.cli.predict_shards import run_share

        run = run_share(args, settings, root, out, progress, lambda: _load(kind, args), _run)
        if run is None:  # not rank 0: its photos are in rank 0's progress file now
            return 0
        seconds, predictor = run
    else:
        if rank_files(out):  # a torchrun job stopped before rank 0 merged its ranks' photos
            take_up(progress, settings, out, restart=args.restart)
        predictor = _load(kind, args)
        seconds = _run(args, settings, iter_photos(root, args.recursive), survey.photos, progress, predictor,
                       root=root, restart=args.restart).seconds
    report = export_results(progress, out, fmt)
    _notes(args, report, fmt)
    sidecars = write_sidecars(iter_results(progress)[1], overwrite=args.overwrite) if args.sidecar else None
    model = predictor.vqa_model or predictor.captioner_model
    what = plural(report.rows, "caption") if kind == CAPTIONS else plural(report.rows, "answer")
    images = survey.coco_named if fmt == "coco" else report.photos + report.failed
    print(f"wrote {what} of {plural(images, 'image')} to {out} ({fmt}; model {model} on "
          f"{predictor.device_description}, "
          f"{seconds:.1f} s this run, {time.perf_counter() - started:.1f} s in all)")
    if sidecars is not None:
        _sidecar_lines(sidecars)
    return 0


def sharded() -> bool:
    """Started by torchrun with several processes (``cli/predict_shards.py`` shares the photos)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _settings(args: argparse.Namespace, kind: str, root: Path) -> BatchSettings:
    try:
        if kind == CAPTIONS:
            return BatchSettings(kind=CAPTIONS, model=str(args.model), precision=args.precision, beam=args.beam,
                                 num_captions=args.captions, root=str(root.resolve()), recursive=args.recursive)
        return BatchSettings(kind=VQA, model=str(args.model), precision=args.precision, top_k=args.top_k,
                             questions=tuple(_questions(args)), root=str(root.resolve()), recursive=args.recursive)
    except BatchSettingsError as exc:
        source = "--questions-file " + str(args.questions_file) if getattr(args, "questions_file", None) else \
            "--question"
        raise VqadeskError(f"{source}: {exc}") from None


def _questions(args: argparse.Namespace) -> list[str]:
    """The questions of ``--question`` (as given) or of ``--questions-file`` (one a line, empty lines skipped)."""
    if args.question:
        return list(args.question)
    path = Path(args.questions_file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VqadeskError(f"{path}: file not found (--questions-file takes a text file, one question a line)") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VqadeskError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    questions = [line.strip() for line in text.splitlines() if line.strip()]
    if not questions:
        raise VqadeskError(f"{path}: holds no questions (one question a line)")
    return questions


def _check_same_job(progress: Path, settings: BatchSettings) -> None:
    differences = settings.differences(read_settings(progress))
    if differences:
        raise SettingsMismatchError(progress, differences)


def _load(kind: str, args: argparse.Namespace):
    from vqadesk.cli.options import load_model

    predictor, _ = load_model(ModelKind.CAPTIONING if kind == CAPTIONS else ModelKind.VQA, args)
    return predictor


def _chunk_size(args: argparse.Namespace, settings: BatchSettings) -> int:
    if args.batch_size is not None:
        return args.batch_size
    return 32 if settings.kind == CAPTIONS else max(1, VQA_QUESTIONS_PER_BATCH // len(settings.questions))


def _run(args: argparse.Namespace, settings: BatchSettings, photos: Iterable[Photo], total: int, progress: Path,
         predictor, *, root: Path, restart: bool, bar: bool = True) -> Finished:
    """The job over ``photos`` into ``progress``, with a bar on stderr (``bar``: on a terminal) and a
    line per failed photo; Ctrl-C says what is kept."""
    from tqdm import tqdm

    def predict(chunk):
        return predict_photos(predictor, chunk, settings)

    events = run_batch(photos, settings, predict, progress, _chunk_size(args, settings), total=total,
                       restart=restart)
    done = 0
    # disable=None: a bar on a terminal only, so logs and pipes are not filled with redraws.
    with tqdm(total=total, unit="photo", file=sys.stderr, disable=None if bar else True, dynamic_ncols=True,
              leave=False,
              bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]") as bar:
        try:
            for event in events:
                if isinstance(event, Started) and event.already_done:
                    bar.write(f"vqadesk: note: going on from {progress}: {plural(event.already_done, 'photo')} "
                              "already done", file=sys.stderr)
                elif isinstance(event, PhotoFailed):
                    bar.write(f"vqadesk: warning: skipped {root / event.key}: {event.reason}", file=sys.stderr)
                elif isinstance(event, Progress):
                    done = event.done
                    bar.update(event.done - bar.n)
                    eta = "?" if event.eta_s is None else _duration(event.eta_s)
                    bar.set_postfix_str(f"{event.photos_per_s:.1f} photos/s, {eta} left", refresh=False)
                elif isinstance(event, Finished):
                    return event
        except KeyboardInterrupt:
            bar.close()
            print(f"vqadesk: note: stopped; the photos finished ({done} of {total}) are kept in "
                  f"{progress}: run the same command to go on", file=sys.stderr)
            raise
    raise AssertionError("run_batch ended without Finished")  # pragma: no cover - the generator always ends so


def _notes(args: argparse.Namespace, report: ExportReport, fmt: str) -> None:
    if report.failed:
        print(f"vqadesk: warning: {plural(report.failed, 'photo')} could not be read (listed above); "
              "they have no results and are tried again by the next run", file=sys.stderr)
    if fmt == "coco" and report.left_out:
        shown = ", ".join(report.left_out_examples)
        more = report.left_out - len(report.left_out_examples)
        print(f"vqadesk: note: {plural(report.left_out, 'image')} in {args.images} "
              f"{noun_for(report.left_out, 'has', 'have')} no COCO id in their name (or "
              f"repeat one): {shown}{f' and {more} more' if more > 0 else ''}; they are not in the coco results "
              "(--format json keeps them)", file=sys.stderr)


def _sidecar_lines(report: SidecarReport) -> None:
    for folder, reason in report.failed_folders.items():
        print(f"vqadesk: warning: {folder}: {reason}; its photos have no caption file", file=sys.stderr)
    parts = [f"wrote {plural(report.written, 'caption file')} beside the photos"]
    if report.unchanged:
        parts.append(f"{report.unchanged} already up to date")
    if report.kept:
        parts.append(f"{plural(report.kept, 'existing one')} with other text kept (--overwrite replaces them)")
    if report.clashes:
        sharing = noun_for(report.clashes, "photo shares", "photos share")
        parts.append(f"{report.clashes:,} {sharing} a name with another photo's caption file and have none")
    print("; ".join(parts))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
