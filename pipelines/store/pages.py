"""Keyset pages over a stored table: the one list query behind chat completions and responses,
and the one behind the item lists of a response and a conversation.

Both record tables keep a record's JSON in `body`, its order in `(created_sort, seq)` and its
string metadata pairs in a side table, so `after`, `limit`, `order`, `model` and `metadata[k]=v`
mean the same on both lists. Both item tables keep an owner's items by position, each with its id,
so `after` names an item id on both.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    """One page of a list call, as raw JSON texts ready to embed in the response."""

    items: list[str]
    first_id: str | None
    last_id: str | None
    has_more: bool


@dataclass(frozen=True)
class ListedTable:
    """Where a list reads: the record table and its metadata table (names from code, never input).

    Attributes:
        records: Table with `seq`, `id`, `created_sort`, `model`, `body`.
        metadata: Table with `<owner>`, `key`, `value`.
        owner: The metadata table's column holding the record's `seq`.
    """

    records: str
    metadata: str
    owner: str


def list_page(
    conn: sqlite3.Connection,
    table: ListedTable,
    *,
    limit: int,
    order: str,
    after: str | None = None,
    model: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Page | None:
    """One page of records ordered by `created_sort`, then insertion.

    Returns:
        The page, or None when `after` names no stored record.
    """
    direction, comparison = ("ASC", ">") if order == "asc" else ("DESC", "<")
    where: list[str] = []
    params: list[Any] = []
    if after is not None:
        cursor = conn.execute(
            f"SELECT created_sort, seq FROM {table.records} WHERE id = ?", (after,)
        ).fetchone()
        if cursor is None:
            return None
        where.append(f"(created_sort, seq) {comparison} (?, ?)")
        params.extend(cursor)
    if model is not None:
        where.append("model = ?")
        params.append(model)
    for key, value in (metadata or {}).items():
        where.append(
            f"EXISTS (SELECT 1 FROM {table.metadata} m"
            f" WHERE m.{table.owner} = r.seq AND m.key = ? AND m.value = ?)"
        )
        params.extend((key, value))
    sql = (
        f"SELECT id, body FROM {table.records} r"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY created_sort {direction}, seq {direction} LIMIT ?"
    )
    return page_of(conn.execute(sql, (*params, limit + 1)).fetchall(), limit)


@dataclass(frozen=True)
class ItemTable:
    """Where an owner's items are read (names from code, never input).

    Attributes:
        owners: Table with `seq` and `id`.
        items: Table with `<owner>`, `idx`, `item_id`, `body`.
        owner: The items table's column holding the owner's `seq`.
    """

    owners: str
    items: str
    owner: str


def items_page(
    conn: sqlite3.Connection,
    table: ItemTable,
    owner_id: str,
    *,
    limit: int,
    order: str,
    after: str | None,
) -> Page | None:
    """One page of an owner's items in their order (`desc`: last first).

    Returns:
        The page, or None when the owner is unknown or `after` names none of its items.
    """
    direction, comparison = ("ASC", ">") if order == "asc" else ("DESC", "<")
    row = conn.execute(f"SELECT seq FROM {table.owners} WHERE id = ?", (owner_id,)).fetchone()
    if row is None:
        return None
    params: list[Any] = [row[0]]
    where = f"{table.owner} = ?"
    if after is not None:
        cursor = conn.execute(
            f"SELECT idx FROM {table.items} WHERE {table.owner} = ? AND item_id = ?",
            (row[0], after),
        ).fetchone()
        if cursor is None:
            return None
        where += f" AND idx {comparison} ?"
        params.append(cursor[0])
    rows = conn.execute(
        f"SELECT item_id, body FROM {table.items} WHERE {where} ORDER BY idx {direction} LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    return page_of(rows, limit)


def page_of(rows: list[tuple[str, str]], limit: int) -> Page:
    """The page of `(id, body)` rows fetched with `limit + 1`: the extra row means `has_more`."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[body for _, body in rows],
        first_id=rows[0][0] if rows else None,
        last_id=rows[-1][0] if rows else None,
        has_more=has_more,
    )


def string_pairs(metadata: object) -> dict[str, str]:
    """The filterable part of a metadata value: its string → string pairs."""
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in metadata.items() if isinstance(k, str) and isinstance(v, str)}
