"""The GUI thread's longest stall while the app works (the app issue's "never freezes" target).

Opens the real main window offscreen on a Shapes world with the bundled
models, runs an ``EventLoopMonitor`` (a 5 ms timer; a late tick is a stall)
and reports, per phase, the longest gap between ticks and the 99th percentile:

1. start-up: from ``start()`` to ``sig_ready`` (torch imported by the inference
   process, models loaded, dataset opened, first image shown);
2. answering 50 questions (the dataset's, on 10 images, one after another);
3. captioning 20 images (beam 3), selecting each image in the browser;
4. streaming training events: a real ``python -m training.vqa`` run started
   from the Training tab, its JSON events parsed and plotted as they come;
5. opening a val2014-sized split (40,504 images with 5 captions each, the
   photos hard links to one small file) and scrolling the browser through it
   page by page while thumbnails are made;
6. a batch job over 2,000 photos (small JPEGs of different sizes and
   colours, generated in a temporary folder before the phase) with the
   bundled captioner, from the Batch tab: the job thread lists them and
   keeps the progress file, the inference process captions them 16 at a
   time, and the results table, its thumbnails and the progress bar follow;
7. the Evaluate tab on a 40,000-question evaluation (``big_evaluation.py``
   writes it before the phase, with maps): listed, opened (rows read and
   their columns built in a pool thread), its Mistakes browsed -- filtered by
   question type, answer type, confidence and words, sorted by each column,
   "Confidently wrong first", rows selected (photo and map shown);
8. "evaluate-run" (``evaluate_run_phase.py``): with phase 5's split open (built
   and opened first when phase 5 did not run), the Evaluate tab's run form
   starts shapes-captioner on the whole 40,504-image split through its Evaluate
   button (the ``QProcess`` running ``python -m training.evaluate_model``); after
   about 20 s of reading the split, loading the model and progress events
   (the bar and the ETA following) Cancel, until the form says "Cancelled".
   The photos are valid PNGs the routine decodes; it also prints the progress
   events counted and the last ETA text seen.

Run from the repository root: ``python benchmarks/bench_gui_responsiveness.py``
(``--phases batch`` runs only the start-up and the batch job; names: questions,
captions, training, split, batch, evaluate, evaluate-run). Target: longest gap <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication


def wait(app: QApplication, condition, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def phase(name: str, monitor, results: dict) -> None:
    results[name] = (monitor.longest_gap_ms, monitor.percentile_ms(99), len(monitor.gaps_ms))
    monitor.reset()


def write_val2014_sized(root: Path, images: int = 40_504) -> Path:
    """A COCO root whose val2014 split has val2014's size; every photo is a hard link to one PNG."""
    import json

    from PIL import Image

    folder = root / "val2014"
    folder.mkdir(parents=True)
    (root / "annotations").mkdir()
    source = root / "one.png"
    Image.new("RGB", (64, 48), (90, 140, 200)).save(source)
    records, captions = [], []
    for index in range(images):
        image_id = 100_000 + index
        name = f"COCO_val2014_{image_id:012d}.png"
        os.link(source, folder / name)
        records.append({"id": image_id, "file_name": name, "width": 64, "height": 48})
        captions += [{"id": image_id * 10 + k, "image_id": image_id, "caption": f"a blue picture number {index} {k}"}
                     for k in range(5)]
    (root / "annotations" / "captions_val2014.json").write_text(
        json.dumps({"images": records, "annotations": captions}))
    return root


def write_photo_folder(root: Path, photos: int = 2_000) -> Path:
    """``photos`` small JPEGs (96-200 px, each its own colours and a rectangle) under names with spaces."""
    from PIL import Image, ImageDraw

    folder = root / "my photos"
    folder.mkdir(parents=True)
    for index in range(photos):
        width, height = 96 + index % 105, 96 + (index * 7) % 105
        image = Image.new("RGB", (width, height), ((index * 37) % 256, (index * 91) % 256, (index * 53) % 256))
        ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2),
                                        fill=((index * 13) % 256, 200, 90))
        image.save(folder / f"holiday photo {index:04d}.jpg", quality=85)
    return folder


