"""Chat completions through a capturing store: the real SDK (sync and async, OpenAI and Azure
clients, streamed and not, with tool calls) talks to a `distillery store serve --upstream`
subprocess in front of a deterministic upstream; afterwards the store serves, and ingest reads,
exactly what each client received."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from pipelines.completions import build_completions
from pipelines.ingest.lake import read_raw_completions
from tests.capture_support import (
    CLIENT_KINDS,
    READ_KEY,
    TOOLS,
    api_get,
    call,
    capturing_store,
    received_chat,
    sdk,
    served_matches_received,
    stored_ids,
    without_tenant,
)
from tests.fake_upstream import FakeUpstream, running_upstream
from tests.store_process import StoreProcess
from tests.test_ingest import ingest, source_env

WEATHER = [
    {"role": "system", "content": "You answer with tools when you can."},
    {"role": "user", "content": "What is the weather in Paris and Zürich?"},
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream(FakeUpstream(required_key="sk-upstream-fake-0123456789abcdef")) as up:
        yield up


@pytest.fixture(scope="module")
def shared_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[StoreProcess]:
    """One capturing store for the tests that look only at their own records."""
    db_path = tmp_path_factory.mktemp("capture") / "store.db"
    with capturing_store(db_path, f"{upstream.url}/v1") as process:
        yield process


@pytest.fixture
def proxy(tmp_path: Path, upstream: FakeUpstream) -> Iterator[StoreProcess]:
    """An empty capturing store of the test's own."""
    with capturing_store(tmp_path / "store.db", f"{upstream.url}/v1") as process:
        yield process


def chat_request(case: str, *, stream: bool, tools: bool) -> dict[str, Any]:
    messages = WEATHER if tools else [{"role": "user", "content": f"Say hello for {case}"}]
    request: dict[str, Any] = {
        "model": "gpt-4.1-mini",
        "messages": messages,
        "store": True,
        "metadata": {"case": case, "app": "capture-test"},
        "temperature": 0.3,
        "seed": 7,
        "stream": stream,
    }
    if tools:
        request |= {"tools": TOOLS, "tool_choice": "auto"}
    if stream:
        request["stream_options"] = {"include_usage": True}
    return request


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", CLIENT_KINDS)
@pytest.mark.slow
def test_the_store_serves_each_completion_as_its_client_received_it(
    shared_proxy: StoreProcess, kind: str, stream: bool, tools: bool
) -> None:
    proxy = shared_proxy
    request = chat_request(f"{kind}-{stream}-{tools}", stream=stream, tools=tools)

    received = received_chat(call(sdk(proxy, kind), "chat.completions.create", **request))

    served = api_get(proxy, f"/v1/chat/completions/{received['id']}").json()
    served_matches_received(served, received)
    assert (without_tenant(served)["metadata"], served["temperature"], served["seed"]) == (
        request["metadata"],
        0.3,
        7,
    )
    assert served["tools"] == (TOOLS if tools else None)
    assert served["request_id"].startswith("req_up")
    messages = sdk(proxy).chat.completions.messages.list(received["id"])
    assert [m.content for m in messages] == [m["content"] for m in request["messages"]]
    assert [m.id for m in messages] == [f"{received['id']}-{i}" for i in range(len(messages.data))]
    if tools:
        (first, second) = served["choices"][0]["message"]["tool_calls"]
        assert json.loads(first["function"]["arguments"])["city"] == "Paris"
        assert json.loads(second["function"]["arguments"])["city"] == "Zürich"


@pytest.mark.slow
def test_ingest_reads_captured_traffic_as_the_clients_received_it(
    proxy: StoreProcess, tmp_path: Path
) -> None:
    received = {}
    for kind in ("openai", "azure-async"):
        for stream in (False, True):
            for tools in (False, True):
                request = chat_request(f"{kind}{stream}{tools}", stream=stream, tools=tools)
                answer = received_chat(call(sdk(proxy, kind), "chat.completions.create", **request))
                received[answer["id"]] = (answer, request)

    data_dir = tmp_path / "data"
    report = ingest(source_env(proxy, "openai", key=READ_KEY), data_dir)

    lake = read_raw_completions(data_dir)
    assert report.new == len(received) == 8
    assert set(lake["id"]) == set(received)
    for row in lake.iter_rows(named=True):
        answer, request = received[row["id"]]
        served_matches_received(json.loads(row["completion_json"]), answer)
        messages = json.loads(row["messages_json"])
        assert [(m["role"], m["content"]) for m in messages] == [
            (m["role"], m["content"]) for m in request["messages"]
        ]
    validated = build_completions(data_dir)
    assert validated.quarantine.height == 0
    assert validated.completions.height == 8


