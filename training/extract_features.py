"""Extract image features into a feature store: ``python -m training.extract_features``.

    python -m training.extract_features --images DIR [--coco ANNOTATIONS.json] --out STORE
        [--backbone vgg16|resnet50|resnet152] [--layer fc7|grid|pooled] [--weights imagenet|none|PATH]
        [--image-size 224] [--batch-size 32] [--workers N] [--device auto] [--dtype float16|float32]
        [--precision auto|fp32|bf16|fp16] [--full-decode]

One JSON event per line on stdout (start, skipped, step, done or error); the
progress bar on stderr. Running the same command again resumes a stopped or
killed extraction. Under ``torchrun --nproc-per-node N`` the processes share
the photos and write one store (docs/real-data.md, "Several processes").
See docs/real-data.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from vqadesk.engine.torch_free.extraction_config import LAYERS_BY_BACKBONE, PRECISIONS, ExtractionConfig
from vqadesk.engine.torch_free.routine import run_routine
from vqadesk.engine.torch_free.training_config import DEVICES_HELP
from vqadesk.errors import VqadeskError


def default_workers() -> int:
    """One decoding process per core but one for each process running the network (under torchrun,
    ``LOCAL_WORLD_SIZE`` of them share the machine's cores)."""
    ranks = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(8, (os.cpu_count() or 2) // ranks - 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.extract_features",
        description="Run a torchvision backbone over a folder of photos (or a COCO split) and store "
        "its features, memory-mapped, indexed by COCO image id. Rerun to resume.",
    )
    add = parser.add_argument
    add("--images", required=True, metavar="DIR", help="the photos: a COCO split folder (train2014/) or any folder")
    add("--coco", metavar="ANNOTATIONS.json",
        help="a COCO annotations file (captions_train2014.json...): its images, in its order, from --images")
    add("--out", required=True, metavar="STORE", help="the feature store folder (created, or resumed)")
    add("--backbone", default="resnet50", choices=tuple(LAYERS_BY_BACKBONE))
    add("--layer", choices=("fc7", "grid", "pooled"),
        help="vgg16: fc7 (4096-d, default) or grid (512 x S/16 x S/16); resnet: grid (2048 x S/32 x S/32, "
        "default) or pooled (2048-d)")
    add("--weights", default="imagenet", metavar="imagenet|none|PATH",
        help="imagenet: torchvision's file from the local torch cache (never downloaded); none: random "
        "(seeded, for tests); or a .safetensors state dict")
    add("--image-size", type=int, default=224, help="square input side in pixels (448 gives a 14 x 14 ResNet grid)")
    add("--batch-size", type=int, default=32, help="images per forward pass")
    add("--workers", type=int, default=default_workers(),
        help=f"DataLoader processes decoding photos (default {default_workers()}; 0: in the main process)")
    add("--device", default="auto", help=DEVICES_HELP)
    add("--dtype", default="float16", choices=("float16", "float32"), help="stored precision (default float16)")
    add("--precision", default="auto", choices=PRECISIONS,
        help="the network's arithmetic: auto (default: bf16 on CPUs with AVX512-BF16/AMX and on CUDA, else "
        "fp32), fp32 (exact reproducibility), bf16, fp16 (CUDA); recorded in the store's manifest. A resumed "
        "store keeps the precision it was started in (docs/performance.md)")
    add("--full-decode", action="store_true",
        help="decode JPEGs in full instead of in draft mode (a photo at least twice --image-size is decoded "
        "at 1/2, 1/4 or 1/8 scale by default: faster, features within cosine 0.999); resumes a store made "
        "before draft decoding (docs/performance.md)")
    add("--seed", type=int, default=0, help="random initialisation of --weights none")
    add("--max-images", type=int, metavar="N", help="stop after N images in this run (resume later)")
    add("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's choice)")
    add("--log-interval", dest="log_interval_s", type=float, default=2.0, metavar="SECONDS",
        help="at most this long between step events")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = ExtractionConfig(**vars(args))
    except VqadeskError as exc:  # an option value that cannot work: a usage error (exit 2)
        parser.error(str(exc))

    def events(stop):
        # Imported here so --help and option errors answer before torch loads.
        from vqadesk.engine.features.feature_extraction import extract_features

        return extract_features(config, stop)

    return run_routine(events)


if __name__ == "__main__":
    sys.exit(main())
