"""Where a VQA model's glimpses look on "is the A left of / above the B?", and how often it is right.

    python tools/spatial_glimpses.py [CHECKPOINT_OR_NAME] [--images N] [--seed S]

Generates fresh Shapes scenes in memory (split "test", seed 2026 by default,
a seed no bundled model was trained on), asks each scene's spatial
questions, and for each glimpse finds its attention-weighted centre. A
glimpse is "on A" ("on B") when that centre is within 12 px of the centre of
the object the question names first (second); docs/models.md quotes the
counts this prints. The objects are found by their unique descriptions, the
same ones the question generator wrote.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

from vqadesk.data.shapes.generate import generate_split
from vqadesk.data.shapes.language import description_counts, unique_description
from vqadesk.data.shapes.render import render_scene
from vqadesk.engine.inference.predictor import Predictor
from vqadesk.errors import VqadeskError

SPATIAL = re.compile(r"Is the (.+) (?:to the left of|to the right of|above|below) the (.+)\?")
NEAR_PX = 12


def glimpse_centres(glimpses: np.ndarray, width: int, height: int) -> list[tuple[float, float]]:
    """(G, h, w) attention maps -> each glimpse's attention-weighted centre in image pixels."""
    _, rows, cols = glimpses.shape
    ys, xs = np.mgrid[0:rows, 0:cols]
    return [
        (float((g * (xs + 0.5)).sum() / cols * width), float((g * (ys + 0.5)).sum() / rows * height))
        for g in glimpses
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="shapes-vqa", help="bundled name or checkpoint JSON")
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    try:
        predictor = Predictor(vqa=args.model, captioner=None)
        split = generate_split("test", args.images, args.seed)
        scenes = {scene.image_id: scene for scene in split.scenes}
        right, asked, on = 0, 0, Counter()
        for question in split.questions:
            match = SPATIAL.match(question.question)
            if match is None:
                continue
            scene = scenes[question.image_id]
            counts = description_counts(scene.objects)
            named = {unique_description(obj, scene.objects, counts=counts): obj for obj in scene.objects}
            a, b = named[match.group(1)], named[match.group(2)]
            prediction = predictor.ask(render_scene(scene), question.question, top_k=1)
            asked += 1
            right += prediction.answers[0].text == question.answer
            for k, (x, y) in enumerate(glimpse_centres(prediction.glimpses, scene.width, scene.height)):
                near_a, near_b = np.hypot(x - a.cx, y - a.cy) < NEAR_PX, np.hypot(x - b.cx, y - b.cy) < NEAR_PX
                on[(k, "A" if near_a else "B" if near_b else "neither")] += 1
    except VqadeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model}: {asked} spatial questions on {args.images} scenes, {100 * right / max(asked, 1):.1f} % right")
    for (glimpse, where), count in sorted(on.items()):
        print(f"  glimpse {glimpse} on {where}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
