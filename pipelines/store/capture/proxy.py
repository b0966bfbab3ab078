"""The capturing proxy: generation requests go upstream and what comes back is stored; every other
request the store does not serve itself is forwarded unchanged.

The upstream's answer is the client's: its status, body and headers (`retry-after`,
`x-request-id`, rate-limit headers) pass through as sent. Only what the proxy itself cannot do is
its own answer, in OpenAI's error shape: 502 when the upstream cannot be reached or drops the
connection, 504 when it sends nothing for `--upstream-timeout` seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp

from pipelines.store.capture.records import (
    POLICIES,
    Capture,
    metadata_refusal,
    wants_storing,
)
from pipelines.store.capture.relay import BufferedAnswer, StreamRelay, cancelled_on_hangup
from pipelines.store.capture.streams import StreamCapture
from pipelines.store.capture.upstream import (
    CONNECT_TIMEOUT_S,
    Upstream,
    api_route,
    response_headers,
)
from pipelines.store.capture.usage import UsageChunkFilter, request_body, usage_requested
from pipelines.store.capture.writer import DEFAULT_BUDGET_S, RecordWriter, WriterClosed
from pipelines.store.errors import APIError
from pipelines.store.params import json_body
from pipelines.store.scoping import caller_of, reader_refusal

log = logging.getLogger("distillery.store.capture")
FORWARDED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval in a capturing store's process (`serve` sets it, for
the whole process, never a library import): after each fsync the committing thread waits for the
busy event loop to hand back the GIL, by default up to 5 ms, and every request of the batch waits
with it."""
DEFAULT_FORWARD = ("models", "embeddings")
"""Routes forwarded with the upstream's key besides generations (`--forward`), named by their
first path segment under the API root."""
STORE_ROUTES = frozenset({"chat", "responses", "conversations"})
"""Routes the store serves (some of) itself, reading their bodies: always bounded."""
RECORD_ID_HEADER = b"x-distillery-record-id"
"""On a stored non-streamed answer: the id the store keeps it under (the upstream's, unless the
store already held that id)."""


@dataclass(frozen=True)
class CaptureSettings:
    """How `distillery store serve --upstream` captures.

    Attributes:
        upstream: Where generations (and everything else the store does not serve) go.
        policy: `request` (store what the request asks: `store: true` for chat, Responses unless
            `store: false`), `always` or `never`.
        forward: The routes besides generations the upstream's key is spent on, by first path
            segment under the API root (`models`, `embeddings`, `files`, `chat` for stored
            completions the store does not hold, …); everything else is answered 404.
        stream_usage: Ask the upstream for usage on every chat stream (`--stream-usage`), so the
            capture has it; a client that did not ask does not receive the usage-only chunk.
        budget_s: How long a capture may wait to be committed (another process holding the
            write lock) before it is dropped and counted; the answer never waits for it.
    """

    upstream: Upstream
    policy: str = "request"
    forward: frozenset[str] = frozenset(DEFAULT_FORWARD)
    stream_usage: bool = False
    budget_s: float = DEFAULT_BUDGET_S

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"capture policy must be one of {', '.join(POLICIES)}")


