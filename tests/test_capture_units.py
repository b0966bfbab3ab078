"""The capture proxy's pure parts: events from bytes cut anywhere, chunks joined into the record a
non-streamed answer would be, what is stored, and where each client path lands upstream."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.store.capture.records import (
    Capture,
    chat_record,
    input_items,
    metadata_refusal,
    response_record,
    wants_storing,
)
from pipelines.store.capture.streams import (
    ChatStream,
    Event,
    ResponseStream,
    SSEDecoder,
    StreamCapture,
    error_event,
)
from pipelines.store.capture.upstream import Upstream, UpstreamConfigError, response_headers
from tests.fake_answers import (
    chat_chunks,
    chat_completion,
    response_events,
    response_object,
)
from tests.profiles import examples

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
WEATHER = {"model": "m", "messages": [{"role": "user", "content": "weather?"}], "tools": TOOLS}
HELLO = {"model": "m", "messages": [{"role": "user", "content": "héllo 🚀"}]}


def sse_bytes(request: dict[str, Any], completion: dict[str, Any], *, crlf: bool = False) -> bytes:
    events = [
        f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chat_chunks(request, completion)
    ]
    text = ": keep-alive\n\n" + "".join(events) + "data: [DONE]\n\n"
    return (text.replace("\n", "\r\n") if crlf else text).encode()


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=examples(100), deadline=None)
@given(
    points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    crlf=st.booleans(),
    tools=st.booleans(),
)
def test_a_stream_cut_anywhere_assembles_to_the_non_streamed_completion(
    points: list[int], crlf: bool, tools: bool
) -> None:
    request = WEATHER if tools else HELLO
    whole = chat_completion(request, 1, azure=False)
    capture = StreamCapture("chat")

    ended = [capture.feed(piece) for piece in cut(sse_bytes(request, whole, crlf=crlf), points)]

    assert ended.count(True) == 1 and ended[-1] is True
    assembled = capture.result()
    del whole["usage"]  # not asked for (stream_options), so not sent
    assert assembled == {**whole, "usage": None}


def test_usage_azure_filters_and_the_first_empty_chunk_are_joined() -> None:
    request = {**HELLO, "stream_options": {"include_usage": True}}
    whole = chat_completion(request, 3, azure=True)
    capture = StreamCapture("chat")

    assert capture.feed(sse_bytes(request, whole))

    assembled = capture.result()
    assert assembled["id"] == whole["id"] and assembled["created"] == whole["created"]
    assert assembled["usage"] == whole["usage"]
    assert assembled["prompt_filter_results"] == whole["prompt_filter_results"]
    assert assembled["choices"] == whole["choices"]


def test_a_chat_stream_without_done_ends_when_every_choice_finished() -> None:
    stream = ChatStream()
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    stream.add(Event(None, json.dumps(chunk)))
    assert not stream.ended()
    chunk["choices"][0] |= {"delta": {}, "finish_reason": "stop"}
    stream.add(Event(None, json.dumps(chunk)))
    assert stream.ended() and not stream.done


@pytest.mark.parametrize("data", ['{"error": {"message": "overloaded"}}', "not json", '["a list"]'])
def test_an_error_or_garbage_in_a_chat_stream_fails_it(data: str) -> None:
    capture = StreamCapture("chat")
    first = {"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}

    capture.feed(f"data: {json.dumps(first)}\n\ndata: {data}\n\ndata: [DONE]\n\n".encode())

    assert not capture.ended and not capture.ended_at_close()


def test_reasoning_text_and_annotations_are_joined_like_content() -> None:
    stream = ChatStream()
    for delta in (
        {"reasoning_content": "think "},
        {"reasoning_content": "hard", "annotations": [{"n": 1}]},
        {"annotations": [{"n": 2}], "content": "ok"},
    ):
        stream.add(Event(None, json.dumps({"id": "c", "choices": [{"index": 0, "delta": delta}]})))

    message = stream.completion()["choices"][0]["message"]
    assert message["reasoning_content"] == "think hard"
    assert message["annotations"] == [{"n": 1}, {"n": 2}]
    assert message["content"] == "ok"


def response_sse(response: dict[str, Any]) -> bytes:
    return "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in response_events(response)
    ).encode()


@pytest.mark.parametrize("request_", [WEATHER, HELLO], ids=["tools", "text"])
def test_a_responses_stream_ends_with_its_completed_response(request_: dict[str, Any]) -> None:
    whole = response_object({"model": "m", "input": request_["messages"], **request_}, 5)
    capture = StreamCapture("response")

    ended = [capture.feed(piece) for piece in cut(response_sse(whole), list(range(0, 9999, 97)))]

    assert ended[-1] is True
    assert capture.result() == whole


def test_a_failed_responses_stream_is_not_stored() -> None:
    failed = response_object({"model": "fault-fail", "input": "x"}, 6)
    capture = StreamCapture("response")

    assert not capture.feed(response_sse(failed))
    assert not capture.ended_at_close()


def test_output_is_rebuilt_from_items_when_the_closing_event_leaves_it_out() -> None:
    stream = ResponseStream()
    item = {"type": "message", "id": "msg_1", "content": []}
    stream.add(
        Event(
            None, json.dumps({"type": "response.output_item.done", "output_index": 0, "item": item})
        )
    )
    closing = {"type": "response.completed", "response": {"id": "r", "output": []}}
    stream.add(Event("response.completed", json.dumps(closing)))

    assert stream.ended() and stream.response()["output"] == [item]


def test_sse_fields_comments_and_multiline_data() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": ping\r\n\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\nid: 3\n\n")
    assert events == [Event("a", "one\ntwo")]
    assert decoder.feed(b"data: half") == [] and decoder.feed(b"\n\n") == [Event(None, "half")]


def test_error_events_make_the_sdk_raise_or_see_an_error() -> None:
    chat = error_event("chat", "gone", code="upstream_timeout")
    response = error_event("response", "gone", code="upstream_timeout")

    (event,) = SSEDecoder().feed(chat)
    assert json.loads(event.data)["error"]["code"] == "upstream_timeout"
    (event,) = SSEDecoder().feed(response)
    assert event.event == "error" and json.loads(event.data)["type"] == "error"


# -- records ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "kind", "store", "expected"),
    [
        ("request", "chat", None, False),
        ("request", "chat", True, True),
        ("request", "chat", False, False),
        ("request", "response", None, True),
        ("request", "response", False, False),
        ("always", "chat", False, True),
        ("always", "response", False, True),
        ("never", "chat", True, False),
        ("never", "response", True, False),
    ],
)
def test_what_is_stored(policy: str, kind: str, store: bool | None, expected: bool) -> None:
    request = {"model": "m"} | ({} if store is None else {"store": store})
    assert wants_storing(policy, kind, request) is expected


def test_a_background_response_is_never_stored() -> None:
    assert not wants_storing("always", "response", {"background": True})


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(17)},
        {"k" * 65: "v"},
        {"k": "v" * 513},
        {"k": 3},
        {"k": None},
        ["not", "an", "object"],
    ],
)
def test_metadata_beyond_openais_limits_is_refused(metadata: Any) -> None:
    refusal = metadata_refusal({"metadata": metadata})
    assert refusal is not None and refusal.param == "metadata"


def test_a_chat_record_keeps_the_request_settings_and_the_upstream_answer() -> None:
    request = {**WEATHER, "metadata": {"a": "b"}, "temperature": 0.2, "user": "u1", "store": True}
    answer = chat_completion(request, 9, azure=False)

    record = chat_record(Capture("chat", request, answer, request_id="req_9"))

    assert {k: record[k] for k in answer} == answer
    assert record["input_messages"] == request["messages"]
    assert (record["metadata"], record["temperature"], record["top_p"]) == ({"a": "b"}, 0.2, None)
    assert (record["tools"], record["input_user"], record["request_id"]) == (TOOLS, "u1", "req_9")


def test_a_chat_record_without_id_or_created_gets_them() -> None:
    record = chat_record(Capture("chat", HELLO, {"choices": []}, request_id=None))
    assert record["id"].startswith("chatcmpl-") and len(record["id"]) > 30
    assert isinstance(record["created"], int) and record["model"] == "m"


@pytest.mark.parametrize("status", ["failed", "cancelled", "queued", "in_progress"])
def test_an_unfinished_response_is_not_stored(status: str) -> None:
    answer = {"id": "resp_1", "status": status}
    assert response_record(Capture("response", {"input": "x"}, answer, None)) is None


def test_input_items_get_types_parts_and_ids() -> None:
    items = input_items(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"type": "function_call_output", "call_id": "c1", "output": "{}"},
            {"id": "msg_given", "type": "message", "role": "user", "content": []},
            "not an item",
        ]
    )

    assert [item["type"] for item in items] == [
        "message",
        "message",
        "function_call_output",
        "message",
    ]
    assert items[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert items[1]["content"] == [{"type": "output_text", "text": "hello"}]
    assert items[2]["id"].startswith("item_") and items[3]["id"] == "msg_given"
    assert input_items("just text")[0]["content"][0]["text"] == "just text"


# -- upstream --------------------------------------------------------------------------------

OPENAI = Upstream.parse("http://localhost:8000/v1/")
AZURE = Upstream.parse("https://name.openai.azure.com/openai/v1")


@pytest.mark.parametrize(
    ("upstream", "path", "query", "expected"),
    [
        (OPENAI, "/v1/chat/completions", "", "http://localhost:8000/v1/chat/completions"),
        (OPENAI, "/openai/v1/responses", "", "http://localhost:8000/v1/responses"),
        (
            OPENAI,
            "/openai/deployments/gpt/chat/completions",
            "api-version=2025-01-01&x=1",
            "http://localhost:8000/v1/chat/completions?x=1",
        ),
        (
            OPENAI,
            "/openai/responses",
            "api-version=2025-01-01",
            "http://localhost:8000/v1/responses",
        ),
        (
            AZURE,
            "/v1/chat/completions",
            "",
            "https://name.openai.azure.com/openai/v1/chat/completions",
        ),
        (
            AZURE,
            "/openai/deployments/gpt/chat/completions",
            "api-version=2025-01-01",
            "https://name.openai.azure.com/openai/deployments/gpt/chat/completions"
            "?api-version=2025-01-01",
        ),
    ],
)
def test_each_client_path_lands_where_the_upstream_serves_it(
    upstream: Upstream, path: str, query: str, expected: str
) -> None:
    assert upstream.url_for(path, query) == expected


@pytest.mark.parametrize(
    ("url", "flavour"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("http://localhost:11434/v1", "openai"),
        ("https://name.openai.azure.com", "azure"),
        ("https://name.cognitiveservices.azure.com/openai/v1/", "azure"),
        ("https://gateway.example/openai", "azure"),
    ],
)
def test_the_flavour_is_inferred_from_the_url(url: str, flavour: str) -> None:
    assert Upstream.parse(url).flavour == flavour


@pytest.mark.parametrize(
    "url", ["ftp://x/v1", "http://user:secret@host/v1", "http://host/v1?key=k", "not a url"]
)
def test_unusable_upstream_urls_are_refused(url: str) -> None:
    with pytest.raises(UpstreamConfigError):
        Upstream.parse(url)


def test_the_upstream_key_replaces_the_clients_and_never_shows_in_repr() -> None:
    client = [(b"Authorization", b"Bearer client"), (b"api-key", b"client"), (b"Host", b"proxy")]
    openai_style = Upstream.parse("http://h/v1", api_key="sk-upstream")
    azure = Upstream.parse("https://n.openai.azure.com", api_key="sk-upstream")

    assert openai_style.request_headers(client, generation=False) == [
        (b"authorization", b"Bearer sk-upstream")
    ]
    assert azure.request_headers(client, generation=False) == [(b"api-key", b"sk-upstream")]
    assert "sk-upstream" not in repr(openai_style)


def test_without_a_key_an_azure_clients_api_key_becomes_a_bearer_token() -> None:
    headers = [(b"api-key", b"k"), (b"Content-Type", b"application/json"), (b"Connection", b"x")]
    assert Upstream.parse("http://h/v1").request_headers(headers, generation=True) == [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer k"),
    ]


def test_connection_headers_stay_behind_and_decoded_bodies_lose_their_encoding() -> None:
    upstream = [
        (b"Content-Type", b"text/event-stream"),
        (b"Content-Encoding", b"gzip"),
        (b"Transfer-Encoding", b"chunked"),
        (b"x-request-id", b"req_1"),
        (b"retry-after", b"3"),
        (b"Date", b"today"),
    ]
    assert response_headers(upstream, decoded=True) == [
        (b"content-type", b"text/event-stream"),
        (b"x-request-id", b"req_1"),
        (b"retry-after", b"3"),
    ]
    assert (b"content-encoding", b"gzip") in response_headers(upstream, decoded=False)
