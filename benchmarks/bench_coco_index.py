"""How long opening a COCO captions file of val2014's size takes.

Writes a realistic stand-in for ``captions_val2014.json`` (40,504 images with
every image field, ~202k captions of about ten words, ~20 MB) to a temporary
folder, then times, over several runs:

* ``parse``: ``read_json`` alone (the ``json`` module);
* ``index``: ``CocoIndex(file)`` as a whole (parse + validation + index);
* ``build``: their difference, what vqadesk's own code adds.

Prints medians (the machine is shared and noisy). Run from the repository root:

    python benchmarks/bench_coco_index.py [--runs 5] [--images 40504]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

from vqadesk.data.coco import CocoIndex
from vqadesk.jsonio import read_json

WORDS = (
    "a an the man woman person people dog cat bus train plate of food with on in next to "
    "sitting standing riding holding street table kitchen bathroom white black red two group "
    "large small young playing field grass water frisbee pizza giraffe elephant near top front"
).split()


def write_captions_file(path: Path, image_count: int, seed: int = 0) -> int:
    """A captions file shaped like captions_val2014.json; returns the caption count."""
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(1, 600_000), image_count))
    images = [
        {
            "license": rng.randint(1, 8),
            "file_name": f"COCO_val2014_{image_id:012d}.jpg",
            "coco_url": f"http://images.cocodataset.org/val2014/COCO_val2014_{image_id:012d}.jpg",
            "height": rng.choice((375, 427, 480, 500, 640)),
            "width": rng.choice((500, 612, 640)),
            "date_captured": f"2013-11-{rng.randint(10, 28)} "
                             f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
            "flickr_url": f"http://farm{rng.randint(1, 9)}.staticflickr.com/{rng.randint(1000, 9999)}/"
                          f"{rng.randint(10**9, 10**10)}_{rng.getrandbits(40):010x}_z.jpg",
            "id": image_id,
        }
        for image_id in ids
    ]
    annotations = []
    for image_id in ids:
        for _ in range(5 if rng.random() > 0.01 else 6):  # val2014: 5.003 captions per image
            words = rng.choices(WORDS, k=rng.randint(8, 13))
            annotations.append(
                {
                    "image_id": image_id,
                    "id": len(annotations) + 1,
                    "caption": " ".join(words).capitalize() + ".",
                }
            )
    rng.shuffle(annotations)  # the real file is not sorted by image
    document = {
        "info": {"description": "This is stable 1.0 version of the 2014 MS COCO dataset.", "year": 2014},
        "images": images,
        "licenses": [
            {"url": f"http://creativecommons.org/licenses/{i}", "id": i, "name": f"License {i}"}
            for i in range(1, 9)
        ],
        "type": "captions",
        "annotations": annotations,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return len(annotations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=40_504)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "captions_val2014.json"
        caption_count = write_captions_file(path, args.images)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.images} images, {caption_count} captions, {size_mb:.1f} MB")
        parse_times, index_times = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            read_json(path)
            parse_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            index = CocoIndex(path, image_dir=folder)
            index_times.append(time.perf_counter() - start)
            assert len(index) == args.images and index.caption_count == caption_count
            del index
    parse, total = statistics.median(parse_times), statistics.median(index_times)
    print(f"runs: {args.runs} (medians)")
    print(f"parse (read_json):            {parse:.3f} s")
    print(f"CocoIndex construction total: {total:.3f} s")
    print(f"validation + index build:     {total - parse:.3f} s")
    return 0


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    raise SystemExit(main())
