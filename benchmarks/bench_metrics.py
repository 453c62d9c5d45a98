"""How long the official metrics take at the size of the real validation sets.

* VQA accuracy on 214,354 questions (VQA v2 val2014) with ten human answers
  each, a realistic mix of agreeing / disagreeing answers and predictions;
* BLEU-1..4 + CIDEr-D on ``--caption-images`` images (val2014: 40,504) with
  five references each, including the Python PTB-style tokenisation.

Synthetic but val-sized inputs, generated with a fixed seed. Prints medians of
``--runs`` runs. Run from the repository root::

    python benchmarks/bench_metrics.py [--runs 3] [--caption-images 40504]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

from vqadesk.metrics import evaluate_captions, evaluate_vqa

WORDS = (
    "a man woman dog cat sitting standing on in the of with table street red blue green "
    "white black large small two people riding horse bike train kitchen plate food pizza"
).split()
ANSWERS = ["yes", "no", "2", "1", "3", "white", "red", "blue", "dog", "cat", "tennis", "pizza"]
QUESTION_TYPES = [("is the", "yes/no"), ("how many", "number"), ("what color is the", "other")]


@dataclass(frozen=True)
class Annotation:
    answers: tuple[str, ...]
    question_type: str
    answer_type: str


def vqa_inputs(n: int, rng: random.Random):
    annotations, results = {}, {}
    for qid in range(n):
        qtype, atype = rng.choice(QUESTION_TYPES)
        main = rng.choice(ANSWERS)
        # About half the questions have some human disagreement, as in VQA v2,
        # which is what triggers the normalisation path.
        answers = tuple(main if rng.random() < 0.8 else rng.choice(ANSWERS) + rng.choice(["", ".", "!"])
                        for _ in range(10))
        annotations[qid] = Annotation(answers, qtype, atype)
        results[qid] = rng.choice([main, rng.choice(ANSWERS), main.capitalize()])
    return list(annotations), annotations, results


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 13))).capitalize() + "."


def caption_inputs(n: int, rng: random.Random):
    references = {i: [sentence(rng) for _ in range(5)] for i in range(n)}
    candidates = {i: sentence(rng) for i in range(n)}
    return references, candidates


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--questions", type=int, default=214_354)
    parser.add_argument("--caption-images", type=int, default=40_504)
    args = parser.parse_args()
    rng = random.Random(0)

    ids, annotations, results = vqa_inputs(args.questions, rng)
    vqa = median_time(lambda: evaluate_vqa(ids, annotations, results), args.runs)
    print(f"VQA accuracy, {args.questions:,} questions x 10 answers: {vqa:.2f} s (median of {args.runs})")

    references, candidates = caption_inputs(args.caption_images, rng)
    captions = median_time(lambda: evaluate_captions(references, candidates), args.runs)
    print(
        f"BLEU-1..4 + CIDEr-D, {args.caption_images:,} images x 5 references "
        f"(tokenisation included): {captions:.2f} s (median of {args.runs})"
    )


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()
