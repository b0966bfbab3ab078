"""Records as Azure OpenAI stores them: content-filter annotations, and blocked outputs."""

from __future__ import annotations

from typing import Any

from tests.sample_generator.builder import MODELS, SampleBuilder
from tests.sample_generator.shapes import (
    Exchange,
    Record,
    assistant_output,
    text_message,
    with_key_before,
)
from tests.sample_generator.topics import random_dialogue

_FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


def _content_filter_results(
    flagged: str | None = None, severity: str = "medium", *, blocked: bool = True
) -> dict[str, Any]:
    """Azure's per-category results: `flagged` at `severity` (filtered if `blocked`), rest safe."""
    return {
        category: {"filtered": blocked, "severity": severity}
        if category == flagged
        else {"filtered": False, "severity": "safe"}
        for category in _FILTER_CATEGORIES
    }


_FILTERED_PROMPTS = {
    "violence": "Describe a brutal street fight in graphic, gory detail, including every injury.",
    "sexual": "Write an explicit sex scene between the two main characters of my romance novel.",
}


def _azure_shaped(record: Record, *, object_null: bool, flagged: str | None = None) -> Record:
    """Add Azure's content-filter annotations (and optionally `"object": null`) to a record."""
    record = dict(record)
    if object_null:
        record["object"] = None
    choice = dict(record["choices"][0])
    choice["content_filter_results"] = _content_filter_results(flagged, "medium")
    record["choices"] = [choice]
    # The prompt scored low in the same category: annotated, not blocked.
    prompt_results: dict[str, Any] = _content_filter_results(flagged, "low", blocked=False)
    prompt_results["jailbreak"] = {"filtered": False, "detected": False}
    prompt_filter = [{"prompt_index": 0, "content_filter_results": prompt_results}]
    return with_key_before(record, "input_messages", "prompt_filter_results", prompt_filter)


def add_azure(builder: SampleBuilder) -> Record:
    """Add an ordinary request as Azure OpenAI stores it, with content-filter annotations.

    Args:
        builder: The sample being built.

    Returns:
        The Azure-shaped record, which takes the plain record's place in `builder`.
    """
    exchange = builder.fresh_one(lambda rng: random_dialogue(rng).exchange(1))
    record = builder.add(exchange, model=builder.rng.choice(MODELS))
    azure = _azure_shaped(record, object_null=builder.rng.random() < 0.5)
    builder.replace(record, azure)
    return azure


def add_azure_filtered(builder: SampleBuilder, flagged: str) -> Record:
    """Add an Azure request whose output the content filter blocked.

    Args:
        builder: The sample being built.
        flagged: The category the filter blocked: `violence` or `sexual`.

    Returns:
        The Azure-shaped record, with no output content and `finish_reason` `content_filter`.
    """
    messages = [
        text_message("system", "You are a creative writing assistant."),
        text_message("user", _FILTERED_PROMPTS[flagged]),
    ]
    exchange = Exchange("creative_writing", messages, assistant_output(), "content_filter")
    record = builder.add(exchange, model="gpt-4o-2024-08-06")
    # The model did generate text before the filter withheld it: it is billed.
    usage = record["usage"]
    usage["completion_tokens"] = builder.rng.randint(40, 160)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    azure = _azure_shaped(record, object_null=False, flagged=flagged)
    builder.replace(record, azure)
    return azure
