"""JSON in and out, with errors that name the file and the field.

Every reader of COCO / VQA v2 / results files goes through ``read_json`` and
the ``field`` helpers, so a malformed file or a missing key ends in one
``DataFormatError`` ("captions_val2014.json: field 'annotations[12].caption':
missing") instead of a ``KeyError`` traceback. ``write_json_atomic`` writes to
a temporary file in the same folder and renames it, so a crash never leaves a
half-written file behind.

``read_json`` refuses hostile files before and while parsing, each with one
line naming the file (and the field where there is one): anything but a
regular file (a FIFO would block forever, ``/dev/urandom`` never ends),
a file over ``MAX_JSON_BYTES``, an integer too long for Python to convert,
and text holding a lone UTF-16 surrogate (``"\\ud800"``: valid JSON, but not
text that can be encoded, tokenised or written back). ``expect`` refuses
integers outside signed 64 bits wherever an integer is read, so ids fit the
``int64`` arrays the caches and training use. docs/data-formats.md, "Limits".
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar, Literal, NoReturn, Self

from vqadesk.errors import DataFormatError

PathLike = str | os.PathLike[str]
Types = type | tuple[type, ...]  # what ``expect`` accepts: one type or several

_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


# The largest JSON file read (VQA v2 train annotations are 332 MB, COCO 2017
# instances 448 MB); parsing takes about ten times the file's size in memory.
MAX_JSON_BYTES = 1 << 30

# Integers JSON fields may hold: what an int64 array stores.
INT64_MIN, INT64_END = -(1 << 63), 1 << 63

# A JSON escape of a UTF-16 surrogate (\ud800-\udfff). Only a file holding one
# is walked for a lone surrogate; a pair (an escaped emoji) decodes to one character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_DIGITS = re.compile(rb"\d{%d,}" % 4301)


def read_json(path: PathLike, *, max_bytes: int | None = None) -> Any:
    """Parse a JSON file; any failure becomes a ``DataFormatError`` naming it.

    ``max_bytes`` (default ``MAX_JSON_BYTES``) bounds the file's size.
    """
    path = Path(path)
    raw = read_regular_file(path, MAX_JSON_BYTES if max_bytes is None else max_bytes, "JSON file")
    if not raw.strip():
        raise DataFormatError(path, "file is empty, expected JSON")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            path, f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise DataFormatError(path, "JSON nested too deeply") from None
    except ValueError as exc:  # Python's int-string conversion limit (4,300 digits)
        raise DataFormatError(path, _long_number_problem(raw) or f"cannot be parsed ({exc})") from None
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(data, path)
    return data


def read_regular_file(path: Path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes``.

    Opened without blocking, so a FIFO (or a device) is refused at once
    instead of hanging the reader; the size is checked on the open file and
    the read stops one byte past it, so a file growing meanwhile is refused too.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except IsADirectoryError:
        raise DataFormatError(path, f"is a folder, expected a {what}") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DataFormatError(path, f"is a folder, expected a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise DataFormatError(path, f"is not a regular file ({kind_of_file(info.st_mode)}), expected a {what}")
        if info.st_size > max_bytes:
            raise DataFormatError(path, f"is {_mib(info.st_size)}, larger than the {_mib(max_bytes)} a {what} may be")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise DataFormatError(path, f"grew past the {_mib(max_bytes)} a {what} may be while it was read")
    return raw


def kind_of_file(mode: int) -> str:
    """'a FIFO', 'a device', ... for a message refusing a file that is not a regular one."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size:,} bytes"


def _long_number_problem(raw: bytes) -> str | None:
    """Where the first integer longer than Python converts sits, as a message; None if none does."""
    found = _LONG_DIGITS.search(raw)
    if found is None:
        return None
    start = found.start()
    while start > 0 and raw[start - 1 : start].isdigit():
        start -= 1
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    end = found.end()
    while end < len(raw) and raw[end : end + 1].isdigit():
        end += 1
    return f"a number of {end - start:,} digits at line {line}, column {column} (at most 4,300 are read)"


