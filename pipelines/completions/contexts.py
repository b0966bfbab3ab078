"""The whole input of a stored response: its earlier turns and the items it references.

A response made with `previous_response_id` continues an earlier one; what the model saw is the
earlier response's whole input, then its output, then the new input. A capturing proxy records
only the new input as the response's input items; OpenAI's `input_items` may list the earlier
context as well. Both are read right: when a response's own items already begin with the
earlier context (the same first item id), they are taken as they are, else the earlier context
is put in front of them. An `item_reference` item stands for a stored item named by id.

A response made inside a conversation (`conversation`, an id or `{"id": …}`) saw the
conversation's items up to its own input: the earlier turns are the conversation's items before
the one whose id is the response's first input item (none, when the response's items already
begin with the conversation's first). The conversation as stored may hold later turns too; they
are no part of this response.

Everything is looked up among the raw rows of one `normalize_completions` call, so a previous
response that fails validation still provides its context. What cannot be found (a previous
response, a conversation or a referenced item not in the lake, a first input item the
conversation does not hold, or a chain that loops) is left out and flagged: `Context.missing`,
which sends the record to quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.jsontext import loads as _loads
from schemas import CONVERSATIONS_API, RESPONSES_API

_ITEM_REFERENCE = "item_reference"


@dataclass(frozen=True)
class Context:
    """Items, oldest first, and whether some that belong there could not be found."""

    items: list[Any]
    missing: bool = False


_MISSING = Context([], missing=True)


class ResponseContexts:
    """Resolves previous responses and item references among the raw rows of one call.

    Args:
        raw: Raw-lake rows with `api`, `id`, `completion_json` and `messages_json`.
    """

    def __init__(self, raw: pl.DataFrame) -> None:
        rows = raw.select(pl.int_range(pl.len()).alias("row"), "id", "api", "completion_json")
        responses = rows.filter(pl.col("api") == RESPONSES_API).select(
            "row",
            "id",
            pl.col("completion_json")
            .str.json_path_match("$.previous_response_id")
            .alias("previous"),
        )
        conversations = rows.filter(pl.col("api") == CONVERSATIONS_API)
        self._raw = raw
        self._rows: dict[str, int] = dict(zip(responses["id"], responses["row"], strict=True))
        self._conversation_rows: dict[str, int] = dict(
            zip(conversations["id"], conversations["row"], strict=True)
        )
        # Only responses another one continues are kept once resolved: the rest are needed once.
        self._continued = set(responses["previous"].drop_nulls())
        self._after: dict[str, Context] = {}
        self._items_by_id: dict[str, Any] | None = None

    def response_input(self, response_id: str, response: dict[str, Any], items: Any) -> Context:
        """The whole input of a response: earlier turns, then its own items.

        Args:
            response_id: The response's id (its lake key).
            response: The Response object.
            items: Its input items as stored.
        """
        previous = response.get("previous_response_id")
        if isinstance(previous, str):
            return self._whole_input(self._context_after(previous, seen={response_id}), items)
        conversation = _conversation_id(response.get("conversation"))
        if conversation is not None:
            return self._within_conversation(conversation, items)
        return self.resolve_references(items)

    def resolve_references(self, items: Any) -> Context:
        """`items` with every `item_reference` replaced by the stored item it names."""
        items = items if isinstance(items, list) else []
        if not any(_is_reference(item) for item in items):
            return Context(items)
        index = self._item_index()
        resolved, missing = [], False
        for item in items:
            if not _is_reference(item):
                resolved.append(item)
            elif item.get("id") in index:
                resolved.append(index[item["id"]])
            else:
                missing = True
        return Context(resolved, missing)

    def _context_after(self, response_id: str, *, seen: set[str]) -> Context:
        """What a response continuing `response_id` starts from: that response's whole input and
        its output. Walked oldest first without recursion, so a chain of any length resolves."""
        chain: list[tuple[str, dict[str, Any], Any]] = []
        current: str | None = response_id
        base: Context | None = None
        looped = False
        while current is not None:
            if current in self._after:
                base = self._after[current]
                break
            if current in seen or current not in self._rows:
                # A loop is cut where it closes, which depends on where the walk began: what
                # it gives is not kept for other walks.
                looped = current in seen
                base = _MISSING
                break
            seen.add(current)
            response, items = self._stored(current)
            chain.append((current, response, items))
            previous = response.get("previous_response_id")
            current = previous if isinstance(previous, str) else None
        for chained_id, response, items in reversed(chain):
            whole = self._whole_input(base, items)
            output = response.get("output")
            base = Context(
                [*whole.items, *(output if isinstance(output, list) else [])], whole.missing
            )
            if chained_id in self._continued and not looped:
                self._after[chained_id] = base
        assert base is not None  # the chain holds response_id at least, or base was found
        return base

    def _within_conversation(self, conversation_id: str, items: Any) -> Context:
        """A response's own items after the conversation's items that came before them."""
        own = self.resolve_references(items)
        row = self._conversation_rows.get(conversation_id)
        if row is None:
            return Context(own.items, missing=True)
        stored = self.resolve_references(_loads(self._raw["messages_json"][row]))
        first = _item_id(own.items[0]) if own.items else None
        position = next(
            (at for at, item in enumerate(stored.items) if first and _item_id(item) == first),
            None,
        )
        if position is None:
            # Where the response sits in the conversation is unknown, so are its earlier turns.
            return Context(own.items, missing=True)
        return Context([*stored.items[:position], *own.items], stored.missing or own.missing)

    def _whole_input(self, earlier: Context | None, items: Any) -> Context:
        own = self.resolve_references(items)
        if earlier is None or _begins_with(own.items, earlier.items):
            return own
        return Context([*earlier.items, *own.items], earlier.missing or own.missing)

    def _stored(self, response_id: str) -> tuple[dict[str, Any], Any]:
        row = self._rows[response_id]
        response = _loads(self._raw["completion_json"][row])
        return (response if isinstance(response, dict) else {}), _loads(
            self._raw["messages_json"][row]
        )

    def _item_index(self) -> dict[str, Any]:
        """Every stored item by id: input and output items of responses, conversation items.
        Built the first time a reference is met (most lakes hold none)."""
        if self._items_by_id is None:
            self._items_by_id = {}
            stored = self._raw.filter(pl.col("api").is_in([RESPONSES_API, CONVERSATIONS_API]))
            for completion_json, messages_json in zip(
                stored["completion_json"], stored["messages_json"], strict=True
            ):
                items = _loads(messages_json)
                output = _loads(completion_json)
                output = output.get("output") if isinstance(output, dict) else None
                for item in [
                    *(items if isinstance(items, list) else []),
                    *(output if isinstance(output, list) else []),
                ]:
                    identified = isinstance(item, dict) and isinstance(item.get("id"), str)
                    if identified and not _is_reference(item):
                        self._items_by_id.setdefault(item["id"], item)
        return self._items_by_id


def _begins_with(items: list[Any], earlier: list[Any]) -> bool:
    """Whether `items` already start with the `earlier` context: the same first item id."""
    if not items or not earlier:
        return False
    first = _item_id(items[0])
    return first is not None and first == _item_id(earlier[0])


def _item_id(item: Any) -> str | None:
    identifier = item.get("id") if isinstance(item, dict) else None
    return identifier if isinstance(identifier, str) else None


def _conversation_id(conversation: Any) -> str | None:
    """The id a response's `conversation` names: the API returns `{"id": …}`, a request may
    have given the id alone."""
    if isinstance(conversation, dict):
        conversation = conversation.get("id")
    return conversation if isinstance(conversation, str) and conversation else None


def _is_reference(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == _ITEM_REFERENCE
