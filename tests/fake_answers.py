"""What the fake upstream (`tests.fake_upstream`) answers: deterministic chat completions and their
chunks, responses and their events, all derived from the request and a request number only."""

from __future__ import annotations

import json
from typing import Any

CREATED = 1_770_000_000
FINGERPRINT = "fp_fake_upstream"


def answer_text(messages: Any) -> str:
    """`Echo: <last user text>` with non-ASCII on purpose (é, ü, an emoji) for byte splits."""
    last = ""
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") in ("user", "tool"):
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            last = str(content)
    return f"Echo — café über 🚀: {last}"


def wants_tools(request: dict[str, Any], messages: Any) -> bool:
    if not request.get("tools") or not isinstance(messages, list) or not messages:
        return False
    last = messages[-1]
    return isinstance(last, dict) and last.get("role") == "user" and "weather" in str(last)


def tool_calls(number: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{number}_{i}",
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": json.dumps({"city": city, "unit": "celsius", "note": "naïve ☂"}),
            },
        }
        for i, city in enumerate(["Paris", "Zürich"])
    ]


def usage(prompt: Any, text: str) -> dict[str, int]:
    prompt_tokens = len(json.dumps(prompt).split())
    completion_tokens = len(text.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(request: dict[str, Any], number: int, *, azure: bool) -> dict[str, Any]:
    messages = request.get("messages")
    model = request.get("model", "")
    calls = tool_calls(number) if wants_tools(request, messages) else None
    text = answer_text(messages)
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else text}
    message["refusal"] = None
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "tool_calls" if calls else "stop",
    }
    completion: dict[str, Any] = {
        "id": "chatcmpl-same" if model == "same-id" else f"chatcmpl-up{number:06d}",
        "object": "chat.completion",
        "created": CREATED + number,
        "model": f"{model}-2026-01-01",
        "choices": [choice],
        "usage": usage(messages, json.dumps(calls) if calls else text),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if azure:
        choice["content_filter_results"] = {"hate": {"filtered": False, "severity": "safe"}}
        completion["prompt_filter_results"] = [
            {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}
        ]
    return completion


def chat_chunks(request: dict[str, Any], completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks a streamed `completion` is sent as: text in 5-character pieces, tool-call
    arguments in 9-character pieces, usage last when `stream_options.include_usage` asks."""
    include_usage = (request.get("stream_options") or {}).get("include_usage") is True
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }

    filters = completion["choices"][0].get("content_filter_results")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if filters is not None:  # Azure: on every chunk, empty on the last
            choice["content_filter_results"] = {} if finish else filters
        return {**head, "choices": [choice], **({"usage": None} if include_usage else {})}

    chunks = []
    if "prompt_filter_results" in completion:  # Azure's first chunk: filters, empty id
        azure_head = {"id": "", "object": "", "created": 0, "model": "", "choices": []}
        chunks.append({**azure_head, "prompt_filter_results": completion["prompt_filter_results"]})
    message = completion["choices"][0]["message"]
    if message.get("tool_calls"):
        chunks.append(chunk({"role": "assistant", "content": None, "refusal": None}))
        for index, call in enumerate(message["tool_calls"]):
            name = call["function"]["name"]
            first = {"index": index, "id": call["id"], "type": "function"}
            chunks.append(chunk({"tool_calls": [{**first, "function": {"name": name}}]}))
            arguments = call["function"]["arguments"]
            for start in range(0, len(arguments), 9):
                piece = {"index": index, "function": {"arguments": arguments[start : start + 9]}}
                chunks.append(chunk({"tool_calls": [piece]}))
    else:
        chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        text = message["content"]
        chunks += [chunk({"content": text[i : i + 5]}) for i in range(0, len(text), 5)]
    chunks.append(chunk({}, completion["choices"][0]["finish_reason"]))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    return chunks


def response_object(request: dict[str, Any], number: int) -> dict[str, Any]:
    model = request.get("model", "")
    given = request.get("input")
    messages = [{"role": "user", "content": given}] if isinstance(given, str) else given
    output: list[dict[str, Any]]
    if wants_tools(request, messages):
        output = [
            {
                "type": "function_call",
                "id": f"fc_{number}_{i}",
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
                "status": "completed",
            }
            for i, call in enumerate(tool_calls(number))
        ]
        text = json.dumps(output)
    else:
        text = answer_text(messages)
        part = {"type": "output_text", "text": text, "annotations": []}
        output = [
            {
                "type": "message",
                "id": f"msg_up{number:06d}",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }
        ]
    tokens = usage(messages, text)
    failed = model == "fault-fail"
    return {
        "id": f"resp_up{number:06d}",
        "object": "response",
        "created_at": CREATED + number,
        "status": "failed" if failed else "completed",
        "error": {"code": "server_error", "message": "It broke."} if failed else None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "model": f"{model}-2026-01-01",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": request.get("previous_response_id"),
        "temperature": request.get("temperature", 1.0),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": 1.0,
        "metadata": request.get("metadata") or {},
        "store": request.get("store", True),
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": tokens["prompt_tokens"],
            "output_tokens": tokens["completion_tokens"],
            "total_tokens": tokens["total_tokens"],
        },
    }


def response_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The Responses API events of a streamed `response`, text in 5-character deltas."""
    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "status": "in_progress", "content": []},
                }
            )
            base = {"item_id": item["id"], "output_index": index, "content_index": 0}
            empty = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", **base, "part": empty})
            for start in range(0, len(text), 5):
                delta = text[start : start + 5]
                events.append({"type": "response.output_text.delta", **base, "delta": delta})
            events.append({"type": "response.output_text.done", **base, "text": text})
            part = item["content"][0]
            events.append({"type": "response.content_part.done", **base, "part": part})
        else:
            added = {**item, "arguments": "", "status": "in_progress"}
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": added}
            )
            arguments = item["arguments"]
            for start in range(0, len(arguments), 9):
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "delta": arguments[start : start + 9],
                    }
                )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    closing = "response.failed" if response["status"] == "failed" else "response.completed"
    events.append({"type": closing, "response": response})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]
