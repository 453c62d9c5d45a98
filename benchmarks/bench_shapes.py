"""How long writing the Shapes world takes: 1,000 images with questions and captions.

Each run writes one split of ``--images`` images (PNG files, COCO instances
and captions, VQA questions and annotations) to a fresh temporary folder with
``write_shapes_dataset``, the same call ``vqadesk shapes`` makes. Also timed,
in memory and per run, are its phases:

* ``generate``: scenes, questions and captions (``generate_split``);
* ``draw``: rendering every scene and encoding the PNGs (no disk);
* ``total``: the whole write, disk included (what the target is about).

Prints medians over ``--runs`` runs (the machine is shared and noisy), and the
time per image. The target is under 10 s for 1,000 images. Run from the
repository root::

    python benchmarks/bench_shapes.py [--runs 5] [--images 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

from vqadesk.data.shapes import generate_split, write_shapes_dataset
from vqadesk.data.shapes.render import encode_png, render_scene

TARGET_SECONDS_PER_1000 = 10.0


def time_once(n_images: int, seed: int) -> dict[str, float]:
    start = time.perf_counter()
    split = generate_split("train", n_images, seed)
    generated = time.perf_counter()
    for scene in split.scenes:
        encode_png(render_scene(scene))
    drawn = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as folder:
        write_start = time.perf_counter()
        write_shapes_dataset(folder, splits=("train",), n_images=n_images, seed=seed)
        written = time.perf_counter()
    return {"generate": generated - start, "draw": drawn - generated, "total": written - write_start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    runs = [time_once(args.images, args.seed + k) for k in range(args.runs)]
    print(f"Shapes world, {args.images} images per run, {args.runs} runs (medians):")
    for phase in ("generate", "draw", "total"):
        values = [run[phase] for run in runs]
        median = statistics.median(values)
        print(
            f"  {phase:<9} {median:7.3f} s   {1000 * median / args.images:6.2f} ms/image"
            f"   (min {min(values):.3f} s, max {max(values):.3f} s)"
        )
    total = statistics.median(run["total"] for run in runs) * 1000 / args.images
    verdict = "OK" if total < TARGET_SECONDS_PER_1000 else "TOO SLOW"
    print(f"  => {total:.2f} s per 1,000 images written (target < {TARGET_SECONDS_PER_1000:.0f} s): {verdict}")
    return 0


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    raise SystemExit(main())
