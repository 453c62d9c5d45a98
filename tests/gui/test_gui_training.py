"""The Training tab: real (tiny) training runs started, stopped, killed, resumed and probed from the tab."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.torch_free.training_runs import RunRecord, read_run
from vqadesk.gui.training.tab import TrainingTab

RUN_MS = 60000  # a generous bound: a process start alone costs ~5-8 s on the 2-core CI machine
# Small sizes make each step a few milliseconds; --log-interval 0 reports every step.
TINY = "--embed-dim 16 --hidden-dim 32 --image-size 64 --log-interval 0 --lr-schedule none"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=8, seed=3)
    return root


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("VQADESK_DATA_DIR", str(path))
    return path


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make_tab(qtbot, settings, inference=None) -> TrainingTab:
    tab = TrainingTab(settings, inference)
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.show()
    return tab


@pytest.fixture
def tab(qtbot, settings, data_dir):
    widget = make_tab(qtbot, settings)
    yield widget
    widget.shutdown()


def fake_root(root: Path, splits: tuple[str, ...] = ("train", "val"), *, vqa: bool = True) -> Path:
    """A dataset root with the file names the routines look for (empty files: nothing is parsed)."""
    for split in splits:
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"captions_{split}.json").touch()
        (root / split).mkdir(exist_ok=True)
        if vqa:
            (root / "vqa").mkdir(exist_ok=True)
            (root / "vqa" / f"v2_OpenEnded_shapes_{split}_questions.json").touch()
            (root / "vqa" / f"v2_shapes_{split}_annotations.json").touch()
    return root


def fill(tab: TrainingTab, dataset: Path | str, *, epochs: int = 2, max_steps: int | None = None) -> None:
    tab.set_dataset(str(dataset))
    form = tab.form
    form.epochs.setValue(epochs)
    form.batch_size.setValue(4)  # 8 images: 2 steps an epoch
    form.device.setCurrentText("cpu")
    form.threads.setValue(1)
    form.max_steps_check.setChecked(max_steps is not None)
    if max_steps is not None:
        form.max_steps.setValue(max_steps)
    form.extra.setText(TINY)


def start_and_wait(qtbot, tab: TrainingTab):
    with qtbot.waitSignal(tab.process.sig_finished, timeout=RUN_MS) as blocker:
        tab.start_button.click()
    return blocker.args[0]


def run_folders(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "runs").iterdir())


def test_a_short_run_plots_and_its_model_can_be_used(qtbot, tab, shapes, data_dir):
    fill(tab, shapes, epochs=2, max_steps=3)
    record = start_and_wait(qtbot, tab)
    assert record.status == "finished" and record.exit_code == 0
    [folder] = run_folders(data_dir)
    assert folder.name.endswith("-vqa") and record.folder == folder
    # The curves were drawn live: the loss has a point per step, accuracy one per epoch (x 4 series).
    assert tab.plots.point_count(tab.plots.loss) == 3
    assert tab.plots.point_count(tab.plots.accuracy) == 4
    assert tab.progress.value() == 3 and tab.progress.maximum() == 3
    saved = read_run(folder)
    assert saved.status == "finished" and saved.best is not None and "--max-steps" in saved.arguments
    events = [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "done" and events.count("step") == 3
    assert "saved `best`" in tab.log.toPlainText()
    assert tab.run_list.current_folder() == str(folder) and tab.use_button.isEnabled()
    with qtbot.waitSignal(tab.sig_use_model) as used:
        tab.use_button.click()
    assert used.args == ["vqa", str(folder / "best.json")]
    assert load_checkpoint(used.args[1]).kind == "vqa"


def test_stop_keeps_a_valid_last_checkpoint_and_resume_continues_it(qtbot, tab, shapes):
    fill(tab, shapes, epochs=500)
    with qtbot.waitSignal(tab.process.sig_finished, timeout=RUN_MS) as finished:
        tab.start_button.click()
        qtbot.waitUntil(lambda: tab.process.curves.step >= 3, timeout=RUN_MS)
        assert tab.stop_button.isEnabled()
        assert tab.use_button.isEnabled()  # epoch 1 wrote `best`: usable while the run goes on
        assert not tab.delete_button.isEnabled()  # the live run cannot be deleted
        tab.stop_button.click()
        assert not tab.stop_button.isEnabled()  # one request is enough
    record = finished.args[0]
    assert record.status == "stopped" and record.exit_code == 0
    last = load_checkpoint(record.folder / "last.json", training_state=True)
    stopped_at = last.training_state.step
    assert stopped_at == tab.process.curves.step >= 3
    assert "stop requested" in tab.log.toPlainText()

    # Resume: the same folder, the same command plus --resume, continuing at the saved step.
    assert tab.resume_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.files.is_loading(), timeout=RUN_MS)
    tab.resume_button.click()
    qtbot.waitUntil(lambda: bool(tab.process.curves.total_steps), timeout=RUN_MS)
    qtbot.waitUntil(lambda: "resumed from step" in tab.log.toPlainText(), timeout=RUN_MS)
    resumed = tab.process.record
    assert resumed.folder == record.folder and resumed.arguments[-1] == "--resume"
    assert tab.process.curves.steps[:stopped_at] == [float(s) for s in range(1, stopped_at + 1)]
    qtbot.waitUntil(lambda: tab.process.curves.step > stopped_at, timeout=RUN_MS)
    with qtbot.waitSignal(tab.process.sig_finished, timeout=RUN_MS):
        tab.stop_button.click()
    steps = tab.process.curves.steps
    assert steps == sorted(set(steps))  # continued, not restarted or doubled
    saved = read_run(record.folder)
    assert saved.status == "stopped" and len(saved.resumed) == 1
    events = [json.loads(line) for line in (record.folder / "events.jsonl").read_text().splitlines()]
    assert [e["resumed_from_step"] for e in events if e["event"] == "start"] == [None, stopped_at]


def test_an_error_event_is_reported(qtbot, tab, shapes, tmp_path):
    broken = tmp_path / "broken-questions"
    shutil.copytree(shapes, broken)
    questions = next((broken / "vqa").glob("v2_OpenEnded_*_train_questions.json"))
    questions.write_text("{", encoding="utf-8")  # the files are there (Start is on), the routine fails reading
    fill(tab, broken)
    record = start_and_wait(qtbot, tab)
    assert record.status == "failed" and record.exit_code == 1
    assert questions.name in record.error
    assert tab.report.isVisible() and questions.name in tab.report.text()
    assert "failed" in tab.run_list.tree.currentItem().text(1)
    assert tab.start_button.isEnabled() and not tab.is_running()


def test_a_killed_routine_is_reported_and_the_tab_carries_on(qtbot, tab, shapes):
    fill(tab, shapes, epochs=500)
    with qtbot.waitSignal(tab.process.sig_finished, timeout=RUN_MS) as finished:
        tab.start_button.click()
        qtbot.waitUntil(lambda: tab.process.curves.step >= 1, timeout=RUN_MS)
        os.kill(tab.process._process.processId(), signal.SIGKILL)
    record = finished.args[0]
    assert record.status == "killed" and read_run(record.folder).status == "killed"
    assert tab.report.isVisible() and "killed" in tab.report.text()
    assert tab.plots.point_count(tab.plots.loss) >= 1  # what arrived before the kill stays
    assert tab.start_button.isEnabled()


def test_options_that_cannot_work_are_refused_without_a_process(qtbot, tab, shapes, data_dir):
    fill(tab, shapes)
    tab.form.extra.setText("--no-such-option")
    tab.start_button.click()
    assert not tab.is_running() and "unrecognized" in tab.report.text()
    tab.form.extra.setText("")
    tab.form.dataset.setText(str(shapes / "nowhere"))
    assert not tab.start_button.isEnabled() and "no such folder" in tab.start_button.toolTip()
    tab.start_run()  # refused even if asked directly
    assert not tab.is_running() and "no such folder" in tab.report.text()
    assert not (data_dir / "runs").exists() or run_folders(data_dir) == []


def test_shutdown_stops_a_run_and_keeps_its_checkpoint(qtbot, settings, data_dir, shapes):
    tab = make_tab(qtbot, settings)
    fill(tab, shapes, epochs=500)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.process.curves.step >= 1, timeout=RUN_MS)
    tab.shutdown()
    assert not tab.is_running()
    [folder] = run_folders(data_dir)
    assert read_run(folder).status == "stopped"
    load_checkpoint(folder / "last.json", training_state=True)


def test_the_probe_gets_an_answer_per_epoch(qtbot, settings, data_dir, shapes):
    from vqadesk.gui.background.inference import InferenceClient

    inference = InferenceClient(device="cpu")
    inference.start()
    tab = make_tab(qtbot, settings, inference)
    try:
        image = next((shapes / "train").glob("*.png"))
        tab.set_probe(str(image), "what color is the circle?")
        assert tab.probe_panel.clear_button.isEnabled()
        fill(tab, shapes, epochs=2)
        record = start_and_wait(qtbot, tab)
        assert record.status == "finished"
        qtbot.waitUntil(lambda: len(tab.probe_panel.answers()) == 2, timeout=RUN_MS)
        answers = tab.probe_panel.answers()
        assert [a.epoch for a in answers] == [1.0, 2.0]
        assert all(len(a.answers) == 5 and a.question == "what color is the circle?" for a in answers)
        assert tab.probe_panel.table.rowCount() == 2 and len(tab.probe_panel._curves) >= 5
        saved = [json.loads(line) for line in (record.folder / "probe.jsonl").read_text().splitlines()]
        assert [s["step"] for s in saved] == [2, 4]
        qtbot.waitUntil(lambda: not (record.folder / "probe-snapshots").exists(), timeout=RUN_MS)
        # A new tab (an app restart) shows the same run with its probe answers.
        tab.probe_panel.clear()
        assert tab.probe_panel.probe is None
    finally:
        tab.shutdown()
        inference.shutdown()
    again = make_tab(qtbot, settings, None)
    again.run_list.select(record.folder)
    qtbot.waitUntil(lambda: len(again.probe_panel.answers()) == 2, timeout=10000)
    again.shutdown()


def write_fake_run(root: Path, name: str, kind: str, losses: list[float], *, status: str = "finished",
                   yes_no: float = 50.0) -> Path:
    """A finished run's files as the tab writes them, without training anything."""
    folder = root / name
    folder.mkdir(parents=True)
    events = [{"event": "start", "task": kind, "config": {}, "steps_per_epoch": 2, "total_steps": len(losses),
               "resumed_from_step": None}]
    for i, loss in enumerate(losses, 1):
        events.append({"event": "step", "epoch": 1 + (i - 1) // 2, "step": i, "loss": loss, "samples_per_s": 10.0,
                       "eta_s": 0.0})
        if i % 2 == 0:
            metrics = ({"accuracy": 10.0 * i, "per_answer_type": {"yes/no": yes_no, "number": 5.0, "other": 1.0}}
                       if kind == "vqa" else {"BLEU-4": 0.1 * i, "CIDEr": 0.5 * i})
            events.append({"event": "epoch", "epoch": i // 2, "step": i, "train_loss": loss, "metrics": metrics,
                           "metric": "accuracy" if kind == "vqa" else "CIDEr", "best": 1.0, "improved": True})
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "run.json").write_text(json.dumps({
        "format": "vqadesk.training-run", "version": 1, "kind": kind, "arguments": ["-m", f"training.{kind}"],
        "status": status, "started": name, "metric": "accuracy" if kind == "vqa" else "CIDEr", "best": 1.0,
    }))
    return folder


