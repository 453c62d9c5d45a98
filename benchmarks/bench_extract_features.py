"""Feature extraction speed: the network alone, and the whole routine against a hand-written extractor.

ResNet-50, grid layer (2048 x 7 x 7) at 224 px, ``--weights none`` (a seeded random network:
the ImageNet network's arithmetic without its file), in one run, for each precision (default:
those the device runs -- fp32 and bf16 on a CPU, also fp16 on CUDA; ``auto`` picks one of them,
marked in the output):

1. **decoding**: one photo decoded and squared to 224 px on one core, in full and in JPEG draft
   mode (``load_image_tensor``), median over the photos;
2. **the network alone**: images/s on batches of ``--batch-size`` real photos (median of
   ``--batches`` timed batches after a warm-up), channels_last as the routine runs it (with
   ``--layouts``, also the default layout), and its share of the matmul peak **of the precision
   used** (``machine.matmul_peak``, measured in this run with the same threads): the network's
   FLOPs per image are counted by ``torch.utils.flop_counter``;
3. **the whole routine**: ``python -m training.extract_features`` as a subprocess (the whole
   process: start-up, network build, store, decoding workers, commits; its default batch size
   and workers) against ``benchmarks/handwritten_extractor.py`` (same network, same seed, same
   batch size and workers) on ``--images`` photos: the 15 fixture photos of
   ``../shared/fixtures/coco-real`` **copied** under distinct COCO names into a temporary folder.
   Wall-clock seconds, median of ``--repeats`` alternating runs, and the ratio (target: the
   routine at most 1.25x the hand-written time); also the CPU seconds of each process and its
   decoding workers, steadier than wall-clock time on a shared machine. The two outputs are compared (cosine) to show
   they did the same work.

Run from the repository root (``--quick``: 64 photos, one repeat, three batches)::

    python benchmarks/bench_extract_features.py [--quick] [--device cpu|cuda] [--precisions fp32 bf16]
        [--images 320] [--repeats 3] [--batch-size 32] [--batches 5] [--layouts] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's vqadesk, installed or not
PHOTOS = REPO.parent / "shared" / "fixtures" / "coco-real"
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 photos, one repeat, three batches")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", choices=tuple(DTYPES), help="default: what the device runs")
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="the routine's default")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--layouts", action="store_true", help="also time the network in the default layout")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if args.quick:
        args.images, args.repeats, args.batches = 64, 1, 3

    import torch
    from machine import matmul_peak  # benchmarks/machine.py

    from vqadesk.engine.precision import resolve_precision

    device = torch.device(args.device)
    precisions = args.precisions or (["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"])
    auto = resolve_precision("auto", device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; "
          f"--precision auto resolves to {auto} here", flush=True)
    report = {"device": str(device), "threads": torch.get_num_threads(), "auto": auto, "decode_ms": decoding()}
    print("decode + square one photo to 224 px, one core, median: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in report["decode_ms"].items()), flush=True)
    flops = network_flops()
    report["gflop_per_image"] = flops / 1e9
    print(f"network: {flops / 1e9:.2f} GFLOP per image (torch.utils.flop_counter)", flush=True)
    report["precisions"] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_photos(Path(scratch) / "photos", args.images)
        for precision in precisions:
            peak = matmul_peak(DTYPES[precision], device=args.device)
            mark = " (auto)" if precision == auto else ""
            print(f"{precision}{mark}: matmul peak {peak:,.0f} GFLOP/s", flush=True)
            found = {"matmul_peak_gflops": peak, "network": {}}
            for layout in (["channels_last", "default"] if args.layouts else ["channels_last"]):
                rate = network_rate(precision, layout, device, args.batch_size, args.batches)
                found["network"][layout] = {"images_per_s": rate, "share_of_peak": rate * flops / 1e9 / peak}
                print(f"  network alone ({layout}): {rate:7.1f} images/s = "
                      f"{100 * rate * flops / 1e9 / peak:.0f} % of the {precision} peak", flush=True)
            found["whole"] = whole_runs(folder, Path(scratch), precision, args)
            whole = found["whole"]
            for who in ("routine", "handwritten"):
                rate = args.images / whole[who]["seconds"]
                print(f"  {who:<11} whole process, {args.images} photos: {whole[who]['seconds']:6.1f} s = "
                      f"{rate:5.1f} images/s = {100 * rate * flops / 1e9 / peak:.0f} % of the peak "
                      f"(runs: {', '.join(f'{s:.1f}' for s in whole[who]['runs'])} s; "
                      f"CPU {whole[who]['cpu_seconds']:.1f} s)", flush=True)
            print(f"  routine / hand-written time: {whole['ratio']:.2f} (target <= 1.25); "
                  f"features cosine, median {whole['cosine_median']:.5f}, min {whole['cosine_min']:.5f}", flush=True)
            report["precisions"][precision] = found
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    return 0


def photo_files() -> list[Path]:
    return sorted(p for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png"))


def copy_photos(folder: Path, count: int) -> Path:
    """``count`` photos under distinct COCO names, copies of the 15 fixture photos in turn."""
    folder.mkdir(parents=True)
    photos = photo_files()
    for i in range(count):
        source = photos[i % len(photos)]
        shutil.copyfile(source, folder / f"COCO_val2014_{i + 1:012d}{source.suffix}")
    return folder


def decoding() -> dict[str, float]:
    from vqadesk.engine.image_tensors import load_image_tensor

    found = {}
    for name, draft in (("full", False), ("draft", True)):
        times = []
        for _ in range(3):
            for photo in photo_files():
                started = time.perf_counter()
                load_image_tensor(photo, 224, draft=draft)
                times.append(time.perf_counter() - started)
        found[name] = statistics.median(times) * 1000
    return found


def build_network(device, layout: str):
    import torch

    from vqadesk.engine.features.feature_extraction import build_encoder
    from vqadesk.engine.torch_free.extraction_config import ExtractionConfig

    encoder, _ = build_encoder(ExtractionConfig(images=str(PHOTOS), out="-", backbone="resnet50", layer="grid",
                                                weights="none", image_size=224))
    memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return encoder.to(device, memory_format=memory_format), memory_format


def network_flops() -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    encoder, _ = build_network(torch.device("cpu"), "default")
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        encoder(torch.zeros(1, 3, 224, 224))
    return float(counter.get_total_flops())


def network_rate(precision: str, layout: str, device, batch_size: int, batches: int) -> float:
    import torch

    from vqadesk.engine.image_tensors import load_image_tensor
    from vqadesk.engine.precision import autocast

    encoder, memory_format = build_network(device, layout)
    photos = photo_files()
    pixels = torch.stack([load_image_tensor(photos[i % len(photos)], 224, draft=True) for i in range(batch_size)])
    pixels = pixels.to(device).contiguous(memory_format=memory_format)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rates = []
    with torch.inference_mode(), autocast(precision, device):
        for i in range(batches + 1):  # the first: warm-up (allocations, kernel choice)
            started = time.perf_counter()
            encoder(encoder.prepare(pixels)).float().cpu()
            sync()
            if i:
                rates.append(batch_size / (time.perf_counter() - started))
    return statistics.median(rates)


def whole_runs(folder: Path, scratch: Path, precision: str, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    common = ["--precision", precision, "--batch-size", str(args.batch_size), "--device", args.device]
    store, array = scratch / f"store-{precision}", scratch / f"hand-{precision}.npy"
    commands = {
        "routine": [sys.executable, "-m", "training.extract_features", "--images", str(folder), "--out", str(store),
                    "--backbone", "resnet50", "--layer", "grid", "--weights", "none", "--log-interval", "60", *common],
        "handwritten": [sys.executable, str(REPO / "benchmarks" / "handwritten_extractor.py"), str(folder),
                        str(array), *common],
    }
    runs = {"routine": [], "handwritten": []}
    cpu = {"routine": [], "handwritten": []}
    for _ in range(args.repeats):
        shutil.rmtree(store, ignore_errors=True)  # the routine would resume a finished store
        for who, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
            runs[who].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the process and its decoding workers
            cpu[who].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode != 0:
                raise SystemExit(f"{who} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    cosine = compare(store, array)
    found = {who: {"seconds": statistics.median(times), "runs": times, "cpu_seconds": statistics.median(cpu[who])}
             for who, times in runs.items()}
    return {**found, "ratio": found["routine"]["seconds"] / found["handwritten"]["seconds"],
            "cosine_median": statistics.median(cosine), "cosine_min": min(cosine)}


def compare(store: Path, array: Path) -> list[float]:
    """Per-photo cosine between the routine's rows and the hand-written extractor's (same order: by name)."""
    import numpy as np

    from vqadesk.data.feature_store import FeatureStore

    opened = FeatureStore(store)
    ours = opened.read_rows(np.arange(opened.manifest.count)).astype(np.float32).reshape(opened.manifest.count, -1)
    theirs = np.load(array).astype(np.float32).reshape(len(ours), -1)
    dots = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    return [float(d) for d in dots]


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    sys.exit(main())
