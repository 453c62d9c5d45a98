"""JSON reading with errors naming the file and field; atomic writing."""

from __future__ import annotations

import json
import os
import stat

import pytest

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import expect, field, optional_field, read_json, write_json_atomic


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"  \n", "file is empty"),
        (b'{"a": 1,}', "malformed JSON at line 1, column 9"),
        (b'{"a":\n [1, 2', "malformed JSON at line 2"),
        (b"{\"a\": \"\xff\"}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_read_json_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as caught:
        read_json(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_read_json_missing_file_and_folder(tmp_path):
    with pytest.raises(DataFormatError, match="file not found"):
        read_json(tmp_path / "nope.json")
    with pytest.raises(DataFormatError, match="is a folder"):
        read_json(tmp_path)


def test_field_names_the_path_in_errors():
    obj = {"images": [{"id": "seven"}], "flag": True}
    with pytest.raises(DataFormatError, match=r"field 'images\[0\]\.id': expected an integer, got a string"):
        field(obj["images"][0], "id", int, "x.json", "images[0]")
    with pytest.raises(DataFormatError, match=r"field 'images\[0\]\.width': missing"):
        field(obj["images"][0], "width", int, "x.json", "images[0]")
    with pytest.raises(DataFormatError, match="expected an object, got a list"):
        field(obj["images"], "id", int, "x.json", "images")


def test_expect_rejects_booleans_as_numbers_and_accepts_ints_as_floats():
    assert expect(3, float, "x.json", "area") == 3
    with pytest.raises(DataFormatError, match="got true or false"):
        expect(True, int, "x.json", "id")
    assert expect(True, bool, "x.json", "flag") is True


def test_optional_field_defaults_and_checks():
    assert optional_field({}, "license", int, "x.json", default=0) == 0
    assert optional_field({"license": None}, "license", int, "x.json", default=0) == 0
    with pytest.raises(DataFormatError, match="field 'license'"):
        optional_field({"license": "cc"}, "license", int, "x.json")


def test_write_json_atomic_round_trip_and_permissions(tmp_path):
    path = tmp_path / "deep" / "out.json"
    data = {"caption": "ünïcödé ☂", "ids": [1, 2, 3]}
    write_json_atomic(path, data)
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert "ünïcödé" in path.read_text(encoding="utf-8")  # not \\u-escaped
    mode = stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_write_json_atomic_keeps_the_old_file_when_encoding_fails(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