def test_runs_persist_and_two_checked_runs_are_overlaid(qtbot, tab, settings, data_dir):
    runs = data_dir / "runs"
    a = write_fake_run(runs, "20240101-000000-vqa", "vqa", [3.0, 2.0, 1.5, 1.0])
    b = write_fake_run(runs, "20240102-000000-captioning", "captioning", [4.0, 3.0])
    c = write_fake_run(runs, "20240103-000000-vqa", "vqa", [2.0, 1.0], status="running")
    again = make_tab(qtbot, settings)  # a fresh tab finds the runs on disk
    try:
        labels = [again.run_list.tree.topLevelItem(i).text(1) for i in range(3)]
        assert labels == ["interrupted", "finished", "finished"]  # "running" on disk, no process: interrupted
        again.run_list.select(a)
        qtbot.waitUntil(lambda: again.plots.point_count(again.plots.loss) == 4, timeout=RUN_MS)
        assert again.plots.accuracy.isVisible() and not again.plots.cider.isVisible()
        assert not again.use_button.isEnabled()  # no best.json
        again.run_list.set_checked(a, True)
        again.run_list.set_checked(b, True)
        qtbot.waitUntil(lambda: len(again.plots.loss.curves) == 2 and again.plots.point_count(again.plots.loss) == 6,
                        timeout=RUN_MS)
        assert again.plots.key.isVisible() and a.name[:4] not in again.plots.key.text()  # short labels
        assert "01-01 00:00:00 VQA" in again.plots.key.text() and "01-02 00:00:00 caption" in again.plots.key.text()
        assert len(again.plots.accuracy.curves) == 1 and len(again.plots.cider.curves) == 1  # each where it fits
        assert again.plots.accuracy.isVisible() and again.plots.cider.isVisible() and again.plots.bleu.isVisible()
        again.run_list.set_checked(c, True)
        qtbot.waitUntil(lambda: len(again.plots.loss.curves) == 3, timeout=RUN_MS)
    finally:
        again.shutdown()


