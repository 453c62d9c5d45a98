"""The Training tab's run-folder rules, the routine's own (issue 16, item 2): a folder a live run holds is
refused, an old run there needs Resume or a confirmed Overwrite, and Resume never passes --overwrite."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings

from tests.gui.test_gui_training import fill, make_tab, start_and_wait
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.run_folder import lock_run_folder
from vqadesk.engine.torch_free.training_runs import read_run, run_folder_in_use, with_resume


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=8, seed=3)
    return root


@pytest.fixture
def tab(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    widget = make_tab(qtbot, settings)
    yield widget
    widget.shutdown()


def old_run(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "last.json").write_text("{}", encoding="utf-8")
    (folder / "events.jsonl").write_text(json.dumps({"event": "start"}) + "\n", encoding="utf-8")
    return folder


def test_a_folder_a_live_run_holds_is_refused(qtbot, tab, shapes, tmp_path):
    folder = tmp_path / "busy"
    folder.mkdir()
    assert not run_folder_in_use(folder)
    lock = lock_run_folder(folder)  # what a running routine holds for its life
    try:
        assert run_folder_in_use(folder)
        fill(tab, shapes)
        tab.form.out.setText(str(folder))
        tab.form.overwrite.setChecked(True)  # not even an overwrite takes a live run's folder
        tab.start_run()
        assert not tab.is_running() and "another training run is writing" in tab.report.text()
        assert not (folder / "run.json").exists()
    finally:
        lock.close()
    assert not run_folder_in_use(folder)  # the lock goes with its holder


def test_an_old_run_needs_resume_or_a_confirmed_overwrite(qtbot, tab, shapes, tmp_path, monkeypatch):
    folder = old_run(tmp_path / "old")
    fill(tab, shapes)
    tab.form.out.setText(str(folder))
    tab.start_run()
    assert not tab.is_running() and "already holds a run" in tab.report.text() and "Resume" in tab.report.text()
    asked = []
    tab.confirm = lambda title, text: asked.append(text) or False
    tab.form.overwrite.setChecked(True)
    tab.start_run()  # asked, and the answer was no: nothing changes
    assert len(asked) == 1 and str(folder) in asked[0]
    assert not tab.is_running() and (folder / "events.jsonl").exists() and (folder / "last.json").exists()


def test_a_confirmed_overwrite_starts_afresh_in_the_old_folder(qtbot, tab, shapes, tmp_path):
    folder = old_run(tmp_path / "old")
    fill(tab, shapes, epochs=1, max_steps=1)
    tab.form.out.setText(str(folder))
    tab.form.overwrite.setChecked(True)
    tab.confirm = lambda title, text: True
    record = start_and_wait(qtbot, tab)
    assert record.status == "finished", record.error
    assert "--overwrite" in record.arguments and read_run(folder).status == "finished"
    assert not tab.form.overwrite.isChecked()  # one overwrite, not a standing order
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[0]["event"] == "start" and "config" in events[0]  # the new run's only: the old line is gone
    assert "--overwrite" not in with_resume(record.arguments) and "--resume" in with_resume(record.arguments)


def test_resume_is_refused_while_another_process_holds_the_run(qtbot, tab, tmp_path):
    folder = old_run(tmp_path / "stopped")
    (folder / "last.safetensors").write_bytes(b"")
    (folder / "run.json").write_text(json.dumps({
        "format": "vqadesk.training-run", "kind": "vqa", "arguments": ["-m", "training.vqa", "--out", str(folder)],
        "options": {}, "started": "2026-01-01 00:00:00", "status": "stopped"}), encoding="utf-8")
    tab.settings.setValue("training/external_runs", [str(folder)])
    tab.refresh_runs()
    tab.run_list.select(folder)
    record = tab.run_list.current_record()
    assert record is not None and record.can_resume(), "the stopped run should be resumable"
    lock = lock_run_folder(folder)
    try:
        tab.resume_run()
        assert not tab.is_running() and "another training run is writing" in tab.report.text()
    finally:
        lock.close()
