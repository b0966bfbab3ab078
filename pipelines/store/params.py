"""Query parameters, metadata limits, JSON bodies and answers shared by the store's routes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipelines.store.errors import APIError, bad_parameter, not_found
from pipelines.store.pages import Page
from pipelines.store.scoping import refuse_reader_writes, visible

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
METADATA_MAX_PAIRS = 16
METADATA_MAX_KEY_CHARS = 64
METADATA_MAX_VALUE_CHARS = 512


def limit_param(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_parameter("limit", f"Invalid 'limit': expected an integer from 1 to {MAX_LIMIT}.")
    return limit


def order_param(raw: str | None, *, default: str = "asc") -> str:
    if raw is None:
        return default
    if raw not in ("asc", "desc"):
        raise bad_parameter("order", f"Invalid 'order': expected 'asc' or 'desc', got '{raw}'.")
    return raw


def metadata_filter(request: Request) -> dict[str, str]:
    """`metadata[k]=v` query pairs, as the SDK serialises a metadata dict; all must match."""
    pairs: dict[str, str] = {}
    given = 0
    for name, value in request.query_params.multi_items():
        if name.startswith("metadata[") and name.endswith("]"):
            pairs[name[len("metadata[") : -1]] = value
            given += 1
        elif name == "metadata":
            raise bad_parameter("metadata", "Invalid 'metadata': use metadata[key]=value pairs.")
    # No record holds more pairs than OpenAI allows, and each filter is a subquery: a thousand of
    # them exceed SQLite's expression depth.
    if given > METADATA_MAX_PAIRS:
        raise bad_parameter(
            "metadata",
            f"Invalid 'metadata': at most {METADATA_MAX_PAIRS} metadata[key]=value filters are"
            f" allowed, got {given}.",
        )
    return pairs


def check_metadata(current: dict[str, str], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if len(key) > METADATA_MAX_KEY_CHARS:
            raise bad_parameter(
                "metadata",
                f"Invalid 'metadata': key '{key[:20]}…' is longer than"
                f" {METADATA_MAX_KEY_CHARS} characters.",
            )
        if value is not None and not isinstance(value, str):
            raise bad_parameter(
                "metadata", f"Invalid 'metadata': value of '{key}' is not a string."
            )
        if isinstance(value, str) and len(value) > METADATA_MAX_VALUE_CHARS:
            raise bad_parameter(
                "metadata",
                f"Invalid 'metadata': value of '{key}' is longer than"
                f" {METADATA_MAX_VALUE_CHARS} characters.",
            )
    merged = {**current, **changes}
    if sum(value is not None for value in merged.values()) > METADATA_MAX_PAIRS:
        raise bad_parameter(
            "metadata", f"Invalid 'metadata': at most {METADATA_MAX_PAIRS} pairs are allowed."
        )


def json_text(text: str) -> Response:
    return Response(text, media_type="application/json")


def list_response(page: Page) -> Response:
    # Items are stored JSON texts; splice them in rather than parse and re-serialise each one.
    tail = json.dumps(
        {"first_id": page.first_id, "last_id": page.last_id, "has_more": page.has_more}
    )
    return json_text('{"object":"list","data":[' + ",".join(page.items) + "]," + tail[1:])


def json_body(body: bytes) -> Any:
    """The request body's JSON value, or None when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


async def upstream_or(request: Request, error: APIError, *, held: bool = False) -> Response:
    """Forward to the upstream when the store is a capturing proxy that forwards this route
    (`--forward`), else answer `error`: an id the store does not hold may be one the upstream
    stored, but the upstream's key is spent only where the operator said.

    `held`: the store holds the record, for another tenant. Then it is answered `error`, never
    forwarded: the upstream stored that tenant's call too, under the store's one key, and would
    serve (or delete) it to whoever asks.
    """
    proxy = request.app.state.proxy
    if held or proxy is None or not proxy.forwards(request):
        raise error
    return await proxy.forward(request)


async def delete_owned(
    request: Request,
    record_id: str,
    *,
    read: Callable[[sqlite3.Connection, str], str | None],
    delete: Callable[[sqlite3.Connection, str], bool],
    unknown: APIError,
    answer: dict[str, Any],
) -> Response:
    """Delete a stored response or conversation the caller owns, erasing its bytes from the log;
    else the upstream's (`upstream_or`), never another tenant's.

    Args:
        request: The request (its caller, the store).
        record_id: The record's id.
        read: The record's JSON text by id (None when the store does not hold it).
        delete: Deletes it; True when a row went.
        unknown: The 404 for an id the caller may not see.
        answer: The deletion object OpenAI answers with.
    """
    refuse_reader_writes(request)
    db = request.app.state.db
    with db.transaction() as conn:
        stored = read(conn, record_id)
        owned = visible(request, stored) is not None
        deleted = owned and delete(conn, record_id)
    if not deleted:
        return await upstream_or(request, unknown, held=stored is not None and not owned)
    db.erase_log()
    return JSONResponse(answer)


async def owned_items(
    request: Request,
    owner_id: str,
    *,
    read: Callable[..., Page | None],
    body: Callable[[sqlite3.Connection, str], str | None],
    unknown: APIError,
) -> Response:
    """One page of the items a response or a conversation holds, in OpenAI's list shape (newest
    first by default, `after` an item id). An owner the store does not hold, or another tenant's,
    may be the upstream's (`upstream_or`); an `after` it does not hold is a 404."""
    query = request.query_params
    limit = limit_param(query.get("limit"))
    order = order_param(query.get("order"), default="desc")
    page = None
    with request.app.state.db.reading() as conn:
        stored = body(conn, owner_id)
        known = visible(request, stored) is not None
        if known:
            page = read(conn, owner_id, limit=limit, order=order, after=query.get("after"))
    if not known:
        return await upstream_or(request, unknown, held=stored is not None)
    if page is None:
        raise not_found(f"No item found with id '{query.get('after')}'.", param="after")
    return list_response(page)
