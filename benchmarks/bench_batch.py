"""Batch captioning of a folder: photos/s, and what the batch machinery costs on top of the model.

A temporary folder of ``--photos`` photos (default 500): the real COCO photos of
``../shared/fixtures/coco-real`` repeated under distinct names, each copy made
different by a few bytes after the image data (pixels unchanged), so the
Predictor's feature cache, keyed by the file's content, never serves a copy.
With the bundled captioner (``--model``), beam ``--beam``, ``--batch-size``
photos per chunk, three measurements, interleaved ``--repeats`` times in one
process, each with a fresh Predictor (model loaded before the clock starts):

* **plain**: ``Predictor.caption_many`` over the photos, chunk by chunk: the floor;
* **batch**: the engine's job as the command line runs it: listing the folder,
  ``run_batch`` with ``predict_photos`` writing and fsyncing the progress file
  per chunk, then the json results file and the ``.txt`` sidecars; the time it
  spends outside ``caption_many`` is the machinery's cost, measured within the
  same runs (so immune to the model's run-to-run noise on a shared machine);
* **CLI**: ``vqadesk predict captions --images DIR --sidecar txt`` in a fresh
  process: interpreter, imports and model load included (wall clock), and the
  job alone (its "s this run").

Run from the repository root::

    python benchmarks/bench_batch.py [--photos 500] [--batch-size 32] [--beam 3] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # this checkout's vqadesk, installed or not

import torch  # noqa: E402 - after the path above
from machine import print_machine  # noqa: E402

from vqadesk.data.coco_naming import is_photo_name  # noqa: E402
from vqadesk.engine.inference.predictor import Predictor  # noqa: E402
from vqadesk.engine.torch_free.batch import (  # noqa: E402
    BatchSettings,
    count_photos,
    export_results,
    iter_photos,
    iter_results,
    predict_photos,
    progress_path,
    run_batch,
    write_sidecars,
)

FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "coco-real"


def make_folder(folder: Path, photos: int) -> None:
    sources = sorted(p for p in FIXTURES.iterdir() if is_photo_name(p.name))
    if not sources:
        raise SystemExit(f"no photos in {FIXTURES}")
    for n in range(photos):
        source = sources[n % len(sources)]
        target = folder / f"photo {n:04d} {source.stem}{source.suffix}"
        target.write_bytes(source.read_bytes() + n.to_bytes(4, "big"))  # after the image: pixels unchanged


def loaded(model: str) -> Predictor:
    predictor = Predictor(vqa=None, captioner=model, device="cpu")
    predictor.load_captioner(model)
    return predictor


def plain(folder: Path, args: argparse.Namespace) -> float:
    predictor = loaded(args.model)
    paths = sorted(str(p) for p in folder.iterdir() if is_photo_name(p.name))
    started = time.perf_counter()
    for start in range(0, len(paths), args.batch_size):
        predictor.caption_many(paths[start:start + args.batch_size], beam_size=args.beam, num_captions=1)
    return time.perf_counter() - started


def batch(folder: Path, out: Path, args: argparse.Namespace) -> tuple[float, float]:
    """The job's seconds, and the seconds of those spent in the model's ``caption_many``."""
    predictor = loaded(args.model)
    in_model = 0.0
    caption_many = predictor.caption_many

    def timed_caption_many(*positional, **named):
        nonlocal in_model
        started = time.perf_counter()
        try:
            return caption_many(*positional, **named)
        finally:
            in_model += time.perf_counter() - started

    predictor.caption_many = timed_caption_many
    settings = BatchSettings(kind="captions", model=args.model, precision="auto", beam=args.beam, root=str(folder))
    for leftover in (out, progress_path(out), *folder.glob("*.txt")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    total = count_photos(folder)
    for _ in run_batch(iter_photos(folder), settings, lambda chunk: predict_photos(predictor, chunk, settings),
                       progress_path(out), args.batch_size, total=total):
        pass
    export_results(progress_path(out), out, "json")
    write_sidecars(iter_results(progress_path(out))[1])
    return time.perf_counter() - started, in_model


def cli(folder: Path, out: Path, args: argparse.Namespace) -> tuple[float, float]:
    for leftover in (out, progress_path(out), *folder.glob("*.txt")):
        leftover.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "vqadesk", "predict", "captions", "--images", str(folder), "--out", str(out),
         "--sidecar", "txt", "--model", args.model, "--beam", str(args.beam), "--batch-size", str(args.batch_size),
         "--device", "cpu"], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    job = float(re.search(r"([\d.]+) s this run", done.stdout).group(1))
    return wall, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="shapes-captioner")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    print_machine()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.photos} photos, model {args.model}, "
          f"beam {args.beam}, {args.batch_size} photos per chunk", flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        folder, out = Path(temporary) / "photos", Path(temporary) / "captions.json"
        folder.mkdir()
        make_folder(folder, args.photos)
        plain(folder, args)  # warm-up: page cache, allocator, first-call costs
        times: dict[str, list[float]] = {"plain": [], "batch": [], "cli wall": [], "cli job": []}
        machinery: list[float] = []  # the batch job's seconds outside caption_many
        for repeat in range(args.repeats):
            times["plain"].append(plain(folder, args))
            total, in_model = batch(folder, out, args)
            times["batch"].append(total)
            machinery.append(total - in_model)
            wall, job = cli(folder, out, args)
            times["cli wall"].append(wall)
            times["cli job"].append(job)
            print(f"repeat {repeat + 1}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in times.items()),
                  flush=True)
        shutil.rmtree(folder)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        print(f"{name:>9}: {seconds:6.2f} s  {args.photos / seconds:6.1f} photos/s (median of {args.repeats})")
    outside = statistics.median(machinery)
    print(f"batch job outside caption_many (listing, rows, progress file and its fsyncs, results file, sidecars): "
          f"{outside:.3f} s, {outside / args.photos * 1000:.2f} ms per photo, "
          f"{outside / (medians['batch'] - outside) * 100:.1f} % of the model's time in the same runs (median)")
    ratio = medians["batch"] / medians["plain"] - 1
    print(f"batch over plain, whole runs (noisy on a shared machine): {ratio * 100:+.1f} %")


if __name__ == "__main__":
    main()
