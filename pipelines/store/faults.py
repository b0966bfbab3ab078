"""Test-only fault injection and request counting for the local store.

Faults are off unless switched on (CLI flags, or `PUT /_admin/faults` when the store runs with test
controls). They let tests prove the pipeline survives what real providers do: latency, 5xx, 429 with
Retry-After, connections dropped mid-response, and a quota that is used up.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class FaultConfig:
    """Which faults to inject into API requests (admin routes are never faulted).

    Attributes:
        latency_ms: Delay added before every API request is served.
        error_rate: Share of requests answered 503, which the SDK retries.
        rate_limit_every: Every Nth API request is answered 429 (0: never).
        retry_after_ms: The Retry-After sent with those 429s (`retry-after-ms` and `retry-after`).
        drop_rate: Share of requests whose connection is closed halfway through the response body.
        insufficient_quota: Answer every API request 429 `insufficient_quota`, as OpenAI does when
            billing runs out (a 429 that will never succeed).
        seed: Seed of the random draws, so a faulty run is repeatable.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_every: int = 0
    retry_after_ms: int = 50
    drop_rate: float = 0.0
    insufficient_quota: bool = False
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FaultConfig:
        """Build from JSON, refusing unknown keys so a typo cannot silently disable a fault."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ROUTE_KINDS = [
    ("messages", re.compile(r"/chat/completions/[^/]+/messages$")),
    ("completion", re.compile(r"/chat/completions/[^/]+$")),
    ("list", re.compile(r"/chat/completions$")),
    ("input_items", re.compile(r"/responses/[^/]+/input_items$")),
    ("response", re.compile(r"/responses/[^/]+$")),
    ("responses_list", re.compile(r"/responses$")),
    ("conversation_items", re.compile(r"/conversations/[^/]+/items$")),
    ("conversation", re.compile(r"/conversations/[^/]+$")),
]


def classify_request(method: str, path: str) -> str:
    """Name a request for the counters: chat completions' `list`, `retrieve`, `messages`,
    `update`, `delete`; responses' `responses_list`, `response_retrieve`, `response_delete`,
    `input_items`; conversations' `conversation_retrieve`, `conversation_delete`,
    `conversation_items`; or `other`."""
    for kind, pattern in _ROUTE_KINDS:
        if pattern.search(path):
            if kind == "completion":
                return {"GET": "retrieve", "POST": "update", "DELETE": "delete"}.get(
                    method, "other"
                )
            if kind in ("response", "conversation"):
                verb = {"GET": "retrieve", "DELETE": "delete"}.get(method)
                return f"{kind}_{verb}" if verb else "other"
            return kind if method == "GET" else "other"
    return "other"


class FaultInjector:
    """ASGI middleware that counts API requests and injects the configured faults.

    Args:
        app: The wrapped application.
        config: The initial fault configuration.
    """

    def __init__(self, app: ASGIApp, config: FaultConfig | None = None) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)
            self._served = 0
            self.requests: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "faults": dict(self.faults)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        fault = self._draw(scope["method"], scope["path"])
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault == "dropped":
            await _drop_connection(send)
        else:
            await _send_fault(send, fault, self.config.retry_after_ms)

    def _draw(self, method: str, path: str) -> str | None:
        """Count the request and decide its fault, under the lock so counts stay exact."""
        with self._lock:
            self.requests[classify_request(method, path)] += 1
            self._served += 1
            config = self.config
            fault = None
            if config.insufficient_quota:
                fault = "insufficient_quota"
            elif config.rate_limit_every and self._served % config.rate_limit_every == 0:
                fault = "rate_limited"
            elif self._random.random() < config.error_rate:
                fault = "server_error"
            elif self._random.random() < config.drop_rate:
                fault = "dropped"
            if fault:
                self.faults[fault] += 1
            return fault


def _error(message: str, type: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


# Status and body of each injected error, worded as OpenAI words them.
_FAULT_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "insufficient_quota": (
        429,
        _error(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        ),
    ),
    "rate_limited": (
        429,
        _error(
            "Rate limit reached for requests. Please try again shortly.",
            "requests",
            "rate_limit_exceeded",
        ),
    ),
    "server_error": (
        503,
        _error("The server is temporarily unable to handle the request.", "server_error", None),
    ),
}


async def _send_fault(send: Send, fault: str, retry_after_ms: int) -> None:
    status, error = _FAULT_RESPONSES[fault]
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if fault == "rate_limited":
        headers += [
            (b"retry-after-ms", b"%d" % retry_after_ms),
            (b"retry-after", b"%d" % max(1, -(-retry_after_ms // 1000))),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Send) -> None:
    # Promise a body, send half of it, and return: uvicorn closes the socket on an incomplete
    # response, which the client sees as a connection dropped mid-read.
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b'{"object": "list", "da', "more_body": True})