def test_one_run_names_its_lines_in_the_title_and_compared_runs_show_the_chosen_accuracy(qtbot, settings, data_dir):
    runs = data_dir / "runs"
    a = write_fake_run(runs, "20240101-000000-vqa", "vqa", [3.0, 2.0, 1.5, 1.0], yes_no=60.0)
    b = write_fake_run(runs, "20240102-000000-vqa", "vqa", [2.0, 1.0], yes_no=70.0)
    fresh = make_tab(qtbot, settings)
    try:
        plots = fresh.plots
        fresh.run_list.select(a)
        qtbot.waitUntil(lambda: plots.point_count(plots.accuracy) == 8, timeout=RUN_MS)  # 4 series, 2 epochs
        title = plots.accuracy.title_text()
        assert all(name in title for name in ("overall", "yes/no", "number", "other"))  # the key, over no data
        assert "VQA accuracy (validation)" in title and not plots.compared_accuracy.isVisible()
        assert "━" not in plots.loss.title_text()  # one line: no key

        fresh.run_list.set_checked(a, True)
        fresh.run_list.set_checked(b, True)
        qtbot.waitUntil(lambda: len(plots.accuracy.curves) == 2, timeout=RUN_MS)
        assert plots.compared_accuracy.isVisible() and plots.compared_accuracy.currentText() == "overall"
        assert "━" not in plots.accuracy.title_text()  # runs are named by the key above the plots
        overall = sorted(plots.accuracy.curves[k].getData()[1].tolist() for k in range(2))
        assert overall == [[20.0], [20.0, 40.0]]
        plots.compared_accuracy.setCurrentText("yes/no")
        assert len(plots.accuracy.curves) == 2 and "yes/no" in plots.accuracy.title_text()
        yes_no = sorted(plots.accuracy.curves[k].getData()[1].tolist() for k in range(2))
        assert yes_no == [[60.0, 60.0], [70.0]]
        assert plots.point_count(plots.loss) == 6  # the other plots are unchanged
    finally:
        fresh.shutdown()


