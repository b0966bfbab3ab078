"""Chats stored turn by turn: every request of a conversation is its own stored completion.

Each request resends the whole history, so turn k's input is turn k-1's input, its answer, and
the next user (or tool) message. The sample has plain chains (`traffic.add_chain`) and, here, the
shapes chain detection must get right: a long chat, a branch (an answer regenerated, the chat
going on from the second answer), a chat whose turns were stored on different days, and a chat
that goes through a tool call.
"""

from __future__ import annotations

from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.shapes import (
    Dialogue,
    Exchange,
    Record,
    assistant_output,
    text_message,
    tool_result_message,
)
from tests.sample_generator.tool_use import order_scenario, tool_call_output_exchange
from tests.sample_generator.topics import random_dialogue

DAY = 24 * 60 * 60
TURN_BY_TURN_RECORDS = 5 + 4 + 3 + 3
"""Records the chats below add: long (5), branch (4), across days (3), tool chat (3)."""


def add_turn_by_turn_chats(builder: SampleBuilder) -> list[list[Record]]:
    """Add every chat shape below; returns each chat's records, oldest first."""
    return [
        add_long_chat(builder, turns=5),
        add_branching_chat(builder),
        add_chat_across_days(builder),
        add_tool_chat(builder),
    ]


def add_long_chat(builder: SampleBuilder, *, turns: int) -> list[Record]:
    """A chat of `turns` user messages, stored once per request."""
    dialogue = _longer_dialogue(builder, turns)
    return _store_turns(builder, [dialogue.exchange(n) for n in range(1, turns + 1)], gap=600)


def add_branching_chat(builder: SampleBuilder) -> list[Record]:
    """Turn 2's answer is regenerated; the chat goes on from the regenerated answer.

    Stored: turn 1, turn 2, turn 2 again (same input, another answer), turn 3 (whose history
    holds the second answer). One chain, two leaves: turn 2's first answer, and turn 3.
    """
    dialogue = random_dialogue(builder.rng)
    first, second = dialogue.exchange(1), dialogue.exchange(2)
    answer = second.output["content"]
    regenerated = Exchange(
        second.category, second.messages, assistant_output(f"To put it another way: {answer}")
    )
    user, _ = dialogue.turns[2]
    third = Exchange(
        second.category,
        [*second.messages, _as_history(regenerated.output), text_message("user", user)],
        assistant_output(dialogue.turns[2][1]),
    )
    return _store_turns(builder, [first, second, regenerated, third], gap=120)


def add_chat_across_days(builder: SampleBuilder) -> list[Record]:
    """A chat of three turns whose user came back a day or more after each answer."""
    dialogue = random_dialogue(builder.rng)
    exchanges = [dialogue.exchange(n) for n in range(1, 4)]
    return _store_turns(builder, exchanges, gap=DAY + builder.rng.randrange(DAY))


def add_tool_chat(builder: SampleBuilder) -> list[Record]:
    """Turn 1 answers with a tool call; turn 2 sends the call and its result and gets the
    answer; turn 3 follows up."""
    scenario = order_scenario(builder.rng)
    calling = tool_call_output_exchange(builder.rng, scenario)
    call_message = _as_history(calling.output)
    results = [
        tool_result_message(call["id"], result)
        for call, result in zip(calling.output["tool_calls"], scenario.results, strict=True)
    ]
    answered = Exchange(
        scenario.category,
        [*calling.messages, call_message, *results],
        assistant_output(scenario.answer),
        tools=calling.tools,
    )
    follow_up = Exchange(
        scenario.category,
        [
            *answered.messages,
            _as_history(answered.output),
            text_message("user", "Thanks! Can you email me the tracking link as well?"),
        ],
        assistant_output("Done: the tracking link is on its way to the address on your account."),
        tools=calling.tools,
    )
    return _store_turns(builder, [calling, answered, follow_up], gap=45)


def _store_turns(builder: SampleBuilder, exchanges: list[Exchange], *, gap: int) -> list[Record]:
    model = builder.random_model()
    metadata = builder.metadata(
        exchanges[0].category,
        force=True,
        user_id=builder.rng.choice(builder.user_ids),
        conversation_id=builder.new_conversation_id(),
    )
    created = builder.random_created(margin=gap * len(exchanges) + 3600)
    records = []
    for exchange in exchanges:
        records.append(builder.add(exchange, created=created, model=model, metadata=dict(metadata)))
        created += gap
    return records


def _longer_dialogue(builder: SampleBuilder, turns: int) -> Dialogue:
    """A dialogue with at least `turns` turns: one topic's script, continued by another's."""
    dialogue = random_dialogue(builder.rng)
    extra: tuple = ()
    while len(dialogue.turns) + len(extra) < turns:
        extra += random_dialogue(builder.rng).turns[1:]
    return Dialogue(dialogue.category, dialogue.system, (*dialogue.turns, *extra))


def _as_history(output: dict) -> dict:
    """An output message as the next request sends it back (the input-message shape)."""
    message = text_message("assistant", output["content"])
    if output.get("tool_calls"):
        message["tool_calls"] = output["tool_calls"]
    return message