def test_only_requests_asking_to_be_stored_are_kept(proxy: StoreProcess) -> None:
    client = sdk(proxy)
    question = [{"role": "user", "content": "hi"}]

    kept = client.chat.completions.with_raw_response.create(
        model="m", messages=question, store=True
    )
    left_default = client.chat.completions.with_raw_response.create(model="m", messages=question)
    left_false = client.chat.completions.with_raw_response.create(
        model="m", messages=question, store=False
    )
    streamed_unstored = list(
        client.chat.completions.create(model="m", messages=question, stream=True)
    )

    assert stored_ids(proxy) == [kept.parse().id]
    assert kept.headers["x-distillery-record-id"] == kept.parse().id
    assert "x-distillery-record-id" not in left_default.headers
    assert "x-distillery-record-id" not in left_false.headers
    assert streamed_unstored[0].id not in stored_ids(proxy)


@pytest.mark.parametrize("policy", ["always", "never"])
@pytest.mark.slow
def test_the_capture_flag_overrides_the_request(
    tmp_path: Path, upstream: FakeUpstream, policy: str
) -> None:
    args = ["--capture", policy]
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=args) as proxy:
        client = sdk(proxy)
        question = [{"role": "user", "content": "hi"}]
        asked = client.chat.completions.create(model="m", messages=question, store=True)
        unasked = client.chat.completions.create(model="m", messages=question)

        expected = [asked.id, unasked.id] if policy == "always" else []
        assert stored_ids(proxy) == expected


def test_a_stream_cut_at_every_seventh_byte_is_stored_whole(shared_proxy: StoreProcess) -> None:
    proxy = shared_proxy
    # The upstream splits lines and multi-byte characters across chunks.
    request = chat_request("ragged", stream=True, tools=False) | {"model": "ragged"}
    received = received_chat(call(sdk(proxy), "chat.completions.create", **request))

    served = api_get(proxy, f"/v1/chat/completions/{received['id']}").json()
    served_matches_received(served, received)
    assert "café über 🚀" in served["choices"][0]["message"]["content"]


def test_an_id_the_store_already_holds_is_stored_under_a_fresh_one(proxy: StoreProcess) -> None:
    client = sdk(proxy)
    question = [{"role": "user", "content": "hi"}]
    first = client.chat.completions.with_raw_response.create(
        model="same-id", messages=question, store=True
    )
    second = client.chat.completions.with_raw_response.create(
        model="same-id", messages=[*question, {"role": "user", "content": "again"}], store=True
    )

    first_id = first.headers["x-distillery-record-id"]
    second_id = second.headers["x-distillery-record-id"]
    assert first_id == first.parse().id == second.parse().id == "chatcmpl-same"
    assert second_id != first_id and second_id.startswith("chatcmpl-")
    assert sorted(stored_ids(proxy)) == sorted([first_id, second_id])
    again = api_get(proxy, f"/v1/chat/completions/{second_id}").json()
    assert again["upstream_id"] == "chatcmpl-same"
    assert len(list(client.chat.completions.messages.list(second_id))) == 2


def test_metadata_beyond_openai_limits_is_refused_before_it_goes_upstream(
    proxy: StoreProcess, upstream: FakeUpstream
) -> None:
    before = len(upstream.requests)
    too_many = {f"k{i}": "v" for i in range(17)}

    with pytest.raises(openai.BadRequestError) as refused:
        sdk(proxy).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], store=True, metadata=too_many
        )

    assert refused.value.body["param"] == "metadata"
    assert len(upstream.requests) == before
    assert stored_ids(proxy) == []


def test_an_id_the_store_does_not_hold_is_asked_of_the_upstream_only_when_forwarded(
    shared_proxy: StoreProcess, upstream: FakeUpstream, tmp_path: Path
) -> None:
    before = len(upstream.requests)
    with pytest.raises(openai.NotFoundError) as local:
        sdk(shared_proxy).chat.completions.retrieve("chatcmpl-elsewhere")
    assert "No chat completion found with id 'chatcmpl-elsewhere'" in local.value.message
    assert len(upstream.requests) == before

    forwarding = ["--forward", "chat,models"]
    with (
        capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=forwarding) as proxy,
        pytest.raises(openai.NotFoundError) as missing,
    ):
        sdk(proxy).chat.completions.retrieve("chatcmpl-elsewhere")

    assert "No route GET /v1/chat/completions/chatcmpl-elsewhere" in missing.value.message
    assert upstream.requests[-1].path == "/v1/chat/completions/chatcmpl-elsewhere"
