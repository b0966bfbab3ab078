"""LLM-call spans of the three shapes instrumentations write become the chat rows of `completions`.

The literal spans are what the real instrumentations of the openai SDK recorded for the same
calls (openai-v2 2.4b0, OpenLLMetry 0.62 and 0.54, OpenInference 0.1.66); the end-to-end test
(`tests/test_traces_dataset.py`) drives the packages themselves.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.export.lines import fine_tuning_line
from tests.spans import span_record, validated_spans

ARGS_PARIS = {"city": "Paris", "unit": "celsius", "note": "naïve ☂"}
ARGS_ZURICH = {"city": "Zürich", "unit": "celsius", "note": "naïve ☂"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ANSWER = "Echo — café über 🚀: sunny"


def _semconv_parts_call(call_id: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "get_weather", "arguments": args}


SEMCONV_ROUND_TRIP = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2026-01-01",
    "gen_ai.response.id": "chatcmpl-up000004",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 54,
    "gen_ai.usage.output_tokens": 6,
    "gen_ai.usage.total_tokens": 60,
    "gen_ai.conversation.id": "conv-42",
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "parts": [
                    _semconv_parts_call("call_3_0", ARGS_PARIS),
                    _semconv_parts_call("call_3_1", ARGS_ZURICH),
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "call_3_0", "response": "sunny"}],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "call_3_1", "response": "rain"}],
            },
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": ANSWER}],
                "finish_reason": "stop",
            }
        ]
    ),
    # OpenLLMetry ≥ 0.55 adds the tools in the conventions' flat shape.
    "gen_ai.tool.definitions": json.dumps(
        [{"type": "function", **WEATHER_TOOL["function"]}]  # type: ignore[dict-item]
    ),
}

COMPACT_PARIS = json.dumps(ARGS_PARIS, ensure_ascii=False, separators=(",", ":"))
COMPACT_ZURICH = json.dumps(ARGS_ZURICH, ensure_ascii=False, separators=(",", ":"))
ROUND_TRIP_LINE_MESSAGES = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_3_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": COMPACT_PARIS},
            },
            {
                "id": "call_3_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": COMPACT_ZURICH},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_3_0", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_3_1", "content": "rain"},
    {"role": "assistant", "content": ANSWER},
]


def _only_row(attributes: dict[str, Any], **span: Any) -> dict[str, Any]:
    validated = validated_spans([span_record(attributes, **span)])
    assert validated.quarantine.is_empty(), validated.quarantine["reasons"].to_list()
    return validated.completions.row(0, named=True)


def _line_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    return fine_tuning_line(row)["messages"]


def test_semantic_conventions_become_a_chat_with_tools_usage_and_trace_metadata() -> None:
    row = _only_row(SEMCONV_ROUND_TRIP, parent_span_id="aaaaaaaaaaaaaaaa")
    assert row["api"] == "traces"
    assert row["id"] == "span_5b8aa5a2d2c872e8321cf37308d69df2_051581bf3cb55c13"
    assert row["model"] == "gpt-4o-mini-2026-01-01"
    assert _line_messages(row) == ROUND_TRIP_LINE_MESSAGES
    assert json.loads(row["tools"]) == [WEATHER_TOOL]
    assert fine_tuning_line(row)["tools"] == [WEATHER_TOOL]
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (54, 6, 60)
    assert row["finish_reason"] == "stop"
    assert row["created"].timestamp() == 1_770_000_000
    assert {pair["key"]: pair["value"] for pair in row["metadata"]} == {
        "trace_id": "5b8aa5a2d2c872e8321cf37308d69df2",
        "span_id": "051581bf3cb55c13",
        "parent_span_id": "aaaaaaaaaaaaaaaa",
        "response_id": "chatcmpl-up000004",
        "conversation_id": "conv-42",
    }


def test_semantic_conventions_tool_calls_out_system_and_the_tool_call_finish_name() -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
        ),
        # OpenLLMetry 0.62 names the finish `tool_call`, as the conventions' enum does.
        "gen_ai.output.messages": json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [_semconv_parts_call("call_3_0", ARGS_PARIS)],
                    "finish_reason": "tool_call",
                }
            ]
        ),
    }
    row = _only_row(attributes)
    assert _line_messages(row) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": ROUND_TRIP_LINE_MESSAGES[1]["tool_calls"][:1]},
    ]
    assert row["finish_reason"] == "tool_calls"
    assert row["temperature"] == 0.2
    assert row["total_tokens"] == 39  # input + output when the span states no total
    assert row["tools"] is None  # the official instrumentation records no tool definitions


def test_openllmetry_flattened_attributes_become_the_same_chat() -> None:
    attributes = {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2026-01-01",
        "gen_ai.response.id": "chatcmpl-up000004",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Weather in Paris?",
        "gen_ai.prompt.1.role": "assistant",
        "gen_ai.prompt.1.tool_calls.0.id": "call_3_0",
        "gen_ai.prompt.1.tool_calls.0.name": "get_weather",
        "gen_ai.prompt.1.tool_calls.0.arguments": COMPACT_PARIS,
        "gen_ai.prompt.1.tool_calls.1.id": "call_3_1",
        "gen_ai.prompt.1.tool_calls.1.name": "get_weather",
        "gen_ai.prompt.1.tool_calls.1.arguments": COMPACT_ZURICH,
        "gen_ai.prompt.2.role": "tool",
        "gen_ai.prompt.2.content": "sunny",
        "gen_ai.prompt.2.tool_call_id": "call_3_0",
        # Ten and more: the index is a number, not text ("10" sorts after "9").
        "gen_ai.prompt.3.role": "tool",
        "gen_ai.prompt.3.content": "rain",
        "gen_ai.prompt.3.tool_call_id": "call_3_1",
        "llm.request.functions.0.name": "get_weather",
        "llm.request.functions.0.description": "Weather",
        "llm.request.functions.0.parameters": json.dumps(WEATHER_TOOL["function"]["parameters"]),  # type: ignore[index]
        "llm.usage.total_tokens": 60,
        "gen_ai.usage.input_tokens": 54,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": ANSWER,
    }
    row = _only_row(attributes)
    assert _line_messages(row) == ROUND_TRIP_LINE_MESSAGES
    assert fine_tuning_line(row)["tools"] == [WEATHER_TOOL]
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (54, 6, 60)


def test_flattened_indexes_are_numbers() -> None:
    attributes: dict[str, Any] = {"llm.request.type": "chat", "gen_ai.usage.total_tokens": 1}
    for turn in range(12):
        attributes[f"gen_ai.prompt.{turn}.role"] = "user" if turn % 2 == 0 else "assistant"
        attributes[f"gen_ai.prompt.{turn}.content"] = f"turn {turn}"
    attributes["gen_ai.completion.0.content"] = "last"
    row = _only_row(attributes)
    assert [m["content"] for m in _line_messages(row)] == [
        *(f"turn {turn}" for turn in range(12)),
        "last",
    ]


OPENINFERENCE_FLAT = {
    "openinference.span.kind": "LLM",
    "llm.system": "openai",
    "llm.model_name": "gpt-4o-mini-2026-01-01",
    "llm.invocation_parameters": json.dumps({"model": "gpt-4o-mini", "temperature": 0.5}),
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "Weather in Paris?",
    "llm.input_messages.1.message.role": "assistant",
    "llm.input_messages.1.message.tool_calls.0.tool_call.id": "call_3_0",
    "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "get_weather",
    "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": COMPACT_PARIS,
    "llm.input_messages.1.message.tool_calls.1.tool_call.id": "call_3_1",
    "llm.input_messages.1.message.tool_calls.1.tool_call.function.name": "get_weather",
    "llm.input_messages.1.message.tool_calls.1.tool_call.function.arguments": COMPACT_ZURICH,
    "llm.input_messages.2.message.role": "tool",
    "llm.input_messages.2.message.tool_call_id": "call_3_0",
    "llm.input_messages.2.message.content": "sunny",
    "llm.input_messages.3.message.role": "tool",
    "llm.input_messages.3.message.tool_call_id": "call_3_1",
    "llm.input_messages.3.message.content": "rain",
    "llm.tools.0.tool.json_schema": json.dumps(WEATHER_TOOL),
    "llm.token_count.total": 60,
    "llm.token_count.prompt": 54,
    "llm.token_count.completion": 6,
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": ANSWER,
    "llm.finish_reason": "stop",
    "session.id": "session-7",
}


def test_openinference_flattened_attributes_become_the_same_chat() -> None:
    row = _only_row(OPENINFERENCE_FLAT, name="ChatCompletion")
    assert _line_messages(row) == ROUND_TRIP_LINE_MESSAGES
    assert fine_tuning_line(row)["tools"] == [WEATHER_TOOL]
    assert row["model"] == "gpt-4o-mini-2026-01-01"
    assert row["temperature"] == 0.5
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (54, 6, 60)
    assert {pair["key"]: pair["value"] for pair in row["metadata"]}["session_id"] == "session-7"


def test_openinference_whole_request_keeps_the_arguments_as_sent() -> None:
    """`input.value` is the request exactly as the SDK sent it: the arguments' own spacing
    survives, which the flattened messages would not tell."""
    sent_arguments = json.dumps(ARGS_PARIS)  # spaces and \\u escapes, as the model wrote them
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_3_0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": sent_arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_3_0", "content": "sunny"},
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    }
    response = {
        "id": "chatcmpl-up000004",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": ANSWER},
            }
        ],
    }
    attributes = {
        **OPENINFERENCE_FLAT,
        "input.value": json.dumps(request),
        "input.mime_type": "application/json",
        "output.value": json.dumps(response),
    }
    row = _only_row(attributes, name="ChatCompletion")
    line = fine_tuning_line(row)
    assert line["messages"] == [*request["messages"], {"role": "assistant", "content": ANSWER}]
    assert line["tools"] == [WEATHER_TOOL]
    assert line["parallel_tool_calls"] is False


def test_spans_without_content_are_quarantined_with_their_own_reason() -> None:
    capture_off = {  # openai-v2 without OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 7,
    }
    redacted = {  # OpenInference with hide_inputs / hide_outputs
        "openinference.span.kind": "LLM",
        "input.value": "__REDACTED__",
        "output.value": "__REDACTED__",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "__REDACTED__",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "__REDACTED__",
        "llm.token_count.total": 17,
    }
    validated = validated_spans(
        [
            span_record(capture_off, span_id="1111111111111111"),
            span_record(redacted, span_id="2222222222222222"),
            span_record(SEMCONV_ROUND_TRIP, span_id="3333333333333333"),
        ]
    )
    assert validated.completions["id"].to_list() == [
        "span_5b8aa5a2d2c872e8321cf37308d69df2_3333333333333333"
    ]
    # Only this reason: the missing output is the same fact, not a second one.
    assert validated.reason_counts() == {"trace_content_captured": 2}
    message = validated.quarantine["reasons"][0][0]["message"]
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only" in message
