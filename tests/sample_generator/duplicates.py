"""Exact and near duplicates: ordinary records stored again, verbatim or slightly reworded."""

from __future__ import annotations

import copy
import random

from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.shapes import Exchange, Record

_WORD_SWAPS = (
    ("Can you", "Could you"),
    ("Could you", "Can you"),
    ("How do I", "How can I"),
    ("What's", "What is"),
    ("doesn't", "does not"),
    ("please", "pls"),
    ("Thanks", "Thank you"),
    ("Write", "Create"),
    ("Hi,", "Hello,"),
    ("my ", "the "),
)


def near_duplicate_text(text: str, rng: random.Random) -> str:
    """Return `text` with a word or two swapped, the casing changed or the punctuation changed.

    Args:
        text: The original prompt.
        rng: The random source.

    Returns:
        A different string that a reader would call the same prompt.
    """
    candidates = [text.replace(old, new, 1) for old, new in _WORD_SWAPS if old in text]
    candidates.append(text[:-1] if text.endswith((".", "?", "!")) else text + "?")
    candidates.append(text[0].swapcase() + text[1:])
    if len(text) < 400:
        candidates.append(text.lower())
    return rng.choice([c for c in candidates if c != text])


def add_duplicates(builder: SampleBuilder, exact: int, near: int) -> None:
    """Store copies of ordinary single-turn records: `exact` identical, `near` slightly reworded.

    Args:
        builder: The sample being built; copies are drawn from `builder.duplicable`.
        exact: How many exact duplicates to add.
        near: How many near duplicates to add.
    """
    sources = builder.rng.sample(builder.duplicable, exact + near)
    for source in sources[:exact]:
        add_copy(builder, source, reword=False)
    for source in sources[exact:]:
        add_copy(builder, source, reword=True)


def add_copy(builder: SampleBuilder, source: Record, *, reword: bool) -> Record:
    """Store `source` again under a new id and time, optionally rewording its last prompt.

    Args:
        builder: The sample being built.
        source: An ordinary single-turn record.
        reword: Change a word, the casing or the punctuation of the user message (a near
            duplicate) instead of copying it verbatim (an exact duplicate).

    Returns:
        The new record; it keeps the source's output, model and metadata.
    """
    choice = source["choices"][0]
    category = source["metadata"].get("category", "general")

    def copied(_: random.Random) -> Exchange:
        messages = copy.deepcopy(source["input_messages"])
        if reword:
            messages[-1]["content"] = near_duplicate_text(messages[-1]["content"], builder.rng)
        output = copy.deepcopy(choice["message"])
        return Exchange(category, messages, output, choice["finish_reason"])

    # A verbatim copy must repeat its source, so it skips the freshness check.
    exchange = builder.fresh_one(copied) if reword else copied(builder.rng)
    return builder.add(exchange, model=source["model"], metadata=dict(source["metadata"]))
