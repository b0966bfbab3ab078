"""Plausible `usage` blocks: token counts estimated at about four characters a token."""

from __future__ import annotations

import json
from typing import Any

from tests.sample_generator.shapes import Message


def _tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


def _calls_tokens(calls: list[dict[str, Any]] | None) -> int:
    return sum(
        3 + _tokens(call["function"]["name"] + call["function"]["arguments"])
        for call in calls or []
    )


def _message_tokens(message: Message) -> int:
    content = message.get("content")
    total = 4 + (_tokens(str(content)) if content is not None else 0)
    images = [p for p in message.get("content_parts") or [] if p.get("type") == "image_url"]
    return total + 85 * len(images) + _calls_tokens(message.get("tool_calls"))


def estimate_usage(
    messages: list[Message], output: Message, tools: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Estimate the `usage` block of a record.

    The counts only need to be plausible: text at about four characters a token, plus the fixed
    overheads the API adds per message, per image and per tool call.

    Args:
        messages: The input messages.
        output: The assistant message of `choices[0]`.
        tools: The tool definitions sent with the request, if any.

    Returns:
        The usage block, with `total_tokens` the sum of prompt and completion tokens.
    """
    prompt = 3 + sum(_message_tokens(m) for m in messages)
    if tools:
        prompt += _tokens(json.dumps(tools))
    text = output["content"] or output["refusal"]
    completion = (_tokens(text) if text else 0) + _calls_tokens(output["tool_calls"])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
