"""The one exit-code policy of every entry point (``vqadesk.errors.run_entry_point``)."""

from __future__ import annotations

import pytest

from vqadesk.errors import VqadeskError, run_entry_point


def raising(exc: BaseException):
    def body():
        raise exc

    return body


def test_the_body_gives_the_code(capsys):
    assert run_entry_point(lambda: None) == 0
    assert run_entry_point(lambda: 2) == 2
    assert capsys.readouterr().err == ""


def test_a_users_error_is_its_one_line(capsys):
    reported = []
    code = run_entry_point(raising(VqadeskError("a.json: missing")), prefix="vqadesk: ", report=reported.append)
    assert code == 1
    assert capsys.readouterr().err == "vqadesk: error: a.json: missing\n"
    assert reported == ["a.json: missing"]


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_one_line_and_the_traceback_only_on_request(capsys, monkeypatch, debug):
    if debug:
        monkeypatch.setenv("VQADESK_DEBUG", "1")
    else:
        monkeypatch.delenv("VQADESK_DEBUG", raising=False)
    reported = []
    code = run_entry_point(raising(ValueError("bad")), bug_hint="please report it; ", report=reported.append)
    err = capsys.readouterr().err
    assert code == 3
    assert err.endswith(
        "internal error: ValueError: bad (please report it; set VQADESK_DEBUG=1 to see the traceback)\n"
    )
    assert ("Traceback" in err) is debug
    assert reported == ["internal error: ValueError: bad"]


def test_interrupted(capsys):
    assert run_entry_point(raising(KeyboardInterrupt()), prefix="vqadesk: ") == 130
    assert capsys.readouterr().err == "vqadesk: interrupted\n"


def test_a_closed_pipe_is_quiet_only_where_asked(capsys):
    assert run_entry_point(raising(BrokenPipeError()), quiet_broken_pipe=True) == 0
    assert capsys.readouterr().err == ""
    assert run_entry_point(raising(BrokenPipeError("pipe"))) == 3