def test_form_remembers_its_values_and_follows_the_routine(qtbot, settings, data_dir):
    tab = make_tab(qtbot, settings)
    form = tab.form
    assert [form.model.itemText(i) for i in range(form.model.count())] == ["bow", "lstm", "attention"]
    form.model.setCurrentText("attention")
    assert form.grounding.isEnabled() and form.grounding.value() == 1.0  # the routine's default
    form.grounding.setValue(0.5)
    form.model.setCurrentText("bow")
    assert not form.grounding.isEnabled()
    form.set_kind("captioning")
    assert [form.model.itemText(i) for i in range(form.model.count())] == ["lstm", "rnn"]
    assert not form.question_encoder.isEnabled()
    form.model.setCurrentText("rnn")
    form.epochs.setValue(7)
    form.lr.setValue(0.003)
    form.overfit_check.setChecked(True)
    form.overfit.setValue(16)
    one, two, three, mine = (str(fake_root(data_dir.parent / name)) for name in ("one", "two", "three", "mine"))
    tab.set_dataset(one)
    assert form.dataset.text() == one
    tab.set_dataset(two)  # still the app's choice: follows it
    assert form.dataset.text() == two
    form.dataset.clear()
    qtbot.keyClicks(form.dataset, mine)  # typed: the user's own choice wins
    tab.set_dataset(three)
    assert form.dataset.text() == mine
    tab.shutdown()
    again = make_tab(qtbot, settings)
    options = again.form.options(out="/o")
    assert (options.kind, options.model, options.epochs, options.lr, options.overfit, options.data) == (
        "captioning", "rnn", 7, 0.003, 16, mine)
    assert again.form.grounding.value() == 0.5 and not again.form.grounding.isEnabled()
    again.set_dataset(str(fake_root(data_dir.parent / "four")))  # the choice is remembered as the user's
    assert again.form.dataset.text() == mine
    assert all(w.toolTip() for w in (again.form.routine, again.form.dataset, again.form.lr, again.form.overfit,
                                     again.form.max_steps, again.form.threads, again.form.out, again.form.extra,
                                     again.form.grounding))
    # Without an inference worker the probe is off, and says why.
    assert not again.probe_panel.isEnabled() and "inference" in again.probe_panel.toolTip()
    again.shutdown()


