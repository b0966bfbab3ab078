"""Build stored records (the `distillery store import` format) for tests: chat completions,
responses and conversations."""

from __future__ import annotations

from typing import Any


def completion_record(
    completion_id: str,
    *,
    created: int | None = 1_760_000_000,
    model: str = "gpt-4o-mini-2024-07-18",
    metadata: dict[str, str] | None = None,
    input_messages: list[dict[str, Any]] | None = None,
    answer: str = "Sure, here it is.",
    **extra: Any,
) -> dict[str, Any]:
    """A well-formed stored completion as `GET /chat/completions/{id}` returns it, plus
    `input_messages`. `created=None` leaves the key out; `extra` adds or overrides fields."""
    record: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        "metadata": metadata or {},
        "service_tier": "default",
        "system_fingerprint": "fp_test",
        "request_id": f"req_{completion_id}",
        "temperature": 1.0,
        "top_p": 1.0,
        "seed": None,
        "input_messages": input_messages
        if input_messages is not None
        else [{"role": "user", "content": f"Question for {completion_id}"}],
    }
    if created is None:
        del record["created"]
    record.update(extra)
    return record


def conversation(turns: int) -> list[dict[str, Any]]:
    """`turns` alternating user / assistant messages, numbered so order is checkable."""
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"}
        for i in range(turns)
    ]


def response_record(
    response_id: str,
    *,
    created_at: int = 1_760_000_000,
    question: str | None = None,
    input_items: list[dict[str, Any]] | None = None,
    answer: str = "Here is the answer.",
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A completed stored response as `GET /responses/{id}` returns it, plus `input_items`
    (the store's import format). `extra` adds or overrides fields."""
    record: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": "You are a concise assistant.",
        "model": "gpt-4.1-mini-2025-04-14",
        "output": [
            {
                "type": "message",
                "id": f"msg_out_{response_id}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "conversation": None,
        "store": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 20, "output_tokens": 8, "total_tokens": 28},
        "metadata": metadata or {},
        "input_items": input_items
        if input_items is not None
        else [user_item(f"msg_in_{response_id}", question or f"Question for {response_id}")],
    }
    record.update(extra)
    return record


def user_item(item_id: str, *parts: Any) -> dict[str, Any]:
    """A user message input item, as the input-items and conversation-items lists serve it:
    each text an `input_text` part, other parts (an image) as given."""
    content = [{"type": "input_text", "text": p} if isinstance(p, str) else p for p in parts]
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "user",
        "content": content,
    }


def assistant_item(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def conversation_record(
    conversation_id: str,
    items: list[dict[str, Any]],
    *,
    created_at: int = 1_760_000_000,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A conversation as `GET /conversations/{id}` returns it, plus its `items` in order (the
    store's import format)."""
    return {
        "id": conversation_id,
        "object": "conversation",
        "created_at": created_at,
        "metadata": metadata or {},
        "items": items,
    }


def dialogue_items(prefix: str, turns: int) -> list[dict[str, Any]]:
    """`turns` alternating user / assistant message items, numbered so order is checkable."""
    return [
        user_item(f"msg_{prefix}_{i:04d}", f"turn {i}")
        if i % 2 == 0
        else assistant_item(f"msg_{prefix}_{i:04d}", f"turn {i}")
        for i in range(turns)
    ]
