"""SQLite storage behind the local store: one file holding every kind it serves.

The chat completions (`completions_db`), responses (`responses_db`) and conversations
(`conversations_db`) each have their own tables; `StoreDatabase` owns the connection and its lock,
imports lines of any kind (`imports`), and reads the chat completions for their routes. Records
that the pipeline will later quarantine (no choices, odd content, no `created`) are stored and
served like any other.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipelines import jsontext
from pipelines.store.completions_db import COMPLETIONS, COMPLETIONS_SCHEMA
from pipelines.store.conversations_db import CONVERSATIONS_SCHEMA
from pipelines.store.imports import (
    KINDS,
    ImportedRecord,
    ImportReport,
    InvalidRecord,
    kind_of,
    parse_record,
    store_record,
)
from pipelines.store.pages import Page, list_page, page_of, string_pairs
from pipelines.store.responses_db import RESPONSES_SCHEMA
from pipelines.store.traces_db import SPANS_SCHEMA

SETTINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL                      -- e.g. the salt of pass-through tenant fingerprints
);
"""
BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another connection's (the capture writer's) to finish."""


class StoreDatabase:
    """Thread-safe access to one store file. Every method is one short transaction.

    Args:
        path: The SQLite file; created with its schema when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the server's threads; the lock serialises access to it.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # A deleted record's text is overwritten, not only unlinked (erasure: DELETE routes).
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.executescript(
                COMPLETIONS_SCHEMA
                + RESPONSES_SCHEMA
                + CONVERSATIONS_SCHEMA
                + SETTINGS_SCHEMA
                + SPANS_SCHEMA
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def tenant_salt(self) -> bytes:
        """The salt of this store's tenant fingerprints (see `tenants`), made on first use and
        kept in the file, so a client's key names the same tenant after a restart."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES ('tenant_salt', ?)",
                (secrets.token_hex(32),),
            )
            row = conn.execute("SELECT value FROM settings WHERE name = 'tenant_salt'").fetchone()
        return bytes.fromhex(row[0])

    # -- writing -------------------------------------------------------------------------------

    def import_lines(self, lines: Iterable[str], *, skip_invalid: bool = False) -> ImportReport:
        """Import JSONL lines of any kind (see `imports`) in one transaction.

        Args:
            lines: Import lines; blank lines are ignored.
            skip_invalid: Import the valid lines even when some are invalid. By default one invalid
                line aborts the whole import and nothing is written.

        Returns:
            The report; with `skip_invalid=False` and invalid lines, nothing was imported.
        """
        report = ImportReport()
        records: list[ImportedRecord] = []
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_record(line))
            except InvalidRecord as err:
                report.invalid.append((line_number, str(err)))
        if report.invalid and not skip_invalid:
            return report
        with self.transaction() as conn:
            for record in records:
                count = report.kinds[kind_of(record)]
                if store_record(conn, record):
                    count.inserted += 1
                else:
                    count.replaced += 1
        return report

    def import_file(self, path: str | Path, *, skip_invalid: bool = False) -> ImportReport:
        with open(path, encoding="utf-8") as lines:
            return self.import_lines(lines, skip_invalid=skip_invalid)

    def update_metadata(
        self, completion_id: str, changes: dict[str, str | None] | None
    ) -> str | None:
        """Merge `changes` into a completion's metadata, as a JSON merge patch: a `None` value
        removes its key, and `changes=None` removes them all.

        Returns:
            The updated completion JSON, or None when the id is unknown.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT seq, body FROM completions WHERE id = ?", (completion_id,)
            ).fetchone()
            if row is None:
                return None
            seq, body = row
            obj = json.loads(body)
            metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            if changes is None:
                metadata, changes = {}, {}
            for key, value in changes.items():
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = value
            obj["metadata"] = metadata
            new_body = jsontext.dumps(obj)
            conn.execute("UPDATE completions SET body = ? WHERE seq = ?", (new_body, seq))
            conn.execute("DELETE FROM metadata WHERE completion_seq = ?", (seq,))
            conn.executemany(
                "INSERT INTO metadata (completion_seq, key, value) VALUES (?, ?, ?)",
                [(seq, k, v) for k, v in string_pairs(metadata).items()],
            )
            return new_body

    def delete(self, completion_id: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM completions WHERE id = ?", (completion_id,))
            deleted = cursor.rowcount > 0
        if deleted:
            self.erase_log()
        return deleted

    def erase_log(self) -> None:
        """Checkpoint the write-ahead log into the file and truncate it: after a deletion the
        log still holds the record's pages as they were, and `secure_delete` has zeroed them in
        the file. A reader in the middle of a read can keep part of the log (the next deletion's
        checkpoint takes it)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -------------------------------------------------------------------------------

    def get(self, completion_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM completions WHERE id = ?", (completion_id,)
            ).fetchone()
        return row[0] if row else None

    def metadata_of(self, completion_id: str) -> dict[str, str] | None:
        body = self.get(completion_id)
        return None if body is None else string_pairs(json.loads(body).get("metadata"))

    def count(self) -> int:
        """How many chat completions the store holds."""
        return self.counts()["completions"]

    def counts(self) -> dict[str, int]:
        """How many records of each kind (`imports.KINDS`) the store holds."""
        # Each kind's main table is named after it (names from code, never input).
        with self._lock:
            return {
                kind: self._conn.execute(f"SELECT COUNT(*) FROM {kind}").fetchone()[0]
                for kind in KINDS
            }

    def ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT id FROM completions")}

    def list_completions(
        self,
        *,
        limit: int,
        order: str,
        after: str | None = None,
        model: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Page | None:
        """One page of completions ordered by `created`, then insertion.

        Returns:
            The page, or None when `after` names no stored completion.
        """
        with self._lock:
            return list_page(
                self._conn,
                COMPLETIONS,
                limit=limit,
                order=order,
                after=after,
                model=model,
                metadata=metadata,
            )

    def list_messages(
        self, completion_id: str, *, limit: int, order: str, after: str | None = None
    ) -> Page | None:
        """One page of a completion's input messages in index order.

        Returns:
            The page, or None when the completion is unknown or `after` names none of its messages.
        """
        direction, comparison = ("ASC", ">") if order == "asc" else ("DESC", "<")
        with self._lock:
            row = self._conn.execute(
                "SELECT seq FROM completions WHERE id = ?", (completion_id,)
            ).fetchone()
            if row is None:
                return None
            params: list[Any] = [row[0]]
            where = "completion_seq = ?"
            if after is not None:
                after_index = _message_index(completion_id, after)
                exists = (
                    after_index is not None
                    and self._conn.execute(
                        "SELECT 1 FROM messages WHERE completion_seq = ? AND idx = ?",
                        (row[0], after_index),
                    ).fetchone()
                )
                if not exists:
                    return None
                where += f" AND idx {comparison} ?"
                params.append(after_index)
            rows = self._conn.execute(
                f"SELECT ? || '-' || idx, body FROM messages WHERE {where}"
                f" ORDER BY idx {direction} LIMIT ?",
                (completion_id, *params, limit + 1),
            ).fetchall()
        return page_of(rows, limit)

    # -- shared with the responses and conversations tables -----------------------------------

    def transaction(self) -> _Transaction:
        """`with db.transaction() as conn:` one write transaction (BEGIN IMMEDIATE … COMMIT)."""
        return _Transaction(self._conn, self._lock)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """`with db.reading() as conn:` the connection, for reads, under the lock."""
        with self._lock:
            yield self._conn


class _Transaction:
    """`with` block holding the lock and one BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()


def _message_index(completion_id: str, message_id: str) -> int | None:
    prefix = f"{completion_id}-"
    suffix = message_id[len(prefix) :] if message_id.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None
