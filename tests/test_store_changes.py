"""Metadata updates, deletes, and unknown fields kept intact, through the real SDK clients."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from tests.conftest import azure_client, openai_client
from tests.records import completion_record
from tests.store_process import StoreProcess

CLIENTS = {"openai": openai_client, "azure": azure_client}


@pytest.fixture(params=sorted(CLIENTS))
def fresh_client(request: pytest.FixtureRequest, fresh_store: StoreProcess) -> openai.OpenAI:
    fresh_store.import_records(
        [
            completion_record("chatcmpl-a", metadata={"app": "support", "env": "dev"}),
            completion_record("chatcmpl-b", created=1_760_000_100),
        ]
    )
    return CLIENTS[request.param](fresh_store, max_retries=0)


def test_update_merges_metadata_and_the_filter_sees_it(fresh_client: openai.OpenAI) -> None:
    updated = fresh_client.chat.completions.update(
        "chatcmpl-a", metadata={"env": "prod", "reviewed": "yes"}
    )

    assert updated.metadata == {"app": "support", "env": "prod", "reviewed": "yes"}
    assert fresh_client.chat.completions.retrieve("chatcmpl-a").metadata == updated.metadata
    assert [c.id for c in fresh_client.chat.completions.list(metadata={"env": "prod"})] == [
        "chatcmpl-a"
    ]
    assert list(fresh_client.chat.completions.list(metadata={"env": "dev"})) == []


def test_update_enforces_metadata_limits(fresh_client: openai.OpenAI) -> None:
    too_many = {f"k{i}": "v" for i in range(15)}  # 2 existing + 15 new > 16
    cases = [
        (too_many, "at most 16 pairs"),
        ({"k" * 65: "v"}, "longer than 64 characters"),
        ({"k": "v" * 513}, "longer than 512 characters"),
    ]
    for metadata, message in cases:
        with pytest.raises(openai.BadRequestError, match=message) as caught:
            fresh_client.chat.completions.update("chatcmpl-a", metadata=metadata)
        assert caught.value.param == "metadata"

    unchanged = fresh_client.chat.completions.retrieve("chatcmpl-a").metadata
    assert unchanged == {"app": "support", "env": "dev"}


def test_delete_removes_the_completion_and_its_messages(fresh_client: openai.OpenAI) -> None:
    deleted = fresh_client.chat.completions.delete("chatcmpl-a")

    assert (deleted.id, deleted.object, deleted.deleted) == (
        "chatcmpl-a",
        "chat.completion.deleted",
        True,
    )
    assert [c.id for c in fresh_client.chat.completions.list()] == ["chatcmpl-b"]
    with pytest.raises(openai.NotFoundError):
        fresh_client.chat.completions.retrieve("chatcmpl-a")
    with pytest.raises(openai.NotFoundError):
        fresh_client.chat.completions.messages.list("chatcmpl-a")
    with pytest.raises(openai.NotFoundError):
        fresh_client.chat.completions.delete("chatcmpl-a")


def test_unknown_fields_survive_import_listing_retrieve_and_update(
    fresh_store: StoreProcess,
) -> None:
    custom = {"nested": [1, {"deep": "ünïcode ✓"}], "n": 1.5}
    fresh_store.import_records([completion_record("chatcmpl-x", x_custom_field=custom)])
    client = openai_client(fresh_store, max_retries=0)

    (listed,) = client.chat.completions.list()
    assert listed.model_dump()["x_custom_field"] == custom
    assert client.chat.completions.retrieve("chatcmpl-x").model_dump()["x_custom_field"] == custom
    updated = client.chat.completions.update("chatcmpl-x", metadata={"a": "b"})
    assert updated.model_dump()["x_custom_field"] == custom


def test_reimporting_an_id_replaces_it_in_place(fresh_store: StoreProcess) -> None:
    fresh_store.import_records([completion_record("chatcmpl-1"), completion_record("chatcmpl-2")])
    report = fresh_store.import_records([completion_record("chatcmpl-1", answer="newer")])
    client = openai_client(fresh_store, max_retries=0)

    assert (report["inserted"], report["replaced"]) == (0, 1)
    assert report["kinds"]["completions"] == {"inserted": 0, "replaced": 1}
    assert [c.id for c in client.chat.completions.list()] == ["chatcmpl-1", "chatcmpl-2"]
    assert client.chat.completions.retrieve("chatcmpl-1").choices[0].message.content == "newer"


def test_a_record_posted_to_chat_completions_is_stored_and_served(
    fresh_store: StoreProcess,
) -> None:
    headers = {"Authorization": f"Bearer {fresh_store.api_key}"}
    record = completion_record("chatcmpl-posted", x_custom_field=[1])

    stored = httpx2.post(f"{fresh_store.url}/v1/chat/completions", json=record, headers=headers)
    creation = httpx2.post(
        f"{fresh_store.url}/v1/chat/completions",
        json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )

    assert stored.status_code == 200 and stored.json()["x_custom_field"] == [1]
    client = openai_client(fresh_store, max_retries=0)
    assert [c.id for c in client.chat.completions.list()] == ["chatcmpl-posted"]
    (message,) = client.chat.completions.messages.list("chatcmpl-posted")
    assert message.id == "chatcmpl-posted-0"
    assert creation.status_code == 400
    assert creation.json()["error"]["code"] == "unsupported_operation"


def test_metadata_null_clears_the_metadata(fresh_client: openai.OpenAI) -> None:
    # OpenAI's spec allows null; the SDK sends it for `metadata=None`. As a merge patch, it clears.
    updated = fresh_client.chat.completions.update("chatcmpl-a", metadata=None)

    assert updated.metadata == {}
    assert fresh_client.chat.completions.retrieve("chatcmpl-a").metadata == {}
    assert list(fresh_client.chat.completions.list(metadata={"app": "support"})) == []


def test_every_served_sample_record_is_a_chat_completion(fresh_store: StoreProcess) -> None:
    # Azure wrote `"object": null`; a strict client generated from OpenAI's spec refuses the
    # whole page for one such item.
    from pipelines.sample import SAMPLE_PATH

    lines = SAMPLE_PATH.read_text(encoding="utf-8").splitlines()
    stored_null = [json.loads(line)["id"] for line in lines if '"object": null' in line]
    fresh_store.import_records(json.loads(line) for line in lines)
    raw = httpx2.get(
        f"{fresh_store.url}/v1/chat/completions",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {fresh_store.api_key}"},
    ).json()
    client = openai_client(fresh_store, max_retries=0)
    listed = list(client.chat.completions.list(limit=100))

    assert len(stored_null) == 5
    assert {item["object"] for item in raw["data"]} == {"chat.completion"}
    assert len(listed) == len(lines)
    assert {c.object for c in listed} == {"chat.completion"}
    assert all(client.chat.completions.retrieve(i).object == "chat.completion" for i in stored_null)
