"""The import format's pure parts: which kind a line is, what is stored of it, which ids its items
get, why a line is refused, and how a re-import replaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.store import InvalidRecord, StoreDatabase
from pipelines.store.completions_db import StoredRecord
from pipelines.store.conversations_db import StoredConversation, list_conversation_items
from pipelines.store.imports import parse_record
from pipelines.store.responses_db import StoredResponse, list_input_items
from tests.records import completion_record, conversation_record, dialogue_items, response_record


def test_object_tells_the_kinds_apart() -> None:
    chat = parse_record(json.dumps(completion_record("c1", object=None)))
    response = parse_record(json.dumps(response_record("resp_1")))
    conversation = parse_record(json.dumps(conversation_record("conv_1", dialogue_items("a", 2))))

    assert isinstance(chat, StoredRecord) and json.loads(chat.body)["object"] == "chat.completion"
    assert isinstance(response, StoredResponse)
    assert isinstance(conversation, StoredConversation)


def test_a_response_is_stored_without_its_input_items_and_they_keep_their_ids() -> None:
    line = response_record("resp_1", metadata={"feature": "faq", "n": 3})  # type: ignore[dict-item]

    stored = parse_record(json.dumps(line))

    assert isinstance(stored, StoredResponse)
    assert json.loads(stored.body) == {k: v for k, v in line.items() if k != "input_items"}
    assert [item_id for item_id, _ in stored.items] == ["msg_in_resp_1"]
    assert stored.metadata == {"feature": "faq"}  # only string pairs are filterable
    assert (stored.created_sort, stored.model) == (1_760_000_000, "gpt-4.1-mini-2025-04-14")


def test_a_conversation_is_stored_without_its_items() -> None:
    line = conversation_record("conv_1", dialogue_items("a", 3), metadata={"topic": "x"})

    stored = parse_record(json.dumps(line))

    assert isinstance(stored, StoredConversation)
    assert json.loads(stored.body) == {
        "id": "conv_1",
        "object": "conversation",
        "created_at": 1_760_000_000,
        "metadata": {"topic": "x"},
    }
    assert [item_id for item_id, _ in stored.items] == ["msg_a_0000", "msg_a_0001", "msg_a_0002"]


def test_items_without_ids_get_ids_from_their_owner_and_position() -> None:
    easy = [{"role": "user", "content": "hi"}, {"type": "function_call_output", "call_id": "c"}]
    line = json.dumps(response_record("resp_1", input_items=easy))

    first, again = parse_record(line), parse_record(line)
    other = parse_record(json.dumps(response_record("resp_2", input_items=easy)))

    assert isinstance(first, StoredResponse) and isinstance(again, StoredResponse)
    assert isinstance(other, StoredResponse)
    assert first.items == again.items
    ids = [item_id for item_id, _ in first.items]
    assert ids[0].startswith("msg_") and ids[1].startswith("item_")
    assert ids != [item_id for item_id, _ in other.items]
    assert json.loads(first.items[0][1]) == {
        "id": ids[0],
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
        "type": "message",
    }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"object": "response", "id": "resp_1"', "not valid JSON"),
        ('["response"]', "expected a JSON object, got list"),
        ('{"object": "conversation", "id": 5}', "missing a non-empty string `id`"),
        ('{"object": "response", "id": "r", "input_items": [1]}', "`input_items` must be a list"),
        ('{"object": "conversation", "id": "c", "items": "x"}', "`items` must be a list"),
        ('{"object": "conversation", "id": "c", "items": [{"id": ""}]}', "`items[0].id`"),
        ('{"object": "response", "id": "r", "input_items": [{"id": "a"}, {"id": "a"}]}', "twice"),
    ],
)
def test_lines_the_store_cannot_serve_are_refused_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_record(line)


def test_a_mixed_import_counts_each_kind_and_a_reimport_replaces_in_place(tmp_path: Path) -> None:
    db = StoreDatabase(tmp_path / "store.db")
    lines = [
        json.dumps(completion_record("c1")),
        json.dumps(response_record("resp_1")),
        json.dumps(conversation_record("conv_1", dialogue_items("a", 4))),
    ]
    shorter = json.dumps(conversation_record("conv_1", dialogue_items("b", 1)))

    first = db.import_lines(lines)
    second = db.import_lines([lines[1], shorter])

    assert first.to_dict()["kinds"] == {
        "completions": {"inserted": 1, "replaced": 0},
        "responses": {"inserted": 1, "replaced": 0},
        "conversations": {"inserted": 1, "replaced": 0},
    }
    assert (second.inserted, second.replaced) == (0, 2)
    assert db.counts() == {"completions": 1, "responses": 1, "conversations": 1}
    with db.reading() as conn:
        items = list_conversation_items(conn, "conv_1", limit=10, order="asc", after=None)
        inputs = list_input_items(conn, "resp_1", limit=10, order="asc", after=None)
    assert items is not None and inputs is not None
    assert [json.loads(body)["id"] for body in items.items] == ["msg_b_0000"]
    assert inputs.first_id == "msg_in_resp_1"
    db.close()
