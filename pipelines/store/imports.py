"""The import format: one JSON object per line, told apart by its `object`.

- `"response"`: a stored response, exactly as `GET /responses/{id}` returns it, plus its input
  items under `input_items` (in input order, as `GET /responses/{id}/input_items` serves them).
- `"conversation"`: a conversation as `GET /conversations/{id}` returns it, plus its items under
  `items` (in conversation order).
- anything else, `null` or no `object`: a stored chat completion as `GET /chat/completions/{id}`
  returns it, plus its input messages under `input_messages` (what every import was before
  responses and conversations, so an older export still imports unchanged).

A file may mix them. A line is refused, with its reason, only when the store could not serve it
at all; everything else, however malformed for training, is kept as given. An item that came
without an id gets one derived from its owner's id and position, so a re-import serves the same ids.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from pipelines import jsontext
from pipelines.store.completions_db import StoredRecord, is_number, upsert_completion
from pipelines.store.conversations_db import (
    StoredConversation,
    stored_conversation,
    upsert_conversation,
)
from pipelines.store.items import input_items, positional_ids
from pipelines.store.pages import string_pairs
from pipelines.store.responses_db import StoredResponse, stored_response, upsert_response

ImportedRecord = StoredRecord | StoredResponse | StoredConversation
KINDS = ("completions", "responses", "conversations")
"""The kinds of record an import counts, in the order reports list them."""


class InvalidRecord(ValueError):
    """An import line the store cannot serve at all (not JSON, not an object, no string id, items
    that are not objects or whose ids cannot be paged by)."""


@dataclass
class KindCount:
    """Records of one kind an import added, and those it replaced (same id)."""

    inserted: int = 0
    replaced: int = 0


@dataclass
class ImportReport:
    """What an import did, per kind, and the lines it refused with their reasons."""

    kinds: dict[str, KindCount] = field(default_factory=lambda: {k: KindCount() for k in KINDS})
    invalid: list[tuple[int, str]] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return sum(count.inserted for count in self.kinds.values())

    @property
    def replaced(self) -> int:
        return sum(count.replaced for count in self.kinds.values())

    def to_dict(self) -> dict[str, Any]:
        """The totals and the per-kind counts, as JSON (the admin import route answers it)."""
        return {
            "inserted": self.inserted,
            "replaced": self.replaced,
            "kinds": {
                k: {"inserted": c.inserted, "replaced": c.replaced} for k, c in self.kinds.items()
            },
        }


def parse_record(line: str) -> ImportedRecord:
    """Parse one import line of any kind (see the module docstring).

    Raises:
        InvalidRecord: when the line cannot be served at all.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InvalidRecord(f"not valid JSON ({err.msg} at column {err.colno})") from None
    return record_from_object(obj)


def record_from_object(obj: object) -> ImportedRecord:
    """`parse_record` for a line already parsed."""
    record = _object_with_id(obj)
    if record.get("object") == "response":
        items = _items(record, "input_items")
        return stored_response(record, items)
    if record.get("object") == "conversation":
        items = _items(record, "items")
        return stored_conversation(record, items)
    return completion_from_object(record)


def completion_from_object(obj: object) -> StoredRecord:
    """A chat-completion line, already parsed (the capture proxy builds them as objects).

    A missing or null `object` is served as `chat.completion` (Azure wrote null; OpenAI's spec
    makes it a required one-value enum, and strict generated clients refuse a page holding null).
    """
    record = _object_with_id(obj)
    if record.get("object") is None:
        record["object"] = "chat.completion"
    input_messages = record.pop("input_messages", None)
    if input_messages is None:
        input_messages = []
    if not isinstance(input_messages, list) or not all(isinstance(m, dict) for m in input_messages):
        raise InvalidRecord("`input_messages` must be a list of JSON objects")
    created = record.get("created")
    return StoredRecord(
        id=record["id"],
        created_sort=int(created) if is_number(created) else 0,
        model=record.get("model") if isinstance(record.get("model"), str) else None,
        body=jsontext.dumps(record),
        metadata=string_pairs(record.get("metadata")),
        messages=[
            jsontext.dumps(_with_message_id(message, f"{record['id']}-{index}"))
            for index, message in enumerate(input_messages)
        ],
    )


def kind_of(record: ImportedRecord) -> str:
    """The report's name for the kind of `record` (one of `KINDS`)."""
    if isinstance(record, StoredResponse):
        return "responses"
    if isinstance(record, StoredConversation):
        return "conversations"
    return "completions"


def store_record(conn: sqlite3.Connection, record: ImportedRecord) -> bool:
    """Insert or replace `record` in its kind's tables (a replaced one keeps its place).

    Returns:
        True when its id was new.
    """
    if isinstance(record, StoredResponse):
        return upsert_response(conn, record)
    if isinstance(record, StoredConversation):
        return upsert_conversation(conn, record)
    return upsert_completion(conn, record)


def _object_with_id(obj: object) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(obj).__name__}")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise InvalidRecord("missing a non-empty string `id`")
    return obj


def _items(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Take the item list under `key` off `record`: typed, each with an id, ids unique (an id
    named twice would make `after` ambiguous)."""
    given = record.pop(key, None)
    if given is None:
        given = []
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise InvalidRecord(f"`{key}` must be a list of JSON objects")
    for index, item in enumerate(given):
        item_id = item.get("id")
        if item_id is not None and (not isinstance(item_id, str) or not item_id):
            raise InvalidRecord(f"`{key}[{index}].id` must be a non-empty string when given")
    items = input_items(given, ids=positional_ids(record["id"]))
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise InvalidRecord(f"item id '{item['id'][:100]}' appears twice in `{key}`")
        seen.add(item["id"])
    return items


def _with_message_id(message: dict[str, Any], message_id: str) -> dict[str, Any]:
    # The id leads, as in the API; any id the export carried is replaced by the positional one.
    return {"id": message_id, **{k: v for k, v in message.items() if k != "id"}}
