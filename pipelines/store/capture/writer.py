"""The capture writer: one SQLite connection, group commits, the fsync off the event loop.

Every captured generation is committed before the proxy answers (non-streamed) or before the
stream's last event goes out (streamed), so a record a client has seen finish is on disk. SQLite in
WAL mode with `synchronous=FULL` makes each commit durable (the WAL is synced before COMMIT
returns), so killing the proxy, or the machine, loses only requests still in flight. Readers never
wait for the writer in WAL mode, and the store's own connection keeps serving reads.

Committing is the slow part (an fsync), so it runs on a worker thread, and whatever is captured
meanwhile waits for the next commit and shares it: at 16 concurrent streams that is one fsync for
many records instead of one each (taking the write lock, `BEGIN IMMEDIATE`, runs on a thread too:
another writer may hold it). The inserts themselves run on the event loop: they touch no disk
until COMMIT, and a thread making a dozen SQLite calls per record would wait for the event loop to
hand it the GIL at each one. Copying the WAL back into the database (a checkpoint, which SQLite
would otherwise run inside every thousandth page's commit, stalling the requests waiting on it)
happens on a thread and connection of its own that never blocks the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

from pipelines.store.capture.records import Capture, chat_record, response_record
from pipelines.store.completions_db import upsert_completion
from pipelines.store.database import BUSY_TIMEOUT_MS
from pipelines.store.imports import completion_from_object
from pipelines.store.items import new_id
from pipelines.store.responses_db import insert_response, response_exists, stored_response

log = logging.getLogger("distillery.store.capture")
CHECKPOINT_EVERY = 200
"""Commits between two checkpoints (each commit adds a few pages to the WAL)."""


class WriterClosed(RuntimeError):
    """The writer has stopped (the server is shutting down); nothing more can be stored."""


class RecordWriter:
    """Stores captures for the event loop it is used from, in group commits.

    Args:
        db_path: The store's SQLite file (its schema already created by `StoreDatabase`).
    """

    def __init__(self, db_path: str | Path) -> None:
        # Used from the event loop and, for COMMIT, a worker thread: never both at once.
        self._conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._pending: list[tuple[Capture, asyncio.Future[str | None]]] = []
        self._flushing = False
        self._flush_task: asyncio.Future[None] | None = None  # held: the loop keeps weak refs
        self._closed = False
        self._commits = 0
        self._checkpoint_due = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint, args=(db_path,), name="distillery-checkpoint", daemon=True
        )
        self._checkpointer.start()

    async def store(self, capture: Capture) -> str | None:
        """Store `capture` and return once it is committed.

        Returns:
            The id it is stored under (the upstream's, or a fresh one when the store already
            holds that id), or None when it was not stored (an unfinished response, or an error,
            which is logged).

        Raises:
            WriterClosed: The writer has stopped.
        """
        if self._closed:
            raise WriterClosed("the capture writer has stopped")
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending.append((capture, future))
        if not self._flushing:
            self._flushing = True
            # A task of its own: a request cancelled while it waits must not cancel the commit
            # that other requests' records share.
            self._flush_task = asyncio.ensure_future(self._flush())
        # Shielded for the same reason; the record is committed whether or not anyone waits.
        return await asyncio.shield(future)

    def close(self) -> None:
        """Close once the server has stopped (every request, and so every commit, is done)."""
        if self._closed:
            return
        self._closed = True
        self._checkpoint_due.set()
        self._checkpointer.join()
        self._conn.close()

    async def _flush(self) -> None:
        batch: list = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                results = await self._commit([capture for capture, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                batch = []
                self._commits += 1
                if self._commits % CHECKPOINT_EVERY == 0:
                    self._checkpoint_due.set()
        except BaseException as err:
            # Whatever stopped the commit (a cancelled thread at shutdown, an unexpected error),
            # no request may wait forever on a record that was not committed.
            for _, future in [*batch, *self._pending]:
                if not future.done():
                    future.set_exception(
                        RuntimeError(f"capture not committed: {type(err).__name__}")
                    )
            self._pending = []
            raise
        finally:
            self._flushing = False

    async def _commit(self, captures: list[Capture]) -> list[str | None]:
        conn = self._conn
        results: list[str | None] = []
        try:
            # Off the event loop too: another writer of the file (an import, the update and
            # delete routes) can hold the lock for up to the busy timeout, and the loop must keep
            # serving meanwhile. Once per commit, not per record.
            await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
            for capture in captures:
                # A savepoint each: one record that cannot be stored does not lose the others.
                conn.execute("SAVEPOINT capture")
                try:
                    results.append(_insert(conn, capture))
                    conn.execute("RELEASE capture")
                except Exception as err:
                    conn.execute("ROLLBACK TO capture")
                    conn.execute("RELEASE capture")
                    # The type only: the message could quote the prompt.
                    log.error("could not store a captured %s: %s", capture.kind, type(err).__name__)
                    results.append(None)
            # The fsync, off the event loop. Only the server's shutdown cancels this task, and the
            # executor still finishes the COMMIT before the process ends.
            await asyncio.to_thread(conn.execute, "COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("could not commit %d captured generations: %s", len(captures), err)
            return [None] * len(captures)
        return results

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


def _insert(conn: sqlite3.Connection, capture: Capture) -> str | None:
    """Insert one capture; an id the store already holds (some backends draw short random
    ids) is stored under a fresh one, the upstream's kept as `upstream_id`."""
    if capture.kind == "chat":
        record = chat_record(capture)
        if conn.execute("SELECT 1 FROM completions WHERE id = ?", (record["id"],)).fetchone():
            record["upstream_id"], record["id"] = record["id"], new_id("chat")
        stored = completion_from_object(record)
        upsert_completion(conn, stored)
        return stored.id
    built = response_record(capture)
    if built is None:
        return None
    response, items = built
    if response_exists(conn, response["id"]):
        response["upstream_id"], response["id"] = response["id"], new_id("response")
    insert_response(conn, stored_response(response, items, request_id=capture.request_id))
    return response["id"]
