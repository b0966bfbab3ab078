"""Responses through a capturing store: created with the real SDK (sync and async, the OpenAI client
on `/v1` and on Azure's v1 path, the Azure client on its classic path, streamed and not, with tool
calls), then served back by the store — retrieve, input items, delete, and the list OpenAI lacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.capture_support import (
    RESPONSE_CLIENT_KINDS,
    RESPONSE_TOOLS,
    api_get,
    call,
    capturing_store,
    received_response,
    sdk,
    settled,
    stored_ids,
    without_tenant,
)
from tests.fake_upstream import FakeUpstream, running_upstream
from tests.store_process import StoreProcess


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream() as up:
        yield up


@pytest.fixture(scope="module")
def shared_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[StoreProcess]:
    db_path = tmp_path_factory.mktemp("responses") / "store.db"
    with capturing_store(db_path, f"{upstream.url}/v1") as process:
        yield process


@pytest.fixture
def proxy(tmp_path: Path, upstream: FakeUpstream) -> Iterator[StoreProcess]:
    with capturing_store(tmp_path / "store.db", f"{upstream.url}/v1") as process:
        yield process


def response_request(case: str, *, stream: bool, tools: bool) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "gpt-4.1-mini",
        "instructions": "Be brief.",
        "metadata": {"case": case},
        "stream": stream,
    }
    if tools:
        question = "What is the weather in Paris and Zürich?"
        request |= {"input": [{"role": "user", "content": question}], "tools": RESPONSE_TOOLS}
    else:
        request["input"] = f"Say hello for {case}"
    return request


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", RESPONSE_CLIENT_KINDS)
@pytest.mark.slow
def test_the_store_serves_each_response_as_its_client_received_it(
    shared_proxy: StoreProcess, kind: str, stream: bool, tools: bool
) -> None:
    request = response_request(f"{kind}-{stream}-{tools}", stream=stream, tools=tools)

    received = received_response(call(sdk(shared_proxy, kind), "responses.create", **request))

    served = api_get(shared_proxy, f"/v1/responses/{received['id']}").json()
    assert without_tenant(served) == received
    retrieved = call(sdk(shared_proxy, kind), "responses.retrieve", response_id=received["id"])
    assert without_tenant(retrieved.model_dump(mode="json", exclude_unset=True)) == received
    if tools:
        assert [item["type"] for item in received["output"]] == ["function_call"] * 2
        assert received["output"][1]["arguments"].startswith('{"city": "Z\\u00fcrich"')
    else:
        assert received["output"][0]["content"][0]["text"].endswith(request["input"])
    (item,) = sdk(shared_proxy).responses.input_items.list(received["id"])
    question = request["input"] if isinstance(request["input"], str) else request["input"][0]
    text = question if isinstance(question, str) else question["content"]
    assert (item.type, item.role, item.content[0].text) == ("message", "user", text)
    assert item.id.startswith("msg_")


def test_store_false_keeps_nothing_and_the_upstream_is_not_asked_by_default(
    proxy: StoreProcess, upstream: FakeUpstream
) -> None:
    client = sdk(proxy)
    kept = client.responses.create(model="m", input="keep me")
    unkept = client.responses.create(model="m", input="not me", store=False)
    asked = len(upstream.requests)

    assert stored_ids(proxy, "responses") == [kept.id]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unkept.id)
    # Looking up ids the store does not hold spends the upstream's key only with --forward.
    assert len(upstream.requests) == asked


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_failed_response_is_not_stored(proxy: StoreProcess, stream: bool) -> None:
    result = call(sdk(proxy), "responses.create", model="fault-fail", input="x", stream=stream)

    final = result[-1].response if stream else result
    assert final.status == "failed"
    assert stored_ids(proxy, "responses") == []


def test_delete_removes_a_response_and_its_input_items(proxy: StoreProcess) -> None:
    client = sdk(proxy)
    gone = client.responses.create(model="m", input="delete me")
    kept = client.responses.create(model="m", input="keep me")

    client.responses.delete(gone.id)

    assert stored_ids(proxy, "responses") == [kept.id]
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(gone.id)


@pytest.mark.slow
def test_the_list_pages_newest_first_and_filters_by_model_and_metadata(
    proxy: StoreProcess,
) -> None:
    client = sdk(proxy)
    made = [
        client.responses.create(
            model="small" if i % 2 else "large",
            input=f"number {i}",
            metadata={"parity": "odd" if i % 2 else "even", "n": str(i)},
        )
        for i in range(7)
    ]
    newest_first = [r.id for r in reversed(made)]

    assert stored_ids(proxy, "responses") == newest_first
    page = api_get(proxy, "/v1/responses", limit=3).json()
    assert [r["id"] for r in page["data"]] == newest_first[:3] and page["has_more"]
    after = api_get(proxy, "/v1/responses", limit=3, after=page["last_id"]).json()
    assert [r["id"] for r in after["data"]] == newest_first[3:6]
    oldest = api_get(proxy, "/v1/responses", order="asc", limit=2).json()
    assert [r["id"] for r in oldest["data"]] == [made[0].id, made[1].id]
    small = api_get(proxy, "/v1/responses", model="small-2026-01-01").json()
    assert {r["id"] for r in small["data"]} == {made[i].id for i in (1, 3, 5)}
    odd_three = api_get(proxy, "/v1/responses", **{"metadata[parity]": "odd", "metadata[n]": "3"})
    assert [r["id"] for r in odd_three.json()["data"]] == [made[3].id]
    unknown = api_get(proxy, "/v1/responses", after="resp_nowhere")
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "after"
    assert api_get(proxy, "/v1/responses", limit=0).status_code == 400


def test_input_items_page_in_reverse_input_order_by_default(proxy: StoreProcess) -> None:
    client = sdk(proxy)
    conversation = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "four"}]},
        {"role": "user", "content": "five"},
    ]
    response = client.responses.create(model="m", input=conversation)
    settled(proxy)

    def texts(page: Any) -> list[str]:
        return [item.content[0].text for item in page.data]

    first = client.responses.input_items.list(response.id, limit=2)
    rest = client.responses.input_items.list(response.id, limit=10, after=first.data[-1].id)
    ascending = client.responses.input_items.list(response.id, order="asc")
    assert texts(first) == ["five", "four"] and first.has_more
    assert texts(rest) == ["three", "two", "one"] and not rest.has_more
    assert texts(ascending) == ["one", "two", "three", "four", "five"]
    assert ascending.data[1].content[0].type == "output_text"  # the assistant's own words
    assert len({item.id for item in ascending.data}) == 5
