"""An exclusive, non-blocking lock on an open file, held until the handle is closed.

Run folders (``engine/checkpoints/run_folder.py``) and evaluation folders
(``engine/torch_free/evaluation_folder.py``) use it to tell a folder a live process is
writing from one a killed process left behind: the OS releases the lock when the
process ends, however it ends.
"""

from __future__ import annotations

import os
from typing import IO


def lock_exclusive(handle: IO[bytes]) -> None:
    """Lock ``handle``'s file for this process; ``OSError`` when another process holds it."""
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
