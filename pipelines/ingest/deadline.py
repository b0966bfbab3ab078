"""A wall-clock deadline on every HTTP request, body included.

httpx's timeouts bound each wait for bytes, not a whole answer: a server that sends one byte every
30 s is never given up on. This transport gives up once `seconds` have passed since the request
went out, however the bytes trickle, by raising httpx's own `ReadTimeout`, which the SDK retries
like any timeout and then reports as `APITimeoutError`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2


class DeadlineTransport(httpx2.BaseTransport):
    """Wraps a transport; every response must be complete within `seconds` of its request."""

    def __init__(self, inner: httpx2.BaseTransport, *, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        deadline = time.monotonic() + self._seconds
        response = self._inner.handle_request(request)
        response.stream = _DeadlineStream(response.stream, deadline, request, self._seconds)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self._inner.close()


class _DeadlineStream(httpx2.SyncByteStream):
    def __init__(
        self, inner: httpx2.SyncByteStream, deadline: float, request: httpx2.Request, seconds: float
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._request = request
        self._seconds = seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx2.ReadTimeout(
                    f"no complete answer within {self._seconds:g} s", request=self._request
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()
