"""SQLite storage behind the local store: completions, their input messages, metadata pairs.

Each completion is kept as the exact JSON text it was imported with (unknown fields included) and
served back verbatim; the columns beside it exist only to filter and order. Records that the
pipeline will later quarantine (no choices, odd content, no `created`) are stored and served like
any other.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import jsontext
from pipelines.store.pages import ListedTable, Page, list_page, page_of, string_pairs
from pipelines.store.responses_db import RESPONSES_SCHEMA

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- insertion order: the tie-breaker after `created`
    id TEXT NOT NULL UNIQUE,
    created_sort INTEGER NOT NULL,           -- `created` when it is a number, else 0
    model TEXT,                              -- NULL when the record's model is not a string
    body TEXT NOT NULL                       -- completion JSON as imported, minus input_messages
);
CREATE INDEX IF NOT EXISTS completions_order ON completions (created_sort, seq);
CREATE TABLE IF NOT EXISTS messages (
    completion_seq INTEGER NOT NULL REFERENCES completions (seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    body TEXT NOT NULL,                      -- the message JSON with its id `<completion_id>-<idx>`
    PRIMARY KEY (completion_seq, idx)
);
CREATE TABLE IF NOT EXISTS metadata (
    completion_seq INTEGER NOT NULL REFERENCES completions (seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (completion_seq, key)
);
CREATE INDEX IF NOT EXISTS metadata_pairs ON metadata (key, value);
"""
COMPLETIONS = ListedTable(records="completions", metadata="metadata", owner="completion_seq")
BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another connection's (the capture writer's) to finish."""


class InvalidRecord(ValueError):
    """An import line the store cannot serve at all (not JSON, not an object, no string id)."""


@dataclass(frozen=True)
class StoredRecord:
    """One completion ready to insert: its serving JSON plus the columns used to filter it."""

    id: str
    created_sort: int
    model: str | None
    body: str
    metadata: dict[str, str]
    messages: list[str]


@dataclass
class ImportReport:
    """What an import did: rows added, rows replaced (same id), and lines refused with reasons."""

    inserted: int = 0
    replaced: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


def parse_record(line: str) -> StoredRecord:
    """Parse one import line: a completion as `GET /chat/completions/{id}` returns it, plus its
    input messages under `input_messages`.

    A missing or null `object` is served as `chat.completion` (Azure wrote null; OpenAI's spec
    makes it a required one-value enum, and strict generated clients refuse a page holding
    null). Everything else is kept as given.

    Raises:
        InvalidRecord: when the line cannot be served at all. Everything else, however malformed for
            training, is kept as given.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InvalidRecord(f"not valid JSON ({err.msg} at column {err.colno})") from None
    return record_from_object(obj)


def record_from_object(obj: object) -> StoredRecord:
    """`parse_record` for a line already parsed (the capture proxy builds records as objects)."""
    if not isinstance(obj, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(obj).__name__}")
    completion_id = obj.get("id")
    if not isinstance(completion_id, str) or not completion_id:
        raise InvalidRecord("missing a non-empty string `id`")
    if obj.get("object") is None:
        obj["object"] = "chat.completion"
    input_messages = obj.pop("input_messages", [])
    if input_messages is None:
        input_messages = []
    if not isinstance(input_messages, list) or not all(isinstance(m, dict) for m in input_messages):
        raise InvalidRecord("`input_messages` must be a list of JSON objects")
    created = obj.get("created")
    created_sort = int(created) if is_number(created) else 0
    model = obj.get("model") if isinstance(obj.get("model"), str) else None
    return StoredRecord(
        id=completion_id,
        created_sort=created_sort,
        model=model,
        body=jsontext.dumps(obj),
        metadata=string_pairs(obj.get("metadata")),
        messages=[
            jsontext.dumps(_with_message_id(message, f"{completion_id}-{index}"))
            for index, message in enumerate(input_messages)
        ],
    )


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
            self._conn.executescript(_SCHEMA + RESPONSES_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writing -------------------------------------------------------------------------------

    def import_lines(self, lines: Iterable[str], *, skip_invalid: bool = False) -> ImportReport:
        """Import JSONL lines in one transaction.

        Args:
            lines: Import lines; blank lines are ignored.
            skip_invalid: Import the valid lines even when some are invalid. By default one invalid
                line aborts the whole import and nothing is written.

        Returns:
            The report; with `skip_invalid=False` and invalid lines, nothing was imported.
        """
        report = ImportReport()
        records: list[StoredRecord] = []
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
                if self.upsert(conn, record):
                    report.inserted += 1
                else:
                    report.replaced += 1
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
            return cursor.rowcount > 0

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
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

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

    # -- shared with the responses table -------------------------------------------------------

    def transaction(self) -> _Transaction:
        """`with db.transaction() as conn:` one write transaction (BEGIN IMMEDIATE … COMMIT)."""
        return _Transaction(self._conn, self._lock)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """`with db.reading() as conn:` the connection, for reads, under the lock."""
        with self._lock:
            yield self._conn

    @staticmethod
    def upsert(conn: sqlite3.Connection, record: StoredRecord) -> bool:
        """Insert or replace one record, keeping the original insertion order on replace.

        Returns:
            True when the id was new.
        """
        existing = conn.execute("SELECT seq FROM completions WHERE id = ?", (record.id,)).fetchone()
        if existing is None:
            seq = conn.execute(
                "INSERT INTO completions (id, created_sort, model, body) VALUES (?, ?, ?, ?)",
                (record.id, record.created_sort, record.model, record.body),
            ).lastrowid
        else:
            seq = existing[0]
            conn.execute(
                "UPDATE completions SET created_sort = ?, model = ?, body = ? WHERE seq = ?",
                (record.created_sort, record.model, record.body, seq),
            )
            conn.execute("DELETE FROM messages WHERE completion_seq = ?", (seq,))
            conn.execute("DELETE FROM metadata WHERE completion_seq = ?", (seq,))
        conn.executemany(
            "INSERT INTO messages (completion_seq, idx, body) VALUES (?, ?, ?)",
            [(seq, index, body) for index, body in enumerate(record.messages)],
        )
        conn.executemany(
            "INSERT INTO metadata (completion_seq, key, value) VALUES (?, ?, ?)",
            [(seq, key, value) for key, value in record.metadata.items()],
        )
        return existing is None


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


def _with_message_id(message: dict[str, Any], message_id: str) -> dict[str, Any]:
    # The id leads, as in the API; any id the export carried is replaced by the positional one.
    return {"id": message_id, **{k: v for k, v in message.items() if k != "id"}}


def is_number(value: object) -> bool:
    """A finite JSON number (not a boolean): what a `created` may be."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
