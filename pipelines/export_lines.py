"""One JSONL line per curated `completions` row: OpenAI fine-tuning, OpenAI Evals, openai/evals.

Every line is derived from the row alone (`pipelines.normalize.conversation_from_row` and the
`tools` / `parallel_tool_calls` / `metadata` / `model` columns), and no line ever holds a key whose
value is null: `write_ndjson` would write it, and OpenAI rejects e.g. `"tool_calls": null`.
`pipelines.finetune_check` checks the fine-tuning lines written here.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from pipelines import jsontext
from pipelines.normalize import conversation_from_row

TRAIN_ON = ("all", "last_assistant")
"""`all`: learn every assistant turn (stored weights kept); `last_assistant`: the output only."""

# Characters str.splitlines() treats as line breaks that JSON leaves unescaped: a reader splitting
# on them would cut a line in two. Escaped, they are the same JSON string.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def fine_tuning_line(row: dict[str, Any], *, train_on: str = "all") -> dict[str, Any]:
    """The OpenAI supervised fine-tuning example of one curated row.

    Args:
        row: A curated `completions` row, as `DataFrame.iter_rows(named=True)` yields it.
        train_on: `all` keeps the weights the stored messages carried (none by default, so every
            assistant turn is learned); `last_assistant` writes `weight: 0` on every earlier
            assistant turn and `weight: 1` on the output.

    Returns:
        `{"messages": [...], "tools"?: [...], "parallel_tool_calls"?: bool}`: the stored input
        messages in order, then the output as the final assistant message.

    Raises:
        ValueError: `train_on` is not one of `TRAIN_ON`.
    """
    if train_on not in TRAIN_ON:
        raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}, not {train_on!r}")
    messages = [_line_message(message) for message in conversation_from_row(row)]
    if train_on == "last_assistant":
        assistants = [m for m in messages if m["role"] == "assistant"]
        for message in assistants:
            message["weight"] = 1 if message is assistants[-1] else 0
    line: dict[str, Any] = {"messages": messages}
    tools = json.loads(row["tools"]) if row.get("tools") is not None else None
    if isinstance(tools, list) and tools:
        line["tools"] = _drop_nulls(tools)
    if row.get("parallel_tool_calls") is not None:
        line["parallel_tool_calls"] = row["parallel_tool_calls"]
    return line


def eval_item(row: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI Evals (custom data source) line of one curated row.

    Args:
        row: A curated `completions` row.

    Returns:
        `{"item": {"input": [...], "ideal": "...", "metadata": {...}}}`. `input` holds the stored
        input messages as in `fine_tuning_line`, without weights; `ideal` is `expected_output(row)`;
        `metadata` is the row's metadata pairs plus `completion_id` and `model` (these two win over
        a stored key of the same name).
    """
    metadata = {
        pair["key"]: pair["value"]
        for pair in row.get("metadata") or []
        if pair["key"] is not None and pair["value"] is not None
    }
    metadata["completion_id"] = row["id"]
    if row.get("model") is not None:
        metadata["model"] = row["model"]
    return {
        "item": {"input": _eval_input(row), "ideal": expected_output(row), "metadata": metadata}
    }


def oss_eval_item(row: dict[str, Any]) -> dict[str, Any]:
    """The open-source `openai/evals` line of one curated row.

    Args:
        row: A curated `completions` row.

    Returns:
        `{"input": [...], "ideal": "..."}`, with `input` and `ideal` as in `eval_item`.
    """
    return {"input": _eval_input(row), "ideal": expected_output(row)}


def expected_output(row: dict[str, Any]) -> str:
    """The text an evaluation expects: the output content; else, for a tool-call output, the tool
    calls as compact JSON (the same `[{"id", "type", "function": {"name", "arguments"}}]` list a
    fine-tuning line holds); else the refusal; else "" (an output the content filter removed).
    """
    if row.get("output_content") is not None:
        return row["output_content"]
    if row.get("output_tool_calls"):
        return dumps_line([_tool_call(call) for call in row["output_tool_calls"]])
    if row.get("output_refusal") is not None:
        return row["output_refusal"]
    return ""


def dumps_line(obj: Any) -> str:
    """`obj` as one line of JSONL: compact JSON, non-ASCII text written as itself.

    Args:
        obj: A JSON-serializable value.

    Returns:
        The JSON text, without a trailing newline and with no character any common reader takes
        for a line break (U+0085, U+2028 and U+2029 are written as `\\u` escapes).
    """
    try:
        # orjson writes the same compact JSON several times faster than the standard library.
        text = orjson.dumps(obj).decode("utf-8")
    except orjson.JSONEncodeError:  # lone surrogates: the standard library escapes them
        text = jsontext.dumps(obj)
    if not text.isascii():
        for char, escape in _LINE_BREAKS.items():
            text = text.replace(char, escape)
    return text


# -- messages ----------------------------------------------------------------------------------


def _eval_input(row: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = [_line_message(message) for message in conversation_from_row(row)[:-1]]
    for message in inputs:
        message.pop("weight", None)
    return inputs


def _line_message(message: dict[str, Any]) -> dict[str, Any]:
    """One message of `conversation_from_row`, in the fine-tuning shape."""
    role = message["role"]
    line: dict[str, Any] = {"role": role}
    content = _line_content(message)
    if content is not None:
        line["content"] = content
    if message.get("name") is not None:
        line["name"] = message["name"]
    if message.get("tool_calls"):
        line["tool_calls"] = [_tool_call(call) for call in message["tool_calls"]]
    if message.get("tool_call_id") is not None:
        line["tool_call_id"] = message["tool_call_id"]
    # Fine-tuning accepts a weight on assistant messages only; one stored elsewhere is dropped.
    if role == "assistant" and message.get("weight") is not None:
        line["weight"] = message["weight"]
    return line


def _line_content(message: dict[str, Any]) -> str | list[Any] | None:
    """A string, or for a non-assistant message with content parts the list of parts."""
    content = message.get("content")
    parts = content if isinstance(content, list) else message.get("content_parts")
    if message["role"] != "assistant":
        if isinstance(parts, list) and parts:
            return _drop_nulls(parts)
        return content if isinstance(content, str) else None
    if isinstance(content, str):
        return content
    if isinstance(parts, list):
        # Assistant turns are learned as text: text (and refusal) parts, concatenated.
        texts = [_part_text(part) for part in parts]
        text = "".join(t for t in texts if t is not None)
        if text:
            return text
    return message.get("refusal")


def _part_text(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    value = part.get("text") if part.get("type") == "text" else part.get("refusal")
    return value if isinstance(value, str) else None


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return _drop_nulls(
        {
            "id": call.get("id"),
            "type": call.get("type") or "function",
            "function": {"name": function.get("name"), "arguments": function.get("arguments")},
        }
    )


def _drop_nulls(value: Any) -> Any:
    """`value` with every dict key whose value is null left out, at any depth."""
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value
