"""Sending the upstream's answer on to the client: whole, or relayed chunk by chunk as it arrives.

Both watch the client: one that hangs up cancels the upstream request (a backend such as vLLM then
stops generating) and a cancelled generation is never stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import httpx2
from starlette.types import Receive, Scope, Send

from pipelines.store.capture.streams import StreamCapture, error_event
from pipelines.store.capture.usage import UsageChunkFilter

log = logging.getLogger("distillery.store.capture")
T = TypeVar("T")
Headers = list[tuple[bytes, bytes]]


class BufferedAnswer:
    """An ASGI response of a known body: status and headers as the upstream sent them."""

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = [*headers, (b"content-length", b"%d" % len(body))]
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class StreamRelay:
    """An ASGI response that relays an upstream response's body as each chunk arrives.

    Args:
        response: The upstream response, opened with `stream=True`; the relay closes it.
        headers: Headers for the client.
        decoded: Relay the decoded body (a generation, whose events are read) rather than the raw
            bytes (anything else, passed through as sent, compressed or not).
        capture: Reads a generation's events as they pass; None for anything else.
        on_ended: Called, and awaited, when `capture` says the generation ended well: it stores the
            record before the chunk that ended the generation goes out, so a client that has seen
            the end can find it stored.
        timeout_s: The upstream timeout, named in the error event when the upstream stalls.
        usage_filter: Takes the usage-only chunk out of what the client receives (the proxy
            asked for usage on its behalf: `--stream-usage`); the capture still sees it.
    """

    def __init__(
        self,
        response: httpx2.Response,
        headers: Headers,
        *,
        decoded: bool,
        capture: StreamCapture | None = None,
        on_ended: Callable[[StreamCapture], Awaitable[None]] | None = None,
        kind: str | None = None,
        timeout_s: float = 0.0,
        usage_filter: UsageChunkFilter | None = None,
    ) -> None:
        self.response = response
        self.headers = headers
        self.decoded = decoded
        self.capture = capture
        self.on_ended = on_ended
        self.kind = kind
        self.timeout_s = timeout_s
        self.usage_filter = usage_filter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.response.status_code}
        try:
            await send({**start, "headers": self.headers})
            await cancelled_on_hangup(receive, lambda: self._relay(send))
        finally:
            with anyio.CancelScope(shield=True):
                await self.response.aclose()

    async def _relay(self, send: Send) -> None:
        chunks = self.response.aiter_bytes() if self.decoded else self.response.aiter_raw()
        try:
            async for chunk in chunks:
                if self.capture is not None and self.capture.feed(chunk):
                    await self._ended()
                if self.usage_filter is not None:
                    chunk = self.usage_filter.feed(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx2.TransportError as err:
            if self.kind is None:
                # Not a stream of events: the client's connection drops, as the upstream's did.
                raise
            await send({"type": "http.response.body", "body": self._error(err)})
            return
        if self.capture is not None and not self.capture.ended and self.capture.ended_at_close():
            await self._ended()
        rest = self.usage_filter.flush() if self.usage_filter is not None else b""
        await send({"type": "http.response.body", "body": rest})

    async def _ended(self) -> None:
        if self.on_ended is not None and self.capture is not None:
            await self.on_ended(self.capture)

    def _error(self, err: httpx2.TransportError) -> bytes:
        # The stream is already under way with status 200: its end says what went wrong, in the
        # error shape of its API, so the SDK raises with a message instead of hanging or parsing
        # half an event. Nothing is stored.
        kind = self.kind or "chat"
        if isinstance(err, httpx2.TimeoutException):
            message = (
                f"The upstream sent nothing for {self.timeout_s:g} s (--upstream-timeout); the"
                " stream was cut off and nothing was stored."
            )
            log.warning("upstream stream stalled for %g s; cut off", self.timeout_s)
            return error_event(kind, message, code="upstream_timeout")
        log.warning("upstream closed a stream before it finished (%s)", type(err).__name__)
        message = "The upstream closed the stream before it finished; nothing was stored."
        return error_event(kind, message, code="upstream_disconnected")


async def cancelled_on_hangup(receive: Receive, work: Callable[[], Awaitable[T]]) -> T | None:
    """Run `work` until it finishes or the client disconnects, whichever comes first.

    Plain asyncio rather than an anyio task group: this wraps every proxied request, and a task
    group costs several times more.

    Returns:
        What `work` returned, or None when the client left first (and `work` was cancelled).
    """
    task = asyncio.current_task()
    assert task is not None
    hung_up = False

    async def watch() -> None:
        nonlocal hung_up
        while (await receive())["type"] != "http.disconnect":
            pass
        hung_up = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work()
    except asyncio.CancelledError:
        if not hung_up:
            raise
        task.uncancel()
        return None
    finally:
        watcher.cancel()