def refuse_lone_surrogates(raw: bytes, data: Any, path: PathLike, where: str = "") -> None:
    """For JSON parsed from ``raw`` by another reader than ``read_json`` (JSON lines): raise naming the
    first string of ``data`` holding a lone UTF-16 surrogate, the way ``read_json`` does; ``where``
    prefixes the field ("line 12")."""
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(data, Path(path), where)


def _refuse_lone_surrogates(data: Any, path: Path, root: str = "") -> None:
    """Raise naming the first string (or key) of ``data`` holding a lone surrogate."""
    stack: list[tuple[Any, str]] = [(data, root)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise DataFormatError(path, "text with a lone UTF-16 surrogate (not valid Unicode)", where or None)
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                name = f"{where}.{key}" if where else str(key)
                if not key.isascii() and _SURROGATE.search(key):
                    raise DataFormatError(path, "a key with a lone UTF-16 surrogate (not valid Unicode)", where or None)
                stack.append((item, name))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(value))))


def write_json_atomic(path: PathLike, obj: Any, *, indent: int | None = None) -> None:
    """Write ``obj`` as UTF-8 JSON via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps in one go uses the C encoder; json.dump streams through the
    # pure-Python one, much slower on dataset-sized files (docs/data-formats.md, "Speed").
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    with atomic_file(path, "w") as handle:
        handle.write(text)


@contextmanager
def atomic_file(path: Path, mode: Literal["w", "wb"]) -> Iterator[IO[Any]]:
    """A temporary file beside ``path`` (UTF-8 text for ``"w"``) that replaces ``path`` once the block ends.

    It is flushed to disk before the rename; if the block raises, the
    temporary file is removed and ``path`` is left as it was. mkstemp creates
    the file 0600; it is given the permissions a plain ``open()`` would have
    (0666 less the umask) before the rename: the one policy of every file
    vqadesk writes, caches included, so others can read shared datasets.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, plain_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def plain_file_mode() -> int:
    """The permissions a plain ``open()`` gives a new file (0666 less the umask): every file vqadesk writes."""
    return 0o666 & ~_UMASK


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import time,
    # rather than racing other threads on every write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def describe_type(value: Any) -> str:
    """'an object', 'a list', ... as used in error messages."""
    if isinstance(value, bool):
        return _TYPE_NAMES[bool]
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def expect(value: Any, types: Types, path: PathLike, field: str) -> Any:
    """Return ``value`` if it has one of ``types``, else raise naming ``field``.

    ``bool`` is not accepted where ``int`` or ``float`` is asked for (JSON
    ``true`` is not an id), and ``int`` is accepted where ``float`` is.
    """
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:
        ok = False
    elif float in wanted and isinstance(value, int):
        ok = True
    else:
        ok = isinstance(value, wanted)
    if not ok:
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in wanted)
        raise DataFormatError(path, f"expected {names}, got {describe_type(value)}", field)
    if type(value) is int and not INT64_MIN <= value < INT64_END:
        raise DataFormatError(path, out_of_int64(value), field)
    return value


def out_of_int64(value: int) -> str:
    """The problem of an integer beyond signed 64 bits, for an error message."""
    return f"an integer of {len(str(abs(value)))} digits, beyond the 64-bit range read here"


def int64(value: Any) -> bool:
    """Whether ``value`` is an ``int`` (not a bool) that fits signed 64 bits: the readers' fast check."""
    return type(value) is int and INT64_MIN <= value < INT64_END


def field(obj: Any, key: str, types: Types, path: PathLike, where: str = "") -> Any:
    """``obj[key]`` checked for presence and type; ``where`` prefixes the field name.

    >>> field({"id": 3}, "id", int, "x.json", "images[0]")
    3
    """
    name = f"{where}.{key}" if where else key
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"expected an object, got {describe_type(obj)}", where or None)
    try:
        value = obj[key]
    except KeyError:
        raise DataFormatError(path, "missing", name) from None
    return expect(value, types, path, name)


