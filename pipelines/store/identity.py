"""The store says what it is on every answer, so a reader can tell it from OpenAI's API.

`x-distillery-store` (`STORE_HEADER`): `capture` (served with `--upstream`: it captures traffic)
or `local` (a store serving what was imported). Every answer carries it, refusals and
unknown routes included: a reader learns it from whatever it asked first, before any key or
tenant decides what it may see, and no request is spent on asking.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipelines.source_kind import CAPTURE_STORE, LOCAL_STORE, STORE_HEADER

__all__ = ["CAPTURE_STORE", "LOCAL_STORE", "STORE_HEADER", "StoreIdentity"]


class StoreIdentity:
    """ASGI middleware adding `STORE_HEADER: kind` to every HTTP answer.

    Args:
        app: The wrapped application.
        kind: `capture` or `local`.
    """

    def __init__(self, app: ASGIApp, kind: str) -> None:
        self.app = app
        self.kind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_kind(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[STORE_HEADER] = self.kind
            await send(message)

        await self.app(scope, receive, send_with_kind)
