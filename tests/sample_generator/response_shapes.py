"""Shapes of Responses API objects: items, tools, usage, the stored response around them, and the
numbered sample responses are added to.

Every item is built with its id, as `GET /responses/{id}/input_items` and
`GET /conversations/{id}/items` serve it; the responses sample's import lines carry them so.
"""

from __future__ import annotations

import json
from typing import Any

from tests.sample_generator.shapes import Record

Item = dict[str, Any]

BASE_CREATED = 1_792_483_200
"""2026-10-20 08:00 UTC, in the last week of the chat sample's span."""
MINI = "gpt-4.1-mini-2025-04-14"
FULL = "gpt-4.1-2025-04-14"
REASONING = "o4-mini-2025-04-16"
FAILED_MESSAGE = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through our help center at help.openai.com if you keep seeing this "
    "error."
)


class ItemIds:
    """The ids of one owner's items in order: `<prefix>_<owner>_01`, `<prefix>_<owner>_02`, …"""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.count = 0

    def __call__(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.owner}_{self.count:02d}"


def input_text(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}


def input_image(url: str) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url, "detail": "auto"}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def message(
    item_id: str, role: str, *parts: str | dict[str, Any], status: str = "completed"
) -> Item:
    """A message item; plain strings become `input_text` parts, or `output_text` for assistant."""
    text_part = output_text if role == "assistant" else input_text
    content = [text_part(part) if isinstance(part, str) else part for part in parts]
    return {"id": item_id, "type": "message", "status": status, "role": role, "content": content}


def function_call(item_id: str, call_id: str, name: str, arguments: dict[str, Any]) -> Item:
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "arguments": json.dumps(arguments, ensure_ascii=False),
        "call_id": call_id,
        "name": name,
    }


def function_call_output(item_id: str, call_id: str, output: dict[str, Any]) -> Item:
    return {
        "id": item_id,
        "type": "function_call_output",
        "status": "completed",
        "call_id": call_id,
        "output": json.dumps(output, ensure_ascii=False),
    }


def reasoning(item_id: str, *summary: str) -> Item:
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text} for text in summary],
        "encrypted_content": None,
    }


def function_tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A strict function tool: every property required, no others allowed (what strict needs)."""
    return {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
        "strict": True,
    }


def tokens(text: str) -> int:
    """About four characters a token, as the chat sample counts."""
    return max(1, round(len(text) / 4))


def _item_tokens(item: Item) -> int:
    if item["type"] == "message":
        return 4 + sum(
            85 if part["type"] == "input_image" else tokens(part["text"])
            for part in item["content"]
        )
    if item["type"] == "function_call":
        return 3 + tokens(item["name"] + item["arguments"])
    if item["type"] == "function_call_output":
        return 3 + tokens(item["output"])
    return 0  # reasoning: counted as reasoning tokens


def usage(
    *,
    instructions: str | None,
    input_items: list[Item],
    output: list[Item],
    tools: list[dict[str, Any]],
    context: int = 0,
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    """A plausible `usage`: `context` is the input a `previous_response_id` carried over."""
    prompt = context + 3 + sum(_item_tokens(item) for item in input_items)
    prompt += tokens(instructions) if instructions else 0
    prompt += tokens(json.dumps(tools)) if tools else 0
    completion = reasoning_tokens + sum(_item_tokens(item) for item in output)
    return {
        "input_tokens": prompt,
        # The SDK (3.63) requires `cache_write_tokens` beside `cached_tokens`.
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": prompt + completion,
    }


def response(
    number: int,
    *,
    created_at: int,
    model: str,
    instructions: str | None,
    input_items: list[Item],
    output: list[Item],
    metadata: dict[str, str],
    tools: list[dict[str, Any]] | None = None,
    previous: Record | None = None,
    temperature: float = 1.0,
    reasoning_tokens: int = 0,
    **overrides: Any,
) -> Record:
    """A stored response's import line: the Response object as `GET /responses/{id}` returns it,
    plus its own input items (a `previous` response's are its own, not repeated here).

    Args:
        number: Its number in the sample; the id is `resp_sample_<number>`.
        previous: The response it continues (`previous_response_id`); its whole context counts
            towards this one's input tokens, as OpenAI bills it.
        overrides: Fields that differ from a completed response (status, error, ...).
    """
    tools = tools or []
    context = 0
    if previous is not None and previous["usage"]:
        context = previous["usage"]["total_tokens"]
    reasoning_model = model.startswith("o")
    record: Record = {
        "id": f"resp_sample_{number:04d}",
        "object": "response",
        "created_at": created_at,
        "status": "completed",
        "background": False,
        "billing": {"payer": "developer"},
        "completed_at": created_at + 2 + tokens(json.dumps(output)) // 40,
        "conversation": None,
        "error": None,
        "incomplete_details": None,
        "instructions": instructions,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": previous["id"] if previous else None,
        "prompt_cache_key": None,
        "prompt_cache_retention": None,
        "reasoning": {
            "effort": "medium" if reasoning_model else None,
            "summary": "auto" if reasoning_model else None,
        },
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": tools,
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage(
            instructions=instructions,
            input_items=input_items,
            output=output,
            tools=tools,
            context=context,
            reasoning_tokens=reasoning_tokens,
        ),
        "user": None,
        "metadata": metadata,
    }
    record.update(overrides)
    record["input_items"] = input_items
    return record


class ResponseSample:
    """The responses in creation order, each numbered as it is added."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def next_ids(self) -> ItemIds:
        """The item ids of the response about to be added."""
        return ItemIds(f"sample_{len(self.records) + 1:04d}")

    def add(self, minutes: int, **fields: Any) -> Record:
        """Add the next response, created `minutes` after `BASE_CREATED`."""
        number = len(self.records) + 1
        record = response(number, created_at=BASE_CREATED + 60 * minutes, **fields)
        self.records.append(record)
        return record
