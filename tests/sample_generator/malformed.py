"""Records broken in one marked way each, and a well-formed one with an undocumented field."""

from __future__ import annotations

import random

from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.fillers import random_call_id
from tests.sample_generator.shapes import (
    Exchange,
    Record,
    assistant_output,
    text_message,
    with_key_before,
)
from tests.sample_generator.texts_support import support_dialogue
from tests.sample_generator.tool_use import order_scenario, tool_answer_exchange
from tests.sample_generator.topics import random_dialogue

MALFORMED_KINDS = (
    "empty_choices",
    "numeric_content",
    "unknown_role",
    "missing_created",
    "empty_output",
    "tool_missing_call_id",
    "orphan_tool_call_id",
)
UNKNOWN_FIELD_CASE = "unknown_field"


def _order_number_exchange(rng: random.Random) -> Exchange:
    order = str(rng.randint(100000, 999999))
    system = "The user sends an order number. Reply with the order's status in one sentence."
    messages = [text_message("system", system), text_message("user", order)]
    answer = f"Order #{order} is out for delivery and should arrive today."
    return Exchange("customer_support", messages, assistant_output(answer))


def _malformed_base(kind: str, rng: random.Random) -> Exchange:
    """The well-formed exchange that `_break_record` then breaks in the way `kind` names."""
    if kind in ("tool_missing_call_id", "orphan_tool_call_id"):
        return tool_answer_exchange(rng, order_scenario(rng))
    if kind == "numeric_content":
        return _order_number_exchange(rng)
    return support_dialogue(rng).exchange(1)


def _break_record(record: Record, kind: str, rng: random.Random) -> None:
    """Apply one malformation in place (see `MALFORMED_KINDS`)."""
    messages = record["input_messages"]
    if kind == "empty_choices":
        record["choices"] = []
    elif kind == "numeric_content":
        messages[-1]["content"] = int(messages[-1]["content"])
    elif kind == "unknown_role":
        note = "The customer has been waiting for 40 minutes and sounds annoyed."
        messages.insert(1, text_message("narrator", note))
    elif kind == "missing_created":
        del record["created"]
    elif kind == "empty_output":
        record["choices"][0]["message"] = assistant_output()
        record["usage"]["completion_tokens"] = 0
        record["usage"]["total_tokens"] = record["usage"]["prompt_tokens"]
    elif kind == "tool_missing_call_id":
        tool_message = next(m for m in messages if m["role"] == "tool")
        del tool_message["tool_call_id"]
    elif kind == "orphan_tool_call_id":
        tool_message = next(m for m in messages if m["role"] == "tool")
        tool_message["tool_call_id"] = random_call_id(rng)
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")


def add_malformed(builder: SampleBuilder, kind: str) -> Record:
    """Add a record broken in one way, marked `metadata.sample_case = malformed_<kind>`.

    Args:
        builder: The sample being built.
        kind: One of `MALFORMED_KINDS`.

    Returns:
        The broken record.
    """
    exchange = builder.fresh_one(lambda rng: _malformed_base(kind, rng))
    metadata = {**builder.metadata(exchange.category), "sample_case": f"malformed_{kind}"}
    record = builder.add(exchange, metadata=metadata)
    _break_record(record, kind, builder.rng)
    return record


def add_unknown_field(builder: SampleBuilder) -> Record:
    """Add a well-formed record with one top-level field the API does not document.

    Args:
        builder: The sample being built.

    Returns:
        The record, marked `metadata.sample_case = UNKNOWN_FIELD_CASE`.
    """
    exchange = builder.fresh_one(lambda rng: random_dialogue(rng).exchange(1))
    metadata = {**builder.metadata(exchange.category), "sample_case": UNKNOWN_FIELD_CASE}
    record = builder.add(exchange, metadata=metadata)
    updated = with_key_before(record, "input_messages", "x_custom_field", {"nested": [1, 2]})
    builder.replace(record, updated)
    return updated
