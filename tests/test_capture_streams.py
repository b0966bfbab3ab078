"""Captured chat streams: `--stream-usage` stores usage for clients that never asked for it while
they receive what they would have; a stream that ends without a finish reason is not stored (and
the log says so); and assembling a long stream costs time linear in its deltas."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.store.capture.streams import ChatStream, Event
from tests.capture_support import UPSTREAM_KEY, api_get, capturing_store, sdk, settled, stored_ids
from tests.fake_upstream import FakeUpstream, running_upstream

QUESTION = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream(FakeUpstream(required_key=UPSTREAM_KEY)) as up:
        yield up


@pytest.mark.slow
def test_stream_usage_is_stored_and_a_client_that_did_not_ask_receives_none(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    args = ["--stream-usage"]
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=args) as proxy:
        client = sdk(proxy)
        plain = list(
            client.chat.completions.create(model="m", messages=QUESTION, store=True, stream=True)
        )
        asked = list(
            client.chat.completions.create(
                model="m",
                messages=QUESTION,
                store=True,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        stored = {i: api_get(proxy, f"/v1/chat/completions/{i}").json() for i in stored_ids(proxy)}

    sent = [json.loads(r.body) for r in upstream.seen("/chat/completions")[-2:]]
    assert [body["stream_options"] for body in sent] == [{"include_usage": True}] * 2
    assert all(chunk.choices and chunk.usage is None for chunk in plain)
    assert plain[-1].choices[0].finish_reason == "stop"
    assert asked[-1].choices == [] and asked[-1].usage.total_tokens > 0
    assert len(asked) == len(plain) + 1
    assert stored[plain[0].id]["usage"] == asked[-1].usage.model_dump(exclude_unset=True)
    assert stored[asked[0].id]["usage"]["total_tokens"] > 0


@pytest.mark.slow
def test_a_stream_without_a_finish_reason_is_not_stored_and_logged(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1") as proxy:
        client = sdk(proxy)
        unfinished = list(
            client.chat.completions.create(
                model="no-finish", messages=QUESTION, store=True, stream=True
            )
        )
        finished = list(
            client.chat.completions.create(model="m", messages=QUESTION, store=True, stream=True)
        )
        counts = settled(proxy)
        stored = stored_ids(proxy)
    log = proxy.process.stderr.read() if proxy.process.stderr else ""

    assert "".join(c.choices[0].delta.content or "" for c in unfinished if c.choices)
    assert stored == [finished[0].id]
    assert counts["committed"] == 1
    assert "a chat stream ended without a finish reason; not stored" in log


def assembly_seconds(deltas: int) -> float:
    """CPU seconds to join a stream of `deltas` content and argument deltas of 16 characters (a
    few tokens each, as models stream them)."""
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    call = {"index": 0, "id": "t", "function": {"name": "f"}}
    first = {"role": "assistant", "tool_calls": [call]}
    piece = {"content": "x" * 16, "tool_calls": [{"index": 0, "function": {"arguments": "y" * 16}}]}
    events = [
        Event(None, json.dumps({**head, "choices": [{"index": 0, "delta": delta}]}))
        for delta in [first] + [piece] * deltas
    ]
    stream = ChatStream()
    start = time.process_time()
    for event in events:
        stream.add(event)
    completion = stream.completion()
    took = time.process_time() - start
    message = completion["choices"][0]["message"]
    assert len(message["content"]) == len(message["tool_calls"][0]["function"]["arguments"])
    return took


@pytest.mark.slow
def test_assembling_a_long_stream_is_linear_in_its_deltas() -> None:
    small = min(assembly_seconds(8_000) for _ in range(2))
    large = min(assembly_seconds(64_000) for _ in range(2))

    # Linear: 8 times the deltas, about 8 times the time; quadratic joins take ~64 times.
    assert large / small < 20, (small, large)
