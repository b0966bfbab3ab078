"""A wall-clock deadline on every HTTP request, body included, and one on all its tries.

httpx's timeouts bound each wait for bytes, not a whole answer: a server that sends one byte
every few seconds never trips the read timeout. So every socket wait of a request (connect, send,
headers, body) is cut to the time its deadline leaves: a trickling answer is a timeout at its
deadline, to the moment, as httpx's own `ConnectTimeout` / `WriteTimeout` / `ReadTimeout`, which
the SDK retries like any timeout and then reports as `APITimeoutError`.

The SDK's retries of one request (it numbers them in `x-stainless-retry-count`) share one budget,
`seconds` × `attempts`, measured from the first try and its backoff sleeps included: a stalled or
trickling source is given up on within that, however its bytes come.

The deadline reaches the sockets through a thread-local: the sync SDK sends a request, retries
it and reads its body on the calling thread, and each thread of a pool has its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

RETRY_COUNT_HEADER = "x-stainless-retry-count"

_current = threading.local()
"""`deadline`: when the request being served on this thread must be done (monotonic seconds);
`first_try`: when the SDK sent the first try of the request this thread is retrying."""


class DeadlineTransport(httpx2.BaseTransport):
    """Wraps an `httpx2.HTTPTransport`: every try of a request is done within `seconds`, and all
    tries of it within `seconds` × `attempts`."""

    def __init__(self, inner: httpx2.HTTPTransport, *, seconds: float, attempts: int) -> None:
        self._inner = inner
        self.seconds = seconds
        self.budget_s = seconds * attempts
        _cut_socket_waits(inner)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        now = time.monotonic()
        first_try = getattr(_current, "first_try", None)
        if request.headers.get(RETRY_COUNT_HEADER, "0") == "0" or first_try is None:
            first_try = _current.first_try = now
        deadline = min(now + self.seconds, first_try + self.budget_s)
        if deadline <= now:  # the earlier tries and the SDK's backoff used the whole budget
            raise httpx2.ReadTimeout(self._message(), request=request)
        with _until(deadline):
            response = self._inner.handle_request(request)
        response.stream = _DeadlineStream(response.stream, deadline)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self._inner.close()

    def _message(self) -> str:
        return f"no complete answer within {self.seconds:g} s a try, {self.budget_s:g} s in all"


class _DeadlineStream(httpx2.SyncByteStream):
    """A response body read under its request's deadline, on whichever thread reads it."""

    def __init__(self, inner: Iterable[bytes], deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            with _until(self._deadline):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def _until(deadline: float) -> Iterator[None]:
    outer = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = outer


def _cut(timeout: float | None, timed_out: type[Exception]) -> float | None:
    """`timeout`, cut to what the current request's deadline leaves."""
    deadline = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise timed_out("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


def _cut_socket_waits(transport: httpx2.HTTPTransport) -> None:
    # httpx takes no network backend; its connection pool does, and reads it per connection.
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        raise TypeError("httpx2.HTTPTransport has no connection pool with a network backend")
    if not isinstance(backend, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]


class _DeadlineBackend(httpcore2.NetworkBackend):
    """Opens connections whose every wait is cut to the current request's deadline."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore2.NetworkStream:
        wait = _cut(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(
            self._inner.connect_tcp(host, port, wait, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore2.NetworkStream:
        wait = _cut(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(self._inner.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineNetworkStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        wait = _cut(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
