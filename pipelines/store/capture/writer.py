"""The capture writer: answer first, commit behind, never make the app wait on the disk.

A captured generation is turned into its rows on the event loop (its id decided there, so a whole
answer can name it in `x-distillery-record-id`) and put on a bounded queue; the proxy answers at
once. One thread of the writer's own takes whatever the queue holds, inserts it and commits it in
one transaction (one fsync for every capture that arrived during the previous commit). SQLite runs
in WAL mode with `synchronous=FULL`, so a committed capture survives a killed process or machine,
and readers never wait for the writer.

What can be lost, and how it is told:
- SIGKILL (or a power cut) loses the captures not yet committed: those whose answers went out
  during the last commit interval (one commit: milliseconds on an idle disk) and whatever waits
  behind a write lock another process holds.
- A capture that cannot be committed within `budget_s` (another process holds the write lock that
  long, or the disk fails) is dropped, never retried into anyone's latency; so is one arriving at
  a full queue. Each drop is a log line (with the reason, never the content) and a count on
  `GET /distillery/health`.

Copying the WAL back into the database (a checkpoint) happens on a thread and connection of its
own (PASSIVE: it never blocks the writer).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipelines.store.capture.records import Capture, chat_record, response_record
from pipelines.store.completions_db import StoredRecord, upsert_completion
from pipelines.store.imports import completion_from_object
from pipelines.store.items import new_id
from pipelines.store.responses_db import (
    StoredResponse,
    insert_response,
    response_exists,
    stored_response,
)

log = logging.getLogger("distillery.store.capture")
CHECKPOINT_EVERY = 200
"""Commits between two checkpoints (each commit adds a few pages to the WAL)."""
DEFAULT_BUDGET_S = 30.0
"""How long a capture may wait for the write lock before it is dropped (and counted)."""
QUEUE_LIMIT = 10_000
"""Captures waiting to be committed; beyond it, new ones are dropped (and counted)."""
_STOP = object()


class WriterClosed(RuntimeError):
    """The writer has stopped (the server is shutting down); nothing more can be stored."""


@dataclass(frozen=True)
class _Rows:
    kind: str
    row: StoredRecord | StoredResponse
    queued_at: float


class RecordWriter:
    """Stores captures behind the answers, in group commits on a thread of its own.

    Args:
        db_path: The store's SQLite file (its schema already created by `StoreDatabase`).
        budget_s: How long a capture may wait to be committed before it is dropped.
        queue_limit: How many captures may wait.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        budget_s: float = DEFAULT_BUDGET_S,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.budget_s = budget_s
        # The writer thread's connection: it waits for the write lock at most the budget.
        self._conn = _connect(db_path, busy_timeout_s=budget_s)
        # The event loop's, for reads only (is an id taken?). WAL reads never wait for a writer;
        # in the rare moments SQLite says busy, it must not sleep on the event loop either.
        self._reads = _connect(db_path, busy_timeout_s=0)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_limit)
        self._queued_ids: set[str] = set()
        self._ids_lock = threading.Lock()
        self._closed = False
        self.committed = 0
        self.lost: Counter[str] = Counter()
        self._commits = 0
        self._checkpoint_due = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint, args=(db_path,), name="distillery-checkpoint", daemon=True
        )
        self._checkpointer.start()
        self._thread = threading.Thread(target=self._run, name="distillery-writer", daemon=True)
        self._thread.start()

    def store(self, capture: Capture) -> str | None:
        """Queue `capture` to be committed and return at once.

        Returns:
            The id it will be stored under (the upstream's, or a fresh one when the store already
            holds that id), or None when it is not stored (an unfinished response, a full queue,
            a record that cannot be built; the last two are logged and counted).

        Raises:
            WriterClosed: The writer has stopped.
        """
        if self._closed:
            raise WriterClosed("the capture writer has stopped")
        try:
            rows = self._rows(capture)
        except Exception as err:
            # The type only: the message could quote the prompt.
            self._lose("unstorable", 1, f"could not build a captured {capture.kind}", err)
            return None
        if rows is None:
            return None
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self._forget_ids([rows])
            self._lose("queue_full", 1, "the capture queue is full", None)
            return None
        return rows.row.id

    def health(self) -> dict[str, object]:
        """Counters for `/distillery/health`: committed, lost (by reason), pending."""
        return {
            "committed": self.committed,
            "lost": sum(self.lost.values()),
            "lost_by_reason": dict(self.lost),
            "pending": self.pending,
            "budget_s": self.budget_s,
        }

    @property
    def pending(self) -> int:
        """Captures taken and neither committed nor dropped yet."""
        with self._ids_lock:
            return len(self._queued_ids)

    def close(self) -> None:
        """Commit what is queued and stop (once the server has stopped taking requests)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._checkpoint_due.set()
        self._checkpointer.join()
        self._conn.close()
        self._reads.close()

    # -- the event loop's side ---------------------------------------------------------------

    def _rows(self, capture: Capture) -> _Rows | None:
        """The rows of `capture`, under an id neither the file nor the queue holds (some
        backends draw short random ids: a taken one is stored under a fresh id, the upstream's
        kept as `upstream_id`)."""
        now = time.monotonic()
        if capture.kind == "chat":
            record = chat_record(capture)
            if self._taken("completions", record["id"]):
                record["upstream_id"], record["id"] = record["id"], new_id("chat")
            row: StoredRecord | StoredResponse = completion_from_object(record)
        else:
            built = response_record(capture)
            if built is None:
                return None
            response, items = built
            if self._taken("responses", response["id"]):
                response["upstream_id"], response["id"] = response["id"], new_id("response")
            row = stored_response(response, items, request_id=capture.request_id)
        with self._ids_lock:
            self._queued_ids.add(row.id)
        return _Rows(capture.kind, row, now)

    def _taken(self, table: str, record_id: str) -> bool:
        with self._ids_lock:
            if record_id in self._queued_ids:
                return True
        # Table names from code, never input.
        query = f"SELECT 1 FROM {table} WHERE id = ?"
        try:
            return self._reads.execute(query, (record_id,)).fetchone() is not None
        except sqlite3.OperationalError:
            return True  # cannot tell now: a fresh id is always safe (the upstream's is kept)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Rows] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Rows]) -> None:
        conn = self._conn
        stored = 0
        taken = batch
        try:
            batch = self._begin(batch)
            if not batch:
                return
            for rows in batch:
                # A savepoint each: one record that cannot be stored does not lose the others.
                conn.execute("SAVEPOINT capture")
                try:
                    stored += _insert(conn, rows)
                    conn.execute("RELEASE capture")
                except Exception as err:
                    conn.execute("ROLLBACK TO capture")
                    conn.execute("RELEASE capture")
                    self._lose("unstorable", 1, f"could not store a captured {rows.kind}", err)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._lose("error", len(batch), "not committed", err)
            stored = 0
        finally:
            self._forget_ids(taken)
        self.committed += stored
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_due.set()

    def _begin(self, batch: list[_Rows]) -> list[_Rows]:
        """Take the write lock for `batch`, waiting at most what is left of its oldest capture's
        budget; captures whose budget runs out first are dropped. Returns those still to write
        (an empty list: the lock was never had)."""
        while batch:
            now = time.monotonic()
            expired = [rows for rows in batch if now - rows.queued_at >= self.budget_s]
            if expired:
                batch = [rows for rows in batch if now - rows.queued_at < self.budget_s]
                self._forget_ids(expired)
                waited = f"not committed within the {self.budget_s:g} s budget"
                self._lose("lock_timeout", len(expired), waited, None)
                continue
            left_ms = max(1, int((self.budget_s - (now - batch[0].queued_at)) * 1000))
            self._conn.execute(f"PRAGMA busy_timeout={left_ms}")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return batch
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
        return batch

    def _forget_ids(self, batch: list[_Rows]) -> None:
        with self._ids_lock:
            self._queued_ids.difference_update(rows.row.id for rows in batch)

    def _lose(self, reason: str, count: int, what: str, err: BaseException | None) -> None:
        self.lost[reason] += count
        cause = f": {type(err).__name__}" if err is not None else ""
        log.error("capture lost (%s): %d record(s), %s%s", reason, count, what, cause)

    def _checkpoint(self, db_path: str | Path) -> None:
        # PASSIVE: copies what no reader still needs and never waits for, or blocks, a writer.
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            while not self._closed:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as err:  # the next one will try again
                    log.warning("WAL checkpoint failed: %s", err)
        finally:
            conn.close()


def _connect(db_path: str | Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA secure_delete=ON")  # nothing deleted leaves its text behind
    return conn


def _insert(conn: sqlite3.Connection, rows: _Rows) -> int:
    """Insert one capture's rows; nothing ever replaces a record (an import of the same id that
    got in first keeps its place, and the capture is dropped with a log line)."""
    row = rows.row
    if isinstance(row, StoredRecord):
        if conn.execute("SELECT 1 FROM completions WHERE id = ?", (row.id,)).fetchone():
            raise _IdTaken()
        upsert_completion(conn, row)
        return 1
    if response_exists(conn, row.id):
        raise _IdTaken()
    insert_response(conn, row)
    return 1


class _IdTaken(Exception):
    """The id was free when the capture was queued and taken (by an import) before its commit."""
