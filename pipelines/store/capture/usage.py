"""`--stream-usage`: every captured chat stream asks the upstream for its usage, and a client that
did not ask for it receives the stream it would have received.

The SDK streams without usage by default, and a completion stored without usage is quarantined
later (`has_usage`), so a gateway asks for it on the app's behalf (as LiteLLM's
`always_include_stream_usage` does) and takes back out the one chunk the app did not ask for: the
last, with `choices: []` and the usage. Every other byte reaches the client as the upstream sent it.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FRAME_END = re.compile(rb"\r?\n\r?\n")


def usage_requested(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The chat request with `stream_options.include_usage` set, or None when it is not a stream
    or already asks for usage (then nothing is changed or stripped)."""
    if payload.get("stream") is not True:
        return None
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return None
    options = options if isinstance(options, dict) else {}
    return {**payload, "stream_options": {**options, "include_usage": True}}


def request_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


class UsageChunkFilter:
    """Passes server-sent events through whole, minus the usage-only chunk.

    Bytes are held back only up to the end of the event they belong to (upstreams send events
    whole, so in practice nothing waits).
    """

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """What of the upstream's bytes so far goes to the client now."""
        data = self._held + chunk
        ends = [match.end() for match in _FRAME_END.finditer(data)]
        if not ends:
            self._held = data
            return b""
        whole, self._held = data[: ends[-1]], data[ends[-1] :]
        if b'"usage"' not in whole:
            return whole
        frames = [whole[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
        return b"".join(frame for frame in frames if not _usage_only(frame))

    def flush(self) -> bytes:
        """What is left when the upstream closes (an event without its blank line)."""
        held, self._held = self._held, b""
        return b"" if _usage_only(held) else held


def _usage_only(frame: bytes) -> bool:
    if b'"usage"' not in frame:
        return False
    lines = frame.replace(b"\r", b"").split(b"\n")
    data = b"\n".join(line[5:].lstrip(b" ") for line in lines if line.startswith(b"data:"))
    try:
        chunk = json.loads(data)
    except ValueError:
        return False
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))
