"""Do the bundled models answer the same in bf16 as in float32? Top-1 agreement on a Shapes split.

    python benchmarks/bench_precision_agreement.py [--images 500] [--split val] [--quick]

Writes a Shapes ``val`` split (``--images`` images, the default world's seed) in a
temporary folder, evaluates each
bundled model there with ``evaluate_checkpoint`` in fp32 and in bf16 (own models run under
autocast exactly as the Predictor and ``training.evaluate --precision`` run them), and
prints, per model, the share of questions whose top-1 answer (VQA) or of images whose
best caption (captioner) is the same in both, and each precision's metrics. The figures
decide the policy for own models (docs/performance.md, "Own models in bf16"); the captioners decode in
float32 whatever the precision (their image encoder follows it), as the Predictor does.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.inference.evaluation import evaluate_checkpoint
from vqadesk.engine.torch_free.model_registry import resolve_model


def agreement(name: str, kind: str, root: Path, split: str) -> dict:
    runs = {}
    for precision in ("fp32", "bf16"):
        started = time.perf_counter()
        runs[precision] = evaluate_checkpoint(resolve_model(name, kind), root, split, device=torch.device("cpu"),
                                              precision=precision)
        runs[precision + "_s"] = time.perf_counter() - started
    fp32, bf16 = ({r.question_id if kind == "vqa" else r.image_id: (r.answer if kind == "vqa" else r.caption)
                   for r in runs[p].results} for p in ("fp32", "bf16"))
    same = sum(fp32[key] == bf16[key] for key in fp32)
    metric = (lambda e: e.vqa.overall) if kind == "vqa" else (lambda e: e.captions.scores()["CIDEr"])
    return {"model": name, "items": len(fp32), "same": same, "share_same": same / len(fp32),
            "metric": "accuracy" if kind == "vqa" else "CIDEr", "fp32": metric(runs["fp32"]),
            "bf16": metric(runs["bf16"]), "fp32_s": runs["fp32_s"], "bf16_s": runs["bf16_s"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--split", default="val")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="60 images")
    args = parser.parse_args()
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    torch.set_num_threads(args.threads)
    images = 60 if args.quick else args.images
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_shapes_dataset(root, splits=(args.split,), n_images=images)
        print(f"Shapes split '{args.split}', {images} images (default world seed), {args.threads} thread(s)")
        for name, kind in (("shapes-vqa", "vqa"), ("shapes-captioner", "captioning")):
            r = agreement(name, kind, root, args.split)
            print(f"  {r['model']}: {r['same']}/{r['items']} the same top-1 ({100 * r['share_same']:.2f}%); "
                  f"{r['metric']} fp32 {r['fp32']:.3f}, bf16 {r['bf16']:.3f}; "
                  f"time fp32 {r['fp32_s']:.1f} s, bf16 {r['bf16_s']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
