"""A small stored-completions server that misbehaves on purpose, for ingest's robustness tests.

It serves `GET /v1/chat/completions` (newest first, `after` / `limit`),
`GET /v1/chat/completions/{id}/messages` and the stored responses it is given
(`GET /v1/responses/{id}` and its input items) correctly by default; each field of `Behaviour` turns
on one way a real server, a proxy or an unlucky day goes wrong. Built on the standard library's
threading HTTP server so that a test controls every byte, including ones that never come.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.records import completion_record


@dataclass
class Behaviour:
    """What the server does wrong; all off means a well-behaved server."""

    items: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    empty_page_with_has_more: bool = False
    repeat_first_page: bool = False
    backwards_after_page: int | None = None
    messages_gone: set[str] = field(default_factory=set)
    messages_repeat: bool = False
    cursor_gone: set[str] = field(default_factory=set)
    stall_s: float = 0.0
    delay_s: float = 0.0
    trickle_every_s: float = 0.0
    raw_list_body: bytes | None = None
    raw_items_body: bytes | None = None
    """Every list of an object's items (messages, input items) answers this body instead."""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stored responses `GET /responses/{id}` answers (their input items: `messages`)."""
    error_echoing_key: bool = False
    reorder_keys: bool = False
    no_responses_list: bool = False
    """Answer `GET /responses` 404, as OpenAI does (it lists no stored responses)."""
    requests: list[str] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    """When each request arrived (`time.monotonic()`)."""


def make_items(count: int, *, start: int = 1_760_000_000) -> Behaviour:
    """A behaviour serving `count` well-formed completions, one second apart."""
    behaviour = Behaviour()
    for i in range(count):
        record = completion_record(f"chatcmpl-h{i:04d}", created=start + i)
        messages = record.pop("input_messages")
        behaviour.items.append(record)
        behaviour.messages[record["id"]] = [
            {"id": f"{record['id']}-{n}", **m} for n, m in enumerate(messages)
        ]
    return behaviour


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # type: ignore[assignment]

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        behaviour.requests.append(self.path)
        behaviour.request_times.append(time.monotonic())
        if behaviour.stall_s:
            time.sleep(behaviour.stall_s)
            return
        time.sleep(behaviour.delay_s)
        if behaviour.error_echoing_key:
            key = self.headers.get("Authorization", "")
            body = {"error": {"message": f"upstream exploded; you sent {key}", "type": "server"}}
            return self._send(400, json.dumps(body).encode())
        parts = url.path.strip("/").split("/")
        if behaviour.no_responses_list and parts[-1] == "responses":
            error = {"message": "Invalid URL (GET /v1/responses)", "type": "invalid_request_error"}
            return self._json({"error": error}, 404)
        if parts[-1] in ("messages", "input_items"):
            return self._messages(parts[-2], query)
        if parts[-2:-1] == ["responses"] and parts[-1] in behaviour.objects:
            return self._json(behaviour.objects[parts[-1]])
        return self._list(query)

    def _list(self, query: dict[str, str]) -> None:
        behaviour = self.server.behaviour
        if behaviour.raw_list_body is not None:
            return self._send(200, behaviour.raw_list_body)
        if behaviour.empty_page_with_has_more:
            return self._json({"object": "list", "data": [], "has_more": True})
        after, limit = query.get("after"), int(query.get("limit", 20))
        if after in behaviour.cursor_gone:
            return self._json({"error": {"message": "not found", "type": "invalid"}}, 404)
        newest_first = sorted(behaviour.items, key=lambda i: i["created"], reverse=True)
        ids = [item["id"] for item in newest_first]
        start = 0 if after is None or after not in ids else ids.index(after) + 1
        pages_served = sum("/chat/completions?" in r for r in behaviour.requests)
        if behaviour.repeat_first_page:
            start = 0
        if behaviour.backwards_after_page and pages_served > behaviour.backwards_after_page:
            start = max(0, start - 2 * limit)
        data = newest_first[start : start + limit]
        if behaviour.reorder_keys:
            data = [dict(reversed(list(item.items()))) for item in data]
        has_more = start + limit < len(newest_first)
        self._json({"object": "list", "data": data, "has_more": has_more})

    def _messages(self, completion_id: str, query: dict[str, str]) -> None:
        behaviour = self.server.behaviour
        if behaviour.raw_items_body is not None:
            return self._send(200, behaviour.raw_items_body)
        if completion_id in behaviour.messages_gone:
            return self._json({"error": {"message": "not found", "type": "invalid"}}, 404)
        data = behaviour.messages.get(completion_id, [])
        self._json({"object": "list", "data": data, "has_more": behaviour.messages_repeat})

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        every = self.server.behaviour.trickle_every_s
        try:
            if every:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(every)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour


@contextlib.contextmanager
def hostile_server(behaviour: Behaviour) -> Iterator[str]:
    """Serve `behaviour` on a loopback port; yields the OpenAI base URL (`…/v1`)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.behaviour = behaviour
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