def test_plots_follow_a_dark_palette(qtbot, tab):
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Base, QColor(20, 20, 20))
    palette.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
    tab.setPalette(palette)
    qtbot.waitUntil(lambda: tab.plots.loss.backgroundBrush().color() == QColor(20, 20, 20), timeout=RUN_MS)
    axis = tab.plots.loss.getPlotItem().getAxis("left")
    assert axis.textPen().color() == QColor(230, 230, 230)
    assert tab.probe_panel.plot.backgroundBrush().color() == QColor(20, 20, 20)


# -- the process wrapper with stand-in routines (no torch: fast) --------------------------------


def fake_run(tmp_path: Path, script: str) -> RunRecord:

    folder = tmp_path / "fake-run"
    folder.mkdir()
    record = RunRecord(folder=folder, kind="vqa", arguments=["-c", script])
    record.save()
    return record


# The first event line comes in two pieces: the second is written only once the test has seen the
# first arrive (it then creates the file "go" in the run folder, the child's working directory).
SPLIT_OUTPUT = r'''
import json, os, sys, time
sys.stdout.write('{"event": "start", "task": "vqa", "total_steps": 2')
sys.stdout.flush()
deadline = time.monotonic() + 600
while not os.path.exists("go") and time.monotonic() < deadline:
    time.sleep(0.01)
sys.stdout.write(', "steps_per_epoch": 1}\nnot json at all\n')
sys.stdout.flush()
sys.stderr.write("\r 10%|#    | 1/10\r 50%|###  | 5/10\nplain text\n")
sys.stderr.flush()
print(json.dumps({"event": "step", "step": 1, "loss": 2.0}))
print(json.dumps({"event": "done", "step": 1, "stopped": None}), end="")
'''


def test_the_process_reads_split_lines_garbage_and_a_last_line_without_newline(qtbot, tmp_path):
    from vqadesk.gui.training.process import TrainingProcess

    process = TrainingProcess()
    events, logged = [], []
    process.on_event.append(events.append)
    process.on_log.append(logged.extend)
    with qtbot.waitSignal(process.sig_finished, timeout=RUN_MS) as finished:
        process.start(fake_run(tmp_path, SPLIT_OUTPUT))
        qtbot.waitUntil(lambda: process._stdout._partial.startswith('{"event": "start"'), timeout=RUN_MS)
        assert events == []  # half an event line is not an event
        (tmp_path / "fake-run" / "go").touch()
    assert [e["event"] for e in events] == ["start", "step", "done"]
    assert events[0]["steps_per_epoch"] == 1 and process.curves.losses == [2.0]
    assert "not json at all" in logged and " 50%|###  | 5/10" in logged and "plain text" in logged
    assert finished.args[0].status == "finished"
    assert len((tmp_path / "fake-run" / "events.jsonl").read_text().splitlines()) == 3
    assert "plain text" in (tmp_path / "fake-run" / "output.log").read_text()


IGNORES_SIGTERM = r'''
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
'''


def test_stop_kills_a_routine_that_does_not_stop(qtbot, tmp_path):
    from vqadesk.gui.training.process import TrainingProcess

    process = TrainingProcess()
    process._kill_timer.setInterval(300)  # instead of 15 s
    logged = []
    process.on_log.append(logged.extend)
    with qtbot.waitSignal(process.sig_finished, timeout=20000) as finished:
        process.start(fake_run(tmp_path, IGNORES_SIGTERM))
        qtbot.waitUntil(lambda: "ready" in logged, timeout=10000)
        process.stop()
    record = finished.args[0]
    assert record.status == "killed" and "had not stopped" in record.error
    assert not process.is_running()


