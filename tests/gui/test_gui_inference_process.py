"""The worker processes behind the window: the inference process, the split reader, the GUI's gaps.

The window's models live in a child process (``gui/background/inference.py`` +
``engine/torch_free/inference_protocol.py``): the GUI process never imports torch, a
killed child is a message and is started again, closing ends it. Big splits
are parsed by a child that writes the index cache (``gui/background/split_process.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.support.gui_windows import started_window
from tests.support.inference_models import TinyModels, tiny_models
from tests.support.process_jobs import child_pid, fail, hold_then, sleep_then
from vqadesk.engine.torch_free.inference_protocol import Job, pack_job, serve
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.responsiveness import EventLoopMonitor

WAIT_MS = 90000  # a busy 2-core machine: a child's torch import and model loads take seconds
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture
def window(qtbot, tmp_path, models, monkeypatch):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("models/vqa", str(models.vqa))
    settings.setValue("models/captioner", str(models.captioner))
    win = started_window(qtbot, settings, models.shapes, WAIT_MS)
    yield win
    win.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # a zombie has ended


def ask_and_wait(qtbot, window, question: str = "what color is the circle?"):
    with qtbot.waitSignal(window.ask_panel.sig_answered, timeout=WAIT_MS):
        window.ask_panel.ask(question)
    return window.ask_panel.prediction


# -- the job protocol, without Qt ---------------------------------------------------------------------


def test_jobs_are_descriptions_and_lambdas_are_refused():
    assert Job(PoolApi.ask, ("a.png", "what?"), {"top_k": 3}).name == "ask"
    assert Job(sleep_then, (0, 1)).run(None) == 1
    with pytest.raises(TypeError, match="module-level"):
        Job(lambda pool: pool)
    with pytest.raises(ValueError, match="not a ModelPool method"):
        Job("_require")


def test_the_server_loop_answers_reports_errors_and_stops():
    import multiprocessing

    ours, theirs = multiprocessing.Pipe()
    server = threading.Thread(target=serve, args=(theirs, "cpu", False))  # no models: no torch needed
    server.start()
    assert ours.recv() == ("ready", None)
    ours.send(("job", 1, pack_job(Job(sleep_then, (0, {"x": 1})))))
    kind, request_id, result, seconds = ours.recv()
    assert (kind, request_id, result) == ("done", 1, {"x": 1}) and seconds >= 0
    ours.send(("job", 2, pack_job(Job(fail, ("bad input",)))))
    assert ours.recv() == ("error", 2, "internal error: ValueError: bad input")
    ours.send(("stop",))
    server.join(timeout=10)
    assert not server.is_alive()


# -- the inference process -------------------------------------------------------------------------


def test_the_gui_process_never_imports_torch(models, tmp_path):
    """A fresh interpreter (this one has torch for the tiny models): window ready, a question answered,
    the Models tab's pretrained models listed; neither torch nor transformers is loaded."""
    script = f"""
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["VQADESK_DATA_DIR"] = {str(tmp_path / "data")!r}
def main():
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from vqadesk.gui.main_window import MainWindow
    settings = QSettings({str(tmp_path / "settings.ini")!r}, QSettings.Format.IniFormat)
    settings.setValue("models/vqa", {str(models.vqa)!r})
    settings.setValue("models/captioner", {str(models.captioner)!r})
    window = MainWindow(settings, device="cpu")
    window.show()
    done = []
    window.sig_ready.connect(lambda: done.append("ready"))
    window.ask_panel.sig_answered.connect(lambda *_: done.append("answered"))
    def wait(what):
        end = time.time() + 120
        while what not in done and time.time() < end:
            app.processEvents(); time.sleep(0.005)
    window.start({str(models.shapes)!r})
    wait("ready")
    torch_after_ready = "torch" in sys.modules
    window.ask_panel.ask("what color is the circle?")
    wait("answered")
    window.show_side_tab("Models")
    window.models_panel.refresh_hub()
    pid = window.inference.process_id
    report = dict(done=done, torch_after_ready=torch_after_ready, torch_after_answer="torch" in sys.modules,
                  transformers="transformers" in sys.modules,
                  device=window.device_label.text(), models=window.models_label.text(), pid=pid,
                  answer=window.ask_panel.prediction.best.text if window.ask_panel.prediction else None)
    window.close()
    print(json.dumps(report))
if __name__ == "__main__":
    main()
"""
    path = tmp_path / "gui_without_torch.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["done"][:2] == ["ready", "answered"] and report["answer"]
    assert report["torch_after_ready"] is False and report["torch_after_answer"] is False
    assert report["transformers"] is False
    assert report["device"].startswith("CPU") and "best" in report["models"]  # status bar still told
    assert not alive(report["pid"])  # closing the window ended the inference process


