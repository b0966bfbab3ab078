"""The SDK calls each stored-object API is read with, written once.

Every call asks for the raw response (`with_raw_response`), so the lake keeps exactly what the
API returned. Three APIs, two ways of finding their objects:

- listed: stored chat completions (`GET /chat/completions`) and, where a server offers the list
  OpenAI lacks (Azure Foundry, a capturing store), stored responses (`GET /responses`); each
  listed object's inner items are paged by id;
- by id: stored responses (`GET /responses/{id}` + its input items) and conversations
  (`GET /conversations/{id}` + its items), whose ids the user keeps, since OpenAI lists neither.

Inner items are always read oldest first (`order=asc`): the input-items and conversation-items
lists default to newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from schemas import APIS

ITEMS_PAGE_SIZE = 100
"""Inner items per request: the largest `limit` each items list accepts."""

RawCall = Callable[..., Any]


@dataclass(frozen=True)
class StoredApi:
    """How one API's stored objects and their items are read.

    Attributes:
        api: The lake's name for it (`schemas.APIS`).
        noun: What its objects are called in logs and errors.
        items_noun: What its inner items are called.
    """

    api: str
    noun: str
    items_noun: str

    def items_page(self, client: openai.OpenAI, object_id: str, after: str | None) -> Any:
        """One raw page of the object's inner items, oldest first."""
        cursor = {"after": after} if after else {}
        if self.api == "chat_completions":
            lister: RawCall = client.chat.completions.messages.with_raw_response.list
        elif self.api == "responses":
            lister = client.responses.input_items.with_raw_response.list
        else:
            lister = client.conversations.items.with_raw_response.list
        return lister(object_id, limit=ITEMS_PAGE_SIZE, order="asc", **cursor)

    def retrieve(self, client: openai.OpenAI, object_id: str) -> Any:
        """The raw object by id (responses and conversations only)."""
        if self.api == "responses":
            return client.responses.with_raw_response.retrieve(object_id)
        if self.api == "conversations":
            return client.conversations.with_raw_response.retrieve(object_id)
        raise ValueError(f"{self.api} objects are listed, not read by id")

    def list_page(self, client: openai.OpenAI, after: str | None, limit: int) -> Any:
        """One raw page of the object list, newest first (chat completions and responses)."""
        cursor = {"after": after} if after else {}
        if self.api == "chat_completions":
            return client.chat.completions.with_raw_response.list(
                order="desc", limit=limit, **cursor
            )
        if self.api == "responses":
            # The SDK has no `responses.list` (OpenAI has no such endpoint); Azure Foundry and
            # distillery's store answer `GET /responses` in the list shape of the other lists.
            return client.get(
                "/responses",
                cast_to=httpx2.Response,
                options={"params": {"order": "desc", "limit": limit, **cursor}},
            )
        raise ValueError(f"{self.api} cannot be listed: read it by id")


CHAT_COMPLETIONS = StoredApi("chat_completions", "stored completions", "messages")
RESPONSES = StoredApi("responses", "stored responses", "input items")
CONVERSATIONS = StoredApi("conversations", "conversations", "items")
TRACES = StoredApi("traces", "trace spans", "spans")
"""Spans have no inner items and are not read through these calls: `pipelines.ingest.traces`
reads a store's received spans (`GET /traces/spans`) and OTLP JSON-lines files."""
STORED_APIS = {api.api: api for api in (CHAT_COMPLETIONS, RESPONSES, CONVERSATIONS, TRACES)}
assert tuple(STORED_APIS) == APIS, "every API of the lake has its calls here"
