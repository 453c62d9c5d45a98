"""Running ``vqadesk`` in the test's own process, and the shape every user error must have."""

from __future__ import annotations

from pathlib import Path

from vqadesk.cli.main import main


def run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    """``vqadesk ARGV``: the exit code, stdout and stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit 1 and one ``vqadesk: error:`` line on stderr holding every fragment; no traceback."""
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vqadesk: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
