"""Erase from a distillery store's SQLite file (the local store, the capture store): the rows,
and the bytes.

Deleting a row only unlinks it: its text stays in the freed page, in the write-ahead log and in
pages freed by earlier updates. So the deletion runs with `secure_delete` (freed content is
overwritten with zeros), the log is checkpointed and truncated, the file is vacuumed (rebuilt
from the live rows only, which also clears what earlier updates freed before `secure_delete`
was on), and the log truncated again.

A store names what it holds by its own tables, matched like the lake: by id (a tombstoned id
included), by metadata pair, by user, and responses built on a matching response or
conversation. Spans its trace receiver kept are matched by their lake id
(`span_<trace id>_<span id>`), named or tombstoned: a span carries no metadata of the request.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.datadir.tombstones import Tombstones
from pipelines.forget.selection import USER_FIELDS, Selection

STORE_TABLES = {
    "chat_completions": "completions",
    "responses": "responses",
    "conversations": "conversations",
}
"""API → the store's table of it (its items and metadata go with it: ON DELETE CASCADE)."""

BUSY_TIMEOUT_MS = 30_000


@dataclass
class StorePurge:
    """What one store file lost.

    Attributes:
        deleted: Records deleted, per API.
        ids: The ids deleted (kept in memory only: the caller tombstones them).
        wal_bytes: Size of the write-ahead log afterwards (0 once truncated).
        checkpoint_busy: A reader kept the checkpoint from finishing (the log may still hold
            old pages; run again once the store is idle).
    """

    deleted: dict[str, int] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    wal_bytes: int = 0
    checkpoint_busy: bool = False


def matching_store_ids(
    conn: sqlite3.Connection, selection: Selection, tombstones: Tombstones
) -> dict[str, set[str]]:
    """API → ids in the store that the selection or the tombstones name."""
    conn.create_function("tombstoned", 1, lambda i: i is not None and tombstones.holds(i))
    found: dict[str, set[str]] = {api: set() for api in STORE_TABLES}
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for api, table in STORE_TABLES.items():
        if table not in present:  # a store file from before that table existed
            continue
        clauses, params = ["tombstoned(id)"], []
        if selection.ids:
            clauses.append(f"id IN ({','.join('?' * len(selection.ids))})")
            params.extend(selection.ids)
        for key, value in selection.metadata:
            clauses.append("json_extract(body, ?) = ?")
            params.extend([f'$.metadata."{key}"', value])
        for user in selection.users:
            for name in USER_FIELDS:
                clauses.append(f"json_extract(body, '$.{name}') = ?")
                params.append(user)
        query = f"SELECT id FROM {table} WHERE json_valid(body) AND ({' OR '.join(clauses)})"
        found[api] = {row[0] for row in conn.execute(query, params)}
    _add_dependents(conn, found)
    found[TRACES] = _matching_spans(conn, selection)
    return found


TRACES = "traces"
_SPAN_ID = "'span_' || trace_id || '_' || span_id"
"""A stored span's lake id (`pipelines.ingest.rows`), in SQL."""


def _matching_spans(conn: sqlite3.Connection, selection: Selection) -> set[str]:
    """Lake ids of the spans in the store's trace receiver that are named or tombstoned."""
    has_spans = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trace_spans'"
    ).fetchone()
    if has_spans is None:
        return set()
    clauses, params = [f"tombstoned({_SPAN_ID})"], []
    if selection.ids:
        clauses.append(f"{_SPAN_ID} IN ({','.join('?' * len(selection.ids))})")
        params.extend(selection.ids)
    query = f"SELECT {_SPAN_ID} FROM trace_spans WHERE {' OR '.join(clauses)}"
    return {row[0] for row in conn.execute(query, params)}


def _add_dependents(conn: sqlite3.Connection, found: dict[str, set[str]]) -> None:
    """Responses continuing a found response, or made in a found conversation."""
    if not found["responses"] | found["conversations"]:
        return
    links = conn.execute(
        "SELECT id, json_extract(body, '$.previous_response_id'),"
        " coalesce(json_extract(body, '$.conversation.id'), json_extract(body, '$.conversation'))"
        " FROM responses WHERE json_valid(body)"
    ).fetchall()
    while True:
        named = found["responses"] | found["conversations"]
        more = {i for i, previous, conversation in links if {previous, conversation} & named}
        if more <= found["responses"]:
            return
        found["responses"] |= more


def purge_store(
    path: str | Path, selection: Selection, tombstones: Tombstones, *, dry_run: bool
) -> StorePurge:
    """Delete the matching records of one store file and erase their bytes (see the module)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no store database at {path}")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        found = matching_store_ids(conn, selection, tombstones)
        purge = StorePurge(
            deleted={api: len(ids) for api, ids in found.items()},
            ids=set().union(*found.values()),
        )
        if dry_run:
            return purge
        conn.execute("BEGIN IMMEDIATE")
        for api, ids in found.items():
            if not ids:
                continue
            if api == TRACES:
                conn.executemany(
                    f"DELETE FROM trace_spans WHERE {_SPAN_ID} = ?", [(i,) for i in sorted(ids)]
                )
                continue
            conn.executemany(
                f"DELETE FROM {STORE_TABLES[api]} WHERE id = ?",
                [(i,) for i in sorted(ids)],
            )
        conn.execute("COMMIT")
        purge.checkpoint_busy = erase_freed_bytes(conn)
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    purge.wal_bytes = wal.stat().st_size if wal.exists() else 0
    return purge


def erase_freed_bytes(conn: sqlite3.Connection) -> bool:
    """Checkpoint and truncate the log, vacuum, truncate again; True if a reader kept a
    checkpoint from finishing."""
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    conn.execute("VACUUM")
    busy |= conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return bool(busy)
