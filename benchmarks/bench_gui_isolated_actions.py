"""How long one action stalls the GUI thread, each action alone with idle time around it.

``bench_gui_responsiveness.py`` runs actions back to back, so two answers can
fall into one gap; this one asks the cost of each. It opens the real main
window offscreen on a Shapes world with the bundled models, then, on 8 images:
selects the image (decode, viewer, the Ask panel's questions, the automatic
caption) and asks 4 of the image's dataset questions, idling 0.4 s / 0.15 s
after each so every repaint of that action is counted. An ``EventLoopMonitor``
(a 5 ms timer) gives each action's longest gap.

Run from the repository root: ``python benchmarks/bench_gui_isolated_actions.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_gui_responsiveness beside it

from bench_gui_responsiveness import start_window, wait
from PySide6.QtWidgets import QApplication

IMAGES = 8
QUESTIONS_PER_IMAGE = 4


def idle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def summary(gaps: list[float]) -> str:
    return f"median {statistics.median(gaps):5.1f} ms  max {max(gaps):5.1f} ms  ({len(gaps)} actions)"


def main() -> None:
    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        window, monitor, _root = start_window(app, Path(tmp))
        idle(app, 1.0)  # the Training tab's steps and the thumbnails settle first

        answered: list[bool] = []
        window.ask_panel.sig_answered.connect(lambda *_: answered.append(True))
        selections, questions = [], []
        for image_row in range(IMAGES):
            monitor.reset()
            window.browser.select_row(image_row)
            wait(app, lambda: window.ask_panel.dataset_question_count() > 0, 30)
            idle(app, 0.4)
            selections.append(monitor.longest_gap_ms)
            for question_row in range(QUESTIONS_PER_IMAGE):
                monitor.reset()
                before = len(answered)
                window.ask_panel.ask_dataset_question(question_row)
                wait(app, lambda before=before: len(answered) > before, 60)
                idle(app, 0.15)
                questions.append(monitor.longest_gap_ms)
        monitor.stop()
        window.close()

    print(f"selecting an image (and its caption): {summary(selections)}")
    print(f"asking a question:                    {summary(questions)}")


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()