def test_a_python_that_cannot_start_is_reported(qtbot, tmp_path):
    from vqadesk.gui.training.process import TrainingProcess

    process = TrainingProcess(python=str(tmp_path / "no-such-python"))
    with qtbot.waitSignal(process.sig_finished, timeout=10000) as finished:
        process.start(fake_run(tmp_path, "pass"))
    assert finished.args[0].status == "failed" and "could not start" in finished.args[0].error
    assert read_run(tmp_path / "fake-run").status == "failed"


def test_the_tab_made_in_steps_is_a_whole_tab_and_the_window_can_finish_it_at_once(qtbot, settings, data_dir):
    from vqadesk.gui.main_window import MainWindow
    from vqadesk.gui.training.tab import build_in_steps

    steps, made = 0, None
    for made in build_in_steps(settings, None):  # noqa: B007 - the last one is the tab; what the window runs
        steps += 1
    qtbot.addWidget(made)
    assert isinstance(made, TrainingTab) and steps >= 8
    assert len(made.plots.plots()) == 5 and made.probe_panel.plot is not None and made.form.kind == "vqa"
    made.shutdown()

    window = MainWindow(settings)  # never started: nothing was made in the background
    qtbot.addWidget(window)
    assert window.training_tab is None
    window.tabs.setCurrentIndex(1)  # first needed: made at once
    assert window.training_tab is window.tabs.widget(1) and window.tabs.currentIndex() == 1
    window.close()


def test_deleting_runs_trashes_the_tabs_own_and_only_forgets_a_chosen_folder(qtbot, settings, data_dir, tmp_path,
                                                                                 monkeypatch):
    from PySide6.QtCore import Qt

    from vqadesk.gui.training import run_delete as training_run_delete
    from vqadesk.gui.training.tab import EXTERNAL_RUNS_KEY

    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the desktop trash goes here
    runs = data_dir / "runs"
    a = write_fake_run(runs, "20240101-000000-vqa", "vqa", [3.0, 2.0])
    b = write_fake_run(runs, "20240102-000000-vqa", "vqa", [3.0, 2.0])
    mine = write_fake_run(tmp_path / "mine", "20240103-000000-vqa", "vqa", [2.0, 1.0])
    (mine / "notes.txt").write_text("the user's own file")
    settings.setValue(EXTERNAL_RUNS_KEY, [str(mine)])
    tab = make_tab(qtbot, settings)
    asked: list[str] = []
    try:
        assert tab.run_list.tree.topLevelItemCount() == 3
        tab.run_list.select(a)
        tab.confirm = lambda title, text: asked.append(title) or False
        tab.delete_button.click()
        assert asked == ["Delete run"] and a.is_dir()  # cancelled: nothing happens
        tab.confirm = lambda title, text: asked.append(title) or True
        tab.delete_button.click()
        assert not a.exists() and (tmp_path / "xdg" / "Trash" / "files" / a.name / "run.json").is_file()
        assert tab.run_list.tree.topLevelItemCount() == 2 and "trash" in tab.folder_label.text()

        tab.run_list.select(mine)  # a folder the user chose: the key takes it off the list, its files stay
        tab.activateWindow()
        tab.run_list.tree.setFocus()
        qtbot.waitUntil(tab.run_list.tree.hasFocus, timeout=RUN_MS)
        qtbot.keyClick(tab.run_list.tree, Qt.Key.Key_Delete)
        assert asked[-1] == "Remove run from the list"
        assert (mine / "run.json").is_file() and (mine / "notes.txt").is_file()
        assert tab.run_list.tree.topLevelItemCount() == 1 and not tab._external_runs()

        monkeypatch.setattr(training_run_delete, "move_to_trash", lambda folder: False)  # no trash here
        tab.run_list.select(b)
        tab.delete_button.click()
        assert asked[-2:] == ["Delete run", "Delete run for good"] and not b.exists()
        assert tab.run_list.tree.topLevelItemCount() == 0 and not tab.delete_button.isEnabled()
    finally:
        tab.shutdown()
