"""SQLite storage of stored chat completions: the completion, its input messages, its metadata.

Each completion is kept as the exact JSON text it was imported (or captured) with, unknown fields
included, and served back verbatim; the columns beside it exist only to filter and order. Every
function takes the connection, so imports, the store's routes and the capture writer's
transactions share one implementation.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

from pipelines.store.pages import ListedTable

COMPLETIONS_SCHEMA = """
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


@dataclass(frozen=True)
class StoredRecord:
    """One completion ready to insert: its serving JSON plus the columns used to filter it."""

    id: str
    created_sort: int
    model: str | None
    body: str
    metadata: dict[str, str]
    messages: list[str]


def upsert_completion(conn: sqlite3.Connection, record: StoredRecord) -> bool:
    """Insert or replace one completion, keeping the original insertion order on replace.

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


def is_number(value: object) -> bool:
    """A finite JSON number (not a boolean): what a `created` may be."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
