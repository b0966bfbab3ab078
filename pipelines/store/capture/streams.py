"""Assemble a streamed generation into the record a non-streamed one would have been.

The proxy relays an upstream's server-sent events to the client byte for byte, as they come, and
feeds a copy of each chunk here. `SSEDecoder` turns bytes cut anywhere (mid-line, mid-character)
into whole events; `ChatStream` joins `chat.completion.chunk` deltas into one `chat.completion`
(content, refusal, tool calls with their arguments joined, finish reason, usage when sent);
`ResponseStream` keeps the final response that `response.completed` carries. Either says whether
the generation ended well: a stream cut short, or one that reported an error, stores nothing.
"""

from __future__ import annotations

import codecs
import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("distillery.store.capture")
RESPONSE_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete"})
RESPONSE_FAILED_EVENTS = frozenset({"response.failed", "response.cancelled", "error"})
# Top-level fields of a chunk that are per-chunk, not the completion's.
_CHUNK_ONLY = frozenset({"choices", "usage", "object"})


@dataclass(frozen=True)
class Event:
    """One server-sent event: its `event:` name (None when absent) and its joined `data:` lines."""

    event: str | None
    data: str


class SSEDecoder:
    """Bytes in, whole events out, however the bytes were cut (text/event-stream, any line ends)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._buffer + self._decoder.decode(chunk)
        # A trailing CR may be the first half of a CRLF split across chunks: keep it back.
        held = ""
        if text.endswith("\r"):
            text, held = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        *blocks, rest = text.split("\n\n")
        self._buffer = rest + held
        return [event for event in map(_parse_block, blocks) if event is not None]


def _parse_block(block: str) -> Event | None:
    name: str | None = None
    data: list[str] = []
    for line in block.split("\n"):
        if not line or line.startswith(":"):  # blank, or a comment (keep-alive pings)
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "data":
            data.append(value)
        elif key == "event":
            name = value
    return Event(name, "\n".join(data)) if data else None


@dataclass
class _Choice:
    """One choice as its deltas arrive. Text is kept as a list of pieces, joined once at the end:
    appending to a string held in an object copies it each time (quadratic in the deltas)."""

    index: int
    role: str | None = None
    content: list[str] | None = None
    refusal: list[str] | None = None
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    function_call: dict[str, list[str]] | None = None
    message_extra: dict[str, Any] = field(default_factory=dict)
    text_extra: dict[str, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    choice_extra: dict[str, Any] = field(default_factory=dict)


class ChatStream:
    """Joins `chat.completion.chunk` events into the `chat.completion` they add up to."""

    def __init__(self) -> None:
        self.done = False
        """`data: [DONE]` arrived: the upstream says the stream is whole."""
        self.failed = False
        """An error event, or a chunk that is not a JSON object: the generation did not succeed."""
        self._head: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self._usage: Any = None

    def add(self, event: Event) -> None:
        if event.data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(event.data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict) or "error" in chunk:
            self.failed = True
            return
        for key, value in chunk.items():
            # Azure's first chunk has an empty id, model and created beside its prompt filters;
            # a later real value wins, an empty one never replaces it.
            if key not in _CHUNK_ONLY and (key not in self._head or _given(value)):
                self._head[key] = value
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                self._add_choice(choice)

    def ended(self) -> bool:
        """The stream may be stored: every choice finished (with a finish reason), and nothing
        failed. A stream that ends cleanly without one is not a whole generation."""
        if self.failed:
            return False
        return bool(self._choices) and all(c.finish_reason for c in self._choices.values())

    def completion(self) -> dict[str, Any]:
        """The `chat.completion` the chunks add up to, keys in a non-streamed answer's order."""
        head = dict(self._head)
        completion: dict[str, Any] = {
            "id": head.pop("id", None),
            "object": "chat.completion",
            "created": head.pop("created", None),
            "model": head.pop("model", None),
            "choices": [_finished(self._choices[i]) for i in sorted(self._choices)],
            "usage": self._usage,
        }
        completion.update(head)
        return completion

    def _add_choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index") if isinstance(choice.get("index"), int) else 0
        acc = self._choices.setdefault(index, _Choice(index))
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        for key, value in delta.items():
            if key == "role":
                acc.role = value or acc.role
            elif key == "content" and isinstance(value, str):
                acc.content = acc.content or []
                acc.content.append(value)
            elif key == "refusal" and isinstance(value, str):
                acc.refusal = acc.refusal or []
                acc.refusal.append(value)
            elif key == "tool_calls" and isinstance(value, list):
                for call in value:
                    if isinstance(call, dict):
                        _add_tool_call(acc.tool_calls, call)
            elif key == "function_call" and isinstance(value, dict):
                acc.function_call = acc.function_call or {"name": [], "arguments": []}
                _add_pieces(acc.function_call, value)
            elif isinstance(value, str):
                # A backend's own streamed text (`reasoning_content`): pieces, joined at the end.
                acc.text_extra.setdefault(key, []).append(value)
            elif value is not None:
                _merge_extra(acc.message_extra, key, value)
        if choice.get("finish_reason"):
            acc.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            acc.logprobs = acc.logprobs or {}
            for key, value in logprobs.items():
                if isinstance(value, list):
                    previous = acc.logprobs.get(key)
                    if isinstance(previous, list):
                        previous.extend(value)
                    else:
                        acc.logprobs[key] = list(value)
        for key, value in choice.items():
            if key not in ("index", "delta", "finish_reason", "logprobs") and _given(value):
                acc.choice_extra[key] = value


