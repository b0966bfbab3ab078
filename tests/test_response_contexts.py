"""A response's earlier turns: previous_response_id chains, conversations and item references,
resolved among the lake's rows, and flagged when they cannot be."""

from __future__ import annotations

import inspect
import sys

from pipelines.completions.normalize import conversation_from_row
from tests.response_rows import (
    assistant,
    conversation_row,
    normalized,
    reasons,
    response_row,
    user,
    validated,
)


def test_own_items_that_already_hold_the_earlier_context_are_taken_as_they_are() -> None:
    first = [user("msg_1", "One")]
    rows = normalized(
        response_row("resp_1", first, [assistant("msg_2", "Two")]),
        response_row(
            "resp_2",
            # As OpenAI may list them: the earlier turns first, with their own ids.
            [*first, assistant("msg_2", "Two"), user("msg_3", "Three")],
            [assistant("msg_4", "Four")],
            previous_response_id="resp_1",
        ),
    )

    assert [m["content"] for m in conversation_from_row(rows["resp_2"])] == [
        "One",
        "Two",
        "Three",
        "Four",
    ]


def test_a_long_chain_resolves_in_order_from_the_lake_in_any_order() -> None:
    turns = 200
    rows = [
        response_row(
            f"resp_{i:04d}",
            [user(f"msg_in_{i}", f"q{i}")],
            [assistant(f"msg_out_{i}", f"a{i}")],
            previous_response_id=f"resp_{i - 1:04d}" if i else None,
        )
        for i in range(turns)
    ]

    # A chain deeper than the stack may grow: resolved without recursion.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + turns // 2)
    try:
        last = normalized(*reversed(rows))[f"resp_{turns - 1:04d}"]
    finally:
        sys.setrecursionlimit(limit)

    texts = [m["content"] for m in conversation_from_row(last)]
    assert texts == [text for i in range(turns) for text in (f"q{i}", f"a{i}")]
    assert last["context_missing"] is False


def test_a_previous_response_that_fails_validation_still_gives_its_context() -> None:
    result = validated(
        response_row("resp_1", [user("msg_1", "One")], [assistant("msg_2", "Two")], usage=None),
        response_row(
            "resp_2",
            [user("msg_3", "Three")],
            [assistant("msg_4", "Four")],
            previous_response_id="resp_1",
        ),
    )

    assert reasons(result) == {"resp_1": ["has_usage"]}
    (row,) = result.completions.iter_rows(named=True)
    assert [m["content"] for m in conversation_from_row(row)] == ["One", "Two", "Three", "Four"]


def test_item_references_resolve_to_the_stored_items() -> None:
    rows = normalized(
        response_row("resp_1", [user("msg_1", "One")], [assistant("msg_2", "Two")]),
        response_row(
            "resp_2",
            [
                {"type": "item_reference", "id": "msg_1"},
                {"type": "item_reference", "id": "msg_2"},
                user("msg_3", "Three"),
            ],
            [assistant("msg_4", "Four")],
        ),
    )

    assert [m["content"] for m in conversation_from_row(rows["resp_2"])] == [
        "One",
        "Two",
        "Three",
        "Four",
    ]
    assert rows["resp_2"]["context_missing"] is False


def test_a_chain_that_loops_is_missing_its_context() -> None:
    rows = normalized(
        response_row(
            "resp_1",
            [user("msg_1", "One")],
            [assistant("msg_2", "Two")],
            previous_response_id="resp_2",
        ),
        response_row(
            "resp_2",
            [user("msg_3", "Three")],
            [assistant("msg_4", "Four")],
            previous_response_id="resp_1",
        ),
    )

    assert rows["resp_1"]["context_missing"] is True
    assert rows["resp_2"]["context_missing"] is True


# -- responses made inside a conversation --------------------------------------------------------

CONVERSATION = [
    user("msg_1", "One"),
    assistant("msg_2", "Two"),
    user("msg_3", "Three"),
    assistant("msg_4", "Four"),
    user("msg_5", "Five"),
    assistant("msg_6", "Six"),
]


def test_a_response_in_a_conversation_gets_the_turns_before_its_input() -> None:
    rows = normalized(
        conversation_row("conv_1", CONVERSATION),
        # Its input items are only the new turn; the conversation holds what came before (and
        # what came after, which is no part of this response).
        response_row("resp_2", [CONVERSATION[2]], [CONVERSATION[3]], conversation={"id": "conv_1"}),
        response_row("resp_3", [CONVERSATION[4]], [CONVERSATION[5]], conversation="conv_1"),
        # Its items already begin with the conversation's first item: taken as they are.
        response_row("resp_whole", CONVERSATION[:3], [CONVERSATION[3]], conversation="conv_1"),
    )

    def texts(response_id: str) -> list[str]:
        return [m["content"] for m in conversation_from_row(rows[response_id])]

    assert texts("resp_2") == ["One", "Two", "Three", "Four"]
    assert texts("resp_3") == ["One", "Two", "Three", "Four", "Five", "Six"]
    assert texts("resp_whole") == ["One", "Two", "Three", "Four"]
    assert not any(rows[i]["context_missing"] for i in ("resp_2", "resp_3", "resp_whole"))


def test_a_response_whose_conversation_or_place_in_it_is_unknown_is_missing_its_context() -> None:
    result = validated(
        conversation_row("conv_1", CONVERSATION[:4]),
        response_row(
            "resp_no_conv",
            [user("msg_9", "Nine")],
            [assistant("msg_10", "Ten")],
            conversation={"id": "conv_gone"},
        ),
        # In a conversation the lake holds, but its input is not among the conversation's items.
        response_row(
            "resp_elsewhere",
            [user("msg_9", "Nine")],
            [assistant("msg_10", "Ten")],
            conversation="conv_1",
        ),
    )

    assert reasons(result) == {
        "resp_no_conv": ["context_present"],
        "resp_elsewhere": ["context_present"],
    }
    (message,) = {
        r["message"] for row in result.quarantine.iter_rows(named=True) for r in row["reasons"]
    }
    assert message.startswith("previous_response_id or conversation names")
