"""Stored responses over HTTP: retrieve, input items, delete, and the list OpenAI itself lacks.

Mounted beside the chat-completions routes under `/v1`, `/openai/v1` and `/openai`. Responses get
here by capture (`distillery store serve --upstream`) or by import (`distillery store import`);
without an upstream, creating one is refused as creating a chat completion is. A capturing store
forwards to the upstream what it does not hold (an id it never stored, a background response being
streamed again), so an app can send all its traffic through it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.store.database import StoreDatabase
from pipelines.store.errors import APIError, not_found
from pipelines.store.pages import list_page
from pipelines.store.params import (
    delete_owned,
    json_body,
    json_text,
    limit_param,
    list_response,
    metadata_filter,
    order_param,
    owned_items,
    upstream_or,
)
from pipelines.store.responses_db import (
    RESPONSES,
    delete_response,
    get_response,
    list_input_items,
)
from pipelines.store.scoping import scoped_filter, visible


def response_routes() -> list[Route]:
    """The `/responses` routes, relative to an API root."""
    return [
        Route("/responses", _list_responses, methods=["GET"]),
        Route("/responses", _create, methods=["POST"]),
        Route("/responses/{response_id}", _retrieve, methods=["GET"]),
        Route("/responses/{response_id}", _delete, methods=["DELETE"]),
        Route("/responses/{response_id}/input_items", _input_items, methods=["GET"]),
    ]


async def _list_responses(request: Request) -> Response:
    """Newest first by default, as OpenAI's newer lists (`order=asc` for oldest first)."""
    query = request.query_params
    limit = limit_param(query.get("limit"))
    order = order_param(query.get("order"), default="desc")
    filters = scoped_filter(request, metadata_filter(request))
    with _db(request).reading() as conn:
        page = list_page(
            conn,
            RESPONSES,
            limit=limit,
            order=order,
            after=query.get("after"),
            model=query.get("model"),
            metadata=filters,
        )
    if page is None:
        raise not_found(f"No response found with id '{query.get('after')}'.", param="after")
    return list_response(page)


async def _create(request: Request) -> Response:
    body = await request.body()
    proxy = request.app.state.proxy
    if proxy is None:
        raise APIError(
            400,
            "This store serves stored responses and cannot create one; start it with"
            " `distillery store serve --upstream URL` to capture responses.",
            code="unsupported_operation",
        )
    return await proxy.generate(request, "response", body, json_body(body))


async def _retrieve(request: Request) -> Response:
    with _db(request).reading() as conn:
        stored = get_response(conn, request.path_params["response_id"])
    body = visible(request, stored)
    held = stored is not None and body is None
    if "stream" in request.query_params:  # a background response streamed again: upstream's
        return await upstream_or(request, _unknown_response(request), held=held)
    if body is None:
        return await upstream_or(request, _unknown_response(request), held=held)
    return json_text(body)


async def _delete(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    return await delete_owned(
        request,
        response_id,
        read=get_response,
        delete=delete_response,
        unknown=_unknown_response(request),
        answer={"id": response_id, "object": "response", "deleted": True},
    )


async def _input_items(request: Request) -> Response:
    """Input items in input order reversed by default, as OpenAI serves them (`order=asc`)."""
    return await owned_items(
        request,
        request.path_params["response_id"],
        read=list_input_items,
        body=get_response,
        unknown=_unknown_response(request),
    )


def _db(request: Request) -> StoreDatabase:
    return request.app.state.db


def _unknown_response(request: Request) -> APIError:
    return not_found(f"No response found with id '{request.path_params['response_id']}'.")
