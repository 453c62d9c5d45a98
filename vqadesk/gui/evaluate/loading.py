"""Opening an evaluation for the Evaluate tab without freezing the window (Qt-free; pool threads and a child).

``load_evaluation`` runs in a pool thread: it opens the folder, has the rows'
index made by a child process when it is missing or stale (the store parses
every row to make it: seconds of JSON that would hold this process's
interpreter lock), then builds the browser's columns (``RowsTable``) from the
index with the cyclic garbage collector paused (``collections_paused``).
"""

from __future__ import annotations

import gc
import os
import threading
from contextlib import contextmanager

from vqadesk.engine.torch_free.evaluations import ROWS_FILE, open_evaluation
from vqadesk.engine.torch_free.evaluations.rows_index import INDEX_FILE, load_index
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.split_process import run_in_child
from vqadesk.gui.evaluate.rows_table import RowsTable

_pauses = 0
_pauses_lock = threading.Lock()


@contextmanager
def collections_paused():
    """No cyclic garbage collection while the block runs (in any thread; nested blocks are counted).

    Opening an evaluation makes many objects (40k rows: the search texts, the id
    lookup; without an index, every parsed row); each full collection the
    allocations trigger walks all of them holding the interpreter lock, and
    stalled the window up to 300 ms (docs/evaluate.md). When the last block
    ends, what exists is frozen (``gc.freeze``, as ``freeze_long_lived``) before
    collections resume, so the first one after does not walk the new rows either.
    """
    global _pauses
    with _pauses_lock:
        _pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0:
                gc.freeze()
                gc.enable()


def build_rows_index(path: str) -> None:
    """Child process: read the evaluation's rows once, which makes and saves their index (the store's)."""
    _ = open_evaluation(path).rows


def rows_index_current(evaluation) -> bool:
    """Whether the rows' saved index was made from this very rows file (then opening takes milliseconds)."""
    rows = evaluation.path / ROWS_FILE
    try:
        return load_index(rows.with_name(INDEX_FILE), os.stat(rows), evaluation.kind) is not None
    except OSError:
        return False


def load_evaluation(path: str):
    """Pool thread: an evaluation opened with its rows read and their columns built.

    The first open of an evaluation parses every row to make the rows' index:
    seconds of JSON for a big one, which would hold the interpreter lock (and
    freeze the window) if done in this process, so a child process does it
    (as a big split's JSON, ``background/split_process``); later opens load the
    saved index.
    """
    evaluation = open_evaluation(path)
    if not rows_index_current(evaluation):
        try:
            run_in_child(build_rows_index, path)
        except VqadeskError:
            raise
        except Exception:  # noqa: BLE001 - no child process could start: the index is made here, below
            pass
    with collections_paused():
        return evaluation, RowsTable.build(evaluation.rows, evaluation.kind)


# -- maps, read in a worker process -------------------------------------------------------------

_MAPS_KEPT = 4
_maps_opened: dict[str, object] = {}  # folder -> Evaluation, in the worker process


def read_map(_pool, folder: str, row):
    """Worker-process job (``InferenceClient(models=False)``): ``row``'s stored maps, or None.

    The maps were first read here because opening a file of one tensor per row
    held the interpreter lock 120-400 ms at 40k rows. The file now holds a few
    tensors per shape (opening: under a millisecond, docs/evaluate.md), but the
    reads stay in this process, which also writes the exports: the GUI process
    would need the evaluation's maps guarded against ``close`` (before a delete)
    racing a pool thread's read. The open file is kept for the next rows.
    """
    evaluation = _maps_opened.pop(folder, None)
    if evaluation is None:
        evaluation = open_evaluation(folder)
        while len(_maps_opened) >= _MAPS_KEPT:
            _maps_opened.pop(next(iter(_maps_opened))).close()
    _maps_opened[folder] = evaluation  # the newest last
    return evaluation.map_for(row)


def forget_maps(_pool, folder: str) -> None:
    """Worker-process job: let go of ``folder``'s maps file (before it is deleted)."""
    evaluation = _maps_opened.pop(folder, None)
    if evaluation is not None:
        evaluation.close()