class Proxy:
    """Forwards to the upstream and stores generations.

    Args:
        settings: Upstream and policy.
        db_path: The store's SQLite file, where the writer commits captures.
    """

    def __init__(self, settings: CaptureSettings, db_path: str | Path) -> None:
        self.upstream = settings.upstream
        self.policy = settings.policy
        self.forward_routes = settings.forward
        self.stream_usage = settings.stream_usage
        self.writer = RecordWriter(db_path, budget_s=settings.budget_s)
        self._client: httpx2.AsyncClient | None = None

    @property
    def client(self) -> httpx2.AsyncClient:
        # Made on first use, inside the server's event loop, which it must belong to.
        if self._client is None:
            timeout = self.upstream.timeout_s
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
                # The clients bound the concurrency; a pool limit would only queue their requests.
                limits=httpx2.Limits(max_connections=None, max_keepalive_connections=256),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def close(self) -> None:
        """Close the writer once the server has stopped (committing what it still holds)."""
        self.writer.close()

    def health(self) -> dict[str, object]:
        """What `/distillery/health` answers: the capture writer's counters."""
        return {"status": "ok", "captures": self.writer.health()}

    def forwarding_routes(self) -> list[Route]:
        """The catch-all that forwards whatever no other route serves (it must come last)."""
        return [Route("/{path:path}", self.forward, methods=FORWARDED_METHODS)]

    async def chat(self, request: Request) -> ASGIApp:
        """Route for Azure's deployment path, where only generation is a proxy's to serve."""
        body = await request.body()
        return await self.generate(request, "chat", body, json_body(body))

    # -- forwarding ----------------------------------------------------------------------------

    def passes_through(self, path: str) -> bool:
        """Whether a request to `path` is forwarded without the store reading its body (a
        route `--forward` allows that the store serves no part of), so no body limit applies."""
        route = api_route(path)
        return route in self.forward_routes and route not in STORE_ROUTES

    def forwards(self, request: Request) -> bool:
        """Whether `request` may go upstream with the upstream's key: a route `--forward` allows,
        from a caller that may write."""
        return caller_of(request).writes and api_route(request.url.path) in self.forward_routes

    async def forward(self, request: Request) -> ASGIApp:
        """Send the request upstream unchanged and relay the answer unchanged (not decoded), when
        `--forward` allows its route; 403 for a reader, 404 for a route not forwarded."""
        if not caller_of(request).writes:
            return reader_refusal().to_response()
        if not self.forwards(request):
            return APIError(
                404,
                f"Invalid URL ({request.method} {request.url.path}): this store does not forward"
                " that route (see --forward).",
                code="unknown_url",
            ).to_response()
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        upstream_request = self.client.build_request(
            request.method,
            self.upstream.url_for(request.url.path, request.url.query),
            headers=self.upstream.request_headers(request.headers.raw, generation=False),
            content=request.stream() if has_body else None,
        )
        try:
            response = await self.client.send(upstream_request, stream=True)
        except httpx2.TransportError as err:
            return self._failure(err)
        headers = response_headers(response.headers.raw, decoded=False)
        return StreamRelay(response, headers, decoded=False)

    # -- generation ----------------------------------------------------------------------------

    async def generate(self, request: Request, kind: str, body: bytes, payload: Any) -> ASGIApp:
        """Forward a generation request (`kind`: `chat` or `response`) and store what it makes.

        A request that is not a JSON object goes up as it is, for the upstream to refuse. A
        reader may not generate (403).
        """
        caller = caller_of(request)
        if not caller.writes:
            return reader_refusal().to_response()
        store = isinstance(payload, dict) and wants_storing(self.policy, kind, payload)
        if store:
            refusal = metadata_refusal(payload)
            if refusal is not None:
                return refusal.to_response()
        asked = usage_requested(payload) if store and self.stream_usage and kind == "chat" else None
        if asked is not None:
            body, payload = request_body(asked), asked
        upstream_request = self.client.build_request(
            "POST",
            self.upstream.url_for(request.url.path, request.url.query),
            headers=self.upstream.request_headers(request.headers.raw, generation=True),
            content=body,
        )

        async def exchange() -> ASGIApp:
            try:
                response = await self.client.send(upstream_request, stream=True)
            except httpx2.TransportError as err:
                return self._failure(err)
            try:
                if response.status_code == 200 and _is_event_stream(response):
                    stored_for = payload if store else None
                    relay = self._relay(response, kind, stored_for, caller.tenant)
                    relay.usage_filter = UsageChunkFilter() if asked is not None else None
                    return relay
                answer = await self._buffered(
                    response, kind, payload if store else None, caller.tenant
                )
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
                raise
            return answer

        answer = await cancelled_on_hangup(request.receive, exchange)
        # None: the client hung up, the upstream request was cancelled, nobody reads an answer.
        return answer or BufferedAnswer(499, [], b"")

    async def _buffered(
        self,
        response: httpx2.Response,
        kind: str,
        store_for: dict[str, Any] | None,
        tenant: str | None,
    ) -> ASGIApp:
        try:
            body = await response.aread()
        except httpx2.TransportError as err:
            return self._failure(err, started=True)
        finally:
            await response.aclose()
        headers = response_headers(response.headers.raw, decoded=True)
        answer = json_body(body) if store_for is not None and response.status_code == 200 else None
        if isinstance(answer, dict) and store_for is not None:
            stored_id = await self._store(
                Capture(kind, store_for, answer, _request_id(response), tenant)
            )
            if stored_id is not None:
                headers.append((RECORD_ID_HEADER, stored_id.encode()))
        return BufferedAnswer(response.status_code, headers, body)

    def _relay(
        self,
        response: httpx2.Response,
        kind: str,
        store_for: dict[str, Any] | None,
        tenant: str | None,
    ) -> StreamRelay:
        request_id = _request_id(response)

        async def on_ended(capture: StreamCapture) -> None:
            if store_for is not None:
                await self._store(Capture(kind, store_for, capture.result(), request_id, tenant))

        return StreamRelay(
            response,
            response_headers(response.headers.raw, decoded=True),
            decoded=True,
            capture=StreamCapture(kind) if store_for is not None else None,
            on_ended=on_ended,
            kind=kind,
            timeout_s=self.upstream.timeout_s,
        )

    async def _store(self, capture: Capture) -> str | None:
        try:
            return self.writer.store(capture)
        except WriterClosed:
            log.error("a %s finished after the capture writer stopped; not stored", capture.kind)
            return None

    def _failure(self, err: httpx2.TransportError, *, started: bool = False) -> ASGIApp:
        """502 or 504 in OpenAI's shape for an upstream that failed before answering in full."""
        host = self.upstream.host
        if isinstance(err, httpx2.TimeoutException):
            waited = CONNECT_TIMEOUT_S if isinstance(err, httpx2.ConnectTimeout) else None
            waited = min(waited or self.upstream.timeout_s, self.upstream.timeout_s)
            log.warning("upstream %s timed out after %g s", host, waited)
            return APIError(
                504,
                f"The upstream ({host}) sent nothing for {waited:g} s (--upstream-timeout);"
                " the request was given up and nothing was stored.",
                type="server_error",
                code="upstream_timeout",
            ).to_response()
        log.warning("upstream %s failed: %s", host, type(err).__name__)
        if started:
            message = f"The upstream ({host}) closed the connection before its answer was complete."
        else:
            message = f"Could not reach the upstream ({host}): {type(err).__name__}."
        error = APIError(502, message, type="server_error", code="upstream_unavailable")
        return error.to_response()


def _is_event_stream(response: httpx2.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def _request_id(response: httpx2.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("apim-request-id")
