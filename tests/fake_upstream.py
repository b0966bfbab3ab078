"""A deterministic OpenAI-compatible upstream for the capture tests: chat completions and responses,
streamed (SSE) and not, with tool calls, in OpenAI's and Azure's URL shapes, plus the faults real
upstreams have.

What it answers (`tests.fake_answers`) depends only on the request, so a test can say what a client
must receive. The model name picks a fault:

    fault-429           429 with `retry-after: 7`, `retry-after-ms` and an x-request-id
    fault-500           500 in OpenAI's error shape
    fault-drop          the connection dropped halfway (mid-body, or after two stream chunks)
    fault-stall         nothing at all until the client gives up
    fault-stall-stream  two stream chunks, then nothing
    fault-fail          a response that fails (`status: failed`, or a `response.failed` event)
    slow-stream         a stream with 0.08 s between chunks (time for a client to hang up)
    same-id             every chat completion has the id `chatcmpl-same` (as short-id backends may)
    ragged              streams cut into 7-byte pieces, splitting lines and characters
    no-finish           a chat stream that ends cleanly (`[DONE]`) with no finish reason
    recorded-NAME       `tests/fixtures/sse/NAME.sse`, a real upstream's stream, replayed byte for
                        byte (event by event), whatever was asked

A request whose last message asks about the weather, with tools given, is answered with two tool
calls. The server runs on a thread of the test process (uvicorn, loopback port) and keeps every
request it saw, headers included, in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fake_answers import (
    CREATED,
    chat_chunks,
    chat_completion,
    response_events,
    response_object,
)

STALL_S = 30.0
RECORDED = Path(__file__).parent / "fixtures" / "sse"
"""Where the real streams `recorded-NAME` replays are kept (see the README there)."""
RETRY_AFTER = "7"


@dataclass
class SeenRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeUpstream:
    """The upstream's state: an optional key it insists on, a delay before each generation
    answers (its time to think), and what it was sent."""

    required_key: str | None = None
    latency_s: float = 0.0
    requests: list[SeenRequest] = field(default_factory=list)
    url: str = ""
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_number(self) -> int:
        return next(self._counter)

    def seen(self, path_part: str) -> list[SeenRequest]:
        return [r for r in self.requests if path_part in r.path]


# -- the app ---------------------------------------------------------------------------------


def _error(status: int, message: str, type_: str, code: str | None, **headers: str) -> Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_upstream_app(state: FakeUpstream) -> Starlette:
    async def record(request: Request) -> bytes:
        body = await request.body()
        state.requests.append(
            SeenRequest(
                request.method,
                request.url.path,
                request.url.query,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        return body

    def refusal(request: Request) -> Response | None:
        azure = request.url.path.startswith("/openai/")
        classic = azure and "/openai/v1/" not in request.url.path
        if classic and not request.query_params.get("api-version"):
            return _error(400, "api-version is required", "invalid_request_error", None)
        if state.required_key is None:
            return None
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        presented = request.headers.get("api-key") if azure else bearer
        if presented != state.required_key and bearer != state.required_key:
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "bad_key")
        return None

    async def chat(request: Request) -> Response:
        body = await record(request)
        refused = refusal(request)
        if refused is not None:
            return refused
        payload = json.loads(body)
        number = state.next_number()
        request_id = f"req_up{number:06d}"
        fault = await _fault(request, payload.get("model", ""), request_id)
        if fault is not None:
            return fault
        if payload.get("model", "").startswith("recorded-"):
            return _recorded(payload["model"], {"x-request-id": request_id})
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        completion = chat_completion(payload, number, azure=request.url.path.startswith("/openai"))
        headers = {"x-request-id": request_id, "openai-processing-ms": "3"}
        if payload.get("stream"):
            lines = [f"data: {json.dumps(c)}\n\n" for c in chat_chunks(payload, completion)]
            lines.append("data: [DONE]\n\n")
            return _sse(lines, payload.get("model", ""), headers)
        if payload.get("model") == "fault-drop":
            return _dropped(json.dumps(completion).encode())
        return JSONResponse(completion, headers=headers)

    async def responses(request: Request) -> Response:
        body = await record(request)
        refused = refusal(request)
        if refused is not None:
            return refused
        payload = json.loads(body)
        number = state.next_number()
        request_id = f"req_up{number:06d}"
        fault = await _fault(request, payload.get("model", ""), request_id)
        if fault is not None:
            return fault
        if payload.get("model", "").startswith("recorded-"):
            return _recorded(payload["model"], {"x-request-id": request_id})
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        response = response_object(payload, number)
        headers = {"x-request-id": request_id}
        if payload.get("stream"):
            lines = [
                f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in response_events(response)
            ]
            return _sse(lines, payload.get("model", ""), headers)
        return JSONResponse(response, headers=headers)

    async def other(request: Request) -> Response:
        body = await record(request)
        refused = refusal(request)
        if refused is not None:
            return refused
        path = request.url.path
        headers = {"x-request-id": "req_other"}
        if path.endswith("/models"):
            models = [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}]
            return JSONResponse({"object": "list", "data": models}, headers=headers)
        if path.endswith("/embeddings"):
            item = {"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}
            answer = {"object": "list", "data": [item], "model": "fake-embed", "usage": {}}
            return JSONResponse(answer, headers=headers)
        if path.endswith("/files") and request.method == "POST":
            answer = {
                "id": "file-fake",
                "object": "file",
                "bytes": len(body),
                "created_at": CREATED,
                "filename": "upload.jsonl",
                "purpose": "fine-tune",
                "status": "processed",
                "content_type": request.headers.get("content-type", "").split(";")[0],
            }
            return JSONResponse(answer, headers=headers)
        return _error(404, f"No route {request.method} {path}", "invalid_request_error", None)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/openai/v1/chat/completions", chat, methods=["POST"]),
        Route("/openai/deployments/{d}/chat/completions", chat, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/openai/v1/responses", responses, methods=["POST"]),
        Route("/openai/responses", responses, methods=["POST"]),
        Route("/{path:path}", other, methods=methods),
    ]
    # Compressed as real upstreams compress (whole answers; event streams are left alone), so the
    # proxy's decoding and header handling are exercised by every test.
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=200)])


async def _fault(request: Request, model: str, request_id: str) -> Response | None:
    if model == "fault-429":
        return _error(
            429,
            "Rate limit reached for requests. Please try again in 7s.",
            "requests",
            "rate_limit_exceeded",
            **{"retry-after": RETRY_AFTER, "retry-after-ms": "7000", "x-request-id": request_id},
        )
    if model == "fault-500":
        return _error(
            500,
            "The server had an error processing your request.",
            "server_error",
            None,
            **{"x-request-id": request_id},
        )
    if model == "fault-stall":
        deadline = time.monotonic() + STALL_S
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(0.05)
        return Response(status_code=204)
    return None


def _sse(lines: list[str], model: str, headers: dict[str, str]) -> Response:
    async def stream() -> AsyncIterator[bytes]:
        data = [line.encode() for line in lines]
        if model == "no-finish":
            unfinished = b'"finish_reason": null'
            data = [line.replace(b'"finish_reason": "stop"', unfinished) for line in data]
        if model == "ragged":
            joined = b"".join(data)
            data = [joined[i : i + 7] for i in range(0, len(joined), 7)]
        for number, chunk in enumerate(data):
            if number == 2 and model == "fault-drop":
                raise ConnectionAbortedError("the fake upstream drops this stream")
            if number == 2 and model == "fault-stall-stream":
                await asyncio.sleep(STALL_S)
            yield chunk
            await asyncio.sleep(0.08 if model == "slow-stream" else 0)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def recorded_stream(model: str) -> bytes:
    """The recorded body the model `recorded-NAME` replays."""
    return (RECORDED / f"{model.removeprefix('recorded-')}.sse").read_bytes()


def _recorded(model: str, headers: dict[str, str]) -> Response:
    # Sent one event at a time, as the upstream sent them; the pieces join to the file exactly.
    body = recorded_stream(model)
    events = [event + b"\n\n" for event in body.split(b"\n\n")[:-1]]
    assert b"".join(events) == body, f"{model}: a recording must end with a blank line"

    async def stream() -> AsyncIterator[bytes]:
        for event in events:
            yield event
            await asyncio.sleep(0)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _dropped(body: bytes) -> Response:
    class Dropped(Response):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            length = str(len(body)).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", length)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body[:20], "more_body": True})
            # Returning mid-body makes uvicorn close the connection: the client sees a drop.

    return Dropped()


@contextlib.contextmanager
def running_upstream(state: FakeUpstream | None = None) -> Iterator[FakeUpstream]:
    """Serve a `FakeUpstream` on a loopback port from a thread for the `with` block."""
    state = state or FakeUpstream()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    config = uvicorn.Config(
        create_upstream_app(state),
        log_level="critical",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-upstream", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    state.url = f"http://{host}:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
