"""Real data at full scale: reading a feature store's rows, and the cost of reading VQA v2's JSON.

Two parts, each printed and, with ``--json OUT``, saved (split from bench_extract_features.py,
which now measures extraction alone):

1. **Store reads**: a training batch's rows (64 random rows of 224-px ResNet grids, float16)
   from a store, page cache warm.
2. **JSON preprocessing** at VQA v2 train scale: synthetic files in the official
   format (443,757 questions about 82,783 images, ten answers each; captions:
   five per image, 413,915) are written to ``--workdir``, then a fresh process
   times ``load_vqa_arrays`` / ``load_caption_arrays`` building the cache (parse,
   validate, tokenise, normalise, save), reading it back, and encoding the
   tensors ``VqaExamples`` holds (vocabularies, question ids, soft targets).

Run from the repository root::

    python benchmarks/bench_real_data.py [--workdir DIR] [--skip-json] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's vqadesk, installed or not

VQA_TRAIN_QUESTIONS = 443_757
VQA_TRAIN_IMAGES = 82_783


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="where the synthetic VQA v2 files go (default: a temporary folder)")
    parser.add_argument("--skip-json", action="store_true")
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--measure-json", help=argparse.SUPPRESS)  # the child process of part 2
    args = parser.parse_args()
    if args.measure_json:
        print(json.dumps(measure_json(Path(args.measure_json))))
        return 0
    report = {"store_reads": bench_store_reads()}
    if not args.skip_json:
        with tempfile.TemporaryDirectory() as scratch:
            report["json"] = bench_json(Path(args.workdir or scratch))
    print(json.dumps(report, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    return 0


def bench_store_reads(rows: int = 2000, batch: int = 64, repeats: int = 20) -> dict:
    """A training batch's features from a store of 224-px ResNet grids (float16), page cache warm."""
    import numpy as np

    from vqadesk.data.feature_store import FeatureStore, FeatureStoreWriter, StoreManifest

    with tempfile.TemporaryDirectory() as scratch:
        manifest = StoreManifest(backbone="resnet50", layer="grid", image_size=224, weights={"kind": "none"},
                                 preprocessing={}, dtype="float16", feature_shape=(2048, 7, 7),
                                 image_ids=tuple(range(1, rows + 1)), source={})
        writer = FeatureStoreWriter.open(Path(scratch) / "store", manifest)
        generator = np.random.default_rng(0)
        for first in range(0, rows, 500):
            writer.write(first, generator.random((500, 2048, 7, 7), dtype=np.float32).astype(np.float16))
        writer.commit(rows, [])
        writer.close()
        store = FeatureStore(Path(scratch) / "store")
        store.read_rows(np.arange(rows))  # warm the page cache
        times = []
        for _ in range(repeats):
            picked = generator.choice(rows, size=batch, replace=False)
            started = time.perf_counter()
            store.read_rows(picked)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {"batch": batch, "row_kb": manifest.row_bytes / 1e3, "batch_ms_median": median * 1000,
            "mb_per_s": batch * manifest.row_bytes / median / 1e6}