def test_a_killed_inference_process_is_a_message_and_the_app_carries_on(qtbot, window, tmp_path):
    pid = window.inference.process_id
    assert pid is not None and alive(pid)
    # Killed while idle: the window says so at once, a new process loads the same models.
    failed = []
    window.inference.sig_failed.connect(failed.append)
    with qtbot.waitSignal(window.inference.sig_models_changed, timeout=WAIT_MS) as restarted:
        os.kill(pid, signal.SIGKILL)
    assert failed and "stopped unexpectedly (killed by SIGKILL)" in failed[0]
    assert "stopped unexpectedly" in window.last_notice.text()
    assert restarted.args[0].vqa_path == window.inference.models.vqa_path is not None
    assert window.inference.process_id not in (None, pid)
    assert ask_and_wait(qtbot, window).answers

    # Killed while it runs a job: that job's panel gets the reason, the next job works.
    errors = []
    started = tmp_path / "started"
    window.inference.submit("slow", hold_then, str(started), str(tmp_path / "never"), "never", on_error=errors.append)
    qtbot.waitUntil(started.exists, timeout=WAIT_MS)  # the child is in the job
    assert int(started.read_text()) == window.inference.process_id
    with qtbot.waitSignal(window.inference.sig_models_changed, timeout=WAIT_MS):
        os.kill(window.inference.process_id, signal.SIGKILL)
    assert errors and errors[0].startswith("the inference process stopped unexpectedly (killed by SIGKILL)")
    assert ask_and_wait(qtbot, window).answers


def test_shutdown_ends_the_process_even_in_a_job_that_would_not_end(qtbot, tmp_path):
    """The child is stopped, not waited for. How long that takes is
    benchmarks/bench_inference_shutdown.py's figure (docs/benchmarks.md)."""
    client = InferenceClient(device="cpu", models=False)
    with qtbot.waitSignal(client.sig_ready, timeout=WAIT_MS):
        client.start()
    results = []
    with qtbot.waitSignal(client.sig_job_finished, timeout=WAIT_MS):
        client.submit("pid", child_pid, on_done=results.append)
    pid = client.process_id
    assert results == [pid] and pid != os.getpid()
    started, finished = tmp_path / "started", []
    client.submit("slow", hold_then, str(started), str(tmp_path / "never"), "never", on_done=finished.append)
    qtbot.waitUntil(started.exists, timeout=WAIT_MS)  # the child is in the job, which never ends by itself
    client.shutdown()  # waits for its thread at most 10 s; waiting for the job instead would leave the child alive
    assert not alive(pid) and finished == []


def test_the_gui_thread_keeps_ticking_while_the_inference_process_works(qtbot, window, tmp_path):
    """The window's event loop runs on while a job holds the child. How long the GUI thread may
    stall (the <= 50 ms target) is benchmarks/bench_gui_responsiveness.py's figure, not a test's."""
    ask_and_wait(qtbot, window)  # first answer: charts and caches warm
    monitor = EventLoopMonitor()
    monitor.start()
    started, release, done = tmp_path / "started", tmp_path / "release", []
    window.inference.submit("held", hold_then, str(started), str(release), "released", on_done=done.append)
    qtbot.waitUntil(started.exists, timeout=WAIT_MS)
    ticks = len(monitor.gaps_ms)
    qtbot.waitUntil(lambda: len(monitor.gaps_ms) >= ticks + 20, timeout=WAIT_MS)
    assert done == []  # twenty ticks of the GUI thread's timer while the job was still running
    release.touch()
    qtbot.waitUntil(lambda: done == ["released"], timeout=WAIT_MS)
    for question in ("what color is the circle?", "how many shapes are there?", "is there a square?"):
        assert ask_and_wait(qtbot, window, question).answers  # answers keep coming with the monitor running
    monitor.stop()


