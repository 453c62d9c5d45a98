"""``vqadesk shapes``: write the synthetic Shapes world to a folder.

    vqadesk shapes --out DIR [--split NAME ...] [--images N] [--seed S] [--size PX]

``--split`` may be repeated (default: train and val); ``--images`` is per
split. Same arguments, same bytes. Prints where everything went.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vqadesk.text.counts import plural

DEFAULT_SPLITS = ("train", "val")  # mirrors vqadesk.data.shapes.DEFAULT_SPLITS, kept import-free


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shapes",
        help="generate the synthetic Shapes world (COCO + VQA v2 files)",
        description=(
            "Write the Shapes world to DIR: PNG images in DIR/<split>/, COCO captions and instances "
            "in DIR/annotations/, VQA v2 questions and annotations in DIR/vqa/. "
            "The same arguments always give byte-identical files."
        ),
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder to write into (created if needed)"
    )
    parser.add_argument(
        "--split",
        action="append",
        dest="splits",
        metavar="NAME",
        help="split to generate; repeat for several (default: train and val)",
    )
    parser.add_argument(
        "--images", type=_positive_int, default=500, metavar="N", help="images per split (default: 500)"
    )
    parser.add_argument("--seed", type=_integer, default=0, metavar="S", help="random seed (default: 0)")
    parser.add_argument(
        "--size", type=_positive_int, default=128, metavar="PX", help="image side in pixels (default: 128)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vqadesk.data.shapes import write_shapes_dataset

    summary = write_shapes_dataset(
        args.out,
        splits=tuple(args.splits or DEFAULT_SPLITS),
        n_images=args.images,
        seed=args.seed,
        size=args.size,
    )
    side = summary.image_size
    print(f"Shapes world written to {summary.out_dir} (seed {summary.seed}, {side}x{side} px)")
    for split in summary.splits:
        files = split.files
        print(
            f"  {split.name}: {plural(split.images, 'image')}, {plural(split.objects, 'object')}, "
            f"{plural(split.questions, 'question')}, {plural(split.captions, 'caption')}"
        )
        print(f"    images       {files.images_dir}/")
        print(f"    instances    {files.instances}")
        print(f"    captions     {files.captions}")
        print(f"    questions    {files.questions}")
        print(f"    answers      {files.annotations}")
        print(f"    grounding    {files.grounding}")
    return 0


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
