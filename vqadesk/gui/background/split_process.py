"""Opening a big split without freezing the window: its JSON is parsed in a child process.

``json.loads`` of a 35 MB annotations file is one C call of about a second
that holds the GIL all along, so parsing it in a pool thread of the GUI
process stalls the GUI thread just as long. A split big enough for the index
cache (``data/split_cache.py``, ``CACHE_MIN_BYTES``) and not cached yet is
therefore parsed by a child process (multiprocessing "spawn": a fresh
interpreter), which writes the cache entry; the pool thread then opens the
split as usual and reads that entry (compact arrays, no JSON). A split whose
entry is current, or that is too small to be cached (the Shapes world), is
opened directly, as is one the child could not cache (no writable place,
images that are the folder's photos: remembered, so the child is not tried
again until the files change) or when no child can be started.

Qt-free (it runs in the child too); called from pool threads. The child's
errors come back as their one-line message (``SplitOpenError``); the window
ends running children when it closes (``stop_children``).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vqadesk.data.coco import dataset_root_files
from vqadesk.data.dataset import (
    Dataset,
    DatasetSplit,
    coco_split_files,
    find_vqa_files,
    locate_splits,
    open_coco_files,
    open_dataset,
)
from vqadesk.data.split_cache import CACHE_MIN_BYTES, SplitFiles, load_split, split_cache_looks_current
from vqadesk.engine.torch_free.inference_protocol import describe_exit, ignore_interrupts, lower_priority
from vqadesk.errors import VqadeskError, error_message

POLL_S = 0.1
JOIN_S = 1.0


class SplitOpenError(VqadeskError):
    """The child could not read the split: its message (a bad file names the file, as in-process)."""


class _NoChild(Exception):  # noqa: N818 - a signal to fall back, not an error
    """No child process could be started: open in this process instead."""


_children: set = set()  # running child processes, for stop_children
_lock = threading.Lock()
_uncacheable: set[tuple] = set()  # inputs (with sizes and times) the child parsed but could not cache


# -- what the GUI's pool threads call -------------------------------------------------------------


def open_dataset_via_child(path: str | Path, split: str | None = None) -> Dataset:
    """``open_dataset(path, split)``, the shown split's index cache built by a child first when needed."""
    root = Path(path).expanduser()
    if root.is_dir():
        root, _splits, first = locate_splits(root, split)  # a split folder: open_dataset opens its root
        if first is not None:
            prepare_split(root, first)
    return open_dataset(path, split)


def open_coco_files_via_child(annotation_file: str | Path, image_dir: str | Path) -> Dataset:
    """``open_coco_files(...)`` (File → Open COCO dataset…), a big split's cache built by a child first."""
    try:
        _root, _split, files = coco_split_files(annotation_file, image_dir)
    except VqadeskError:
        pass  # opening it in this process names the problem
    else:
        _prepare(files)
    return open_coco_files(annotation_file, image_dir)


def open_split_via_child(dataset: Dataset, name: str) -> DatasetSplit:
    """``dataset.split(name)``, its index cache built by a child first when needed."""
    if dataset.kind == "coco" and name in dataset.split_names and not dataset.is_open(name):
        prepare_split(dataset.root, name)
    return dataset.split(name)


def prepare_split(root: Path, name: str) -> bool:
    """Build the split's index cache in a child when it is big and not current; True when the child did."""
    try:
        coco_files, image_dir = dataset_root_files(root, name)
    except VqadeskError:
        return False  # opening it in this process names the problem
    return _prepare(SplitFiles(tuple(coco_files), image_dir, *find_vqa_files(root, name)))


def _prepare(files: SplitFiles) -> bool:
    identity = _identity(files.inputs)
    if identity is None or sum(size for _path, size, _time in identity) < CACHE_MIN_BYTES:
        return False  # missing files (reported by the open) or small enough to parse at once
    if identity in _uncacheable or split_cache_looks_current(files):
        return False
    try:
        cached = run_in_child(build_split_cache, files)
    except _NoChild:
        return False
    if not cached:
        _uncacheable.add(identity)
    return bool(cached)


def build_split_cache(files: SplitFiles) -> bool:
    """In the child: parse the split and write its cache entry; whether an entry is now current."""
    load_split(files)
    return split_cache_looks_current(files)


def stop_children() -> None:
    """End every running child (the window is closing); their callers get a SplitOpenError."""
    with _lock:
        children = list(_children)
    for process in children:
        process.terminate()


# -- one child --------------------------------------------------------------------------------------


def run_in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a fresh interpreter; its result (small, picklable) or a ``SplitOpenError``."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, fn, args), name="vqadesk-open-split", daemon=True)
    try:
        process.start()
    except Exception as exc:  # noqa: BLE001 - no interpreter, no resources: parse in this process
        receiver.close()
        sender.close()
        raise _NoChild(str(exc)) from None
    sender.close()
    with _lock:
        _children.add(process)
    try:
        while True:
            if receiver.poll(POLL_S):
                try:
                    kind, value = receiver.recv()  # only our own child's reply is unpickled
                except (EOFError, OSError):
                    break
                if kind == "ok":
                    return value
                raise SplitOpenError(value)
            if not process.is_alive():
                break
        process.join(JOIN_S)
        raise SplitOpenError(f"reading the split stopped unexpectedly ({describe_exit(process.exitcode)})")
    finally:
        with _lock:
            _children.discard(process)
        process.join(JOIN_S)
        if process.is_alive():
            process.kill()
            process.join(JOIN_S)
        receiver.close()


def _child_main(conn, fn: Callable[..., Any], args: tuple) -> None:
    ignore_interrupts()  # Ctrl+C is the GUI process's to handle
    lower_priority()  # background work: the window gets a shared CPU first
    try:
        reply = ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - one line, as the in-process path reports it
        reply = ("error", error_message(exc))
    conn.send(reply)
    conn.close()


def _identity(paths: Iterable[Path]) -> tuple | None:
    try:
        return tuple((str(p), (stat := Path(p).stat()).st_size, stat.st_mtime_ns) for p in paths)
    except OSError:
        return None