def start_window(app: QApplication, tmp: Path):
    """The main window on a new 40-image Shapes world in ``tmp``, started with the bundled models
    and ready, and the ``EventLoopMonitor`` that watched its start-up: ``(window, monitor, root)``."""
    from vqadesk.data.shapes import write_shapes_dataset
    from vqadesk.gui.main_window import MainWindow
    from vqadesk.gui.responsiveness import EventLoopMonitor

    os.environ["VQADESK_DATA_DIR"] = str(tmp / "data")
    root = tmp / "shapes"
    write_shapes_dataset(root, splits=("train", "val"), n_images=40, seed=0)
    window = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    app.processEvents()
    monitor = EventLoopMonitor()
    monitor.start()
    ready = []
    window.sig_ready.connect(lambda: ready.append(True))
    QTimer.singleShot(0, lambda: window.start(str(root)))
    wait(app, lambda: ready, 180)
    return window, monitor, root


PHASES = ("questions", "captions", "training", "split", "batch", "evaluate", "evaluate-run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="the phases to run after the start-up (default: all)")
    wanted = set(parser.parse_args().phases)
    app = QApplication(sys.argv[:1])
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        window, monitor, root = start_window(app, Path(tmp))
        phase("start-up (torch import, model loading, dataset)", monitor, results)
        if "questions" in wanted:
            answer_questions(app, window, monitor, results)
        if "captions" in wanted:
            caption_images(app, window, monitor, results)
        if "training" in wanted:
            stream_training(app, window, monitor, results, root)
        if "split" in wanted:
            open_big_split(app, window, monitor, results, Path(tmp))
        if "batch" in wanted:
            run_batch_job(app, window, monitor, results, Path(tmp))
        if "evaluate" in wanted:
            browse_big_evaluation(app, window, monitor, results, root)
        if "evaluate-run" in wanted:
            from evaluate_run_phase import run_big_evaluation  # benchmarks/evaluate_run_phase.py

            run_big_evaluation(app, window, monitor, results, Path(tmp))
        monitor.stop()
        window.close()

    print(f"{'phase':52s} {'longest gap':>12s} {'p99':>8s} {'ticks':>7s}")
    for name, (longest, p99, ticks) in results.items():
        print(f"{name:52s} {longest:10.1f} ms {p99:6.1f} ms {ticks:7d}")


def answer_questions(app, window, monitor, results) -> None:
    answered = []
    window.ask_panel.sig_answered.connect(lambda *_: answered.append(True))
    for image_row in range(10):
        window.browser.select_row(image_row)
        wait(app, lambda: window.ask_panel.dataset_question_count() > 0, 30)
        for question_row in range(5):
            before = len(answered)
            window.ask_panel.ask_dataset_question(question_row)
            wait(app, lambda before=before: len(answered) > before, 60)
    phase("answering 50 questions", monitor, results)


def caption_images(app, window, monitor, results) -> None:
    captioned = []
    window.caption_panel.sig_captioned.connect(lambda *_: captioned.append(True))
    for image_row in range(20):
        before = len(captioned)
        window.browser.select_row(20 + image_row)  # Auto captions each newly selected image
        wait(app, lambda before=before: len(captioned) > before, 60)
    phase("captioning 20 images (beam 3)", monitor, results)


def stream_training(app, window, monitor, results, root: Path) -> None:
    window.build_training_tab()
    tab = window.training_tab
    run_started = time.perf_counter()
    form = tab.form
    form.dataset.setText(str(root))
    form.epochs.setValue(2)
    form.batch_size.setValue(4)
    form.threads.setValue(1)
    form.max_steps_check.setChecked(True)
    form.max_steps.setValue(40)
    form.extra.setText("--log-interval 0.05 --hidden-dim 32 --embed-dim 16 --image-size 64")
    tab.start_run()
    wait(app, lambda: not tab.is_running() and time.perf_counter() - run_started > 2, 300)
    phase("streaming training events (40 steps)", monitor, results)


def open_big_split(app, window, monitor, results, tmp: Path) -> None:
    big = write_val2014_sized(tmp / "coco")  # the benchmark's own work, on this thread: not timed
    monitor.reset()
    opened = []
    window.sig_dataset_changed.connect(lambda d: opened.append(d))
    started = time.perf_counter()
    window.open_dataset(str(big))
    wait(app, lambda: opened and opened[-1].root == big, 120)
    open_s = time.perf_counter() - started
    bar = window.browser.view.verticalScrollBar()
    for value in range(0, bar.maximum(), max(1, bar.pageStep())):
        bar.setValue(value)
        app.processEvents()
        time.sleep(0.01)
    bar.setValue(bar.maximum())
    wait(app, lambda: window.browser.model.loaded_count() > 100, 60)
    phase(f"40,504-image split: open ({open_s:.1f} s) and scroll to the end", monitor, results)


def run_batch_job(app, window, monitor, results, tmp: Path) -> None:
    folder = write_photo_folder(tmp)  # the benchmark's own work, on this thread: not timed
    window.caption_folder(str(folder), False)
    panel = window.batch_panel
    stopped, rates = [], []
    panel.runner.sig_stopped.connect(lambda state, message: stopped.append((state, message)))
    panel.runner.sig_events.connect(lambda events: rates.extend(e.photos_per_s for e in events
                                                                 if hasattr(e, "photos_per_s")))
    app.processEvents()
    monitor.reset()
    started = time.perf_counter()
    if not panel.start():
        raise RuntimeError(panel.status.text())
    wait(app, lambda: stopped, 1800)
    seconds = time.perf_counter() - started
    state, message = stopped[-1]
    if state != "finished" or panel.model.rowCount() != 2_000:
        raise RuntimeError(f"the batch job ended {state}: {message}")
    rate = rates[-1] if rates else 0.0
    phase(f"batch: 2,000 photos captioned ({seconds:.0f} s, {rate:.1f} photos/s)", monitor, results)


def browse_big_evaluation(app, window, monitor, results, root: Path) -> None:
    from big_evaluation import write_big_evaluation  # benchmarks/big_evaluation.py

    from vqadesk.engine.torch_free.evaluations import evaluations_root

    images = sorted(path.relative_to(root).as_posix() for path in (root / "val").glob("*.png"))
    folder = write_big_evaluation(evaluations_root(), root, images)  # the benchmark's own work: not timed
    monitor.reset()
    window.show_evaluate_tab()
    tab = window.evaluate_tab
    browser = tab.mistakes
    wait(app, lambda: browser.table is not None and browser.evaluation.path == folder, 120)
    opened = monitor.longest_gap_ms
    tab.views.setCurrentWidget(browser)
    settle = lambda: [app.processEvents() or time.sleep(0.01) for _ in range(10)]  # noqa: E731 - a short pause
    for box, index in ((browser.question_type, 3), (browser.answer_type, 2), (browser.question_type, 0),
                       (browser.answer_type, 0)):
        box.setCurrentIndex(index)
        settle()
    browser.min_confidence.setValue(80)
    settle()
    browser.min_confidence.setValue(0)
    for text in ("thing", "thing number 12", ""):
        browser.search.setText(text)
        started = time.perf_counter()
        wait(app, lambda started=started: time.perf_counter() - started > 0.3, 5)  # the search waits for a pause
    for column in range(browser.model.columnCount()):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            browser.view.sortByColumn(column, order)  # what a header click does
            settle()
    browser.confidently_wrong_first()
    for row in (0, 5, 200, 1000):
        browser.view.selectRow(row)
        wait(app, lambda: browser.viewer.has_heatmap(), 30)
        settle()
    shown = browser.model.rowCount()
    phase(f"Evaluate tab: 40,000 questions opened (longest {opened:.0f} ms), {shown:,} mistakes filtered, sorted, "
          "selected", monitor, results)


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()
