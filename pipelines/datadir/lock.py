"""One writer of a kind per data directory: an exclusive lock on a file, held while it runs.

`fcntl.flock` is released by the kernel when its holder dies, SIGKILL included, so a crashed
holder never blocks the next run. The file records who holds it, for the message a second run
gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


class LockBusy(RuntimeError):
    """Another process holds the lock; the message names it."""


@contextlib.contextmanager
def exclusive(path: Path, *, what: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the lock at `path` for the `with` block.

    Args:
        path: The lock file (created when missing).
        what: Names the work in the message, e.g. "an ingest".
        wait_s: How long to wait for a holder to finish before giving up.

    Raises:
        LockBusy: Still held after `wait_s`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "an unknown process"
                    raise LockBusy(
                        f"{what} is already running on this data directory ({holder});"
                        " wait for it to finish, or stop it"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()}, since"
            f" {datetime.now(UTC).isoformat(timespec='seconds')}"
        )
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
