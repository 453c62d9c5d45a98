"""The desktop app's inference process: a ``ModelPool`` serving jobs sent down a pipe.

The GUI process (``vqadesk/gui/background/inference.py``) starts ``serve`` in a child
process (multiprocessing's "spawn" context: a fresh interpreter), so torch is
imported, models are loaded and inference runs there, and no long C call
ever holds the GUI process's GIL. Qt-free; torch is imported by ``serve``,
not by this module, which the GUI process imports.

A job is a picklable description, not a closure::

    Job(PoolApi.ask, (path, "what color is the circle?"), {"top_k": 5})   # pool.ask(...)
    Job(probe_job, (snapshot, step, image, question))                     # probe_job(pool, ...)

naming a public ``ModelPool`` method through its torch-free declaration
(``pool_api.PoolApi``; sent as the method's name and looked up there again
in the inference process) or a module-level function that takes the pool
first (sent by reference: module and name).

The conversation, one message at a time (``Connection.send``/``recv``)::

    child  -> parent   ("ready", LoadedModels)  or  ("failed", message)   once, at start
    parent -> child    ("job", request_id, pickled Job)  or  ("stop",)
    child  -> parent   ("done", request_id, result, seconds)  or  ("error", request_id, message)

Pickles cross only between the two processes of one app run, each reading
what its own counterpart wrote (jobs here, results in the GUI process); the
project's rule that nothing is ever unpickled is about files (checkpoints),
which stay safetensors + JSON. Every error becomes one readable line
(``error_message``). The child ends on "stop", or when the GUI process's end
of the pipe closes (it died), and ignores Ctrl+C (the GUI process handles it).
It runs at a lower priority than the window (``NICE_INCREMENT``), so that a
shared CPU draws the last answer before it computes the next.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vqadesk.engine.torch_free.pool_api import POOL_METHODS, PoolApi, pool_method_name
from vqadesk.errors import error_message

# The child's scheduling priority, below the window's: when both want the CPU (a question is being
# answered while the last answer is drawn), the window gets it first; a free core runs both in full.
NICE_INCREMENT = 10


def describe_exit(exitcode: int | None) -> str:
    """``-9`` -> "killed by SIGKILL"; ``1`` -> "exit code 1"."""
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@dataclass(frozen=True)
class Job:
    """``pool.ask(*args, **kwargs)`` for ``target=PoolApi.ask``, or ``target(pool, *args, **kwargs)``
    for a module-level function."""

    target: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pool_method is not None:
            return
        if isinstance(self.target, str):
            raise ValueError(f"{self.target!r} is not a ModelPool method a job may call (name one as PoolApi.<method>)")
        if not callable(self.target) or "<" in getattr(self.target, "__qualname__", "<"):
            # A lambda or nested function cannot be pickled by reference.
            raise TypeError(f"a job must name a ModelPool method or a module-level function, not {self.target!r}")

    @property
    def pool_method(self) -> str | None:
        """The ``PoolApi`` method's name this job calls ("ask"); None for a function."""
        return pool_method_name(self.target)

    @property
    def name(self) -> str:
        return self.pool_method or self.target.__qualname__

    def run(self, pool) -> Any:
        method = self.pool_method
        if method is not None:
            return getattr(pool, method)(*self.args, **self.kwargs)
        return self.target(pool, *self.args, **self.kwargs)

    def __reduce__(self):
        """Pickled with a pool method's name (looked up in ``PoolApi`` when read back), a function by reference."""
        return (_job, (self.pool_method or self.target, self.args, dict(self.kwargs)))


def _job(target: str | Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Job:
    """A ``Job`` read back by ``unpack_job``: a method name means that ``PoolApi`` method."""
    if isinstance(target, str):
        if target not in POOL_METHODS:
            raise ValueError(f"{target!r} is not a ModelPool method a job may call")
        target = getattr(PoolApi, target)
    return Job(target, args, kwargs)


def pack_job(job: Job) -> bytes:
    """The job as the child reads it back (``unpack_job``); raises when an argument cannot be pickled."""
    return pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_job(data: bytes) -> Job:
    job = pickle.loads(data)  # noqa: S301 - written by this app's own GUI process (see the module doc)
    if not isinstance(job, Job):
        raise TypeError(f"expected a Job, got {type(job).__name__}")
    return job


def serve(conn, device: str = "auto", models: bool = True) -> None:
    """The child process's whole life: build the pool, then answer jobs until told to stop.

    ``models=False``: a worker without a pool (no torch) for other long Python
    work, e.g. the caption scores' document frequencies; its jobs are functions
    that get ``None`` for the pool, and "ready" carries None.
    """
    ignore_interrupts()
    lower_priority()
    pool = None
    if models:
        try:
            from vqadesk.engine.inference.model_pool import ModelPool  # imports torch

            pool = ModelPool(device)
        except Exception as exc:  # noqa: BLE001 - torch missing, no such device, ...: the window says so
            _send(conn, ("failed", error_message(exc)))
            return
    if not _send(conn, ("ready", pool.loaded() if pool is not None else None)):
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the GUI process is gone
        if message[0] != "job":
            return  # "stop"
        _kind, request_id, data = message
        started = time.perf_counter()
        try:
            result = unpack_job(data).run(pool)
        except Exception as exc:  # noqa: BLE001 - reported to the panel that asked
            reply = ("error", request_id, error_message(exc))
        else:
            reply = ("done", request_id, result, time.perf_counter() - started)
        if not _send(conn, reply):
            return


def ignore_interrupts() -> None:
    """Ctrl+C in the terminal reaches every process of the app: the GUI process handles it."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        pass  # not the main thread (tests run the loop in a thread)


def lower_priority(increment: int = NICE_INCREMENT) -> None:
    """This process yields the CPU to the window's (``os.nice``; nothing where there is none)."""
    try:
        os.nice(increment)
    except (AttributeError, OSError):
        pass


def _send(conn, message: tuple) -> bool:
    """Send ``message``; a result that cannot be pickled goes back as an error. False: the pipe is closed."""
    try:
        conn.send(message)
    except (BrokenPipeError, EOFError, OSError):
        return False
    except Exception as exc:  # noqa: BLE001 - pickling failed before anything was written
        if message[0] != "done":
            return False
        try:
            conn.send(("error", message[1], f"internal error: the result could not be sent back: {exc}"))
        except (BrokenPipeError, EOFError, OSError):
            return False
    return True
