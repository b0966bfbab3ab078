"""Ordinary traffic: single-turn requests, multi-turn requests and stored conversation chains."""

from __future__ import annotations

from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.shapes import Exchange, Record
from tests.sample_generator.topics import random_dialogue


def add_single_turn(builder: SampleBuilder) -> Record:
    """Add an ordinary single-turn request, and offer it as a source of duplicates.

    Args:
        builder: The sample being built.

    Returns:
        The record added.
    """
    model = builder.random_model()
    role = builder.system_role(model)
    exchange = builder.fresh_one(lambda rng: random_dialogue(rng).exchange(1, role))
    record = builder.add(exchange, model=model)
    builder.duplicable.append(record)
    return record


def add_multi_turn(builder: SampleBuilder) -> Record:
    """Add an ordinary multi-turn request with 3, 5 or 7 user/assistant messages.

    Args:
        builder: The sample being built.

    Returns:
        The record added.
    """
    model = builder.random_model()
    role = builder.system_role(model)
    user_turns = builder.rng.choice((2, 3, 4))
    exchange = builder.fresh_one(lambda rng: random_dialogue(rng).exchange(user_turns, role))
    return builder.add(exchange, model=model)


def add_chain(builder: SampleBuilder, length: int) -> list[Record]:
    """Add one conversation stored once per request: the prefixes share a conversation id.

    Args:
        builder: The sample being built.
        length: How many requests the conversation makes (1, 2, ... user messages).

    Returns:
        The records added, oldest first.
    """
    model = builder.random_model()
    role = builder.system_role(model)

    def prefixes() -> list[Exchange]:
        dialogue = random_dialogue(builder.rng)
        return [dialogue.exchange(turns, role) for turns in range(1, length + 1)]

    exchanges = builder.fresh(prefixes)
    metadata = builder.metadata(
        exchanges[0].category,
        force=True,
        user_id=builder.rng.choice(builder.user_ids),
        conversation_id=builder.new_conversation_id(),
    )
    # Start early enough that the whole chain stays inside the sample's span.
    created = builder.random_created(margin=3600)
    chain = []
    for exchange in exchanges:
        chain.append(builder.add(exchange, created=created, model=model, metadata=dict(metadata)))
        created += builder.rng.randint(20, 900)
    return chain
