"""SQLite storage of received trace spans, beside the completions, responses and conversations.

Each span is kept as it came (`pipelines.otlp` span record: the span with its resource and scope,
in the OTLP/JSON encoding), once per (trace id, span id): an exporter that sends a batch again
(its retry after a timeout) changes nothing. Spans are listed in the order they arrived (`seq`),
so a reader pages them with `after` = the last `seq` it read and never misses a late one. A
capturing store with tenants records the tenant of the key that sent each span, and a tenant's key
lists only its own (`pipelines.store.scoping`). Every function takes the connection, as in
`responses_db`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from pipelines import jsontext, otlp
from pipelines.store.pages import Page

SPANS_SCHEMA = """
CREATE TABLE IF NOT EXISTS trace_spans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,            -- unix seconds
    tenant TEXT,                             -- the sender's tenant; null in a plain store
    session_id TEXT NOT NULL,                -- its session (`session_of`), for /agents/sessions
    body TEXT NOT NULL,                      -- the span record JSON, as received
    UNIQUE (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS trace_spans_by_session ON trace_spans (session_id, seq);
"""

SESSION_ATTRIBUTES = ("session.id", "gen_ai.conversation.id")
"""Span attributes that name a session: OpenInference's `using_session`, the GenAI conventions'
conversation id."""


def store_spans(
    conn: sqlite3.Connection,
    records: Iterable[dict[str, Any]],
    *,
    received_at: int,
    tenant: str | None,
) -> tuple[int, int]:
    """Keep span records not stored yet.

    Returns:
        (spans stored, spans already held): records without a trace or span id are neither,
        and the caller reports them rejected.
    """
    stored = repeated = 0
    for record in records:
        trace_id, span_id = otlp.span_key(record)
        if not (trace_id and span_id):
            continue
        cursor = conn.execute(
            "INSERT OR IGNORE INTO trace_spans"
            " (trace_id, span_id, received_at, tenant, session_id, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (trace_id, span_id, received_at, tenant, session_of(record), jsontext.dumps(record)),
        )
        if cursor.rowcount:
            stored += 1
        else:
            repeated += 1
    return stored, repeated


def spans_page(
    conn: sqlite3.Connection, *, after: int | None, limit: int, tenant: str | None
) -> Page:
    """Spans in the order they arrived, after the span numbered `after` (of `tenant` only, unless
    None), as list items: `{"id": "<seq>", "object": "trace.span", "trace_id", "span_id",
    "received_at", "tenant", "record"}`."""
    rows = conn.execute(
        "SELECT seq, trace_id, span_id, received_at, tenant, body FROM trace_spans"
        " WHERE seq > ? AND (? IS NULL OR tenant = ?) ORDER BY seq LIMIT ?",
        (after or 0, tenant, tenant, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        json.dumps(
            {
                "id": str(seq),
                "object": "trace.span",
                "trace_id": trace_id,
                "span_id": span_id,
                "received_at": received_at,
                "tenant": span_tenant,
            }
        )[:-1]
        + ',"record":'
        + body
        + "}"
        for seq, trace_id, span_id, received_at, span_tenant, body in rows
    ]
    return Page(
        items=items,
        first_id=str(rows[0][0]) if rows else None,
        last_id=str(rows[-1][0]) if rows else None,
        has_more=more,
    )


def session_of(record: dict[str, Any]) -> str:
    """The session a span belongs to: the one its attributes name, else its trace (a trace
    without a named session is a session of its own)."""
    attrs = otlp.span_attributes(record)
    named = next((attrs[key] for key in SESSION_ATTRIBUTES if attrs.get(key)), None)
    return str(named) if named is not None else otlp.span_key(record)[0]
