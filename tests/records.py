"""Build stored-completion records (the `distillery store import` format) for tests."""

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
