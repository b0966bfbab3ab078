"""Conversations over HTTP: retrieve one, page its items, delete it.

Mounted beside the chat-completions and responses routes under `/v1`, `/openai/v1` and `/openai`.
Conversations get here by import (`distillery store import`); the store creates none and changes
none. A capturing store forwards to the upstream what it does not hold (an unknown id, and every
write: creating a conversation, adding items, updating its metadata), so an app can send all its
traffic through it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.store.conversations_db import (
    delete_conversation,
    get_conversation,
    list_conversation_items,
)
from pipelines.store.database import StoreDatabase
from pipelines.store.errors import APIError, not_found
from pipelines.store.params import delete_owned, json_text, owned_items, upstream_or
from pipelines.store.scoping import visible


def conversation_routes() -> list[Route]:
    """The `/conversations` routes, relative to an API root."""
    return [
        Route("/conversations/{conversation_id}", _retrieve, methods=["GET"]),
        Route("/conversations/{conversation_id}", _delete, methods=["DELETE"]),
        Route("/conversations/{conversation_id}/items", _items, methods=["GET"]),
    ]


async def _retrieve(request: Request) -> Response:
    with _db(request).reading() as conn:
        stored = get_conversation(conn, request.path_params["conversation_id"])
    body = visible(request, stored)
    if body is None:
        held = stored is not None
        return await upstream_or(request, _unknown_conversation(request), held=held)
    return json_text(body)


async def _delete(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    return await delete_owned(
        request,
        conversation_id,
        read=get_conversation,
        delete=delete_conversation,
        unknown=_unknown_conversation(request),
        answer={"id": conversation_id, "object": "conversation.deleted", "deleted": True},
    )


async def _items(request: Request) -> Response:
    """Items newest first by default, as OpenAI serves them (`order=asc` for oldest first).

    `include` asks OpenAI for extra fields (image URLs, reasoning content) on the items; the store
    serves each item as it was imported, so it ignores it.
    """
    return await owned_items(
        request,
        request.path_params["conversation_id"],
        read=list_conversation_items,
        body=get_conversation,
        unknown=_unknown_conversation(request),
    )


def _db(request: Request) -> StoreDatabase:
    return request.app.state.db


def _unknown_conversation(request: Request) -> APIError:
    return not_found(f"No conversation found with id '{request.path_params['conversation_id']}'.")
