"""The README's picture of a pretrained model at work: a real photo, a question, the answers and the heatmap.

The released models cannot be downloaded on the machines vqadesk is built on, so this builds the
full-size architecture with random weights (``benchmarks/pretrained_builders.py``), puts it into
a temporary Hugging Face cache under its Hub name, and drives the real app offscreen: the window
opens a folder of photos, loads ``hf:ORG/NAME`` in its inference process, asks ``--question``
about the first photo (a VQA model) or captions it and selects its second word (a captioner),
and saves the window. With random weights the answers and the map are
random; the picture shows what the app shows, not what the released model would answer. Pass
``--model-folder`` to use a model you have (a folder saved with ``save_pretrained``) instead.

    python tools/pretrained_screenshot.py --photos ../shared/fixtures/coco-real \\
        --out docs/images/pretrained.png [--architecture ViltForQuestionAnswering]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HUB_NAMES = {"ViltForQuestionAnswering": "dandelin/vilt-b32-finetuned-vqa",
             "BlipForQuestionAnswering": "Salesforce/blip-vqa-base",
             "BlipForConditionalGeneration": "Salesforce/blip-image-captioning-base",
             "GitForCausalLM": "microsoft/git-base-coco",
             "VisionEncoderDecoderModel": "nlpconnect/vit-gpt2-image-captioning"}
WAIT_S = 600


def put_in_cache(folder: Path, repo_id: str, revision: str, cache: Path) -> None:
    """``folder``'s files as the Hugging Face cache holds a download of ``repo_id`` at ``revision``."""
    commit = "0" * 40
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, storage / "snapshots" / commit)
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--architecture", default="ViltForQuestionAnswering", choices=sorted(HUB_NAMES))
    parser.add_argument("--model-folder", type=Path)
    parser.add_argument("--question", default="what is the man riding?")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vqadesk-screenshot-"))
    os.environ["HF_HUB_CACHE"] = str(scratch / "hub")
    os.environ["VQADESK_DATA_DIR"] = str(scratch / "data")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        folder = args.model_folder
        if folder is None:
            sys.path.insert(0, str(REPO / "benchmarks"))
            from pretrained_builders import build

            folder = build(args.architecture, scratch / "model")
        from vqadesk.engine.torch_free.hub.catalogue import default_revision

        repo_id = HUB_NAMES[args.architecture]
        put_in_cache(folder, repo_id, default_revision(repo_id), scratch / "hub")
        from vqadesk.engine.torch_free.hub.references import ARCHITECTURES

        kind = ARCHITECTURES[args.architecture]
        return _screenshot(args.photos, f"hf:{repo_id}", kind, args.question, args.out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _screenshot(photos: Path, model: str, kind, question: str, out: Path) -> int:
    import time

    from PySide6.QtWidgets import QApplication

    from vqadesk.engine.torch_free.model_kind import ModelKind
    from vqadesk.gui.app import open_settings
    from vqadesk.gui.main_window import MainWindow
    from vqadesk.gui.window_settings import remember_model

    app = QApplication.instance() or QApplication([])
    settings = open_settings()
    remember_model(settings, kind, model)
    window = MainWindow(settings, device="cpu")
    window.resize(1280, 800)
    window.show()
    ready, answered = [], []
    window.sig_ready.connect(lambda: ready.append(True))
    window.ask_panel.sig_answered.connect(lambda *a: answered.append(a))
    window.caption_panel.sig_captioned.connect(lambda *a: answered.append(a))
    window.start(str(photos))
    _wait(app, lambda: ready, "the window's start")
    if kind is ModelKind.VQA:
        window.ask_panel.ask(question)
        _wait(app, lambda: answered, "the answer")
    else:
        window.show_side_tab("Caption")
        window.caption_panel.generate()
        _wait(app, lambda: answered, "the caption")
        window.caption_panel.select_word(0, 1)
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:  # let the heatmap and bars paint
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = window.grab().save(str(out))
    window.close()
    print(f"{'saved' if saved else 'could not save'} {out} ({model})")
    return 0 if saved else 1


def _wait(app, condition, what: str) -> None:
    import time

    end = time.perf_counter() + WAIT_S
    while not condition():
        if time.perf_counter() > end:
            raise SystemExit(f"{what} did not happen within {WAIT_S} s")
        app.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    raise SystemExit(main())