def _add_tool_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    # The first delta of a call carries its id, type and name; later ones append argument text.
    index = delta.get("index") if isinstance(delta.get("index"), int) else len(calls)
    call = calls.setdefault(
        index, {"id": None, "type": "function", "function": {"name": [], "arguments": []}}
    )
    if delta.get("id"):
        call["id"] = call["id"] or delta["id"]
    if delta.get("type"):
        call["type"] = delta["type"]
    if isinstance(delta.get("function"), dict):
        _add_pieces(call["function"], delta["function"])


def _add_pieces(target: dict[str, list[str]], delta: dict[str, Any]) -> None:
    for key in ("name", "arguments"):
        if isinstance(delta.get(key), str):
            target[key].append(delta[key])


def _joined(pieces: dict[str, list[str]]) -> dict[str, str]:
    return {key: "".join(value) for key, value in pieces.items()}


def _merge_extra(extra: dict[str, Any], key: str, value: Any) -> None:
    # Other delta fields: lists arrive item by item (`annotations`), anything else is whole in
    # one chunk.
    previous = extra.get(key)
    if isinstance(value, list) and isinstance(previous, list):
        previous.extend(value)
    else:
        extra[key] = list(value) if isinstance(value, list) else value


def _finished(acc: _Choice) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": acc.role or "assistant",
        "content": None if acc.content is None else "".join(acc.content),
        "refusal": None if acc.refusal is None else "".join(acc.refusal),
    }
    if acc.tool_calls:
        message["tool_calls"] = [
            {**call, "function": _joined(call["function"])}
            for call in (acc.tool_calls[i] for i in sorted(acc.tool_calls))
        ]
    if acc.function_call is not None:
        message["function_call"] = _joined(acc.function_call)
    message.update(acc.message_extra)
    message.update({key: "".join(pieces) for key, pieces in acc.text_extra.items()})
    return {
        "index": acc.index,
        "message": message,
        "finish_reason": acc.finish_reason,
        "logprobs": acc.logprobs,
        **acc.choice_extra,
    }


def _given(value: Any) -> bool:
    """Whether a chunk's field says something: Azure sends empty ids, zero timestamps and empty
    filter results in chunks that carry other news."""
    return value is not None and value != "" and value != 0 and value != [] and value != {}


class ResponseStream:
    """Keeps what a Responses API stream ends with: the final response, or the news it failed."""

    def __init__(self) -> None:
        self.failed = False
        self._final: dict[str, Any] | None = None
        self._items: dict[int, Any] = {}

    def add(self, event: Event) -> None:
        try:
            data = json.loads(event.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.failed = True
            return
        kind = data.get("type") or event.event
        if kind in RESPONSE_TERMINAL_EVENTS and isinstance(data.get("response"), dict):
            self._final = data["response"]
        elif kind in RESPONSE_FAILED_EVENTS:
            self.failed = True
        elif kind == "response.output_item.done" and isinstance(data.get("output_index"), int):
            self._items[data["output_index"]] = data.get("item")

    def ended(self) -> bool:
        return self._final is not None and not self.failed

    def response(self) -> dict[str, Any]:
        """The final response; its output rebuilt from the items streamed when a server left it
        out of the closing event."""
        response = dict(self._final or {})
        if not response.get("output") and self._items:
            response["output"] = [self._items[i] for i in sorted(self._items)]
        return response


class StreamCapture:
    """What the relay feeds: chunks of one streamed generation, of either API.

    Args:
        kind: `chat` or `response`.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._decoder = SSEDecoder()
        self._stream: ChatStream | ResponseStream = (
            ChatStream() if kind == "chat" else ResponseStream()
        )
        self.ended = False

    def feed(self, chunk: bytes) -> bool:
        """Take one chunk as relayed; True when the generation ended well with it (the moment to
        store it, before this chunk goes to the client)."""
        if self.ended:
            return False
        for event in self._decoder.feed(chunk):
            self._stream.add(event)
        if isinstance(self._stream, ChatStream) and not self._stream.done:
            return False
        self.ended = self._stream.ended()
        if isinstance(self._stream, ChatStream) and not self.ended:
            self._unfinished()
        return self.ended

    def ended_at_close(self) -> bool:
        """The upstream closed the stream cleanly: whether what came adds up to a generation."""
        if not self.ended and isinstance(self._stream, ChatStream) and not self._stream.done:
            self.ended = self._stream.ended()
            if not self.ended:
                self._unfinished()
        return self.ended

    def _unfinished(self) -> None:
        if not self._stream.failed:
            log.warning("a chat stream ended without a finish reason; not stored")

    def result(self) -> dict[str, Any]:
        """The assembled `chat.completion`, or the final response."""
        if isinstance(self._stream, ChatStream):
            return self._stream.completion()
        return self._stream.response()


def error_event(kind: str, message: str, *, code: str) -> bytes:
    """An error event to end a stream the upstream broke off, in the shape its API uses, so the SDK
    raises (chat) or yields an `error` event (responses) with `message`."""
    if kind == "response":
        data = {"type": "error", "code": code, "message": message, "param": None}
        return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"
    error = {"message": message, "type": "server_error", "param": None, "code": code}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
