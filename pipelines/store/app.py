"""The Starlette application: stored-completions routes in OpenAI's and Azure's URL shapes.

Surfaces:
    /v1/chat/completions…                         OpenAI (Authorization: Bearer)
    /openai/v1/chat/completions…                  Azure v1 (api-key header or Bearer)
    /openai/chat/completions…?api-version=…       Azure classic (api-version required)
    /openai/deployments/{d}/chat/completions      where AzureOpenAI(azure_deployment=…) sends `list`
    …/responses…                                  stored responses (see `responses`)
    …/conversations…                              conversations (see `conversations`)
    …/traces, …/traces/spans                      OTLP/HTTP trace receiver, spans for ingest
    …/agents/sessions…                            the received spans as Agents API traces
    /_admin/…                                     test controls: faults, request counts, import

With `capture` (`serve --upstream`), creating a chat completion or a response goes to the upstream
and is stored, and whatever else no route serves is forwarded there (see `capture`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.store.admin import admin_routes
from pipelines.store.agent_sessions import agent_session_routes
from pipelines.store.conversations import conversation_routes
from pipelines.store.database import StoreDatabase
from pipelines.store.errors import APIError, bad_parameter, not_found
from pipelines.store.faults import FaultConfig, FaultInjector
from pipelines.store.guards import (
    DEFAULT_MAX_BODY_BYTES,
    RequestGuard,
    host_allowlist,
    is_wildcard,
    server_error,
)
from pipelines.store.identity import CAPTURE_STORE, LOCAL_STORE, StoreIdentity
from pipelines.store.params import (
    check_metadata,
    json_text,
    limit_param,
    list_response,
    metadata_filter,
    order_param,
    upstream_or,
)
from pipelines.store.responses import response_routes
from pipelines.store.scoping import (
    CALLER_SCOPE_KEY,
    refuse_reader_writes,
    scoped_filter,
    visible,
)
from pipelines.store.tenants import TENANT_KEY, Keys
from pipelines.store.traces import trace_routes

if TYPE_CHECKING:
    from pipelines.store.capture import Proxy


def create_app(
    db: StoreDatabase,
    *,
    api_key: str | None = None,
    faults: FaultConfig | None = None,
    test_controls: bool = False,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    proxy: Proxy | None = None,
    keys: Keys | None = None,
) -> FaultInjector:
    """Build the store's ASGI app.

    Args:
        db: The store to serve.
        api_key: When set, every request must carry it (Bearer, or Azure's `api-key` header).
        faults: Faults to inject from the start (see `FaultConfig`).
        test_controls: Serve `/_admin/faults`, `/_admin/stats` and `/_admin/import`.
        host: The interface the server binds; with loopback names, the only `Host` it answers.
        allowed_hosts: More `Host` names to answer (e.g. the one a reverse proxy forwards).
        max_body_bytes: Largest request body accepted; larger ones are refused with 413.
        proxy: Forward generations through this capturing proxy and store them, and forward
            the routes it allows; the caller closes it after serving.
        keys: Who may call and as which tenant (see `tenants`); by default `api_key` alone.

    Returns:
        The app, wrapped in the fault injector (whose `stats()` counts requests by kind).
    """
    api_routes = [
        Route("/chat/completions", _list_completions, methods=["GET"]),
        Route("/chat/completions", _store_record, methods=["POST"]),
        Route("/chat/completions/{completion_id}", _retrieve, methods=["GET"]),
        Route("/chat/completions/{completion_id}", _update, methods=["POST"]),
        Route("/chat/completions/{completion_id}", _delete, methods=["DELETE"]),
        Route("/chat/completions/{completion_id}/messages", _list_messages, methods=["GET"]),
        *response_routes(),
        *conversation_routes(),
        *trace_routes(),
        *agent_session_routes(),
    ]
    deployment_routes = [
        Route("/deployments/{deployment}/chat/completions", _list_completions, methods=["GET"])
    ]
    # A proxy forwards what no route serves; the catch-all goes last, in each mount and outside.
    forwarded = proxy.forwarding_routes() if proxy else []
    if proxy:
        deployment_routes.append(
            Route("/deployments/{deployment}/chat/completions", proxy.chat, methods=["POST"])
        )
    # Nothing outside the API roots is forwarded: the upstream's key stays under its base path.
    routes = [
        Mount("/v1", routes=api_routes + forwarded),
        Mount("/openai/v1", routes=api_routes + forwarded),
        Mount("/openai", routes=api_routes + deployment_routes + forwarded),
    ]
    if test_controls:
        routes.append(Mount("/_admin", routes=admin_routes()))
    if proxy:
        routes.append(Route("/distillery/health", _health, methods=["GET"]))
    app = Starlette(
        routes=routes,
        lifespan=_closing(proxy) if proxy else None,
        exception_handlers={
            APIError: lambda _request, exc: exc.to_response(),
            404: _unknown_route,
            405: _unknown_route,
            Exception: _unexpected_error,
        },
    )
    app.state.db = db
    app.state.proxy = proxy
    keys = keys or Keys(store_key=api_key)
    guard = RequestGuard(
        _AccessGuard(app, keys=keys),
        allowed_hosts=host_allowlist(host, allowed_hosts=allowed_hosts, keyed=keys.required),
        wildcard_bind=is_wildcard(host),
        max_body_bytes=max_body_bytes,
        passes_through=proxy.passes_through if proxy else None,
        forwards_uploads=proxy is not None,
    )
    injector = FaultInjector(StoreIdentity(guard, CAPTURE_STORE if proxy else LOCAL_STORE), faults)
    app.state.injector = injector
    return injector


def _closing(proxy: Proxy) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """A lifespan that closes the proxy's upstream connections when the server stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.aclose()

    return lifespan


# -- API routes --------------------------------------------------------------------------------


async def _list_completions(request: Request) -> Response:
    query = request.query_params
    page = _db(request).list_completions(
        limit=limit_param(query.get("limit")),
        order=order_param(query.get("order")),
        after=query.get("after"),
        model=query.get("model"),
        metadata=scoped_filter(request, metadata_filter(request)),
    )
    if page is None:
        raise not_found(f"No chat completion found with id '{query.get('after')}'.", param="after")
    return list_response(page)


async def _store_record(request: Request) -> Response:
    """Store one record in the import format (a stored completion plus `input_messages`).

    A chat-completion *request* (messages, no id) goes to the upstream when the store captures,
    and is refused otherwise: the store keeps completions, it does not generate them. A capturing
    store only generates here: a record to import (one with an `id`) is refused, so no client
    can forge a capture or replace one.
    """
    body = await request.body()
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        if request.app.state.proxy:  # the upstream answers a bad request as it does
            return await request.app.state.proxy.generate(request, "chat", body, None)
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if request.app.state.proxy and isinstance(payload, dict) and "id" in payload:
        raise APIError(
            400,
            "A capturing store only generates: this body has an `id`, as a stored completion to"
            " import would; imports go through `distillery store import`.",
            param="id",
            code="unsupported_operation",
        )
    if isinstance(payload, dict) and "id" not in payload and "messages" in payload:
        if request.app.state.proxy:
            return await request.app.state.proxy.generate(request, "chat", body, payload)
        raise APIError(
            400,
            "This store serves stored completions and cannot create one; POST a stored"
            " completion (with `id` and `input_messages`) to import it.",
            code="unsupported_operation",
        )
    if isinstance(payload, dict) and payload.get("object") in ("response", "conversation"):
        raise APIError(
            400,
            f"Not a storable record: this route stores chat completions, not a"
            f" {payload['object']}; import it with `distillery store import`.",
            code="invalid_record",
        )
    report = _db(request).import_lines([body.decode("utf-8")])
    if report.invalid:
        raise APIError(
            400, f"Not a storable record: {report.invalid[0][1]}.", code="invalid_record"
        )
    return json_text(_db(request).get(payload["id"]) or "")


async def _retrieve(request: Request) -> Response:
    stored = _db(request).get(request.path_params["completion_id"])
    body = visible(request, stored)
    if body is None:
        return await upstream_or(request, _unknown_completion(request), held=stored is not None)
    return json_text(body)


async def _update(request: Request) -> Response:
    try:
        payload = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from None
    # OpenAI's spec allows `"metadata": null` (the SDK sends it for `metadata=None`): as in a
    # JSON merge patch, it clears the metadata.
    if (
        not isinstance(payload, dict)
        or "metadata" not in payload
        or not isinstance(payload["metadata"], dict | None)
    ):
        raise bad_parameter("metadata", "`metadata` is required and must be an object or null.")
    refuse_reader_writes(request)
    db = _db(request)
    completion_id = request.path_params["completion_id"]
    stored = db.get(completion_id)
    body = visible(request, stored)
    if body is None:
        return await upstream_or(request, _unknown_completion(request), held=stored is not None)
    current = db.metadata_of(completion_id) or {}
    tenant = current.pop(TENANT_KEY, None)
    changes = payload["metadata"]
    if tenant is not None:
        # The tenant is the store's, not the client's: kept through any update, never changed.
        if changes is not None and TENANT_KEY in changes:
            raise bad_parameter("metadata", f"Invalid 'metadata': '{TENANT_KEY}' is reserved.")
        changes = changes if changes is not None else {key: None for key in current}
    check_metadata(current, changes or {})
    return json_text(db.update_metadata(completion_id, changes) or "")


async def _delete(request: Request) -> Response:
    refuse_reader_writes(request)
    completion_id = request.path_params["completion_id"]
    stored = _db(request).get(completion_id)
    owned = visible(request, stored) is not None
    if not owned or not _db(request).delete(completion_id):
        return await upstream_or(request, _unknown_completion(request), held=stored is not None)
    return JSONResponse({"id": completion_id, "object": "chat.completion.deleted", "deleted": True})


async def _list_messages(request: Request) -> Response:
    query = request.query_params
    completion_id = request.path_params["completion_id"]
    stored = _db(request).get(completion_id)
    if visible(request, stored) is None:
        return await upstream_or(request, _unknown_completion(request), held=stored is not None)
    page = _db(request).list_messages(
        completion_id,
        limit=limit_param(query.get("limit")),
        order=order_param(query.get("order")),
        after=query.get("after"),
    )
    if page is None:
        raise not_found(f"No message found with id '{query.get('after')}'.", param="after")
    return list_response(page)


async def _unknown_route(request: Request, exc: Exception) -> Response:
    return APIError(
        404, f"Invalid URL ({request.method} {request.url.path})", code="unknown_url"
    ).to_response()


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette's default answer is plain text, which clients expecting OpenAI's shape cannot
    # parse; the message is fixed so nothing from the request (its key least of all) is echoed.
    return server_error().to_response()


async def _health(request: Request) -> Response:
    """The capturing store's counters (committed, lost, queued): no tenant needed, no record."""
    return JSONResponse(request.app.state.proxy.health())


# -- access: API key and api-version -----------------------------------------------------------


class _AccessGuard:
    """Finds the caller (see `tenants`), refusing unknown keys, and checks Azure's required
    `api-version`."""

    def __init__(self, app: ASGIApp, *, keys: Keys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            azure = request.url.path.startswith("/openai/")
            presented = _bearer(request) or (request.headers.get("api-key") if azure else None)
            caller = self.keys.caller(presented, azure=azure)
            error = caller if isinstance(caller, APIError) else _version_refusal(request, azure)
            if error is not None:
                await error.to_response()(scope, receive, send)
                return
            scope[CALLER_SCOPE_KEY] = caller
        await self.app(scope, receive, send)


def _version_refusal(request: Request, azure: bool) -> APIError | None:
    if (
        azure
        and not request.url.path.startswith("/openai/v1/")
        and not request.query_params.get("api-version")
    ):
        return APIError(
            400,
            "Missing required query parameter 'api-version'.",
            param="api-version",
            code="missing_required_parameter",
        )
    return None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# -- responses ---------------------------------------------------------------------------------


def _db(request: Request) -> StoreDatabase:
    return request.app.state.db


def _unknown_completion(request: Request) -> APIError:
    completion_id = request.path_params["completion_id"]
    return not_found(f"No chat completion found with id '{completion_id}'.")