def bench_json(workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sizes = write_synthetic_vqa(workdir)
    generated = time.perf_counter() - started
    env = {**os.environ, "VQADESK_DATA_DIR": str(workdir / "user-data")}
    child = subprocess.run([sys.executable, __file__, "--measure-json", str(workdir)], env=env, cwd=REPO,
                           capture_output=True, text=True, check=True)
    return {"generate_s": generated, "files_mb": sizes, **json.loads(child.stdout.splitlines()[-1])}


def measure_json(workdir: Path) -> dict:
    """In a fresh process, so the peak memory is the preprocessing's own."""
    import numpy as np

    from vqadesk.data.caption_arrays import load_caption_arrays
    from vqadesk.data.vqa_arrays import load_vqa_arrays
    from vqadesk.engine.training.vqa_encoding import (
        answer_targets,
        build_answer_vocabulary,
        build_question_vocabulary,
        encode_questions,
    )

    questions, annotations = (workdir / "v2_OpenEnded_mscoco_train2014_questions.json",
                              workdir / "v2_mscoco_train2014_annotations.json")
    for path in workdir.glob(".vqadesk-cache"):  # always measure a build first
        import shutil

        shutil.rmtree(path)
    started = time.perf_counter()
    arrays = load_vqa_arrays(questions, annotations)
    build = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert arrays.cache.built
    started = time.perf_counter()
    arrays = load_vqa_arrays(questions, annotations)
    cached = time.perf_counter() - started
    assert not arrays.cache.built
    started = time.perf_counter()
    rows = np.arange(len(arrays))
    vocab = build_question_vocabulary(arrays, rows, 1)
    answers = build_answer_vocabulary(arrays, rows, 1000)
    encode_questions(arrays, rows, vocab, 20)
    answer_targets(arrays, rows, answers, "min3")
    encode = time.perf_counter() - started
    cache_mb = sum(p.stat().st_size for p in arrays.cache.path.iterdir()) / 1e6

    captions = workdir / "captions_train2014.json"
    started = time.perf_counter()
    caption_arrays = load_caption_arrays(captions)
    caption_build = time.perf_counter() - started
    started = time.perf_counter()
    load_caption_arrays(captions)
    caption_cached = time.perf_counter() - started
    return {
        "questions": len(arrays), "answer_coverage_top1000": answers.coverage,
        "question_vocab": len(vocab), "vqa_build_s": build, "vqa_cached_load_s": cached,
        "vqa_encode_s": encode, "vqa_cache_mb": cache_mb, "peak_rss_mb_after_build": peak_mb,
        "captions": len(caption_arrays), "captions_build_s": caption_build, "captions_cached_load_s": caption_cached,
    }


def write_synthetic_vqa(workdir: Path) -> dict:
    """VQA v2 train-sized files in the official format, with a long tail of answers and words."""
    rng = random.Random(5)
    syllables = ["ba", "ko", "ri", "ta", "mu", "ne", "lo", "si", "da", "pe", "zu", "ga", "vi", "ho", "fa"]
    word = lambda n: "".join(rng.choice(syllables) for _ in range(n))  # noqa: E731
    vocabulary = list(dict.fromkeys(word(rng.randint(2, 4)) for _ in range(40000)))  # distinct, in a fixed order
    nouns, others = vocabulary[:6000], vocabulary[6000:26000]
    templates = [("What color is the {}?", "other"), ("How many {}s are there?", "number"),
                 ("Is there a {} in the picture?", "yes/no"), ("What is the {} doing?", "other"),
                 ("Is the {} on the left?", "yes/no"), ("What is next to the {}?", "other")]
    header = {"info": {"description": "This is v2.0 of the VQA dataset.", "version": "2.0", "year": 2017},
              "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"},
              "data_type": "mscoco", "data_subtype": "train2014"}
    image_ids = rng.sample(range(1, 600_000), VQA_TRAIN_IMAGES)
    questions, annotations = [], []
    for index in range(VQA_TRAIN_QUESTIONS):
        image_id = image_ids[index % VQA_TRAIN_IMAGES]
        question_id = image_id * 1000 + index // VQA_TRAIN_IMAGES
        template, answer_type = templates[index % len(templates)]
        # Log-uniform ranks: a Zipf-like long tail of words and answers, as in the real files
        # (real VQA v2 train: the top 1,000 answers cover about 88% of the questions).
        noun = nouns[int(len(nouns) ** rng.random()) - 1]
        if answer_type == "yes/no":
            best = rng.choice(("yes", "no"))
        elif answer_type == "number":
            best = str(min(int(rng.expovariate(0.5)), 20))
        else:
            best = others[int(len(others) ** rng.random()) - 1]
        humans = [best if rng.random() < 0.7 else rng.choice((best.upper(), f"{best}.", others[rng.randrange(500)]))
                  for _ in range(10)]
        questions.append({"image_id": image_id, "question": template.format(noun), "question_id": question_id})
        annotations.append({
            "question_type": template.split(" {")[0].lower(), "multiple_choice_answer": best,
            "answers": [{"answer": h, "answer_confidence": "yes", "answer_id": k + 1} for k, h in enumerate(humans)],
            "image_id": image_id, "answer_type": answer_type, "question_id": question_id,
        })
    files = {
        "v2_OpenEnded_mscoco_train2014_questions.json": {**header, "task_type": "Open-Ended", "questions": questions},
        "v2_mscoco_train2014_annotations.json": {**header, "annotations": annotations},
        "captions_train2014.json": {
            "images": [{"id": i, "file_name": f"COCO_train2014_{i:012d}.jpg", "height": 480, "width": 640}
                       for i in image_ids],
            "annotations": [{"image_id": i, "id": n * 5 + k, "caption": f"A {nouns[(n + k) % 6000]} next to a "
                             f"{nouns[(n * 7 + k) % 6000]} on a {rng.choice(others[:300])} day."}
                            for n, i in enumerate(image_ids) for k in range(5)],
        },
    }
    sizes = {}
    for name, document in files.items():
        (workdir / name).write_text(json.dumps(document))
        sizes[name] = round((workdir / name).stat().st_size / 1e6, 1)
    return sizes


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    sys.exit(main())
