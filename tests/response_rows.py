"""Raw-lake rows of hand-written stored responses, conversations and chat completions, built with
the real lake row builder, and the frames they normalize and validate into."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import ValidatedCompletions, validate_completions
from pipelines.ingest.rows import lake_row
from schemas import RAW_COMPLETIONS_SCHEMA
from tests.records import assistant_item as assistant
from tests.records import completion_record
from tests.records import user_item as user

AT = datetime(2026, 11, 1, tzinfo=UTC)
CREATED = 1_760_000_000
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER_PARAMETERS,
            "strict": True,
        },
    }
]
RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": WEATHER_PARAMETERS,
        "strict": True,
    }
]


# -- lake rows -----------------------------------------------------------------------------------


def response_row(
    response_id: str, items: list[dict[str, Any]], output: Any, **fields: Any
) -> dict[str, Any]:
    """A stored response as `GET /responses/{id}` returns it, with its input items."""
    response = {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": "gpt-4.1-mini-2025-04-14",
        "metadata": {},
        "previous_response_id": None,
        "conversation": None,
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "service_tier": "default",
        "user": None,
        "output": output,
        "usage": {
            "input_tokens": 20,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 8,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 28,
        },
        **fields,
    }
    return lake_row(
        response,
        items,
        api="responses",
        source_kind="local",
        source_endpoint="local",
        ingested_at=AT,
    )


def conversation_row(conversation_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    conversation = {
        "id": conversation_id,
        "object": "conversation",
        "created_at": CREATED,
        "metadata": {"topic": "weather"},
    }
    return lake_row(
        conversation,
        items,
        api="conversations",
        source_kind="local",
        source_endpoint="local",
        ingested_at=AT,
    )


def chat_row(
    completion_id: str, messages: list[dict[str, Any]], output: dict[str, Any], finish: str
) -> dict[str, Any]:
    """A stored chat completion and its stored input messages (as the messages list serves
    them: with ids, null content_parts and name)."""
    completion = {
        **completion_record(completion_id, model="gpt-4.1-mini-2025-04-14"),
        "choices": [{"index": 0, "message": output, "finish_reason": finish, "logprobs": None}],
        "tools": CHAT_TOOLS,
        "parallel_tool_calls": True,
    }
    del completion["input_messages"]
    stored = [
        {"id": f"{completion_id}-{i}", "content_parts": None, "name": None, **message}
        for i, message in enumerate(messages)
    ]
    return lake_row(
        completion,
        stored,
        api="chat_completions",
        source_kind="local",
        source_endpoint="local",
        ingested_at=AT,
    )


def lake(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([{**row, "batch_id": "b"} for row in rows], schema=RAW_COMPLETIONS_SCHEMA)


def normalized(*rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    frame = normalize_completions(lake(*rows))
    return {row["id"]: row for row in frame.iter_rows(named=True)}


def validated(*rows: dict[str, Any]) -> ValidatedCompletions:
    return validate_completions(normalize_completions(lake(*rows)))


def reasons(result: ValidatedCompletions) -> dict[str, list[str]]:
    return {
        row["id"]: [reason["check"] for reason in row["reasons"]]
        for row in result.quarantine.iter_rows(named=True)
    }


# -- items (messages come from tests.records) -----------------------------------------------------


def call(item_id: str, call_id: str, city: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": "get_weather",
        "arguments": json.dumps({"city": city}),
        "status": "completed",
    }


def call_output(item_id: str, call_id: str, output: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "id": item_id, "call_id": call_id, "output": output}


def reasoning(item_id: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": "The user wants the weather."}],
        "encrypted_content": "gAAAAB…",
    }


def web_search(item_id: str) -> dict[str, Any]:
    return {
        "type": "web_search_call",
        "id": item_id,
        "status": "completed",
        "action": {"type": "search", "query": "weather Paris"},
    }


def tool_call(call_id: str, city: str) -> dict[str, Any]:
    """The chat shape of `call(…, call_id, city)`."""
    arguments = json.dumps({"city": city})
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def weather_exchange_rows() -> list[dict[str, Any]]:
    """The same two turns made through Chat Completions (stored turn by turn) and through
    Responses (the second continuing the first by previous_response_id), as lake rows."""
    system = {"role": "system", "content": "You are a weather bot."}
    question = {"role": "user", "content": "What is the weather in Paris?"}
    calling = {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1", "Paris")]}
    answered = {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"}
    answer = "It is 18 C and sunny in Paris."
    both = {"instructions": "You are a weather bot.", "tools": RESPONSES_TOOLS}
    return [
        chat_row("chatcmpl-1", [system, question], {**calling, "refusal": None}, "tool_calls"),
        chat_row(
            "chatcmpl-2",
            [system, question, calling, answered],
            {"role": "assistant", "content": answer, "refusal": None},
            "stop",
        ),
        response_row(
            "resp_1",
            [user("msg_1", "What is the weather in Paris?")],
            [reasoning("rs_1"), call("fc_1", "call_1", "Paris")],
            **both,
        ),
        response_row(
            "resp_2",
            [call_output("fco_1", "call_1", "18 C, sunny")],
            [assistant("msg_2", answer)],
            previous_response_id="resp_1",
            **both,
        ),
    ]
