"""Opening a big evaluation: the rows of ``N`` questions, first read (index built) and reopened.

Writes a temporary evaluation folder of ``--rows`` VQA rows (default 200,000, about a
full VQA v2 val split) in the store's format, with realistic field sizes (a question of
~40 characters, 65 question types, 3 answer types, a few thousand distinct answers, a
top-5 with scores, ten human answers, a COCO image path), then times in one process:

* **first open**: ``open_evaluation`` + ``.rows`` with no index: every line parsed and
  checked, the index built and saved;
* **reopen**: the same with the saved index (what the Evaluate tab pays);
* **columns**: ``column("score")``, ``categories("question_type")``, ``strings("question")``;
* **rows**: 1,000 random rows parsed from their lines;
* **CSV**: ``write_rows_csv`` of every row.

Run from the repository root::

    python benchmarks/bench_evaluation_rows.py [--rows 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.machine import print_machine  # noqa: E402 - after the path set-up
from vqadesk.engine.torch_free.evaluations import open_evaluation  # noqa: E402
from vqadesk.engine.torch_free.evaluations.export import write_rows_csv  # noqa: E402

_WORDS = ("red", "blue", "two", "yes", "no", "dog", "table", "pizza", "tennis", "white", "3", "1", "kitchen")


def write_folder(folder: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    types = [f"what type {n}" for n in range(62)] + ["how many", "is the", "what color is the"]
    answers = [f"{rng.choice(_WORDS)} {n}" if n > len(_WORDS) else _WORDS[n % len(_WORDS)] for n in range(3000)]
    folder.mkdir(parents=True)
    with (folder / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for qid in range(count):
            answer = rng.choice(answers[:50]) if rng.random() < 0.8 else rng.choice(answers)
            score = rng.betavariate(5, 2)
            top_k = [[answer, round(score, 6)]] + [[rng.choice(answers), round(score / (k + 2), 6)] for k in range(4)]
            humans = [answer if rng.random() < 0.6 else rng.choice(answers[:50]) for _ in range(10)]
            handle.write(json.dumps({
                "question_id": 262148000 + qid, "image_id": 262148 + qid // 5,
                "question": f"What is the man on the left holding in his hand {qid % 97}?",
                "question_type": rng.choice(types), "answer_type": rng.choice(("yes/no", "number", "other")),
                "answer": answer, "score": round(score, 6), "top_k": top_k,
                "accuracy": rng.choice((0.0, 30.0, 60.0, 90.0, 100.0)), "human_answers": humans,
                "image": f"val2014/COCO_val2014_{262148 + qid // 5:012d}.jpg"}) + "\n")
    (folder / "results.json").write_text("[]")
    (folder / "metrics.json").write_text(json.dumps({"overall": 50.0}))
    (folder / "evaluation.json").write_text(json.dumps({
        "format": "vqadesk-evaluation", "version": 1, "kind": "vqa", "model": {"reference": "bench", "label": "bench"},
        "dataset": str(folder), "split": "val", "subset": None, "count": count,
        "created": "2026-12-06T05:00:00+00:00", "seconds": 1.0, "device": "cpu", "precision": "fp32",
        "headline": {"name": "VQA accuracy", "value": 50.0}, "has_maps": False}))


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def one_run(folder: Path, work: Path) -> dict[str, float]:
    """One measurement of each step, from no index."""
    (folder / ".rows-index.safetensors").unlink(missing_ok=True)
    figures = {"first open": timed(lambda: len(open_evaluation(folder).rows))}
    evaluation = open_evaluation(folder)
    figures["reopen"] = timed(lambda: len(evaluation.rows))
    rows = evaluation.rows
    figures["columns"] = timed(lambda: (rows.column("score"), rows.categories("question_type"),
                                        rows.strings("question")))
    picks = random.Random(1).sample(range(len(rows)), min(1000, len(rows)))
    figures["1,000 rows"] = timed(lambda: [rows[i] for i in picks])
    figures["CSV"] = timed(lambda: write_rows_csv(evaluation, work / "rows.csv"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    work = Path(tempfile.mkdtemp(prefix="vqadesk-bench-rows-"))
    try:
        folder = work / "evaluation"
        write_folder(folder, args.rows)
        size = (folder / "rows.jsonl").stat().st_size
        print(f"{args.rows:,} rows, rows.jsonl {size / 1e6:.1f} MB")
        figures: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for name, seconds in one_run(folder, work).items():
                figures.setdefault(name, []).append(seconds)
        index = (folder / ".rows-index.safetensors").stat().st_size
        print(f"index {index / 1e6:.1f} MB")
        for name, values in figures.items():
            print(f"{name:<12} median {statistics.median(values):7.3f} s   (min {min(values):.3f}, "
                  f"max {max(values):.3f}, {len(values)} runs)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
