"""How fast questions are tokenised: start-up cost, one by one, and in batches.

Run from the repository root::

    python benchmarks/bench_tokenizer.py [--questions 20000] [--runs 5] [--json]

Measured (each figure the median of ``--runs`` runs; the machine is shared):

* start-up: ``import spacy`` and ``spacy.blank("en")`` in a fresh interpreter
  (what the first tokenised question pays; in the app the Predictor pays it in
  the inference process while a VQA model loads, not in the first answer);
* one by one: ``tokenize_question`` per question, as the GUI and ``vqadesk
  ask`` call it;
* batch: ``tokenize_questions`` on the whole list, as dataset preparation does;
* raw spaCy: ``nlp.tokenizer.pipe`` alone, to show what our rules add.

The questions are VQA-like (built from VQA v2 question types, COCO objects and
colours, with punctuation, contractions and odd spacing), generated with a
fixed seed so every run sees the same text.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not

from vqadesk.text.tokenizer import (
    blank_english,
    tokenize_question,
    tokenize_questions,
)

OBJECTS = [
    "man", "woman", "dog", "cat", "bus", "train", "pizza", "surfboard", "umbrella", "giraffe",
    "kite", "frisbee", "laptop", "clock", "vase", "teddy bear", "fire hydrant", "stop sign",
    "skateboard", "traffic light", "zebra", "elephant", "toilet", "sandwich", "broccoli",
]
COLOURS = ["red", "blue", "white", "black", "green", "yellow", "brown", "orange", "pink"]
TEMPLATES = [
    "What color is the {o}?",
    "How many {o}s are there?",
    "Is the {o} {c}?",
    "Is there a {o} in the picture?",
    "What is the {o} doing?",
    "Where is the {o}?",
    "What's on the {o}'s head?",
    "Are the {o}s  facing the camera?",
    "Why isn't the {o} moving?",
    "What is to the left of the {o}, and is it {c}?",
    "Does this {o} look happy?",
    "What sport is being played by the {o}?",
    "Is this a {c} {o} or a {c2} one?",
    "How many people are in the {o}'s photo?",
    "What brand is the {o}?!",
]


def vqa_like_questions(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(TEMPLATES).format(
            o=rng.choice(OBJECTS), c=rng.choice(COLOURS), c2=rng.choice(COLOURS)
        )
        for _ in range(count)
    ]


def startup_seconds() -> tuple[float, float]:
    """(import spacy, spacy.blank("en")) in a fresh interpreter."""
    code = (
        "import time; t0 = time.perf_counter(); import spacy; t1 = time.perf_counter(); "
        "spacy.blank('en'); t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import_s, create_s = (float(x) for x in out.stdout.split())
    return import_s, create_s


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    startups = [startup_seconds() for _ in range(args.runs)]
    import_s = statistics.median(s[0] for s in startups)
    create_s = statistics.median(s[1] for s in startups)

    questions = vqa_like_questions(args.questions)
    tokens_total = sum(len(tokens) for tokens in tokenize_questions(questions))  # also warms up
    nlp = blank_english()

    def one_by_one():
        for question in questions:
            tokenize_question(question)

    def raw_spacy():
        for doc in nlp.tokenizer.pipe(questions):
            [token.lower_ for token in doc]

    methods = {
        "one_by_one": one_by_one,
        "batch": lambda: tokenize_questions(questions),
        "raw_spacy_batch": raw_spacy,
    }
    # Interleaved runs, so a burst of load on the shared machine hits all methods alike.
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.runs):
        for name, fn in methods.items():
            times[name].append(timed(fn))
    results = {}
    for name, runs in times.items():
        seconds = statistics.median(runs)
        results[name] = {
            "seconds": round(seconds, 4),
            "questions_per_s": round(len(questions) / seconds),
            "tokens_per_s": round(tokens_total / seconds),
            "us_per_question": round(seconds / len(questions) * 1e6, 1),
        }

    report = {
        "questions": len(questions),
        "tokens": tokens_total,
        "runs": args.runs,
        "import_spacy_s": round(import_s, 3),
        "spacy_blank_en_s": round(create_s, 3),
        **results,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{len(questions)} VQA-like questions, {tokens_total} tokens, median of {args.runs} runs")
    print(f"start-up: import spacy {import_s:.3f} s, spacy.blank('en') {create_s:.3f} s")
    for name, figures in results.items():
        print(
            f"{name:>16}: {figures['questions_per_s']:>9,} questions/s  "
            f"{figures['tokens_per_s']:>10,} tokens/s  {figures['us_per_question']:>6} us/question"
        )
    return 0


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    raise SystemExit(main())
