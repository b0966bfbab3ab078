"""Real upstream streams through a capturing store: streams recorded from OpenAI and Azure OpenAI
(`tests/fixtures/sse/`, where each came from is in the README there), replayed byte for byte by the
fake upstream, reach the client unchanged, and the store keeps the completion they assemble to.

The expected values are read off the recordings by hand, not computed by any code of the project's:
if the proxy's stream assembly drops or misjoins a piece, the stored completion differs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.capture_support import (
    CLIENT_KEY,
    api_get,
    call,
    capturing_store,
    received_chat,
    received_response,
    sdk,
    without_tenant,
)
from tests.fake_upstream import FakeUpstream, recorded_stream, running_upstream
from tests.store_process import StoreProcess

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "GetWeatherArgs",
        "description": "Get the temperature for the given country/city combo",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "country": {"type": "string"},
                "units": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "country", "units"],
        },
    },
}
STOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "description": "Fetch the latest price for a given ticker",
        "parameters": {
            "type": "object",
            "properties": {"ticker": {"type": "string"}, "exchange": {"type": "string"}},
            "required": ["ticker", "exchange"],
        },
    },
}

# recording -> (client kind, the request it answered, what it assembles to)
RECORDINGS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "openai-chat-tools": (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "What's the weather like in Edinburgh?"},
                {"role": "user", "content": "What's the price of AAPL?"},
            ],
            "tools": [WEATHER_TOOL, STOCK_TOOL],
            "stream_options": {"include_usage": True},
        },
        {
            "id": "chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63",
            "model": "gpt-4o-2024-08-06",
            "created": 1727346178,
            "system_fingerprint": "fp_5050236cbd",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_JMW1whyEaYG438VE1OIflxA2",
                    "name": "GetWeatherArgs",
                    "arguments": '{"city": "Edinburgh", "country": "GB", "units": "c"}',
                },
                {
                    "id": "call_DNYTawLBoN8fj3KN6qU9N1Ou",
                    "name": "get_stock_price",
                    "arguments": '{"ticker": "AAPL", "exchange": "NASDAQ"}',
                },
            ],
            "finish_reason": "tool_calls",
            "usage": {
                "prompt_tokens": 149,
                "completion_tokens": 60,
                "total_tokens": 209,
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
    ),
    "openai-chat-text": (
        "openai-async",
        {
            "messages": [{"role": "user", "content": "What's the weather like in SF?"}],
            "stream_options": {"include_usage": True},
        },
        {
            "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
            "model": "gpt-4o-2024-08-06",
            "content": "I'm unable to provide real-time weather updates. To get the current"
            " weather in San Francisco, I recommend checking a reliable weather website or a"
            " weather app.",
            "tool_calls": [],
            "finish_reason": "stop",
            "usage": {
                "prompt_tokens": 14,
                "completion_tokens": 30,
                "total_tokens": 44,
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
    ),
    "azure-chat-text": (
        "azure",
        {"messages": [{"role": "user", "content": "Translate to German: Hello world!"}]},
        {
            "id": "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j",
            "model": "gpt-4o-2024-08-06",
            "created": 1750697159,
            "system_fingerprint": "fp_ee1d74bde0",
            "content": "Hallo Welt!",
            "tool_calls": [],
            "finish_reason": "stop",
            "usage": None,
        },
    ),
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreProcess]:
    with running_upstream() as upstream_state:
        assert isinstance(upstream_state, FakeUpstream)
        db_path = tmp_path_factory.mktemp("recorded") / "store.db"
        with capturing_store(db_path, f"{upstream_state.url}/v1") as process:
            yield process


def stored_as_transcript(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored completion in the shape of the expectations above."""
    (choice,) = stored["choices"]
    message = choice["message"]
    return {
        "id": stored["id"],
        "model": stored["model"],
        "created": stored["created"],
        "system_fingerprint": stored.get("system_fingerprint"),
        "content": message["content"],
        "tool_calls": [
            {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in message.get("tool_calls") or []
        ],
        "finish_reason": choice["finish_reason"],
        "usage": stored.get("usage"),
    }


@pytest.mark.parametrize("name", list(RECORDINGS))
@pytest.mark.slow
def test_a_recorded_stream_reaches_the_client_unchanged_and_is_stored_as_it_assembles(
    proxy: StoreProcess, name: str
) -> None:
    kind, request, expected = RECORDINGS[name]
    request = {"model": f"recorded-{name}", "stream": True, **request}
    path = "/v1/chat/completions"
    if kind.startswith("azure"):
        path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"

    # Byte for byte, as a raw HTTP client reads it (not stored: no `store: true`).
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "api-key": CLIENT_KEY}
    with httpx2.stream("POST", proxy.url + path, json=request, headers=headers, timeout=30) as raw:
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        body = b"".join(raw.iter_bytes())
    assert body == recorded_stream(request["model"])

    # The real SDK joins what it received into what the recording says.
    chunks = call(sdk(proxy, kind), "chat.completions.create", **request, store=True)
    received = received_chat(chunks)
    assert {key: received.get(key) for key in expected} == expected

    stored = api_get(proxy, f"/v1/chat/completions/{expected['id']}").json()
    transcript = stored_as_transcript(stored)
    assert {key: transcript[key] for key in expected} == expected
    assert stored["choices"][0]["message"]["role"] == "assistant"
    if kind.startswith("azure"):
        # Azure's prompt filters come alone in a first chunk without an id: kept all the same.
        safe = {"filtered": False, "severity": "safe"}
        categories = ("hate", "self_harm", "sexual", "violence")
        filters = {"prompt_index": 0, "content_filter_results": dict.fromkeys(categories, safe)}
        assert stored["prompt_filter_results"] == [filters]
    messages = sdk(proxy).chat.completions.messages.list(expected["id"])
    assert [m.content for m in messages] == [m["content"] for m in request["messages"]]


