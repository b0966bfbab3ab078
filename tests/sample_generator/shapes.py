"""Shapes of stored input messages and outputs, and the exchanges and dialogues built from them.

An `Exchange` is one request (its input messages and the assistant output); a `Dialogue` is a
scripted conversation from which exchanges of any length are cut.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]
Record = dict[str, Any]
Turn = tuple[str, str]


def text_message(role: str, content: Any) -> Message:
    """Build a stored input message with plain content.

    Args:
        role: The message role (`system`, `developer`, `user`, `assistant`, ...).
        content: The message text (any JSON value, to build malformed records).

    Returns:
        The message as the store keeps it, without its id.
    """
    return {"role": role, "content": content, "content_parts": None, "name": None}


def image_message(text: str, url: str) -> Message:
    """Build a stored user message with a text part and an image part.

    Args:
        text: The text part, also stored as the message's `content`.
        url: The image URL.

    Returns:
        The message as the store keeps it, without its id.
    """
    parts = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]
    return {"role": "user", "content": text, "content_parts": parts, "name": None}


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Build a function tool call as the API returns it.

    Args:
        call_id: The call id (`call_...`).
        name: The function name.
        arguments: The arguments, serialised to a JSON string.

    Returns:
        The tool call.
    """
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def tool_calls_message(calls: list[dict[str, Any]]) -> Message:
    """Build a stored assistant message that only makes tool calls.

    Args:
        calls: The tool calls.

    Returns:
        The message as the store keeps it, without its id.
    """
    return {
        "role": "assistant",
        "content": None,
        "content_parts": None,
        "name": None,
        "tool_calls": calls,
    }


def tool_result_message(call_id: str, result: dict[str, Any]) -> Message:
    """Build a stored tool message answering a tool call.

    Args:
        call_id: The id of the call it answers.
        result: The tool's result, serialised to a JSON string.

    Returns:
        The message as the store keeps it, without its id.
    """
    return {
        "role": "tool",
        "tool_call_id": call_id,
        "content": json.dumps(result, ensure_ascii=False),
    }


def assistant_output(
    content: str | None = None,
    *,
    refusal: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> Message:
    """Build the assistant message of `choices[0]`.

    Args:
        content: The answer text; None for refusals, tool calls and empty outputs.
        refusal: The refusal text, if the model refused.
        tool_calls: The tool calls, if the model called tools.

    Returns:
        The message, with the keys the retrieve endpoint always returns.
    """
    return {
        "role": "assistant",
        "content": content,
        "refusal": refusal,
        "tool_calls": tool_calls,
        "function_call": None,
        "annotations": [],
    }


def with_key_before(record: Record, before: str, key: str, value: Any) -> Record:
    """Copy a record with a new key inserted just before an existing one.

    The key order matters because the JSONL keeps it, and the sample must be byte-for-byte stable.

    Args:
        record: The record to copy.
        before: The existing key the new one goes in front of.
        key: The new key.
        value: The new key's value.

    Returns:
        The new record (`record` itself is unchanged).
    """
    result: Record = {}
    for existing, existing_value in record.items():
        if existing == before:
            result[key] = value
        result[existing] = existing_value
    return result


@dataclass
class Exchange:
    """One request: its input messages and the assistant output it produced.

    Attributes:
        category: The topic, used for metadata (`category`, `app`).
        messages: The input messages in request order.
        output: The assistant message of `choices[0]`.
        finish_reason: The finish reason of `choices[0]`.
        tools: Tool definitions sent with the request, if any.
        response_format: The request's `response_format`, if any.
    """

    category: str
    messages: list[Message]
    output: Message
    finish_reason: str = "stop"
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class Dialogue:
    """A conversation script: a system prompt and (user, assistant) turns.

    Attributes:
        category: The topic.
        system: The system prompt.
        turns: At least four (user, assistant) pairs; a request uses a prefix of them.
    """

    category: str
    system: str
    turns: tuple[Turn, ...]

    def exchange(self, user_turns: int, system_role: str | None = "system") -> Exchange:
        """Build the request that sends the first `user_turns` user messages.

        Args:
            user_turns: How many user messages the request carries (1 = single-turn).
            system_role: `system`, `developer`, or None to leave the system prompt out.

        Returns:
            The exchange whose output is the assistant answer to the last user message.
        """
        messages = [text_message(system_role, self.system)] if system_role else []
        for user, assistant in self.turns[: user_turns - 1]:
            messages += [text_message("user", user), text_message("assistant", assistant)]
        user, answer = self.turns[user_turns - 1]
        messages.append(text_message("user", user))
        return Exchange(self.category, messages, assistant_output(answer))


def script(
    rng: random.Random, opener: Turn, follow_ups: Sequence[Turn], k: int = 3
) -> tuple[Turn, ...]:
    """Script a dialogue: the opener, then `k` follow-ups in their listed order.

    Args:
        rng: The random source.
        opener: The first (user, assistant) turn.
        follow_ups: The candidate later turns.
        k: How many follow-ups to pick.

    Returns:
        The turns of the dialogue.
    """
    picks = sorted(rng.sample(range(len(follow_ups)), k))
    return (opener, *(follow_ups[i] for i in picks))