def optional_field(obj: dict, key: str, types: Types, path: PathLike, where: str = "", default: Any = None) -> Any:
    """Like ``field`` but returns ``default`` when the key is absent (or null)."""
    value = obj.get(key)
    if value is None:
        return default
    return expect(value, types, path, f"{where}.{key}" if where else key)


def two_ids_and_text(entries: list[Any], keys: tuple[str, str, str], path: PathLike, where: str,
                     what: str) -> list[tuple[int, int, str]]:
    """``(entry[keys[0]], entry[keys[1]], entry[keys[2]])`` of every entry: two integers and a string.

    One fast pass for files of a million entries (captions, questions); only a
    bad entry pays for ``field``'s precise message (``{where}[i].key``), or
    says it is not a valid ``what``.
    """
    first_key, second_key, text_key = keys
    rows: list[tuple[int, int, str]] = []
    append = rows.append
    for position, raw in enumerate(entries):
        try:
            first, second, text = raw[first_key], raw[second_key], raw[text_key]
        except (KeyError, TypeError, IndexError):
            _raise_entry_problem(raw, keys, path, f"{where}[{position}]", what)
        if not int64(first) or not int64(second) or type(text) is not str:
            _raise_entry_problem(raw, keys, path, f"{where}[{position}]", what)
        append((first, second, text))
    return rows


def _raise_entry_problem(raw: Any, keys: tuple[str, str, str], path: PathLike, where: str, what: str) -> NoReturn:
    for key, types in zip(keys, (int, int, str)):
        field(raw, key, types, path, where)
    raise DataFormatError(path, f"not a valid {what}", where)  # not reached


def check_format(
    data: Any,
    *,
    name: str,
    version: int,
    source: PathLike,
    where: str = "",
    what: str,
    version_label: str = "version",
) -> None:
    """Check the ``"format"`` / ``"version"`` header of one of vqadesk's own files.

    ``data["format"]`` must be the string ``name`` and ``data["version"]`` the
    integer ``version``, else a ``DataFormatError`` names the field
    (``{where}.format`` / ``{where}.version``). ``what`` says, article included,
    what the object should have been ("not a vqadesk vocabulary");
    ``version_label`` words the version problem ("unsupported vocabulary version 2").
    """
    prefix = f"{where}." if where else ""
    found = field(data, "format", str, source, where)
    if found != name:
        raise DataFormatError(source, f"expected {name!r}, got {found!r} (not {what})", f"{prefix}format")
    found_version = field(data, "version", int, source, where)
    if found_version != version:
        raise DataFormatError(
            source,
            f"unsupported {version_label} {found_version} (this vqadesk reads {version})",
            f"{prefix}version",
        )


class JsonBacked:
    """A record stored as one JSON object: the class gives ``to_dict`` and ``from_dict``, this the rest.

    ``from_dict(data, source=...)`` checks ``data`` field by field and names
    ``source`` in its errors. ``JSON_INDENT`` is the files' indentation.
    """

    JSON_INDENT: ClassVar[int | None] = None

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: Any, *, source: PathLike = "<JSON>", where: str = "") -> Self:
        raise NotImplementedError

    def __reduce__(self):
        # Read-only mapping proxies cannot be pickled; rebuild from the JSON
        # form instead (DataLoader workers started with spawn pickle datasets).
        return (_from_dict_for_pickle, (type(self), self.to_dict()))

    def to_json(self, path: PathLike) -> None:
        """Write ``to_dict()`` to ``path`` atomically (temporary file, then rename)."""
        write_json_atomic(path, self.to_dict(), indent=self.JSON_INDENT)

    @classmethod
    def from_json(cls, path: PathLike) -> Self:
        """Read a file written by ``to_json``; a bad one raises ``DataFormatError`` naming the field."""
        return cls.from_dict(read_json(path), source=path)


def _from_dict_for_pickle(cls: type[JsonBacked], data: dict[str, Any]) -> Any:
    return cls.from_dict(data)
