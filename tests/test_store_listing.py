"""Listing, filtering and message paging through the real SDK clients (OpenAI and Azure shapes)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import MODELS, azure_client, expected_order
from tests.store_process import StoreProcess


@pytest.mark.parametrize("limit", [1, 7, 100])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_returns_every_id_once_in_order(
    client: openai.OpenAI, records: list[dict[str, Any]], limit: int, order: str
) -> None:
    listed = [c.id for c in client.chat.completions.list(limit=limit, order=order)]

    assert listed == expected_order(records, order)
    assert len(set(listed)) == len(records)


def test_pages_have_the_requested_size_and_cursor_fields(client: openai.OpenAI) -> None:
    page = client.chat.completions.list(limit=7)

    assert len(page.data) == 7
    assert page.has_more is True
    assert page.model_extra["first_id"] == page.data[0].id
    assert page.model_extra["last_id"] == page.data[-1].id


def test_list_items_never_carry_input_messages(client: openai.OpenAI) -> None:
    for completion in client.chat.completions.list(limit=100):
        assert "input_messages" not in completion.model_dump()


def test_filter_by_model(client: openai.OpenAI, records: list[dict[str, Any]]) -> None:
    listed = [c.id for c in client.chat.completions.list(model=MODELS[1], limit=100)]

    expected = [r["id"] for r in records if r["model"] == MODELS[1]]
    assert sorted(listed) == sorted(expected)
    assert listed and len(listed) < len(records)


def test_filter_by_one_metadata_pair(client: openai.OpenAI, records: list[dict[str, Any]]) -> None:
    listed = [c.id for c in client.chat.completions.list(metadata={"app": "support"}, limit=5)]

    expected = [r["id"] for r in records if r["metadata"].get("app") == "support"]
    assert sorted(listed) == sorted(expected)


def test_filter_by_two_metadata_pairs_ands_them(
    client: openai.OpenAI, records: list[dict[str, Any]]
) -> None:
    pairs = {"app": "support", "env": "dev"}
    listed = [c.id for c in client.chat.completions.list(metadata=pairs, limit=3)]

    expected = [
        r["id"] for r in records if all(r["metadata"].get(k) == v for k, v in pairs.items())
    ]
    assert sorted(listed) == sorted(expected)
    assert 0 < len(expected) < len([r for r in records if r["metadata"].get("app") == "support"])


def test_filter_by_model_and_metadata_together(
    client: openai.OpenAI, records: list[dict[str, Any]]
) -> None:
    listed = {
        c.id
        for c in client.chat.completions.list(model=MODELS[0], metadata={"env": "prod"}, limit=100)
    }

    expected = {
        r["id"] for r in records if r["model"] == MODELS[0] and r["metadata"].get("env") == "prod"
    }
    assert listed == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_messages_of_a_30_message_conversation_page_in_index_order(
    client: openai.OpenAI, order: str
) -> None:
    messages = list(client.chat.completions.messages.list("chatcmpl-long", limit=7, order=order))

    indices = range(30) if order == "asc" else range(29, -1, -1)
    assert [m.id for m in messages] == [f"chatcmpl-long-{i}" for i in indices]
    assert [m.content for m in messages] == [f"message {i}" for i in indices]
    assert [m.role for m in messages][:2] == (
        ["user", "assistant"] if order == "asc" else ["assistant", "user"]
    )


def test_messages_default_page_is_20(client: openai.OpenAI) -> None:
    page = client.chat.completions.messages.list("chatcmpl-long")

    assert len(page.data) == 20
    assert page.has_more is True


def test_retrieve_returns_the_record_as_imported(
    client: openai.OpenAI, records: list[dict[str, Any]]
) -> None:
    original = next(r for r in records if r["id"] == "chatcmpl-list-003")

    served = client.chat.completions.retrieve("chatcmpl-list-003").model_dump(exclude_unset=True)

    expected = {k: v for k, v in original.items() if k != "input_messages"}
    assert served == expected


def test_malformed_records_still_list_and_serve(client: openai.OpenAI) -> None:
    listed = {c.id for c in client.chat.completions.list(limit=100)}
    assert {
        "chatcmpl-bad-nochoices",
        "chatcmpl-bad-number",
        "chatcmpl-bad-role",
        "chatcmpl-bad-nocreated",
    } <= listed

    (message,) = client.chat.completions.messages.list("chatcmpl-bad-role")
    # The SDK types role as "assistant" but keeps the real string (REFERENCE.md).
    assert message.model_dump()["role"] == "narrator"
    (number,) = client.chat.completions.messages.list("chatcmpl-bad-number")
    assert number.model_dump(warnings=False)["content"] == 42
    assert client.chat.completions.retrieve("chatcmpl-bad-nochoices").choices == []


def test_azure_deployment_client_lists_through_the_deployment_path(
    store: StoreProcess, records: list[dict[str, Any]]
) -> None:
    # With a deployment set, the SDK sends `list` under /openai/deployments/{d}/ (REFERENCE.md).
    client = azure_client(store, azure_deployment="my-deployment", max_retries=0)

    listed = [c.id for c in client.chat.completions.list(limit=100)]
    messages = list(client.chat.completions.messages.list("chatcmpl-long", limit=100))

    assert listed == expected_order(records, "asc")
    assert len(messages) == 30
