"""Items as the Responses and Conversations APIs list them: typed, and each with an id.

A response's input items and a conversation's items are paged by item id (`after`), so every item
the store keeps needs one. Capture gives an item that came without one a fresh random id, as
OpenAI does; an import gives it one derived from its owner and position, so importing the same
file twice serves the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

_ID_PREFIXES = {"chat": "chatcmpl-", "response": "resp_", "message": "msg_", "": "item_"}

ItemIds = Callable[[str, int], str]
"""(kind, position) → the id of an item that came without one (`kind` as for `new_id`)."""


def new_id(kind: str) -> str:
    """A fresh id in OpenAI's style for `kind` (`chat`, `response`, `message`, or an item): 128
    random bits, so two never collide."""
    return _ID_PREFIXES[kind] + uuid.uuid4().hex


def positional_ids(owner_id: str) -> ItemIds:
    """Ids for the items of `owner_id` that came without one, the same on every import: OpenAI's
    shape (`msg_…`, `item_…`) over a hash of the owner id and the item's position."""

    def item_id(kind: str, index: int) -> str:
        digest = hashlib.sha256(f"{owner_id}:{index}".encode()).hexdigest()[:32]
        return _ID_PREFIXES[kind] + digest

    return item_id


def input_items(value: Any, *, ids: ItemIds | None = None) -> list[dict[str, Any]]:
    """A request's `input` (or an imported item list) as `GET /responses/{id}/input_items` lists
    it: a string is one user message, an easy message (`{"role", "content": "text"}`) becomes a
    typed message with text parts, and every item gets an id (its own when it came with one, else
    one from `ids`, fresh random ones by default). Entries that are not objects are left out."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return []
    items = []
    for index, given in enumerate(value):
        if not isinstance(given, dict):
            continue
        item = dict(given)
        if "type" not in item and "role" in item:
            item["type"] = "message"
        if item.get("type") == "message" and isinstance(item.get("content"), str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": part, "text": item["content"]}]
        kind = "message" if item.get("type") == "message" else ""
        item_id = item.pop("id", None) or (ids(kind, index) if ids else new_id(kind))
        items.append({"id": item_id, **item})
    return items
