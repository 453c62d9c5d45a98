"""Pretrained models in vqadesk against transformers' own recipe, in one run: load, caption, first and second question.

The models are the released architectures at full size with random weights
(``pretrained_builders.py``): the same arithmetic as the real downloads, which this machine cannot
fetch. Every contender runs in this process on the same device and threads, on a real COCO photo:

* **vqadesk**: ``Predictor`` with the model folder, at ``--precision auto`` (bf16 on CPUs with
  native bf16, what users get) and at ``fp32``.
* **recipe**: what each model card shows and what transformers 4's ``image-to-text`` and
  ``visual-question-answering`` pipelines ran: ``processor(images, text)`` then
  ``model.generate(**inputs)`` (or ``model(**inputs)`` for ViLT), float32, nothing cached between
  calls. transformers 5 removed the ``visual-question-answering`` pipeline, and its
  ``image-text-to-text`` pipeline (what ``image-to-text`` now means) runs only BLIP of these
  captioners; where it runs it is timed too (**pipeline**).

Captions use beam 3 and at most ``MAX_NEW_TOKENS`` new tokens for everyone (random weights never
write an end token, so every contender writes the full length). Questions: the first question
about a photo (vqadesk encodes the photo) and a second, different question about the same photo
(vqadesk's feature cache skips BLIP's vision transformer; ViLT has nothing to reuse).

Run from the repository root: ``python benchmarks/bench_pretrained.py [--device cpu|cuda] [--repeats N]``.
Prints a Markdown table for docs/benchmarks.md with the CPU model and thread count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from machine import cpu_model
from PIL import Image
from pretrained_builders import MAX_NEW_TOKENS, build

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "fixtures" / "coco-real"
CAPTIONERS = ("BlipForConditionalGeneration", "GitForCausalLM", "VisionEncoderDecoderModel")
VQA_MODELS = ("BlipForQuestionAnswering", "ViltForQuestionAnswering")
QUESTIONS = ("what is the man riding?", "how many people are there?")
BEAM = 3


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def photo() -> Image.Image:
    found = sorted(PHOTOS.rglob("*.jpg"))
    if not found:
        raise SystemExit(f"no photos under {PHOTOS}: the benchmark uses the shared fixtures")
    with Image.open(found[0]) as image:
        return image.convert("RGB")


def other_photos(count: int) -> list[Image.Image]:
    """Distinct photos (a first question needs a photo the cache has not seen): the fixtures, flipped as needed."""
    images = []
    for path in sorted(PHOTOS.rglob("*.jpg")):
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    while len(images) < count:
        images += [image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for image in images]
    return images[:count]


# -- vqadesk -------------------------------------------------------------------------------------


def vqadesk_rows(architecture: str, folder: Path, device: str, precision: str, repeats: int) -> dict[str, float]:
    from vqadesk.engine.inference.predictor import Predictor

    captioner = architecture in CAPTIONERS
    predictor = Predictor(vqa=None, captioner=None, device=device, precision=precision)
    started = time.perf_counter()
    (predictor.load_captioner if captioner else predictor.load_vqa)(str(folder))
    row = {"load": (time.perf_counter() - started) * 1000.0}
    image = photo()
    if captioner:
        predictor.caption(image, beam_size=BEAM)  # warm-up
        def fresh_caption():
            predictor.clear_cache()
            predictor.caption(image, beam_size=BEAM)
        row["caption"] = median_ms(fresh_caption, repeats)
        return row
    predictor.ask(image, QUESTIONS[0])  # warm-up
    firsts = iter(other_photos(repeats))
    row["first question"] = median_ms(lambda: predictor.ask(next(firsts), QUESTIONS[0]), repeats)
    predictor.ask(image, QUESTIONS[0])
    row["second question"] = median_ms(lambda: predictor.ask(image, QUESTIONS[1]), repeats)
    return row


# -- transformers' recipe and pipeline -----------------------------------------------------------


def recipe_rows(architecture: str, folder: Path, device: str, repeats: int) -> dict[str, float]:
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    model_class = getattr(transformers, architecture)
    started = time.perf_counter()
    model = model_class.from_pretrained(folder, local_files_only=True, use_safetensors=True).to(device).eval()
    if architecture == "VisionEncoderDecoderModel":  # an image processor and a tokenizer, no processor
        image_processor, tokenizer = AutoImageProcessor.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
        def inputs(image, text=None):
            return image_processor(images=image, return_tensors="pt").to(device)
        decode = tokenizer.batch_decode
    else:
        processor = AutoProcessor.from_pretrained(folder)
        def inputs(image, text=None):
            return processor(images=image, text=text, return_tensors="pt").to(device)
        decode = processor.batch_decode
    row = {"load": (time.perf_counter() - started) * 1000.0}
    image = photo()
    generate = {"num_beams": BEAM, "max_new_tokens": MAX_NEW_TOKENS}

    def run(question=None):
        with torch.inference_mode():
            if architecture == "ViltForQuestionAnswering":
                logits = model(**inputs(image, question)).logits
                return model.config.id2label[int(logits.argmax(-1))]
            return decode(model.generate(**inputs(image, question), **generate), skip_special_tokens=True)

    if architecture in CAPTIONERS:
        run()
        row["caption"] = median_ms(run, repeats)
    else:
        run(QUESTIONS[0])
        row["first question"] = median_ms(lambda: run(QUESTIONS[0]), repeats)
        row["second question"] = median_ms(lambda: run(QUESTIONS[1]), repeats)
    return row


def pipeline_rows(architecture: str, folder: Path, device: str, repeats: int) -> dict[str, float] | None:
    """transformers 5's ``image-text-to-text`` pipeline, where it runs the model (BLIP's captioner only)."""
    if architecture != "BlipForConditionalGeneration":
        return None
    from transformers import pipeline

    started = time.perf_counter()
    captioner = pipeline("image-text-to-text", model=str(folder), device=device)
    row = {"load": (time.perf_counter() - started) * 1000.0}
    image = photo()
    generate = {"num_beams": BEAM, "max_new_tokens": MAX_NEW_TOKENS}
    captioner(images=image, text="", generate_kwargs=generate)
    row["caption"] = median_ms(lambda: captioner(images=image, text="", generate_kwargs=generate), repeats)
    return row


# -- the table ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="architectures to run (default: all five)")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    device_text = f"{cpu_model()}, {threads} threads"
    if args.device.startswith("cuda"):
        device_text = f"{torch.cuda.get_device_name()} (host CPU {device_text})"
    print(f"# bench_pretrained on {device_text}; torch {torch.__version__}; beam {BEAM}; "
          f"at most {MAX_NEW_TOKENS} new tokens; median of {args.repeats}\n")
    print("| model | contender | load ms | caption ms | first question ms | second question ms |")
    print("|---|---|---|---|---|---|")
    chosen = args.only or (*CAPTIONERS, *VQA_MODELS)
    with tempfile.TemporaryDirectory(prefix="bench-pretrained-") as scratch:
        for architecture in chosen:
            folder = build(architecture, Path(scratch) / architecture)
            rows = {
                "vqadesk auto": vqadesk_rows(architecture, folder, args.device, "auto", args.repeats),
                "vqadesk fp32": vqadesk_rows(architecture, folder, args.device, "fp32", args.repeats),
                "recipe fp32": recipe_rows(architecture, folder, args.device, args.repeats),
            }
            piped = pipeline_rows(architecture, folder, args.device, args.repeats)
            if piped is not None:
                rows["pipeline fp32"] = piped
            for contender, row in rows.items():
                cells = [f"{row[key]:.0f}" if key in row else "" for key in
                         ("load", "caption", "first question", "second question")]
                print(f"| {architecture} | {contender} | " + " | ".join(cells) + " |", flush=True)
            _print_ratios(architecture, rows)
            for path in folder.rglob("*"):
                if path.is_file():
                    path.unlink()
    return 0


def _print_ratios(architecture: str, rows: dict[str, dict[str, float]]) -> None:
    baseline = rows["recipe fp32"]
    for contender in ("vqadesk auto", "vqadesk fp32"):
        ratios = [f"{key} {baseline[key] / rows[contender][key]:.2f}x" for key in
                  ("caption", "first question", "second question") if key in baseline]
        print(f"|  | {contender} vs recipe (speed-up) | | " + ", ".join(ratios) + " | | |")


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    raise SystemExit(main())
