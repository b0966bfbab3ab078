"""SQLite storage of Responses API responses (captured or imported), beside the completions tables.

A response is kept as the exact JSON the upstream returned (or the import line held) and served
back verbatim; its input items (each with an id, as `GET /responses/{id}/input_items` serves them)
and its string metadata pairs sit in side tables, for paging and filtering. Every function takes
the connection, so the store's reads, imports and the capture writer's transactions share one
implementation.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from pipelines import jsontext
from pipelines.store.pages import ItemTable, ListedTable, Page, items_page, string_pairs

RESPONSES_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- insertion order: the tie-breaker after created_at
    id TEXT NOT NULL UNIQUE,
    created_sort INTEGER NOT NULL,           -- `created_at` when it is a number, else 0
    model TEXT,
    request_id TEXT,                         -- the upstream's x-request-id, kept beside the body
    body TEXT NOT NULL                       -- the response JSON as the upstream returned it
);
CREATE INDEX IF NOT EXISTS responses_order ON responses (created_sort, seq);
CREATE TABLE IF NOT EXISTS response_items (
    response_seq INTEGER NOT NULL REFERENCES responses (seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,                      -- the input item JSON, its id included
    PRIMARY KEY (response_seq, idx)
);
CREATE INDEX IF NOT EXISTS response_items_by_id ON response_items (response_seq, item_id);
CREATE TABLE IF NOT EXISTS response_metadata (
    response_seq INTEGER NOT NULL REFERENCES responses (seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (response_seq, key)
);
CREATE INDEX IF NOT EXISTS response_metadata_pairs ON response_metadata (key, value);
"""
RESPONSES = ListedTable(records="responses", metadata="response_metadata", owner="response_seq")
RESPONSE_ITEMS = ItemTable(owners="responses", items="response_items", owner="response_seq")


@dataclass(frozen=True)
class StoredResponse:
    """One response ready to insert: its JSON, the columns to filter it by, its input items."""

    id: str
    created_sort: int
    model: str | None
    request_id: str | None
    body: str
    metadata: dict[str, str]
    items: list[tuple[str, str]]
    """(item id, item JSON) in input order."""


def stored_response(
    response: dict[str, Any], items: list[dict[str, Any]], *, request_id: str | None = None
) -> StoredResponse:
    """The row of `response` (which must have a string `id`) and its input `items` (with ids).

    The body is served verbatim, so the upstream's request id is kept in a column of its own.
    """
    created = response.get("created_at")
    number = isinstance(created, int | float) and not isinstance(created, bool)
    return StoredResponse(
        id=response["id"],
        created_sort=int(created) if number and math.isfinite(created) else 0,
        model=response.get("model") if isinstance(response.get("model"), str) else None,
        request_id=request_id,
        body=jsontext.dumps(response),
        metadata=string_pairs(response.get("metadata")),
        items=[(str(item["id"]), jsontext.dumps(item)) for item in items],
    )


def response_exists(conn: sqlite3.Connection, response_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM responses WHERE id = ?", (response_id,)).fetchone()
    return row is not None


def insert_response(conn: sqlite3.Connection, response: StoredResponse) -> None:
    """Insert a response whose id is not stored yet (the caller checks, inside its transaction)."""
    seq = conn.execute(
        "INSERT INTO responses (id, created_sort, model, request_id, body) VALUES (?, ?, ?, ?, ?)",
        (response.id, response.created_sort, response.model, response.request_id, response.body),
    ).lastrowid
    _insert_children(conn, seq, response)


def upsert_response(conn: sqlite3.Connection, response: StoredResponse) -> bool:
    """Insert or replace one response, as an import does with a chat completion: a replaced one
    keeps its place in insertion order, and its input items and metadata are the new ones.

    Returns:
        True when the id was new.
    """
    existing = conn.execute("SELECT seq FROM responses WHERE id = ?", (response.id,)).fetchone()
    if existing is None:
        insert_response(conn, response)
        return True
    seq = existing[0]
    conn.execute(
        "UPDATE responses SET created_sort = ?, model = ?, request_id = ?, body = ? WHERE seq = ?",
        (response.created_sort, response.model, response.request_id, response.body, seq),
    )
    conn.execute("DELETE FROM response_items WHERE response_seq = ?", (seq,))
    conn.execute("DELETE FROM response_metadata WHERE response_seq = ?", (seq,))
    _insert_children(conn, seq, response)
    return False


def _insert_children(conn: sqlite3.Connection, seq: int | None, response: StoredResponse) -> None:
    conn.executemany(
        "INSERT INTO response_items (response_seq, idx, item_id, body) VALUES (?, ?, ?, ?)",
        [(seq, index, item_id, body) for index, (item_id, body) in enumerate(response.items)],
    )
    conn.executemany(
        "INSERT INTO response_metadata (response_seq, key, value) VALUES (?, ?, ?)",
        [(seq, key, value) for key, value in response.metadata.items()],
    )


def get_response(conn: sqlite3.Connection, response_id: str) -> str | None:
    row = conn.execute("SELECT body FROM responses WHERE id = ?", (response_id,)).fetchone()
    return row[0] if row else None


def delete_response(conn: sqlite3.Connection, response_id: str) -> bool:
    return conn.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0


def list_input_items(
    conn: sqlite3.Connection, response_id: str, *, limit: int, order: str, after: str | None
) -> Page | None:
    """One page of a response's input items in input order (`desc`: last first).

    Returns:
        The page, or None when the response is unknown or `after` names none of its items.
    """
    return items_page(conn, RESPONSE_ITEMS, response_id, limit=limit, order=order, after=after)
