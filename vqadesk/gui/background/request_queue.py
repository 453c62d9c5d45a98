"""A queue that keeps only the newest pending request of each channel (Qt-free).

The inference worker serves several panels (Ask, Caption, Compare, the
Training tab's probe). When the user asks three questions while the first is
still being answered, only the newest still matters: ``put`` replaces a
channel's pending request, and the panel ignores results whose id is not
its newest (``is_current``). Channels are served in the order their pending
requests arrived.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    channel: str
    request_id: int
    job: Any  # what to run: the inference worker's ``Job``


class LatestRequestQueue:
    """Thread-safe: ``put`` from the GUI thread, ``take`` from the worker."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, Request] = OrderedDict()
        self._newest: dict[str, int] = {}
        self._next_id = 1
        self._closed = False
        self._condition = threading.Condition()

    def put(self, channel: str, job: Any) -> int:
        """Queue ``job`` on ``channel``, replacing that channel's pending one; return its id."""
        with self._condition:
            request_id = self._next_id
            self._next_id += 1
            self._pending.pop(channel, None)  # superseded: it will never run
            self._pending[channel] = Request(channel, request_id, job)
            self._newest[channel] = request_id
            self._condition.notify()
            return request_id

    def take(self, timeout: float | None = None) -> Request | None:
        """The oldest pending request; None when closed or after ``timeout`` seconds without one."""
        with self._condition:
            if not self._pending and not self._closed:
                self._condition.wait(timeout)
            if self._closed or not self._pending:
                return None
            _channel, request = self._pending.popitem(last=False)
            return request

    def is_current(self, channel: str, request_id: int) -> bool:
        """Whether ``request_id`` is the newest request ever put on ``channel``."""
        with self._condition:
            return self._newest.get(channel) == request_id

    def pending_count(self) -> int:
        with self._condition:
            return len(self._pending)

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None; pending requests are dropped."""
        with self._condition:
            self._closed = True
            self._pending.clear()
            self._condition.notify_all()
