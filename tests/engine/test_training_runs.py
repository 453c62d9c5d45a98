"""The Training tab's Qt-free half: reading the event stream, run folders, the command line."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path

import pytest

from vqadesk.engine.torch_free.training_events import (
    ConsoleText,
    EventLineParser,
    RunCurves,
    describe_event,
    parse_event_line,
    read_events_file,
)
from vqadesk.engine.torch_free.training_runs import (
    LineLog,
    ProbeAnswer,
    RunOptionsError,
    RunRecord,
    TrainingOptions,
    append_probe,
    apply_event,
    check_arguments,
    checkpoint_step,
    finish_record,
    list_runs,
    new_run_folder,
    probe_epoch,
    read_log_tail,
    read_probe,
    read_run,
    resumed_record,
    snapshot_checkpoint,
    start_record,
)

START = {"event": "start", "task": "vqa", "config": {"max_steps": None}, "steps_per_epoch": 2, "total_steps": 4,
         "resumed_from_step": None}


def step(n: int, loss: float | None = 1.0) -> dict:
    return {"event": "step", "epoch": 1 + (n - 1) // 2, "step": n, "loss": loss, "lr": 1e-3,
            "samples_per_s": 100.0, "eta_s": 1.5}


def epoch(n: int, accuracy: float) -> dict:
    return {"event": "epoch", "epoch": n, "step": 2 * n, "train_loss": 1.0, "metric": "accuracy", "best": accuracy,
            "improved": True, "metrics": {"accuracy": accuracy,
                                          "per_answer_type": {"yes/no": 50.0, "number": None, "other": 10.0}}}


def lines(*events: dict) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in events).encode()


# -- the stdout parser ------------------------------------------------------------------------


def test_partial_lines_wait_for_their_newline():
    parser = EventLineParser()
    data = lines(START, step(1))
    cut = len(data) - 10
    first = parser.feed(data[:cut])
    assert [e["event"] for e, _ in first.events] == ["start"] and first.text == []
    second = parser.feed(data[cut:])
    assert [e["event"] for e, _ in second.events] == ["step"]
    assert second.events[0][1] == json.dumps(step(1))  # the exact line, for events.jsonl


def test_every_chunking_gives_the_same_events():
    data = lines(START, step(1), step(2), epoch(1, 40.0))
    for size in (1, 3, 7, 64):
        parser = EventLineParser()
        events = []
        for i in range(0, len(data), size):
            events += [e for e, _ in parser.feed(data[i:i + size]).events]
        assert [e["event"] for e in events] == ["start", "step", "step", "epoch"]


def test_garbage_and_non_event_lines_become_text():
    parser = EventLineParser()
    out = parser.feed(b'hello\n{"not closed\n[1, 2]\n{"event": 3}\n\n{"event": "step", "step": 1}\r\nWarning: x\n')
    assert [e["event"] for e, _ in out.events] == ["step"]
    assert out.text == ['hello', '{"not closed', '[1, 2]', '{"event": 3}', "Warning: x"]


def test_a_multibyte_character_split_between_chunks_and_a_last_line_without_newline():
    parser = EventLineParser()
    data = json.dumps({"event": "error", "message": "café ☕"}, ensure_ascii=False).encode()
    cut = data.index("☕".encode()) + 1  # inside the character
    assert parser.feed(data[:cut]).events == []
    assert parser.feed(data[cut:]).events == []  # no newline yet
    events = parser.flush().events
    assert events[0][0]["message"] == "café ☕"


def test_invalid_utf8_does_not_raise():
    out = EventLineParser().feed(b"\xff\xfe broken\n")
    assert out.events == [] and len(out.text) == 1


def test_parse_event_line():
    assert parse_event_line('{"event": "done"}') == {"event": "done"}
    assert parse_event_line("  ") is None
    assert parse_event_line('{"event": null}') is None
    assert parse_event_line("NaN") is None


# -- stderr, tqdm ---------------------------------------------------------------------------


def test_tqdm_redraws_collapse_to_their_last_state():
    console = ConsoleText()
    assert console.feed(b"loading data\n") == ["loading data"]
    assert console.feed(b"\r  0%|   | 0/4\r 25%|#  | 1/4") == []
    assert console.progress_text == " 25%|#  | 1/4"
    assert console.feed(b"\r 50%|## | 2/4") == []
    out = console.feed(b"\nreceived SIGTERM: finishing\n")
    assert out == [" 50%|## | 2/4", "received SIGTERM: finishing"]


def test_pending_redraws_stay_bounded():
    console = ConsoleText()
    for i in range(5000):
        console.feed(f"\r{i:5d}%|####| {i}/5000 [00:01, 3.0step/s]".encode())
    assert len(console._partial) < 200
    assert console.flush() == []  # a bar still on screen at exit is not a message


# -- curves ---------------------------------------------------------------------------------


def test_curves_from_events_with_nulls_and_per_type_series():
    curves = RunCurves()
    for event in (START, step(1), step(2, None), epoch(1, 40.0), step(3), epoch(2, 45.0)):
        curves.add(event)
    assert curves.kind == "vqa" and curves.steps == [1, 2, 3]
    assert math.isnan(curves.losses[1])
    assert curves.epochs == [1.0, 2.0] and curves.series["accuracy"] == [40.0, 45.0]
    assert curves.series["yes/no"] == [50.0, 50.0] and math.isnan(curves.series["number"][0])
    assert curves.best == 45.0 and curves.fraction_done == 0.75


def test_a_resumed_run_replaces_the_steps_after_its_checkpoint():
    curves = RunCurves()
    for event in (START, step(1), step(2), epoch(1, 40.0), step(3), step(4), epoch(2, 42.0)):
        curves.add(event)
    curves.add({**START, "resumed_from_step": 2})
    curves.add(step(3, 0.5))
    assert curves.steps == [1, 2, 3] and curves.losses[-1] == 0.5
    assert curves.epochs == [1.0] and curves.series["accuracy"] == [40.0]
    assert curves.trims == 1  # the plots re-send a trimmed series even if its length comes back


def test_captioning_series_and_max_steps_budget():
    curves = RunCurves()
    curves.add({**START, "task": "captioning", "config": {"max_steps": 3}, "total_steps": 10})
    curves.add({"event": "epoch", "epoch": 1, "step": 2, "metric": "CIDEr", "best": 0.5,
                "metrics": {"BLEU-4": 0.2, "CIDEr": 0.5, "BLEU-1": 0.6}})
    assert set(curves.series) == {"BLEU-4", "CIDEr"} and curves.budget_steps == 3


def test_read_events_file_skips_bad_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(lines(START, step(1)) + b"garbage\n" + lines(step(2))[:-5])
    curves = read_events_file(path)
    assert curves.steps == [1.0]  # the garbage and the cut last line are skipped
    assert read_events_file(tmp_path / "missing.jsonl").steps == []


def test_describe_event():
    assert "resumed from step 2" in describe_event({**START, "resumed_from_step": 2, "device": "CPU"})
    assert describe_event(step(1)) is None
    assert "accuracy 40" in describe_event(epoch(1, 40.0))
    assert "stopped on request" in describe_event({"event": "done", "step": 3, "stopped": "request",
                                                   "metric": "accuracy", "best": None})


# -- options and the command line ------------------------------------------------------------


def test_options_make_the_routine_command_line():
    options = TrainingOptions(kind="vqa", data="/d", out="/o", model="bow", epochs=3, max_steps=5, threads=1,
                              extra="--hidden-dim 32 --weights 'my file.safetensors'")
    args = options.arguments()
    assert args[:2] == ["-m", "training.vqa"]
    assert args[args.index("--max-steps") + 1] == "5" and "--overfit" not in args
    assert args[-4:] == ["--hidden-dim", "32", "--weights", "my file.safetensors"]
    check_arguments("vqa", args[2:])
    assert "--grounding-weight" not in args  # bow does not attend
    assert args[args.index("--precision") + 1] == "auto"  # the form's default
    attention = TrainingOptions(kind="vqa", data="/d", out="/o", model="attention", grounding_weight=0.0).arguments()
    assert attention[attention.index("--grounding-weight") + 1] == "0.0"
    check_arguments("vqa", attention[2:])
    caption = TrainingOptions(kind="captioning", data="/d", out="/o", model="rnn").arguments()
    assert caption[1] == "training.captioning" and "--question-encoder" not in caption
    assert "--grounding-weight" not in caption
    check_arguments("captioning", caption[2:])
    assert TrainingOptions.from_dict(options.to_dict()) == options


@pytest.mark.parametrize("extra, words", [("--lr -1", "--lr"), ("--no-such-option", "unrecognized"),
                                           ("--hidden-dim 'x", "extra arguments")])
def test_bad_options_are_refused_before_a_process_starts(extra, words):
    options = TrainingOptions(kind="vqa", data="/d", out="/o", extra=extra)
    with pytest.raises(RunOptionsError, match=words):
        check_arguments("vqa", options.arguments()[2:])


def test_captioning_refuses_a_vqa_model():
    with pytest.raises(RunOptionsError):
        check_arguments("captioning", TrainingOptions(kind="captioning", data="/d", out="/o",
                                                      model="attention").arguments()[2:])


# -- run folders and records -----------------------------------------------------------------


def test_new_run_folders_are_named_by_time_and_never_reused(tmp_path):
    now = datetime(2024, 5, 6, 7, 8, 9)
    first = new_run_folder(tmp_path, "vqa", now)
    second = new_run_folder(tmp_path, "vqa", now)
    assert first.name == "20240506-070809-vqa" and second.name == "20240506-070809-vqa-2"
    assert first.is_dir() and second.is_dir()


def test_run_records_round_trip_and_list_newest_first(tmp_path):
    options = TrainingOptions(kind="vqa", data="/d", out=str(tmp_path / "a"))
    a = start_record(new_run_folder(tmp_path, "vqa", datetime(2024, 1, 1)), options, options.arguments(), "py")
    b = start_record(new_run_folder(tmp_path, "captioning", datetime(2024, 1, 2)),
                     TrainingOptions(kind="captioning", data="/d", out="/o", model="lstm"), ["-m", "x"], "py")
    b.started = "2099-01-01 00:00:00"
    b.save()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "other").mkdir()
    records = list_runs(tmp_path, extra_folders=(str(tmp_path / "missing"),))
    assert [r.folder for r in records] == [b.folder, a.folder]
    again = read_run(a.folder)
    assert again.arguments == options.arguments() and again.command == ["py", *options.arguments()]
    assert again.status == "running" and again.label == "01-01 00:00:00 VQA"


def test_events_set_the_status_best_and_error(tmp_path):
    record = RunRecord(folder=tmp_path, kind="vqa", arguments=[])
    apply_event(record, START)
    apply_event(record, epoch(1, 40.0))
    assert record.best == 40.0 and record.best_text() == "acc 40.0" and record.total_steps == 4
    apply_event(record, {"event": "done", "step": 3, "stopped": "request"})
    finish_record(record, exit_code=0, crashed=False, stderr_tail=[])
    assert read_run(tmp_path).status == "stopped"

    failed = RunRecord(folder=tmp_path, kind="vqa", arguments=[])
    apply_event(failed, {"event": "error", "message": "no VQA files"})
    finish_record(failed, exit_code=1, crashed=False, stderr_tail=["error: no VQA files"])
    saved = read_run(tmp_path)
    assert (saved.status, saved.error, saved.stderr_tail) == ("failed", "no VQA files", ["error: no VQA files"])

    killed = RunRecord(folder=tmp_path, kind="vqa", arguments=[])
    finish_record(killed, exit_code=None, crashed=True, stderr_tail=[])
    assert read_run(tmp_path).status == "killed" and "killed" in read_run(tmp_path).error

    silent = RunRecord(folder=tmp_path, kind="vqa", arguments=[])
    finish_record(silent, exit_code=2, crashed=False, stderr_tail=["usage: ...", "error: bad option"])
    assert read_run(tmp_path).error == "error: bad option"


def test_resume_appends_the_flag_once(tmp_path):
    record = RunRecord(folder=tmp_path, kind="vqa", arguments=["-m", "training.vqa"], status="stopped",
                       error="x", exit_code=0)
    resumed = resumed_record(resumed_record(record, "py"), "py")
    assert resumed.arguments == ["-m", "training.vqa", "--resume"] and resumed.status == "running"
    assert len(resumed.resumed) == 2 and resumed.error is None


def test_line_log_and_its_tail(tmp_path):
    log = LineLog(tmp_path / "output.log")
    log.write([f"line {i}" for i in range(1000)])
    log.close()
    tail = read_log_tail(tmp_path, max_bytes=100)
    assert tail[-1] == "line 999" and all(line.startswith("line ") for line in tail) and len(tail) < 20
    assert read_log_tail(tmp_path / "nowhere") == []


# -- the probe ------------------------------------------------------------------------------


def test_probe_answers_round_trip(tmp_path):
    answer = ProbeAnswer(epoch=1.0, step=2, image="/i.png", question="what?", answers=[("red", 0.5), ("blue", 0.2)])
    append_probe(tmp_path, answer)
    with open(tmp_path / "probe.jsonl", "a") as handle:
        handle.write("garbage\n")
    append_probe(tmp_path, ProbeAnswer(2.5, 5, "/i.png", "what?", []))
    assert read_probe(tmp_path) == [answer, ProbeAnswer(2.5, 5, "/i.png", "what?", [])]
    assert probe_epoch(5, 2) == 2.5 and probe_epoch(4, None) == 4.0


def test_a_snapshot_keeps_its_content_when_the_checkpoint_is_replaced(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "last.json").write_text(json.dumps({"metadata": {"step": 2}}))
    (folder / "last.safetensors").write_bytes(b"epoch 1")
    snapshot = snapshot_checkpoint(folder / "last.json", folder / "snap")
    # The routine's atomic write: a new file renamed over the old one.
    (folder / "new.json").write_text(json.dumps({"metadata": {"step": 4}}))
    (folder / "new.safetensors").write_bytes(b"epoch 2")
    os.replace(folder / "new.json", folder / "last.json")
    os.replace(folder / "new.safetensors", folder / "last.safetensors")
    assert checkpoint_step(snapshot) == 2 and (folder / "snap" / "last.safetensors").read_bytes() == b"epoch 1"
    assert checkpoint_step(folder / "last.json") == 4 and checkpoint_step(folder / "nope.json") is None


def test_runs_root_follows_the_data_dir(tmp_path, monkeypatch):
    from vqadesk.engine.torch_free.training_runs import runs_root

    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path))
    assert runs_root() == Path(tmp_path) / "runs" and runs_root().is_dir()
