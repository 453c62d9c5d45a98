"""Inference latency on this machine: p50 and p95 over many calls.

Three measurements with the Predictor and the given models (default: the
bundled ones) on freshly generated Shapes images:

* answer with cached image features (the same image, a new question each time);
* answer for a new image (the encoder runs every time);
* caption with beam 3.

Targets (issue 3): <= 5 ms, <= 30 ms and <= 100 ms on the CPU. Run from the
repository root::

    python benchmarks/bench_inference.py [--calls 200] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

import torch

from vqadesk.data.coco import CocoIndex
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.inference.predictor import Predictor

QUESTIONS = [
    "what color is the large object?", "how many circles are there?", "is there a red square?",
    "what shape is the blue object?", "are there more triangles than circles?",
    "is the green circle left of the square?",
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vqa", default="shapes-vqa")
    parser.add_argument("--captioner", default="shapes-captioner")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        write_shapes_dataset(Path(folder), splits=("bench",), n_images=args.calls, seed=424242)
        index = CocoIndex.from_dataset_root(Path(folder), "bench")
        images = [index.image_path(i) for i in index.image_ids]
        predictor = Predictor(vqa=args.vqa, captioner=args.captioner, device=args.device)
        predictor.load_vqa(args.vqa)
        predictor.load_captioner(args.captioner)
        for image in images[:5]:  # warm-up: allocator, spaCy, first-call overheads
            predictor.ask(image, QUESTIONS[0])
            predictor.caption(image, beam_size=3)
        predictor.clear_cache()

        predictor.ask(images[0], QUESTIONS[0])
        cached = [timed(lambda q=q: predictor.ask(images[0], q)) for q in QUESTIONS * (args.calls // len(QUESTIONS))]
        new = [timed(lambda im=im: predictor.ask(im, QUESTIONS[1])) for im in images[1:]]
        predictor.clear_cache()
        captions = [timed(lambda im=im: predictor.caption(im, beam_size=3)) for im in images]

    print(f"device {predictor.device_description}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, samples, target in (
        ("answer, cached features", cached, 5),
        ("answer, new image", new, 30),
        ("caption, beam 3", captions, 100),
    ):
        p50, p95 = percentiles(samples)
        print(f"{name:26s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   (target <= {target} ms, {len(samples)} calls)")


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()
