"""SQLite storage of Conversations API conversations, beside the completions and responses tables.

A conversation is kept as the JSON it was imported with, minus its items, and served back
verbatim: that is the object `GET /conversations/{id}` returns. Its items (each with an id, as
`GET /conversations/{id}/items` serves them) and its string metadata pairs sit in side tables.
OpenAI lists no conversations, so neither does the store: there is no order column. Every function
takes the connection, as in `responses_db`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pipelines import jsontext
from pipelines.store.pages import ItemTable, Page, items_page, string_pairs

CONVERSATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL                       -- the conversation JSON as imported, minus `items`
);
CREATE TABLE IF NOT EXISTS conversation_items (
    conversation_seq INTEGER NOT NULL REFERENCES conversations (seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,                      -- the item JSON, its id included
    PRIMARY KEY (conversation_seq, idx)
);
CREATE INDEX IF NOT EXISTS conversation_items_by_id
    ON conversation_items (conversation_seq, item_id);
CREATE TABLE IF NOT EXISTS conversation_metadata (
    conversation_seq INTEGER NOT NULL REFERENCES conversations (seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (conversation_seq, key)
);
"""
CONVERSATION_ITEMS = ItemTable(
    owners="conversations", items="conversation_items", owner="conversation_seq"
)


@dataclass(frozen=True)
class StoredConversation:
    """One conversation ready to store: its JSON without items, its metadata pairs, its items."""

    id: str
    body: str
    metadata: dict[str, str]
    items: list[tuple[str, str]]
    """(item id, item JSON) in conversation order."""


def stored_conversation(
    conversation: dict[str, Any], items: list[dict[str, Any]]
) -> StoredConversation:
    """The row of `conversation` (a string `id`, no `items` key) and its `items` (with ids)."""
    return StoredConversation(
        id=conversation["id"],
        body=jsontext.dumps(conversation),
        metadata=string_pairs(conversation.get("metadata")),
        items=[(str(item["id"]), jsontext.dumps(item)) for item in items],
    )


def upsert_conversation(conn: sqlite3.Connection, conversation: StoredConversation) -> bool:
    """Insert or replace one conversation (a replaced one gets the new items and metadata).

    Returns:
        True when the id was new.
    """
    existing = conn.execute(
        "SELECT seq FROM conversations WHERE id = ?", (conversation.id,)
    ).fetchone()
    if existing is None:
        seq = conn.execute(
            "INSERT INTO conversations (id, body) VALUES (?, ?)",
            (conversation.id, conversation.body),
        ).lastrowid
    else:
        seq = existing[0]
        conn.execute("UPDATE conversations SET body = ? WHERE seq = ?", (conversation.body, seq))
        conn.execute("DELETE FROM conversation_items WHERE conversation_seq = ?", (seq,))
        conn.execute("DELETE FROM conversation_metadata WHERE conversation_seq = ?", (seq,))
    conn.executemany(
        "INSERT INTO conversation_items (conversation_seq, idx, item_id, body) VALUES (?, ?, ?, ?)",
        [(seq, index, item_id, body) for index, (item_id, body) in enumerate(conversation.items)],
    )
    conn.executemany(
        "INSERT INTO conversation_metadata (conversation_seq, key, value) VALUES (?, ?, ?)",
        [(seq, key, value) for key, value in conversation.metadata.items()],
    )
    return existing is None


def get_conversation(conn: sqlite3.Connection, conversation_id: str) -> str | None:
    row = conn.execute("SELECT body FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return row[0] if row else None


def delete_conversation(conn: sqlite3.Connection, conversation_id: str) -> bool:
    """Delete a conversation and its items (the responses made in it stay, as on OpenAI)."""
    return conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0


def list_conversation_items(
    conn: sqlite3.Connection, conversation_id: str, *, limit: int, order: str, after: str | None
) -> Page | None:
    """One page of a conversation's items in conversation order (`desc`: newest first).

    Returns:
        The page, or None when the conversation is unknown or `after` names none of its items.
    """
    return items_page(
        conn, CONVERSATION_ITEMS, conversation_id, limit=limit, order=order, after=after
    )
