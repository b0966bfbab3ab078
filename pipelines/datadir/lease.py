"""One writer per data directory: an OS lock on local disk, a lease on object storage.

A lease is one object (`lake/state/writer.lease`) naming its holder, with a heartbeat and an
expiry. It is taken with a conditional put (`If-None-Match: *`: only one of two racing writers
creates it), renewed by a heartbeat thread with `If-Match` on its own tag, and taken over, again
with `If-Match`, only once it has expired — so a holder killed with SIGKILL, or a pod that
vanished, blocks the next run for at most the lease's time to live (`DISTILLERY_LEASE_TTL_S`,
default 60 s). Expiry is judged by the wall clock of the one waiting: hosts must keep their clocks
within a small fraction of that time of each other (NTP does).

On local disk nothing changes: the kernel's `flock` (`pipelines.datadir.lock`) already dies with its
holder, so a lease would only add an expiry to wait out.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pipelines.datadir.lock import LockBusy, exclusive
from pipelines.datadir.object_storage import ObjectPath, ObjectTag
from pipelines.datadir.paths import DataPaths

DEFAULT_TTL_S = 60.0
DEFAULT_BUILD_WAIT_S = 600.0
"""A build step waits this long for the writer before it fails (another run's step, or a step of
the same run on another process under the multiprocess executor)."""


class LeaseLost(RuntimeError):
    """The lease expired while held (the holder stalled past its time to live) and was taken."""


def lease_ttl_s() -> float:
    return float(os.environ.get("DISTILLERY_LEASE_TTL_S") or DEFAULT_TTL_S)


def build_wait_s() -> float:
    return float(os.environ.get("DISTILLERY_LEASE_WAIT_S") or DEFAULT_BUILD_WAIT_S)


@contextlib.contextmanager
def one_writer(
    paths: DataPaths, *, what: str, wait_s: float = 0.0, local_lock: str | None = None
) -> Iterator[None]:
    """Be the one writer of `paths` for the `with` block.

    Args:
        paths: The data directory.
        what: Names the work in messages, e.g. "an ingest".
        wait_s: How long to wait for the current holder before failing.
        local_lock: On local disk, the `flock` to take (`None`: no lock, as builds always had).

    Raises:
        LockBusy: Still held by another writer after `wait_s`; the message names it.
    """
    if not paths.remote:
        if local_lock is None:
            yield
            return
        with exclusive(paths.lock(local_lock), what=what, wait_s=wait_s):
            yield
        return
    lease = paths.lease
    assert isinstance(lease, ObjectPath)
    with _held(lease, what=what, wait_s=wait_s):
        yield


_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


@contextlib.contextmanager
def _held(lease: ObjectPath, *, what: str, wait_s: float) -> Iterator[None]:
    # A build that adds a missing target to an existing version takes the lease again inside its
    # own: re-entrant within a process.
    key = str(lease)
    with _HELD_LOCK:
        if _HELD.get(key):
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[key] -= 1
        return
    holder = Lease(lease, what=what, ttl_s=lease_ttl_s())
    holder.acquire(wait_s)
    with _HELD_LOCK:
        _HELD[key] = 1
    try:
        yield
    finally:
        with _HELD_LOCK:
            _HELD.pop(key, None)
        holder.release()


class Lease:
    """One holder's lease object: acquire, heartbeat, release."""

    def __init__(self, path: ObjectPath, *, what: str, ttl_s: float) -> None:
        self.path = path
        self.what = what
        self.ttl_s = ttl_s
        self.token = uuid.uuid4().hex
        self.tag: ObjectTag | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def body(self) -> bytes:
        now = time.time()
        return json.dumps(
            {
                "owner": self.what,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "run": os.environ.get("DAGSTER_RUN_ID", ""),
                "token": self.token,
                "heartbeat": now,
                "expires": now + self.ttl_s,
                "expires_at": _iso(now + self.ttl_s),
            }
        ).encode("utf-8")

    def acquire(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            self.tag = self.path.create(self.body())
            if self.tag is not None:
                if self.tag.e_tag is None and self.tag.version is None:
                    # Renewing needs a conditional put, which needs one of them.
                    self.path.unlink(missing_ok=True)
                    raise OSError(
                        f"the object store gave {self.path} no entity tag or version, so a lease"
                        " cannot be renewed safely there"
                    )
                break
            try:
                data, tag = self.path.read_with_tag()
            except FileNotFoundError:
                continue  # released between our put and our read
            holder = _parse(data)
            if float(holder.get("expires", 0)) < time.time():
                # Expired (its holder died, or stalled): take it over, unless another waiter did.
                self.tag = self.path.replace_if(self.body(), tag)
                if self.tag is not None:
                    break
                continue
            if time.monotonic() >= deadline:
                raise LockBusy(_busy_message(self.what, self.path, holder))
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._thread = threading.Thread(target=self._beat, name="distillery-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                tag = self.path.replace_if(self.body(), self.tag)
            except Exception:  # a dropped connection: two more tries before the lease expires
                continue
            if tag is None:
                self.lost = True
                return
            self.tag = tag

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.lost:
            raise LeaseLost(
                f"{self.what} lost its lease on {self.path.parent.parent.parent}: it stalled past"
                f" the lease's {self.ttl_s:g} s and another writer took over; run it again"
            )
        # Object stores have no conditional delete everywhere: delete only what still names us.
        with contextlib.suppress(FileNotFoundError):
            data, _ = self.path.read_with_tag()
            if _parse(data).get("token") == self.token:
                self.path.unlink(missing_ok=True)


def _parse(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _busy_message(what: str, path: ObjectPath, holder: dict[str, Any]) -> str:
    data_dir = path.parent.parent.parent
    run = f", run {holder['run']}" if holder.get("run") else ""
    return (
        f"{what} cannot start: {holder.get('owner', 'another writer')} holds {data_dir}"
        f" (pid {holder.get('pid', '?')} on {holder.get('host', '?')}{run}; its lease expires"
        f" at {holder.get('expires_at', '?')} unless renewed); wait for it to finish, or stop it"
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