RESPONSE_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the weather for a specified location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "Name of the location to get the weather for",
            }
        },
        "required": ["location"],
        "additionalProperties": False,
    },
    "strict": True,
}
RESPONSE_ASSEMBLED = {
    "id": "resp_68d835172d4481a3adc02a0a27d80dad05b5406cc515b605",
    "status": "completed",
    "model": "gpt-5-2025-08-07",
    "created_at": 1758999831,
    "output": [
        ("reasoning", "rs_68d83517d32481a3a885d6180985b19505b5406cc515b605", None),
        (
            "function_call",
            "fc_68d8351802e881a3aeaf0e594cbdc6d505b5406cc515b605",
            ("call_zmgkl7rFpA4eOyUO0SamopGI", "get_weather", '{"location":"New York City, USA"}'),
        ),
    ],
    "usage": {
        "input_tokens": 69,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 24,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 93,
    },
}


def response_as_transcript(response: dict[str, Any]) -> dict[str, Any]:
    """A response (as JSON) in the shape of `RESPONSE_ASSEMBLED`."""
    output = [
        (
            item["type"],
            item["id"],
            (item["call_id"], item["name"], item["arguments"])
            if item["type"] == "function_call"
            else None,
        )
        for item in response["output"]
    ]
    picked = {key: response.get(key) for key in RESPONSE_ASSEMBLED}
    return {**picked, "output": output}


@pytest.mark.slow
def test_a_recorded_responses_stream_reaches_the_client_unchanged_and_is_stored_whole(
    proxy: StoreProcess,
) -> None:
    request = {
        "model": "recorded-openai-responses-tools",
        "input": "What is the weather in New York City?",
        "tools": [RESPONSE_TOOL],
        "reasoning": {"effort": "minimal", "summary": "detailed"},
        "stream": True,
    }

    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    unstored = {**request, "store": False}
    with httpx2.stream(
        "POST", f"{proxy.url}/v1/responses", json=unstored, headers=headers, timeout=30
    ) as raw:
        assert raw.status_code == 200
        body = b"".join(raw.iter_bytes())
    assert body == recorded_stream(request["model"])

    events = call(sdk(proxy, "openai"), "responses.create", **request)
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(deltas) == '{"location":"New York City, USA"}'
    received = received_response(events)
    assert response_as_transcript(received) == RESPONSE_ASSEMBLED

    stored = api_get(proxy, f"/v1/responses/{RESPONSE_ASSEMBLED['id']}").json()
    assert response_as_transcript(stored) == RESPONSE_ASSEMBLED
    assert without_tenant(stored) == received
