"""The GUI benchmark's "evaluate-run" phase: an evaluation of the bundled captioner on the 40,504-image split.

With the val2014-sized split open (phase 5's, built and opened here when that
phase did not run), the Evaluate tab's run form is set to shapes-captioner on
``val2014``, whole split, and its Evaluate button clicked: the real path, a
``QProcess`` running ``python -m training.evaluate_model``. The routine reads the
split (40,504 images, 202,520 captions) and loads the model, then captions 16
images per ``progress`` event; the bar and the ETA follow. After ``RUN_S``
seconds (and at least ``MIN_PROGRESS`` progress events, so the ETA is shown)
Cancel is clicked and the phase waits for the form's "Cancelled" line.

The split's photos are hard links to one valid 64 x 48 PNG: the routine opens
and decodes each of them as it would any photo, so nothing is faked for it;
they are all the same picture, which changes the captions, not the window's
work (the window only reads the events).
"""

from __future__ import annotations

import time
from pathlib import Path

RUN_S = 20.0
MIN_PROGRESS = 3
CAPTIONER = "shapes-captioner"
SPLIT = "val2014"


def run_big_evaluation(app, window, monitor, results, tmp: Path) -> None:
    from bench_gui_responsiveness import phase, wait, write_val2014_sized

    big = tmp / "coco"
    if window.dataset is None or Path(window.dataset.root) != big:  # phase 5 did not run: build and open it
        if not big.exists():
            write_val2014_sized(big)
        opened = []
        window.sig_dataset_changed.connect(lambda d: opened.append(d))
        window.open_dataset(str(big))
        wait(app, lambda: opened and opened[-1].root == big, 120)
    window.show_evaluate_tab()
    tab = window.evaluate_tab
    form = tab.form
    wait(app, lambda: form.split_box.findText(SPLIT) >= 0 and _captioner_index(form) >= 0, 30)
    form.model_box.setCurrentIndex(_captioner_index(form))
    form.split_box.setCurrentText(SPLIT)
    form.subset.setChecked(False)
    events: list[tuple[float, dict]] = []
    tab.process.on_event.append(lambda event: events.append((time.perf_counter(), event)))
    finished: list[tuple[str | None, str | None]] = []
    tab.process.on_finished.append(lambda folder, error: finished.append((folder, error)))
    eta_texts: list[str] = []

    def watch() -> bool:  # called between event-loop turns: notes the form's progress line as the user sees it
        text = form.status.text()
        if "left" in text and (not eta_texts or eta_texts[-1] != text):
            eta_texts.append(text)
        return False

    app.processEvents()
    monitor.reset()
    started = time.perf_counter()
    form.evaluate_button.click()
    progress = lambda: [e for _t, e in events if e["event"] == "progress"]  # noqa: E731
    wait(app, lambda: watch() or finished or (time.perf_counter() - started > RUN_S and len(progress()) >= MIN_PROGRESS
                                              and eta_texts), 300)
    if finished:
        raise RuntimeError(f"the evaluation ended before Cancel: {finished[-1]}")
    ran_s = time.perf_counter() - started
    form.cancel_button.click()
    cancelled = time.perf_counter()
    wait(app, lambda: watch() or (finished and form.status.text().startswith("Cancelled")), 60)
    stop_s = time.perf_counter() - cancelled
    if finished[-1] != (None, "cancelled"):
        raise RuntimeError(f"the evaluation did not end cancelled: {finished[-1]}")
    first = next(t for t, e in events if e["event"] == "progress") - started
    total = next(e["total"] for _t, e in events if e["event"] == "start")
    done = progress()[-1]["done"]
    phase(f"evaluate-run: {CAPTIONER} on {total:,} images, cancelled after {ran_s:.0f} s", monitor, results)
    print(f"evaluate-run: first progress after {first:.1f} s; {len(progress())} progress events, {done:,} images "
          f"captioned; last ETA text: {eta_texts[-1]!r}; Cancel to 'Cancelled' {stop_s:.1f} s")


def _captioner_index(form) -> int:
    return next((i for i in range(form.model_box.count()) if form.model_box.itemText(i).startswith(CAPTIONER)), -1)
