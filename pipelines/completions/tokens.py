"""Token counts for records the provider gave no usage for (a conversation has none).

`pipelines.completions.normalize` fills `estimated_tokens` with `total_tokens` when there is one,
else with `estimate_tokens`, so every row has a count the token limit and token ranges can judge.
"""

from __future__ import annotations

from typing import Any


def estimate_tokens(
    messages: list[Any], output_texts: list[str | None], output_tool_calls: list[dict[str, Any]]
) -> int:
    """Tokens of a record without usage, estimated from its text: the UTF-8 bytes of every
    message's content (text parts of a multi-part content), its tool calls' arguments, and the
    output's text, refusal and tool calls' arguments, divided by 4 and rounded up.

    Why bytes / 4: OpenAI's rule of thumb is some 4 characters of English text a token; bytes
    rather than characters because the scripts a tokenizer splits finer (accented letters, CJK,
    emoji) take 2 to 4 bytes a character, so counting characters would underestimate them most.
    No tokenizer is used: which one applies depends on the model the dataset is later trained
    on. Images, files and the per-message overhead are not counted.

    Args:
        messages: The input messages in the chat shape, as stored (any value tolerated).
        output_texts: The output's content and refusal (None where absent).
        output_tool_calls: The output's tool calls, typed.
    """
    size = sum(_text_bytes(value) for value in output_texts)
    size += sum(_text_bytes(call["function"]["arguments"]) for call in output_tool_calls)
    for raw in messages:
        message = _as_dict(raw)
        content = message.get("content")
        if not isinstance(content, str):
            parts = content if isinstance(content, list) else message.get("content_parts")
            for part in parts if isinstance(parts, list) else []:
                part = _as_dict(part)
                size += _text_bytes(part.get("text")) + _text_bytes(part.get("refusal"))
        else:
            size += _text_bytes(content)
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            size += _text_bytes(_as_dict(_as_dict(call).get("function")).get("arguments"))
    return -(-size // 4)


def _text_bytes(value: Any) -> int:
    """UTF-8 bytes of a text (a lone surrogate counted as the 3 bytes of its replacement)."""
    if not isinstance(value, str):
        return 0
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