# -- opening a big split in a child process ----------------------------------------------------------


def write_big_coco(root: Path, images: int = 14000) -> Path:
    """A captions-only COCO root over the index cache's size threshold (no photos needed to open it)."""
    from vqadesk.data.split_cache import CACHE_MIN_BYTES

    (root / "annotations").mkdir(parents=True)
    (root / "val2014").mkdir()
    words = "a long caption about a picture with many words in it number"
    records = [{"id": i, "file_name": f"COCO_val2014_{i:012d}.jpg", "width": 64, "height": 48} for i in range(images)]
    captions = [{"id": i * 10 + k, "image_id": i, "caption": f"{words} {i} {k} {words}"}
                for i in range(images) for k in range(5)]
    path = root / "annotations" / "captions_val2014.json"
    path.write_text(json.dumps({"images": records, "annotations": captions}))
    assert path.stat().st_size > CACHE_MIN_BYTES
    return root


@pytest.fixture
def split_children(tmp_path, monkeypatch) -> list[str]:
    """The functions the split reader ran in child processes, in order (a fresh data folder)."""
    from vqadesk.gui.background import split_process

    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    children: list[str] = []
    real = split_process.run_in_child
    monkeypatch.setattr(split_process, "run_in_child", lambda *a: children.append(a[0].__name__) or real(*a))
    return children


def test_a_big_split_is_parsed_by_a_child_that_writes_the_index_cache(tmp_path, split_children):
    from vqadesk.gui.background import split_process

    root = write_big_coco(tmp_path / "coco")
    dataset = split_process.open_dataset_via_child(root)
    assert split_children == ["build_split_cache"]
    split = dataset.split("val2014")
    assert len(split.image_ids) == 14000 and split.coco.captions(7)[0].caption.endswith("number")
    # The second time the cache is current: no child.
    again = split_process.open_dataset_via_child(root)
    assert split_children == ["build_split_cache"] and len(again.split("val2014").image_ids) == 14000


def test_file_open_coco_dataset_parses_a_big_file_in_a_child_too(tmp_path, split_children):
    from vqadesk.gui.background import split_process

    root = write_big_coco(tmp_path / "coco")
    annotations, images = root / "annotations" / "captions_val2014.json", root / "val2014"
    dataset = split_process.open_coco_files_via_child(annotations, images)
    assert split_children == ["build_split_cache"] and len(dataset.split("val2014").image_ids) == 14000
    split_process.open_coco_files_via_child(annotations, images)
    assert split_children == ["build_split_cache"]  # cached now
    with pytest.raises(VqadeskError, match="no-such.json"):  # a missing file is named, no child started
        split_process.open_coco_files_via_child(root / "annotations" / "no-such.json", images)
    assert split_children == ["build_split_cache"]


def test_a_small_split_opens_in_process_and_a_broken_big_one_names_its_file(tmp_path, monkeypatch, models):
    from vqadesk.gui.background import split_process

    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(split_process, "run_in_child", lambda *a: pytest.fail("no child for a small split"))
    assert split_process.open_dataset_via_child(models.shapes).split_names == ["train", "val"]
    monkeypatch.undo()
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))

    root = write_big_coco(tmp_path / "broken")
    path = root / "annotations" / "captions_val2014.json"
    path.write_text(path.read_text()[:-100])  # cut off: not JSON any more
    with pytest.raises(split_process.SplitOpenError, match="captions_val2014.json"):
        split_process.open_dataset_via_child(root)
